//! The binary Merkle tree every Verity commitment to a list of hashes uses: the requests a payment
//! voucher covers ([`crate::voucher`]) and the per-step gradient digests a training member commits
//! for an epoch (the proof-of-compute pallet's audits, [`crate::digest::step_digest`]).
//!
//! | node | hash |
//! |---|---|
//! | leaf of item hash `h` | blake2-256(`0x00` ‖ `h`) |
//! | inner node | blake2-256(`0x01` ‖ left ‖ right) |
//!
//! Levels are built left to right; a level with an odd number of nodes carries its last node up
//! unchanged. The domain bytes keep a leaf from being passed off as an inner node. The root of
//! zero items is `H256::zero()`; the root of one item is its leaf. A proof is the list of sibling
//! hashes from the leaf up (a carried node has no sibling and adds none). The vectors in
//! `tests/vectors/digests.json` (section `merkle`) fix roots and proofs for trees of 1 to 9 items.

use alloc::vec::Vec;
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::blake2_256};

/// Merkle leaf of an item hash.
pub fn leaf_hash(request: &H256) -> H256 {
	let mut preimage = [0u8; 33];
	let (domain, rest) = preimage.split_at_mut(1);
	domain.copy_from_slice(&[0x00]);
	rest.copy_from_slice(request.as_bytes());
	H256(blake2_256(&preimage))
}

/// Merkle inner node over two children.
pub fn node_hash(left: &H256, right: &H256) -> H256 {
	let mut preimage = [0u8; 65];
	let (domain, rest) = preimage.split_at_mut(1);
	let (l, r) = rest.split_at_mut(32);
	domain.copy_from_slice(&[0x01]);
	l.copy_from_slice(left.as_bytes());
	r.copy_from_slice(right.as_bytes());
	H256(blake2_256(&preimage))
}

fn next_level(level: &[H256]) -> Vec<H256> {
	level
		.chunks(2)
		.map(|pair| match pair {
			[left, right] => node_hash(left, right),
			[single] => *single,
			_ => H256::zero(),
		})
		.collect()
}

/// Merkle root over item hashes in order; `H256::zero()` for none.
pub fn merkle_root(requests: &[H256]) -> H256 {
	let mut level: Vec<H256> = requests.iter().map(leaf_hash).collect();
	while level.len() > 1 {
		level = next_level(&level);
	}
	level.first().copied().unwrap_or_default()
}

/// The sibling hashes from the leaf of `requests[index]` up to the root (promoted levels give no
/// sibling), or `None` if `index` is out of range.
pub fn merkle_proof(requests: &[H256], index: usize) -> Option<Vec<H256>> {
	if index >= requests.len() {
		return None;
	}
	let mut level: Vec<H256> = requests.iter().map(leaf_hash).collect();
	let mut idx = index;
	let mut proof = Vec::new();
	while level.len() > 1 {
		let sibling = idx ^ 1;
		if let Some(hash) = level.get(sibling) {
			proof.push(*hash);
		}
		level = next_level(&level);
		idx /= 2;
	}
	Some(proof)
}

/// Whether `proof` shows that `request` is leaf `index` of a tree of `leaf_count` leaves whose
/// root is `root`. Every sibling must be used: a proof with extra hashes is rejected.
pub fn verify_merkle_proof(
	root: &H256,
	leaf_count: u64,
	index: u64,
	request: &H256,
	proof: &[H256],
) -> bool {
	if index >= leaf_count {
		return false;
	}
	let mut node = leaf_hash(request);
	let mut idx = index;
	let mut width = leaf_count;
	let mut siblings = proof.iter();
	while width > 1 {
		if idx % 2 == 1 {
			let Some(sibling) = siblings.next() else { return false };
			node = node_hash(sibling, &node);
		} else if idx.saturating_add(1) < width {
			let Some(sibling) = siblings.next() else { return false };
			node = node_hash(&node, sibling);
		}
		idx /= 2;
		width = width.div_ceil(2);
	}
	siblings.next().is_none() && node == *root
}

/// The requests served so far on a channel, kept as the roots of the tree's perfect subtrees
/// ("peaks", largest first), so the next voucher's root costs O(log n) hashes, not O(n): the
/// tree's root is the right fold `node_hash(p0, node_hash(p1, … pk))` of its peaks.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct RequestLog {
	count: u64,
	/// `(peak, height)`, heights strictly decreasing.
	peaks: Vec<(H256, u32)>,
}

impl RequestLog {
	/// An empty log.
	pub fn new() -> Self {
		Self::default()
	}

	/// Appends one request hash.
	pub fn push(&mut self, request: &H256) {
		self.count = self.count.saturating_add(1);
		self.peaks.push((leaf_hash(request), 0));
		while let [.., (left, lh), (right, rh)] = self.peaks[..] {
			if lh != rh {
				break;
			}
			self.peaks.truncate(self.peaks.len().saturating_sub(2));
			self.peaks.push((node_hash(&left, &right), lh.saturating_add(1)));
		}
	}

	/// Number of requests: the nonce of a voucher covering them.
	pub fn count(&self) -> u64 {
		self.count
	}

	/// Its peaks `(subtree root, height)`, largest first: with [`count`](Self::count), all the
	/// log needs to go on (what a server's journal keeps instead of every request hash).
	pub fn peaks(&self) -> &[(H256, u32)] {
		&self.peaks
	}

	/// The log of `count` requests whose peaks are `peaks`; `None` unless the heights are
	/// strictly decreasing and the subtrees hold exactly `count` requests.
	pub fn from_peaks(count: u64, peaks: Vec<(H256, u32)>) -> Option<Self> {
		let mut total = 0u64;
		let mut above = u32::MAX;
		for (_, h) in &peaks {
			if *h >= above || *h >= 64 {
				return None;
			}
			above = *h;
			total = total.checked_add(1u64.checked_shl(*h)?)?;
		}
		(total == count).then_some(RequestLog { count, peaks })
	}

	/// The Merkle root over every request pushed, equal to [`merkle_root`] of them.
	pub fn root(&self) -> H256 {
		let mut peaks = self.peaks.iter().rev();
		let Some((last, _)) = peaks.next() else { return H256::zero() };
		peaks.fold(*last, |acc, (peak, _)| node_hash(peak, &acc))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_log_rebuilt_from_its_peaks_goes_on_as_the_original_and_bad_peaks_are_refused() {
		let reqs = requests(40);
		let mut log = RequestLog::new();
		for (n, r) in reqs.iter().enumerate() {
			let rebuilt = RequestLog::from_peaks(log.count(), log.peaks().to_vec()).unwrap();
			assert_eq!(rebuilt, log, "after {n}");
			let (mut a, mut b) = (log.clone(), rebuilt);
			a.push(r);
			b.push(r);
			assert_eq!(a.root(), b.root());
			log.push(r);
		}
		assert_eq!(log.root(), merkle_root(&reqs));
		let peaks = log.peaks().to_vec(); // 40 = 32 + 8: heights 5, 3
		assert!(RequestLog::from_peaks(41, peaks.clone()).is_none());
		assert!(RequestLog::from_peaks(40, peaks.iter().rev().cloned().collect()).is_none());
		assert!(RequestLog::from_peaks(16, vec![(H256::zero(), 3), (H256::zero(), 3)]).is_none());
		assert!(RequestLog::from_peaks(0, vec![(H256::zero(), 64)]).is_none());
		assert_eq!(RequestLog::from_peaks(0, Vec::new()), Some(RequestLog::new()));
	}

	fn requests(n: u64) -> Vec<H256> {
		(0..n).map(|i| H256(blake2_256(&i.to_le_bytes()))).collect()
	}

	#[test]
	fn every_proof_of_every_tree_size_verifies_and_no_other() {
		for n in 1..=17u64 {
			let reqs = requests(n);
			let root = merkle_root(&reqs);
			for (i, req) in reqs.iter().enumerate() {
				let proof = merkle_proof(&reqs, i).unwrap();
				assert!(verify_merkle_proof(&root, n, i as u64, req, &proof), "n={n} i={i}");
				// Wrong index, wrong request, extra sibling: all rejected.
				assert!(
					!verify_merkle_proof(&root, n, (i as u64 + 1) % n.max(2), req, &proof)
						|| n == 1
				);
				assert!(!verify_merkle_proof(&root, n, i as u64, &H256::repeat_byte(9), &proof));
				let mut longer = proof.clone();
				longer.push(H256::zero());
				assert!(!verify_merkle_proof(&root, n, i as u64, req, &longer));
			}
			assert!(!verify_merkle_proof(&root, n, n, &reqs[0], &[]));
			assert!(merkle_proof(&reqs, n as usize).is_none());
		}
		assert_eq!(merkle_root(&[]), H256::zero());
	}

	#[test]
	fn request_log_root_equals_the_full_tree_root() {
		let reqs = requests(70);
		let mut log = RequestLog::new();
		assert_eq!(log.root(), H256::zero());
		for (i, r) in reqs.iter().enumerate() {
			log.push(r);
			assert_eq!(log.root(), merkle_root(&reqs[..=i]), "n={}", i + 1);
			assert_eq!(log.count(), i as u64 + 1);
		}
	}

	#[test]
	fn root_of_one_request_is_its_leaf() {
		let r = requests(1);
		assert_eq!(merkle_root(&r), leaf_hash(&r[0]));
	}
}
