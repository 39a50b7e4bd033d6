//! Training on a chain: a training job's group is the providers of its tasks, in the job's task
//! order; each member trains DiLoCo on its own shard of the job's dataset (the chain's split),
//! the group averages pseudo-gradients with ring AllReduce over libp2p after every outer round,
//! and each outer round is one epoch on chain: the member commits the round's checkpoint CID and
//! the Merkle root of its step chain (`proof_of_compute.commit_epoch`; [`crate::steps`]).
//!
//! **Why DiLoCo on chain.** An audit replays one (member, step) from the state the member's step
//! chain names for it ([`crate::steps`]), and checks the chain from the epoch's start checkpoint,
//! which the chain records. In DiLoCo mode a member's inner steps depend only on that checkpoint
//! and its own shard, so each step's next state is a function of its state alone
//! ([`train::replay_leaf`]). In sync mode the state after step `s` depends on every member's
//! gradients of step `s`, which no one outside the group has.
//!
//! The job's `hyperparams` are the JSON of [`Hyper`] (empty: the defaults), which the chain reads
//! too: the marketplace refuses a job whose settings do not parse and takes from them the step
//! count every epoch commitment must have.

use super::{compute, directory_peers, journal::Computed, shared};
use crate::{
	chain::{
		self,
		api::{self, runtime_types::pallet_marketplace::types::JobKind},
		AccountId, AtBlock,
	},
	collective::Collective,
	error::{invalid, Result},
	group::Membership,
	kernel::{Adam, Dataset, Manifest, Model},
	metrics::Metrics,
	p2p::Net,
	steps::StepChain,
	store::ContentStore,
	train::{
		self, EpochRecord, Learner, Mode, Regroup, Shard, TorchLearner, TrainConfig, TrainReport,
		Trainer,
	},
};
use codec::Encode;
use libp2p::PeerId;
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::blake2_256};
use tch::Device;
pub use verity_primitives::training::Hyper;
use verity_primitives::{cid::Cid, kernel::KernelSpec};

/// The settings of job `job`'s member with `shard`, for `epochs` outer rounds: what every member
/// and every auditor derives from the chain's record of the job.
pub fn config(h: &Hyper, job: u64, epochs: u32, shard: Shard) -> TrainConfig {
	TrainConfig {
		epochs: epochs.into(),
		batch: h.batch as usize,
		adam: Adam { lr: h.lr, ..Adam::default() },
		seed: h.seed,
		mode: Mode::Diloco,
		inner_steps: h.inner_steps.into(),
		outer_lr: h.outer_lr,
		outer_momentum: h.outer_momentum,
		wire: h.wire,
		// Each crash of a member costs one or two (its restart may meet a round in flight).
		max_reforms: 8,
		shard: Some(shard),
		generation: job << 16,
		ring: Vec::new(),
	}
}

/// A training task as the chain has it.
#[derive(Clone, Debug)]
pub struct TrainingTask {
	/// The job.
	pub job: u64,
	/// Epochs (outer rounds) of the job.
	pub epochs: u32,
	/// Its settings.
	pub hyper: Hyper,
	/// This task's shard.
	pub shard: Shard,
	/// The group: the job's tasks, in order.
	pub group: Vec<u64>,
	/// The kernel's record.
	pub kernel: KernelSpec,
	/// Who may serve the kernel and the dataset first: the buyer and the kernel's owner.
	pub sources: Vec<AccountId>,
	/// The dataset.
	pub dataset: Cid,
}

/// Reads training task `task`; `None` if it is an inference task.
pub async fn read_task(at: &AtBlock, task: u64) -> Result<Option<TrainingTask>> {
	let entry = chain::read(at, api::storage().marketplace().tasks(), (task,))
		.await?
		.ok_or_else(|| invalid!("task {task} is not on chain"))?;
	let job = chain::read(at, api::storage().marketplace().jobs(), (entry.job,))
		.await?
		.ok_or_else(|| invalid!("job {} is not on chain", entry.job))?;
	let JobKind::Training { dataset, hyperparams, epochs, steps, .. } = &job.kind else {
		return Ok(None);
	};
	let hyper = Hyper::parse(&hyperparams.0)
		.map_err(|e| invalid!("job {}'s hyperparams are refused: {e}", entry.job))?;
	// The chain read the same JSON with the same parser when the job was posted.
	if hyper.inner_steps != *steps {
		return Err(invalid!(
			"job {} has {steps} steps per epoch on chain, its hyperparams {}",
			entry.job,
			hyper.inner_steps
		));
	}
	let kernel = chain::read(at, api::storage().aivm_registry().kernels(), (job.kernel,))
		.await?
		.ok_or_else(|| invalid!("kernel {:?} is not registered", job.kernel))?;
	Ok(Some(TrainingTask {
		job: entry.job,
		epochs: *epochs,
		hyper,
		shard: Shard { first: entry.first_sample, len: entry.samples },
		group: job.tasks.0.clone(),
		kernel: shared("kernel record", &kernel.spec)?,
		sources: vec![job.buyer, kernel.owner],
		dataset: shared("dataset CID", dataset)?,
	}))
}

/// The other members' endpoints once every task of the group is accepted and its provider has
/// an endpoint; `None` while the group is still forming.
pub async fn group_peers(
	at: &AtBlock,
	t: &TrainingTask,
	me: &AccountId,
) -> Result<Option<Vec<compute::Peer>>> {
	use api::runtime_types::pallet_marketplace::types::TaskState;
	let mut peers = Vec::new();
	for id in &t.group {
		let Some(task) = chain::read(at, api::storage().marketplace().tasks(), (*id,)).await?
		else {
			return Ok(None);
		};
		if matches!(task.state, TaskState::Assigned) {
			return Ok(None);
		}
		if task.provider == *me {
			continue;
		}
		let Some(e) =
			chain::read(at, api::storage().marketplace().endpoints(), (task.provider,)).await?
		else {
			return Ok(None);
		};
		let addrs: Vec<Vec<u8>> = e.addrs.0.iter().map(|a| a.0.clone()).collect();
		match compute::Peer::parse(&e.peer.0, &addrs) {
			Some(p) => peers.push(p),
			None => return Ok(None),
		}
	}
	Ok(Some(peers))
}

/// One epoch as the chain has it: its checkpoint, and (where a member's commitment is still
/// there) that commitment's steps and root.
pub struct ChainEpoch {
	/// The checkpoint the epoch ended with.
	pub checkpoint: Cid,
	/// Steps of a member's commitment (0 where only the checkpoint is known).
	pub steps: u32,
	/// Root of that commitment (zero where only the checkpoint is known).
	pub root: H256,
}

/// The epochs `from..to` of task `t`'s job, as far as the chain still names their checkpoints,
/// in order: from a member's commitment (while the epoch is open or audited), the job's history
/// (an epoch whose audits passed), the next epoch's start, or for the newest closed epoch the
/// job's last checkpoint. What a provider that took the task over (or lost its journal) joins
/// the group with: those epochs opened before it came and are its predecessor's.
pub async fn chain_epochs(
	at: &AtBlock,
	t: &TrainingTask,
	from: u32,
	to: u32,
) -> Result<Vec<ChainEpoch>> {
	let poc = || api::storage().proof_of_compute();
	let mut out = Vec::new();
	for e in from..to {
		// A member's commitment, while the epoch is open or audited, then the job's history.
		let mut commit = None;
		for task in &t.group {
			commit = chain::read(at, poc().epoch_commits(), (*task, e)).await?;
			if commit.is_some() {
				break;
			}
		}
		if commit.is_none() {
			commit = chain::read(at, poc().epoch_history(), (t.job, e))
				.await?
				.and_then(|h| h.commits.0.into_iter().next().map(|(_, c)| c));
		}
		if let Some(c) = commit {
			let checkpoint = shared("checkpoint CID", &c.checkpoint)?;
			out.push(ChainEpoch { checkpoint, steps: c.steps, root: H256(c.root.0) });
			continue;
		}
		// An invalid epoch keeps no commitments: the next epoch started from its checkpoint,
		// and the newest closed epoch's is the job's last checkpoint.
		let mut end = match chain::read(at, poc().epochs(), (t.job, e + 1)).await? {
			Some(s) => s.start,
			None => {
				chain::read(at, poc().epoch_history(), (t.job, e + 1)).await?.and_then(|h| h.start)
			}
		};
		if end.is_none()
			&& e + 1 == to
			&& chain::read(at, poc().epochs(), (t.job, e)).await?.is_none()
		{
			end = chain::read(at, poc().last_checkpoint(), (t.job,)).await?;
		}
		let Some(c) = end else { break };
		out.push(ChainEpoch {
			checkpoint: shared("checkpoint CID", &c)?,
			steps: 0,
			root: H256::zero(),
		});
	}
	Ok(out)
}

/// What a training session uses of the daemon.
#[derive(Clone)]
pub struct Parts {
	/// The libp2p node.
	pub net: Net,
	/// The blob store (checkpoints, step chains and their states go here, served to auditors).
	pub store: ContentStore,
	/// This member's side of the group protocol.
	pub membership: Membership,
	/// AllReduce.
	pub collective: Collective,
	/// Metrics.
	pub metrics: Metrics,
	/// Where libtorch runs.
	pub device: Device,
	/// The learner audits replay on, kept between replays.
	pub audits: AuditCache,
}

/// Who may serve task `t`'s blobs: its buyer and kernel owner first, then the directory.
async fn sources(at: &AtBlock, t: &TrainingTask) -> Result<Vec<compute::Peer>> {
	let first: Vec<&AccountId> = t.sources.iter().collect();
	directory_peers(at, &first).await
}

/// Fetches the kernel archive and the dataset from `peers`, and loads a learner on this task's
/// shard.
async fn learner(
	net: &Net,
	store: &ContentStore,
	t: &TrainingTask,
	peers: &[compute::Peer],
	device: Device,
) -> Result<(TorchLearner, Cid)> {
	let archive = compute::fetch_blob(net, store, &t.kernel.archive, peers).await?;
	let dataset = compute::fetch_blob(net, store, &t.dataset, peers).await?;
	let (kernel, shard) = (t.kernel.clone(), t.shard);
	tokio::task::spawn_blocking(move || {
		tch::manual_seed(kernel.environment.seed as i64);
		let archive_cid = kernel.archive;
		let manifest = Manifest::from_record(kernel).map_err(|e| invalid!("{e}"))?;
		let model = Model::load(manifest, &archive, device)?;
		let learner = TorchLearner { model, train: Dataset::from_bytes(&dataset)?, test: None };
		check_shard(&learner, shard)?;
		Ok((learner, archive_cid))
	})
	.await?
}

/// A clear error unless `shard` is a non-empty part of the learner's dataset.
fn check_shard(learner: &TorchLearner, shard: Shard) -> Result<()> {
	let examples = learner.examples() as u64;
	if shard.first.saturating_add(shard.len) > examples || shard.len == 0 {
		return Err(invalid!(
			"the task's shard {}..{} is outside the dataset's {examples} examples",
			shard.first,
			shard.first.saturating_add(shard.len)
		));
	}
	Ok(())
}

/// An auditor's kernel and dataset, loaded once and kept for its next replay of the same job's
/// kernel and dataset (the audits of one epoch come together, and the next epoch's soon after):
/// each replay restores the whole state (parameters, Adam moments, step count) before its step.
pub struct AuditLearner {
	/// The kernel archive and the dataset it was loaded from.
	key: (Cid, Cid),
	/// Its state as loaded (a first epoch's start).
	initial: Vec<u8>,
	/// The last epoch start it restored (its checkpoint, `None` for the kernel's own state) and
	/// that state's CID: an epoch's audits check their chains against it without hashing it again.
	start: Option<(Option<Cid>, Cid)>,
	learner: TorchLearner,
}

/// The daemon's one kept [`AuditLearner`]; replays take it in turn for their compute.
pub type AuditCache = std::sync::Arc<tokio::sync::Mutex<Option<AuditLearner>>>;

/// The ring of task `id`'s group: the other members `peers` (in the job's task order) with this
/// member (`me`) at its task's place.
fn ring_of(t: &TrainingTask, id: u64, peers: &[compute::Peer], me: PeerId) -> Vec<PeerId> {
	let mut ring: Vec<PeerId> = peers.iter().map(|p| p.id).collect();
	let at = t.group.iter().position(|task| *task == id).unwrap_or(ring.len());
	ring.insert(at.min(ring.len()), me);
	ring
}

/// The group of task `id` as the chain's best block has it, for a training session that
/// re-forms: the ring once every task of the job is accepted and its provider has an endpoint (a
/// restarted member's, or a reassigned task's new provider's); an error once the task is gone or
/// no longer this account's. A node that cannot be read is waited for (`None`).
fn chain_ring(
	chain: chain::Chain,
	net: Net,
	id: u64,
	t: TrainingTask,
	me: AccountId,
) -> train::RingSource {
	let runtime = tokio::runtime::Handle::current();
	Box::new(move || {
		runtime.block_on(async {
			let read = async {
				let best = chain.rpc.chain_get_header(None).await.map_err(chain::subxt_err)?;
				let best = best.ok_or_else(|| invalid!("the node has no best block"))?.number;
				let at = chain.client.at_block(best).await.map_err(chain::subxt_err)?;
				let task = chain::read(&at, api::storage().marketplace().tasks(), (id,)).await?;
				let peers = group_peers(&at, &t, &me).await?;
				Ok::<_, crate::error::Error>((task, peers))
			};
			let (task, peers) = match read.await {
				Ok(r) => r,
				Err(e) => {
					tracing::warn!(task = id, error = %e, "cannot read the group from the node");
					return Ok(None);
				}
			};
			match task {
				None => return Err(invalid!("task {id} is no longer on chain: training stops")),
				Some(task) if task.provider != me => {
					return Err(invalid!("task {id} went to another provider: training stops"))
				}
				Some(_) => {}
			}
			let Some(peers) = peers else { return Ok(None) };
			for p in &peers {
				for a in &p.addrs {
					net.add_peer(p.id, a.clone()).await?;
				}
			}
			Ok(Some(ring_of(&t, id, &peers, net.peer_id)))
		})
	})
}

/// Trains task `id` (`t`) with the group `peers` (the other members, in the job's task order)
/// to the end; `on_epoch` gets every finished epoch. The ring is the job's task order. `known`
/// are the checkpoints of an earlier session (the journal's, by epoch): a restarted member
/// resumes from the newest its group shares. When a round fails, the group waits for the chain's
/// group (every task's provider, restarted or replaced) and goes on with all of it.
#[allow(clippy::too_many_arguments)]
pub async fn train(
	at: AtBlock,
	chain: chain::Chain,
	parts: Parts,
	(id, me): (u64, AccountId),
	t: TrainingTask,
	peers: Vec<compute::Peer>,
	known: std::collections::BTreeMap<u64, Cid>,
	on_epoch: Box<dyn FnMut(&EpochRecord) + Send>,
) -> Result<TrainReport> {
	let sources = sources(&at, &t).await?;
	let (learner, _) = learner(&parts.net, &parts.store, &t, &sources, parts.device).await?;
	for p in &peers {
		for a in &p.addrs {
			parts.net.add_peer(p.id, a.clone()).await?;
		}
	}
	// The newest checkpoint held from before (a predecessor's epochs, named by the chain) comes
	// from the group: the session joins it there.
	if let Some((epoch, cid)) = known.iter().next_back() {
		if !parts.store.has(cid) {
			let from: Vec<compute::Peer> = peers.iter().chain(&sources).cloned().collect();
			compute::fetch_blob(&parts.net, &parts.store, cid, &from).await?;
			tracing::info!(task = id, epoch, checkpoint = %cid, "fetched the group's checkpoint to join at");
		}
	}
	let ring = ring_of(&t, id, &peers, parts.net.peer_id);
	let trainer = Trainer {
		learner,
		cfg: TrainConfig { ring, ..config(&t.hyper, t.job, t.epochs, t.shard) },
		store: parts.store,
		membership: parts.membership,
		collective: parts.collective,
		runtime: tokio::runtime::Handle::current(),
		metrics: parts.metrics,
		on_epoch,
		regroup: Regroup::Wait(chain_ring(chain, parts.net.clone(), id, t, me)),
		known,
	};
	let ids = peers.iter().map(|p| p.id).collect();
	tokio::task::spawn_blocking(move || trainer.run(ids)).await?
}

/// Why an audit's step could not be checked.
enum Unchecked {
	/// The member's step chain or state could not be had (it may be back later).
	Unavailable(String),
	/// What the member serves does not hold: a chain that is not its root's, one that does not
	/// start at the epoch's start, or a state that is not one of the kernel's.
	Invalid(String),
	/// This auditor could not do its part (the epoch's start did not load): no verdict.
	Ours(String),
}

/// An audit's replay of one step (see [`crate::steps`]): the audited member's step chain is
/// fetched from the member (its group status names the chain of the root committed on chain)
/// and checked against the root and the epoch's start (the chain's checkpoint, or for the first
/// epoch the kernel archive, with fresh Adam moments); then the audited step is replayed alone
/// from its state, and the digest that goes into the round's commit–reveal is the step's leaf as
/// recomputed. When the chain or state does not hold, or is still not served on the `last_try`
/// before the commit window ends, the auditors commit [`unverifiable`] instead, which no leaf
/// committed before the committee was drawn can equal: the member is convicted as for a wrong
/// leaf. The revealed "result" is the epoch's start checkpoint (or the kernel archive). The
/// fetches run concurrently with other replays; the compute runs on the daemon's kept learner
/// ([`AuditLearner`]), one replay at a time.
pub async fn replay(
	at: &AtBlock,
	parts: &Parts,
	round: u64,
	audit: u64,
	last_try: bool,
) -> Result<Computed> {
	let began = std::time::Instant::now();
	let poc = api::storage().proof_of_compute();
	let a = chain::read(at, poc.audits(), (audit,))
		.await?
		.ok_or_else(|| invalid!("audit {audit} is not on chain"))?;
	let (epoch, commit, committee) = tokio::try_join!(
		chain::read(at, poc.epochs(), (a.job, a.epoch)),
		chain::read(at, poc.epoch_commits(), (a.task, a.epoch)),
		chain::read(at, poc.rounds(), (round,)),
	)?;
	let epoch =
		epoch.ok_or_else(|| invalid!("epoch {} of job {} is not on chain", a.epoch, a.job))?;
	let commit = commit
		.ok_or_else(|| invalid!("task {} committed no epoch {} on chain", a.task, a.epoch))?;
	let committee = committee.ok_or_else(|| invalid!("round {round} is not on chain"))?.members.0;
	let t = read_task(at, a.task)
		.await?
		.ok_or_else(|| invalid!("audit {audit} is of an inference task"))?;
	let (net, store) = (&parts.net, &parts.store);
	let peers = sources(at, &t).await?;
	let start: Option<Cid> =
		epoch.start.as_ref().map(|c| shared("checkpoint CID", c)).transpose()?;
	let start_bytes = match &start {
		Some(cid) => Some(compute::fetch_blob(net, store, cid, &peers).await?),
		None => None,
	};
	let cfg = config(&t.hyper, t.job, t.epochs, t.shard);
	let step = u64::from(a.epoch) * cfg.inner_steps + u64::from(a.step);
	let root = H256(commit.root.0);
	// The network part first: the member's chain (checked against the root) and the audited
	// step's state.
	let member = chain::read(at, api::storage().marketplace().endpoints(), (a.member,))
		.await?
		.and_then(|e| {
			let addrs: Vec<Vec<u8>> = e.addrs.0.iter().map(|a| a.0.clone()).collect();
			compute::Peer::parse(&e.peer.0, &addrs)
		});
	let served = async {
		let member = member.ok_or_else(|| Unchecked::Unavailable("no endpoint on chain".into()))?;
		for addr in &member.addrs {
			net.add_peer(member.id, addr.clone())
				.await
				.map_err(|e| Unchecked::Unavailable(e.to_string()))?;
		}
		let status = parts
			.membership
			.status_of(member.id)
			.await
			.ok_or_else(|| Unchecked::Unavailable("no group status".into()))?;
		let cid =
			status.chains.iter().find(|(r, _)| *r == root).map(|(_, c)| *c).ok_or_else(|| {
				Unchecked::Unavailable(format!("its status names no step chain of root {root}"))
			})?;
		let from = [member];
		let fetch = |cid: Cid| {
			let from = &from;
			async move {
				compute::fetch_blob(net, store, &cid, from)
					.await
					.map_err(|e| Unchecked::Unavailable(e.to_string()))
			}
		};
		let steps = StepChain::from_bytes(&fetch(cid).await?)
			.map_err(|e| Unchecked::Invalid(e.to_string()))?;
		if steps.root() != root || steps.steps() != commit.steps as usize {
			return Err(Unchecked::Invalid(format!(
				"its chain of {} steps has root {}, not the {} steps and root {root} committed",
				steps.steps(),
				steps.root(),
				commit.steps
			)));
		}
		let j = a.step as usize;
		let state = match steps.states.get(j) {
			None => {
				return Err(Unchecked::Invalid(format!(
					"step {j} is outside its {} steps",
					steps.steps()
				)))
			}
			Some(_) if j == 0 => None,
			Some(cid) => Some(fetch(*cid).await?),
		};
		Ok((steps, state))
	}
	.await;
	// The compute part, on the kept learner (loaded if it is not this job's kernel and dataset).
	let mut kept = parts.audits.lock().await;
	let key = (t.kernel.archive, t.dataset);
	let mut al = match kept.take().filter(|k| k.key == key) {
		Some(k) => k,
		None => {
			let (learner, _) = learner(net, store, &t, &peers, parts.device).await?;
			let initial = train::state_bytes(&learner)?;
			AuditLearner { key, initial, start: None, learner }
		}
	};
	check_shard(&al.learner, t.shard)?;
	let j = a.step as usize;
	let (al, checked) = tokio::task::spawn_blocking(move || {
		let checked = (|| {
			// The epoch's start as a state CID (once per epoch), restored when it is the audited
			// step's state.
			let ours = |e: crate::error::Error| Unchecked::Ours(format!("the epoch's start: {e}"));
			let restore_start = |al: &mut AuditLearner| {
				let bytes = start_bytes.as_deref().unwrap_or(&al.initial);
				al.learner.restore(bytes).map_err(ours)
			};
			let epoch_start = match al.start {
				Some((s, cid)) if s == start => cid,
				_ => {
					restore_start(&mut al)?;
					let cid = Cid::of_raw_bytes(&train::state_bytes(&al.learner).map_err(ours)?);
					al.start = Some((start, cid));
					cid
				}
			};
			let (steps, state) = served?;
			if steps.states[0] != epoch_start {
				return Err(Unchecked::Invalid(format!(
					"its chain starts at state {}, the epoch at {epoch_start}",
					steps.states[0]
				)));
			}
			let from_state = steps.states[j];
			match state {
				Some(bytes) => al
					.learner
					.restore(&bytes)
					.map_err(|e| Unchecked::Invalid(format!("state {from_state}: {e}")))?,
				None => restore_start(&mut al)?,
			};
			let began = std::time::Instant::now();
			let (_, leaf) = train::replay_leaf(&mut al.learner, &cfg, &from_state, step, 0, 1)
				.map_err(|e| Unchecked::Invalid(format!("state {from_state}: {e}")))?;
			Ok((leaf, began.elapsed()))
		})();
		(al, checked)
	})
	.await?;
	*kept = Some(al);
	drop(kept);
	let digest = match checked {
		Ok((leaf, took)) => {
			tracing::info!(audit, job = a.job, epoch = a.epoch, task = a.task, step, %leaf, step_ms = took.as_secs_f64() * 1e3, replay_ms = began.elapsed().as_secs_f64() * 1e3, "audited step replayed");
			leaf
		}
		Err(Unchecked::Unavailable(why)) if !last_try => {
			return Err(invalid!("the audited member's step chain: {why}"))
		}
		Err(Unchecked::Ours(why)) => return Err(invalid!("{why}")),
		Err(Unchecked::Unavailable(why) | Unchecked::Invalid(why)) => {
			let digest = unverifiable(audit, round, &committee.encode());
			tracing::warn!(audit, job = a.job, epoch = a.epoch, task = a.task, step, reason = %why, %digest, "the audited step cannot be checked: committing the unverifiable digest");
			digest
		}
	};
	Ok(Computed {
		output: start.unwrap_or(t.kernel.archive).to_text(),
		digest: format!("0x{}", hex::encode(digest.as_bytes())),
		summary: vec![],
	})
}

/// What an audit's committee commits when the member's step cannot be checked: a digest of the
/// audit, its round and the round's committee (SCALE-encoded), which the member could not know
/// when it committed its root, so no leaf in its tree equals it.
pub fn unverifiable(audit: u64, round: u64, committee: &[u8]) -> H256 {
	let mut bytes = b"verity/audit/unverifiable".to_vec();
	bytes.extend_from_slice(&audit.to_le_bytes());
	bytes.extend_from_slice(&round.to_le_bytes());
	bytes.extend_from_slice(committee);
	H256(blake2_256(&bytes))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_jobs_members_and_auditors_derive_the_same_settings_from_its_record() {
		let shard = Shard { first: 479, len: 479 };
		let h = Hyper::parse(br#"{"innerSteps": 30, "lr": 0.01}"#).unwrap();
		let cfg = config(&h, 3, 4, shard);
		assert_eq!((cfg.inner_steps, cfg.adam.lr, cfg.batch), (30, 0.01, 32));
		let cfg = config(&Hyper::default(), 3, 4, shard);
		assert_eq!(
			(cfg.mode, cfg.epochs, cfg.shard, cfg.generation),
			(Mode::Diloco, 4, Some(shard), 3 << 16)
		);
	}

	#[test]
	fn a_shard_member_draws_only_from_its_shard_and_every_example_once_per_pass() {
		let shard = Shard { first: 100, len: 64 };
		let cfg = config(&Hyper { batch: 16, ..Hyper::default() }, 1, 1, shard);
		let mut seen: Vec<i64> = (0..4).flat_map(|g| train::shard_batch(&cfg, shard, g)).collect();
		seen.sort();
		assert_eq!(seen, (100..164).collect::<Vec<_>>());
		assert_ne!(
			train::shard_batch(&cfg, shard, 0),
			train::shard_batch(&cfg, shard, 4),
			"a new order every pass"
		);
	}
}
