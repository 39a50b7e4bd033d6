//! Group membership for training: what this member tells others (its checkpoints, whether it has
//! finished, the step chains it serves to auditors) through a `watch` channel, answered on
//! `/verity/group/1`, and the questions a member asks when a group forms, re-forms or ends.

use crate::p2p::{group::GroupStatus, Net, StatusRequest};
use libp2p::PeerId;
use polkadot_sdk::sp_core::H256;
use std::{
	collections::BTreeMap,
	time::{Duration, Instant},
};
use tokio::sync::{mpsc, watch};
use verity_primitives::cid::Cid;

/// How long a member has to answer a status request.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the group could not form.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
	/// A member did not answer in time.
	#[error("peer {peer} did not answer within {waited:?}")]
	NoAnswer {
		/// The member.
		peer: PeerId,
		/// How long it was waited for.
		waited: Duration,
	},
	/// The members that answered share no checkpoint.
	#[error("no checkpoint in common with the group")]
	NoCommonCheckpoint,
}

/// What a [`Membership::probe`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
	/// The members that answered, this one included.
	pub alive: Vec<PeerId>,
	/// The newest epoch whose checkpoint all of them hold, with the same CID.
	pub resume: u64,
	/// The highest generation one of them trains at (0: none said).
	pub generation: u64,
}

/// This member's side of the group protocol. Cheap to clone.
#[derive(Clone)]
pub struct Membership {
	net: Net,
	status: watch::Sender<GroupStatus>,
}

impl Membership {
	/// Starts answering status requests (from [`crate::p2p::Inbound::group`]) with what
	/// [`Self::publish`] last set.
	pub fn start(net: Net, mut requests: mpsc::Receiver<StatusRequest>) -> Self {
		let (status, watched) = watch::channel(GroupStatus::default());
		tokio::spawn(async move {
			while let Some(StatusRequest { reply, .. }) = requests.recv().await {
				reply.respond(watched.borrow().clone());
			}
		});
		Membership { net, status }
	}

	/// This member's peer id.
	pub fn peer_id(&self) -> PeerId {
		self.net.peer_id
	}

	/// Sets what this member answers: the checkpoints it holds and whether it has finished.
	pub fn publish(&self, checkpoints: &BTreeMap<u64, Cid>, finished: bool) {
		self.status.send_modify(|s| {
			s.checkpoints = checkpoints.iter().map(|(e, c)| (*e, *c)).collect();
			s.finished = finished;
		});
	}

	/// Sets the generation this member trains at (or re-forms at next).
	pub fn publish_generation(&self, generation: u64) {
		self.status.send_modify(|s| s.generation = Some(generation));
	}

	/// Sets the step chains this member serves to auditors, by committed root.
	pub fn publish_chains(&self, chains: Vec<(H256, Cid)>) {
		self.status.send_modify(|s| s.chains = chains);
	}

	/// `peer`'s status, or `None` if it does not answer within a few seconds.
	pub async fn status_of(&self, peer: PeerId) -> Option<GroupStatus> {
		match tokio::time::timeout(STATUS_TIMEOUT, self.net.status(peer)).await {
			Ok(Ok(status)) => Some(status),
			_ => None,
		}
	}

	/// Waits until every member answers from a training session at generation `least` or
	/// later (they may still be starting, or still answer from an earlier job's session), at most
	/// `wait`.
	pub async fn await_all(
		&self,
		members: &[PeerId],
		least: u64,
		wait: Duration,
	) -> Result<(), GroupError> {
		let deadline = Instant::now() + wait;
		for peer in members.iter().filter(|p| **p != self.net.peer_id) {
			while self.status_of(*peer).await.and_then(|s| s.generation).is_none_or(|g| g < least) {
				if Instant::now() > deadline {
					return Err(GroupError::NoAnswer { peer: *peer, waited: wait });
				}
				tokio::time::sleep(Duration::from_millis(200)).await;
			}
		}
		Ok(())
	}

	/// Asks every member for its status: the members that answer (this one included), the
	/// newest epoch whose checkpoint all of them hold with the same CID as `mine`, and the
	/// highest generation they train at (0 if none says).
	pub async fn probe(
		&self,
		members: &[PeerId],
		mine: &BTreeMap<u64, Cid>,
	) -> Result<Probe, GroupError> {
		let mut alive = vec![self.net.peer_id];
		let mut common = mine.clone();
		let mut generation = 0;
		for peer in members.iter().filter(|p| **p != self.net.peer_id) {
			if let Some(status) = self.status_of(*peer).await {
				alive.push(*peer);
				generation = generation.max(status.generation.unwrap_or(0));
				let theirs: BTreeMap<u64, Cid> = status.checkpoints.into_iter().collect();
				common.retain(|e, c| theirs.get(e) == Some(c));
			} else {
				tracing::warn!(%peer, "member did not answer; re-forming without it");
			}
		}
		let resume = common.keys().next_back().copied().ok_or(GroupError::NoCommonCheckpoint)?;
		Ok(Probe { alive, resume, generation })
	}

	/// After the last epoch, keeps answering until every member has finished (its last chunks may
	/// still need this member's acknowledgements), at most `wait`.
	pub async fn linger(&self, members: &[PeerId], wait: Duration) {
		let deadline = Instant::now() + wait;
		for peer in members.iter().filter(|p| **p != self.net.peer_id) {
			while Instant::now() < deadline {
				match self.status_of(*peer).await {
					Some(status) if !status.finished => {
						tokio::time::sleep(Duration::from_millis(100)).await
					}
					_ => break,
				}
			}
		}
	}
}
