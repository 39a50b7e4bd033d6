//! Payment-channel vouchers: the exact bytes a buyer signs and the fee-settlement pallet verifies.
//!
//! A buyer who calls a provider's model online pays through a channel: a deposit held on chain
//! and, with every request, a signed [`Voucher`] saying "in this channel I owe you `cumulative` in
//! total for the `nonce` requests whose hashes make up `requests_root`". The provider keeps only
//! the latest voucher and redeems it once, in one call whose cost does not depend on how many
//! requests it covers.
//!
//! # What is signed
//!
//! [`signing_payload`] is, byte for byte:
//!
//! | bytes | content |
//! |---|---|
//! | 17 | the ASCII prefix `verity/voucher/v1` ([`VOUCHER_PREFIX`]) |
//! | 32 | the chain's genesis hash |
//! | 32 | the channel id |
//! | 16 | `cumulative`, u128 little-endian (smallest VER unit) |
//! | 8 | `nonce`, u64 little-endian |
//! | 32 | `requests_root` |
//!
//! 137 bytes in all: the prefix separates vouchers from transactions and any other signed message,
//! the genesis hash separates chains (a testnet voucher is worthless on another chain), the
//! channel id separates channels. The last four fields are the SCALE encoding of [`Voucher`].
//!
//! The buyer signs the payload with its account key (sr25519, ed25519 or ecdsa, as a
//! `MultiSignature`). Wallets and polkadot.js `signRaw` sign `<Bytes>payload</Bytes>` instead
//! ([`wrap_bytes`]); the pallet accepts both.
//!
//! # What the requests root proves
//!
//! `requests_root` is the root of a binary Merkle tree ([`merkle_root`]) over the hashes of the
//! requests the voucher pays for, in order, and `nonce` is how many there are: a voucher with
//! nonce `n` covers requests `0..n`. Signing it, the buyer states which requests it is paying for;
//! redeeming it, the provider accepts payment for exactly those. After a redeem the chain keeps the
//! root and its leaf count, so either side can later prove with a [`merkle_proof`] that a given
//! request was paid for (the buyer: "you were paid for this request, where is its response?"), and
//! nobody can claim payment for a request outside the root.
//!
//! Tree layout: leaf = blake2-256(`0x00` ‖ request hash); inner node = blake2-256(`0x01` ‖ left ‖
//! right); a level with an odd number of nodes carries its last node up unchanged. The domain bytes
//! keep a leaf from being passed off as an inner node. The root of zero requests is
//! `H256::zero()`.

use alloc::vec::Vec;
use codec::{DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::blake2_256, sp_runtime::traits::Verify};
use scale_info::TypeInfo;

/// Prefix of every voucher payload: separates vouchers from any other message a key signs.
pub const VOUCHER_PREFIX: &[u8; 17] = b"verity/voucher/v1";
/// Prefix of the preimage of a channel id.
pub const CHANNEL_PREFIX: &[u8; 17] = b"verity/channel/v1";
/// What polkadot.js `signRaw` and browser wallets put before the message they sign.
pub const BYTES_OPEN: &[u8; 7] = b"<Bytes>";
/// What polkadot.js `signRaw` and browser wallets put after the message they sign.
pub const BYTES_CLOSE: &[u8; 8] = b"</Bytes>";

/// A buyer's promise to pay `cumulative` in total on `channel` for its first `nonce` requests.
#[derive(
	Clone,
	PartialEq,
	Eq,
	Encode,
	codec::Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub struct Voucher<Balance> {
	/// The channel this voucher pays on.
	pub channel: H256,
	/// Total owed on the channel since it opened, not the increment.
	pub cumulative: Balance,
	/// Number of requests covered; strictly increases from one redeemed voucher to the next.
	pub nonce: u64,
	/// Merkle root of the hashes of the `nonce` requests covered ([`merkle_root`]).
	pub requests_root: H256,
}

/// The id of the `index`-th channel `buyer` opens to `provider`:
/// blake2-256(`verity/channel/v1` ‖ buyer ‖ provider ‖ index as u64 LE).
pub fn channel_id<AccountId: Encode>(buyer: &AccountId, provider: &AccountId, index: u64) -> H256 {
	let mut preimage = CHANNEL_PREFIX.to_vec();
	buyer.encode_to(&mut preimage);
	provider.encode_to(&mut preimage);
	index.encode_to(&mut preimage);
	H256(blake2_256(&preimage))
}

/// The bytes a buyer signs for `voucher` on the chain whose genesis hash is `genesis` (32 bytes;
/// see the module docs for the layout).
pub fn signing_payload<G: AsRef<[u8]>, Balance: Encode>(
	genesis: &G,
	voucher: &Voucher<Balance>,
) -> Vec<u8> {
	let mut payload = Vec::with_capacity(137);
	payload.extend_from_slice(VOUCHER_PREFIX);
	payload.extend_from_slice(genesis.as_ref());
	voucher.encode_to(&mut payload);
	payload
}

/// `payload` wrapped as polkadot.js `signRaw` and browser extensions sign it.
pub fn wrap_bytes(payload: &[u8]) -> Vec<u8> {
	let mut wrapped = Vec::with_capacity(payload.len().saturating_add(15));
	wrapped.extend_from_slice(BYTES_OPEN);
	wrapped.extend_from_slice(payload);
	wrapped.extend_from_slice(BYTES_CLOSE);
	wrapped
}

/// Whether `signature` is `signer`'s signature of `voucher` on chain `genesis`, either over the
/// raw payload or over its `<Bytes>` wrapping.
pub fn verify_voucher<G: AsRef<[u8]>, Balance: Encode, S: Verify>(
	genesis: &G,
	voucher: &Voucher<Balance>,
	signature: &S,
	signer: &<S::Signer as polkadot_sdk::sp_runtime::traits::IdentifyAccount>::AccountId,
) -> bool {
	let payload = signing_payload(genesis, voucher);
	signature.verify(&payload[..], signer) || signature.verify(&wrap_bytes(&payload)[..], signer)
}

/// Merkle leaf of a request hash.
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

/// Merkle root over request hashes in order; `H256::zero()` for none.
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

	/// The Merkle root over every request pushed, equal to [`merkle_root`] of them.
	pub fn root(&self) -> H256 {
		let mut peaks = self.peaks.iter().rev();
		let Some((last, _)) = peaks.next() else { return H256::zero() };
		peaks.fold(*last, |acc, (peak, _)| node_hash(peak, &acc))
	}
}

/// Signing with a local key: what the worker and tests use to produce vouchers.
#[cfg(feature = "std")]
pub mod sign {
	use super::*;
	use polkadot_sdk::{sp_core::Pair, sp_runtime::MultiSignature};

	/// Signs `voucher`'s raw payload with an sr25519, ed25519 or ecdsa key.
	pub fn sign_voucher<P, Balance>(
		pair: &P,
		genesis: &H256,
		voucher: &Voucher<Balance>,
	) -> MultiSignature
	where
		P: Pair,
		MultiSignature: From<P::Signature>,
		Balance: Encode,
	{
		pair.sign(&signing_payload(genesis, voucher)).into()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use polkadot_sdk::{
		sp_core::{ed25519, sr25519, Pair},
		sp_runtime::{traits::IdentifyAccount, AccountId32, MultiSignature, MultiSigner},
	};

	fn requests(n: u64) -> Vec<H256> {
		(0..n).map(|i| H256(blake2_256(&i.to_le_bytes()))).collect()
	}

	#[test]
	fn payload_is_137_bytes_in_documented_order() {
		let voucher = Voucher {
			channel: H256::repeat_byte(2),
			cumulative: 5u128,
			nonce: 7,
			requests_root: H256::repeat_byte(3),
		};
		let payload = signing_payload(&H256::repeat_byte(1), &voucher);
		assert_eq!(payload.len(), 137);
		assert_eq!(&payload[..17], b"verity/voucher/v1");
		assert_eq!(&payload[17..49], &[1u8; 32]);
		assert_eq!(&payload[49..81], &[2u8; 32]);
		assert_eq!(&payload[81..97], &5u128.to_le_bytes());
		assert_eq!(&payload[97..105], &7u64.to_le_bytes());
		assert_eq!(&payload[105..], &[3u8; 32]);
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

	#[test]
	fn signed_vouchers_verify_raw_and_wrapped_and_only_for_their_signer() {
		let genesis = H256::repeat_byte(7);
		let voucher = Voucher {
			channel: H256::repeat_byte(1),
			cumulative: 10u128,
			nonce: 1,
			requests_root: merkle_root(&requests(1)),
		};
		let sr = sr25519::Pair::from_string("//Alice", None).unwrap();
		let ed = ed25519::Pair::from_string("//Alice", None).unwrap();
		let sr_account: AccountId32 = MultiSigner::from(sr.public()).into_account();
		let ed_account: AccountId32 = MultiSigner::from(ed.public()).into_account();

		let sig = sign::sign_voucher(&sr, &genesis, &voucher);
		assert!(verify_voucher(&genesis, &voucher, &sig, &sr_account));
		assert!(!verify_voucher(&genesis, &voucher, &sig, &ed_account));
		assert!(!verify_voucher(&H256::repeat_byte(8), &voucher, &sig, &sr_account));
		let other = Voucher { cumulative: 11u128, ..voucher.clone() };
		assert!(!verify_voucher(&genesis, &other, &sig, &sr_account));

		let sig = sign::sign_voucher(&ed, &genesis, &voucher);
		assert!(verify_voucher(&genesis, &voucher, &sig, &ed_account));

		let wrapped: MultiSignature =
			sr.sign(&wrap_bytes(&signing_payload(&genesis, &voucher))).into();
		assert!(verify_voucher(&genesis, &voucher, &wrapped, &sr_account));
	}

	#[test]
	fn channel_ids_differ_by_every_input() {
		let a = AccountId32::new([1; 32]);
		let b = AccountId32::new([2; 32]);
		let id = channel_id(&a, &b, 0);
		assert_ne!(id, channel_id(&a, &b, 1));
		assert_ne!(id, channel_id(&b, &a, 0));
		assert_eq!(id, channel_id(&a, &b, 0));
	}
}
