//! A member's step chain: the states one epoch's inner steps went through and each step's gradient
//! digest, so that an audit replays **one** step instead of every step before it.
//!
//! A state is the learner's parameters and Adam moments and step count, serialised as a
//! checkpoint ([`crate::train::Learner::checkpoint`] with no metadata and no outer momentum) and
//! named by its CID. Step `j` of an epoch goes from state `j` to state `j + 1`; its leaf commits
//! to both ends and to the gradient between them:
//!
//! `leaf_j = blake2-256("verity/step/1" ‖ state_j ‖ gradient_digest_j ‖ state_{j+1})` (CIDs in
//! their 36-byte binary form),
//!
//! and the member commits the Merkle root of its leaves on chain (`commit_epoch`). Neighbouring
//! leaves share a state, so a chain whose root matches the commitment is linked end to end: an
//! auditor who has the chain checks that state 0 is the epoch's start (the chain's checkpoint with
//! fresh moments), fetches state `j` by its CID, replays the step and recomputes the leaf. A step
//! that was not computed as claimed gives a different leaf, so the catch probability per audit is
//! the share of faked steps, as with a replay from the epoch's start, at the cost of one step.
//!
//! The member keeps the chain blob ([`StepChain::to_bytes`]) and every state in its content store
//! and serves them to auditors; it names the chain of each committed root in its group status
//! ([`crate::p2p::group::GroupStatus::chains`]).

use crate::{
	error::{invalid, Result},
	store::ContentStore,
};
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::blake2_256};
use std::{
	sync::mpsc::{sync_channel, SyncSender},
	thread::JoinHandle,
};
use verity_primitives::{
	cid::{Cid, BINARY_LEN},
	merkle::merkle_root,
};

/// Domain of a step leaf.
const LEAF_DOMAIN: &[u8] = b"verity/step/1";
/// First bytes of a step chain blob.
const MAGIC: &[u8; 4] = b"VSC1";

/// One epoch of one member: `states.len() == digests.len() + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepChain {
	/// State CIDs: before the first step, then after each step.
	pub states: Vec<Cid>,
	/// Gradient digest of each step ([`crate::digest::gradient_digest`]).
	pub digests: Vec<H256>,
}

impl StepChain {
	/// Steps in the chain.
	pub fn steps(&self) -> usize {
		self.digests.len()
	}

	/// The leaf of a step from `from` with gradient digest `digest` to `to`.
	pub fn leaf(from: &Cid, digest: &H256, to: &Cid) -> H256 {
		let mut bytes = Vec::with_capacity(LEAF_DOMAIN.len() + 2 * BINARY_LEN + 32);
		bytes.extend_from_slice(LEAF_DOMAIN);
		bytes.extend_from_slice(&from.to_bytes());
		bytes.extend_from_slice(digest.as_bytes());
		bytes.extend_from_slice(&to.to_bytes());
		H256(blake2_256(&bytes))
	}

	/// Every step's leaf, in step order.
	pub fn leaves(&self) -> Vec<H256> {
		self.digests
			.iter()
			.enumerate()
			.map(|(j, d)| Self::leaf(&self.states[j], d, &self.states[j + 1]))
			.collect()
	}

	/// The Merkle root committed on chain.
	pub fn root(&self) -> H256 {
		merkle_root(&self.leaves())
	}

	/// `"VSC1" ‖ steps u32 LE ‖ states (36 bytes each) ‖ digests (32 bytes each)`.
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut out = Vec::with_capacity(8 + self.states.len() * BINARY_LEN + self.steps() * 32);
		out.extend_from_slice(MAGIC);
		out.extend_from_slice(&(self.steps() as u32).to_le_bytes());
		for s in &self.states {
			out.extend_from_slice(&s.to_bytes());
		}
		for d in &self.digests {
			out.extend_from_slice(d.as_bytes());
		}
		out
	}

	/// Reads [`Self::to_bytes`]; anything else is a clear error.
	pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
		let bad = |why: &str| invalid!("not a step chain: {why}");
		if bytes.len() < 8 || &bytes[..4] != MAGIC {
			return Err(bad("no VSC1 header"));
		}
		let steps = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
		let want = steps
			.checked_add(1)
			.and_then(|s| s.checked_mul(BINARY_LEN))
			.and_then(|s| s.checked_add(steps.checked_mul(32)?))
			.and_then(|s| s.checked_add(8))
			.ok_or_else(|| bad("step count overflows"))?;
		if bytes.len() != want {
			return Err(bad(&format!("{} bytes for {steps} steps, {want} expected", bytes.len())));
		}
		let (states, digests) = bytes[8..].split_at((steps + 1) * BINARY_LEN);
		let states = states
			.chunks_exact(BINARY_LEN)
			.map(|c| Cid::from_binary(c).map_err(|e| bad(e.as_str())))
			.collect::<Result<Vec<_>>>()?;
		let digests = digests.chunks_exact(32).map(H256::from_slice).collect();
		Ok(StepChain { states, digests })
	}
}

/// States waiting for the writer before the trainer waits for it.
const WRITER_QUEUE: usize = 8;

/// Stores an epoch's states off the training thread. A state must be serialised between two
/// steps, but hashing it to its CID and writing it need not: a writer thread does both while the
/// next steps train, in the order the states came. At most [`WRITER_QUEUE`] states wait; a full
/// queue makes the trainer wait, so memory stays bounded when the store is the slower side.
pub struct StateWriter {
	queue: Option<SyncSender<Vec<u8>>>,
	thread: Option<JoinHandle<Result<Vec<Cid>>>>,
}

impl StateWriter {
	/// A writer into `store`.
	pub fn spawn(store: ContentStore) -> Result<Self> {
		let (queue, states) = sync_channel::<Vec<u8>>(WRITER_QUEUE);
		let thread = std::thread::Builder::new()
			.name("step-states".into())
			.spawn(move || states.into_iter().map(|b| Ok(store.put(&b)?)).collect())
			.map_err(|e| invalid!("cannot start the step-state writer: {e}"))?;
		Ok(StateWriter { queue: Some(queue), thread: Some(thread) })
	}

	/// Queues the next state.
	pub fn put(&self, state: Vec<u8>) -> Result<()> {
		let queue = self.queue.as_ref().expect("a writer takes states until it is finished");
		// A send fails only once the writer stopped at an error, which `finish` returns.
		queue.send(state).map_err(|_| invalid!("the step-state writer stopped"))
	}

	/// Waits for every queued state; their CIDs in order, or the first error.
	pub fn finish(mut self) -> Result<Vec<Cid>> {
		self.queue.take();
		let thread = self.thread.take().expect("finished once");
		thread.join().map_err(|_| invalid!("the step-state writer panicked"))?
	}
}

impl Drop for StateWriter {
	fn drop(&mut self) {
		// An epoch given up half way: let the writer end before its store is reused.
		self.queue.take();
		if let Some(thread) = self.thread.take() {
			let _ = thread.join();
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn chain(steps: u8) -> StepChain {
		StepChain {
			states: (0..=steps).map(|j| Cid::of_raw_bytes(&[b's', j])).collect(),
			digests: (0..steps).map(H256::repeat_byte).collect(),
		}
	}

	#[test]
	fn round_trips_and_refuses_anything_else() {
		let c = chain(5);
		assert_eq!(StepChain::from_bytes(&c.to_bytes()).unwrap(), c);
		assert_eq!(StepChain::from_bytes(&chain(0).to_bytes()).unwrap().steps(), 0);
		let bytes = c.to_bytes();
		for bad in [&bytes[..bytes.len() - 1], &bytes[..7], b"VSC2\x00\x00\x00\x00", &[][..]] {
			assert!(StepChain::from_bytes(bad).is_err());
		}
		let mut long = bytes.clone();
		long.push(0);
		assert!(StepChain::from_bytes(&long).is_err());
		let mut huge = bytes.clone();
		huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
		assert!(StepChain::from_bytes(&huge).is_err());
	}

	#[test]
	fn each_leaf_commits_to_both_states_and_the_gradient() {
		let c = chain(4);
		let root = c.root();
		// Any state or digest changed changes the root; neighbouring leaves share their state.
		for j in 0..c.states.len() {
			let mut d = c.clone();
			d.states[j] = Cid::of_raw_bytes(b"another state");
			assert_ne!(d.root(), root, "state {j}");
		}
		for j in 0..c.steps() {
			let mut d = c.clone();
			d.digests[j] = H256::repeat_byte(0xfa);
			assert_ne!(d.root(), root, "digest {j}");
			assert_ne!(d.leaves()[j], c.leaves()[j]);
		}
		assert_eq!(c.leaves()[2], StepChain::leaf(&c.states[2], &c.digests[2], &c.states[3]));
	}

	#[test]
	fn the_writer_stores_every_state_in_order_and_reports_a_failed_write() {
		let dir = tempfile::tempdir().unwrap();
		let store = ContentStore::open(dir.path()).unwrap();
		let states: Vec<Vec<u8>> =
			(0..3 * WRITER_QUEUE as u32).map(|i| i.to_le_bytes().repeat(1 + i as usize)).collect();
		let writer = StateWriter::spawn(store.clone()).unwrap();
		for s in &states {
			writer.put(s.clone()).unwrap();
		}
		let cids = writer.finish().unwrap();
		assert_eq!(cids, states.iter().map(|s| Cid::of_raw_bytes(s)).collect::<Vec<_>>());
		for (cid, s) in cids.iter().zip(&states) {
			assert_eq!(&store.get(cid).unwrap(), s);
		}
		// A store that cannot be written: the error comes back, from `put` or from `finish`.
		let gone = ContentStore::open(dir.path().join("gone")).unwrap();
		std::fs::remove_dir(dir.path().join("gone")).unwrap();
		let writer = StateWriter::spawn(gone).unwrap();
		let sent = states.iter().map(|s| writer.put(s.clone())).take_while(Result::is_ok).count();
		assert!(sent <= WRITER_QUEUE + 2, "{sent} states taken after the writer failed");
		let err = writer.finish().unwrap_err().to_string();
		assert!(err.contains("content store I/O"), "{err}");
	}
}
