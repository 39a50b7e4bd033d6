//! Group training: every member computes the gradient of its share of each global batch, the group
//! sums the gradients with ring AllReduce, and every member applies the same Adam step — or, in
//! DiLoCo mode, each member takes H local Adam steps and the group averages the pseudo-gradients
//! (start − end parameters) and applies an outer Nesterov step. After every epoch (outer round in
//! DiLoCo mode) each member stores a checkpoint under its CID, and its step chain (every state its
//! steps went through and each step's gradient digest, [`crate::steps`]) with the chain's Merkle
//! root. The checkpoint is the same bytes on every member.
//!
//! When a round fails (a member disconnects, stalls or misbehaves), the survivors ask every member
//! of the group for its status ([`crate::group`]) and re-form ([`Regroup`]): off chain with those
//! that answer (the group shrinks); on a chain with the group the chain names, once every slot is
//! filled again (its member restarted, or the task's replacement), so the group grows back. They
//! restore the newest checkpoint all of them hold and continue. A member that starts while its
//! group is running ((re)joining) does the same: it holds the checkpoints of its earlier session
//! (a provider's journal) and takes the group's generation. In DiLoCo mode a member's inner steps
//! depend only on the round's start and its own data, so the epochs redone after a re-formation
//! with the whole group give the same bytes as an uninterrupted run.

use crate::error::{bail, Context, Result};
use crate::{
	collective::{Collective, Group, Wire},
	digest::gradient_digest,
	group::{Membership, Probe},
	kernel::{Adam, Dataset, Model},
	metrics::Metrics,
	steps::{StateWriter, StepChain},
	store::ContentStore,
};
use libp2p::PeerId;
use polkadot_sdk::sp_core::H256;
use serde::Serialize;
use std::{
	collections::BTreeMap,
	time::{Duration, Instant},
};
use verity_primitives::cid::Cid;

/// How gradients are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
	/// AllReduce of gradients every step.
	Sync,
	/// DiLoCo: H local steps, then AllReduce of pseudo-gradients and an outer Nesterov step.
	Diloco,
}

/// Training settings (identical on every member).
#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
	/// Epochs (sync) or outer rounds (DiLoCo).
	pub epochs: u64,
	/// Global batch size.
	pub batch: usize,
	/// Inner optimizer.
	pub adam: Adam,
	/// Seed of the data order.
	pub seed: u64,
	/// Combination mode.
	pub mode: Mode,
	/// Local steps per outer round (DiLoCo).
	pub inner_steps: u64,
	/// Outer learning rate (DiLoCo).
	pub outer_lr: f64,
	/// Outer Nesterov momentum (DiLoCo).
	pub outer_momentum: f64,
	/// The AllReduce's number format on the wire.
	pub wire: Wire,
	/// Most re-formations before giving up.
	pub max_reforms: u32,
	/// DiLoCo on a chain: each member's inner steps draw only from its own shard of the dataset
	/// (the chain's split), `batch` examples per step, so an auditor replays a step knowing only
	/// the task. `None`: every global batch is split across the members by rank.
	pub shard: Option<Shard>,
	/// The group's first generation (every member uses the same; it grows with each
	/// re-formation). A chain job starts at its id shifted up, so the rounds of consecutive jobs
	/// on one node's AllReduce never mix.
	pub generation: u64,
	/// The ring's order ([`Group::in_order`]): a chain group's members in its tasks' order, so
	/// every checkpoint depends on the chain's data and seeds, not on the members' keys. Empty: by
	/// peer id.
	#[serde(serialize_with = "peer_texts", skip_serializing_if = "Vec::is_empty")]
	pub ring: Vec<PeerId>,
}

fn peer_texts<S: serde::Serializer>(peers: &[PeerId], s: S) -> Result<S::Ok, S::Error> {
	s.collect_seq(peers.iter().map(|p| p.to_string()))
}

/// A member's contiguous share of the training examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Shard {
	/// First example.
	pub first: u64,
	/// Examples in the shard.
	pub len: u64,
}

/// One finished epoch.
#[derive(Clone, Debug, Serialize)]
pub struct EpochRecord {
	/// Epoch number (1-based).
	pub epoch: u64,
	/// Checkpoint CID after the epoch.
	pub checkpoint: Cid,
	/// Merkle root of this member's step chain (one leaf per step, [`StepChain::leaves`]).
	pub gradient_root: H256,
	/// CID of this member's step chain ([`StepChain::to_bytes`]); the chain and its states stay
	/// in the store for audits.
	pub step_chain: Cid,
	/// Steps in the epoch.
	pub steps: u64,
	/// Mean training loss of this member's share.
	pub loss: f64,
	/// Held-out metric (accuracy or loss).
	pub eval: f64,
	/// Group size during the epoch.
	pub group_size: usize,
	/// Wall time of the epoch's steps (AllReduce in sync mode included), seconds.
	pub steps_s: f64,
	/// Of `steps_s`, the time the steps waited on the step chain (serialising every state, and
	/// waiting for the writer thread that hashes and stores them when it falls behind), seconds.
	pub chain_s: f64,
	/// AllReduce payload bytes this worker sent during the epoch (its rounds of every job).
	pub allreduce_bytes: u64,
}

/// The result of a training run.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
	/// This worker.
	pub peer_id: String,
	/// Final checkpoint CID.
	pub checkpoint: Cid,
	/// Held-out metric of the final model.
	pub eval: f64,
	/// Held-out metric before training.
	pub eval_start: f64,
	/// Epoch records.
	pub epochs: Vec<EpochRecord>,
	/// How often the group re-formed.
	pub reforms: u32,
	/// Final group members.
	pub group: Vec<String>,
	/// AllReduce payload bytes this worker sent, acknowledged (over the worker's whole life: the
	/// collective is the process's).
	pub allreduce_bytes_sent: u64,
}

/// A deterministic permutation of `0..n` for `(seed, epoch)` (splitmix64 Fisher–Yates).
pub fn permutation(seed: u64, epoch: u64, n: usize) -> Vec<i64> {
	let mut state = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
	let mut next = || {
		state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
		let mut z = state;
		z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
		z ^ (z >> 31)
	};
	let mut p: Vec<i64> = (0..n as i64).collect();
	for i in (1..n).rev() {
		let j = (next() % (i as u64 + 1)) as usize;
		p.swap(i, j);
	}
	p
}

/// The examples member `rank` of `n` computes at global step `g`: every n-th example of the global
/// batch, starting at `rank`.
pub fn member_batch(cfg: &TrainConfig, examples: usize, g: u64, rank: usize, n: usize) -> Vec<i64> {
	let per_epoch = (examples / cfg.batch).max(1) as u64;
	let epoch = g / per_epoch;
	let step = (g % per_epoch) as usize;
	let perm = permutation(cfg.seed, epoch, examples);
	perm[step * cfg.batch..((step + 1) * cfg.batch).min(examples)]
		.iter()
		.skip(rank)
		.step_by(n)
		.copied()
		.collect()
}

/// The examples a member with `shard` trains on at its inner step `g`: a batch of `cfg.batch`
/// from its shard, in a fresh order every pass over the shard.
pub fn shard_batch(cfg: &TrainConfig, shard: Shard, g: u64) -> Vec<i64> {
	member_batch(cfg, shard.len as usize, g, 0, 1)
		.into_iter()
		.map(|i| i + shard.first as i64)
		.collect()
}

/// Steps per epoch (sync) or per outer round (DiLoCo).
pub fn steps_per_epoch(cfg: &TrainConfig, examples: usize) -> u64 {
	match cfg.mode {
		Mode::Sync => (examples / cfg.batch).max(1) as u64,
		Mode::Diloco => cfg.inner_steps,
	}
}

/// What group training needs from the thing it trains. [`TorchLearner`] is the real one (a kernel
/// on libtorch with its data); the orchestration's own tests use a small pure-Rust learner.
pub trait Learner: Send {
	/// Number of trainable values.
	fn numel(&self) -> usize;
	/// Number of training examples.
	fn examples(&self) -> usize;
	/// Flat gradient and loss of the examples at `index`, the loss summed over them and divided
	/// by `global_batch`.
	fn gradient(&mut self, index: &[i64], global_batch: i64) -> Result<(Vec<f32>, f64)>;
	/// One optimizer step with a flat gradient.
	fn step(&mut self, gradient: &[f32], opt: &Adam) -> Result<()>;
	/// The parameters, flat.
	fn params(&self) -> Result<Vec<f32>>;
	/// Overwrites the parameters.
	fn set_params(&mut self, flat: &[f32]) -> Result<()>;
	/// Forgets the optimizer's state.
	fn reset_optimizer(&mut self);
	/// Checkpoint bytes: parameters, optimizer state, `meta`, and `outer` (DiLoCo's momentum).
	fn checkpoint(&self, meta: &BTreeMap<String, String>, outer: Option<&[f32]>)
		-> Result<Vec<u8>>;
	/// Restores a checkpoint; returns its `outer` vector if it has one.
	fn restore(&mut self, bytes: &[u8]) -> Result<Option<Vec<f32>>>;
	/// Held-out metric (accuracy or loss).
	fn evaluate(&mut self) -> Result<f64>;
}

/// A kernel on libtorch with its training and held-out data.
pub struct TorchLearner {
	/// The model.
	pub model: Model,
	/// Training data.
	pub train: Dataset,
	/// Held-out data (not needed to replay a step).
	pub test: Option<Dataset>,
}

impl Learner for TorchLearner {
	fn numel(&self) -> usize {
		self.model.numel()
	}
	fn examples(&self) -> usize {
		self.train.examples(self.model.manifest.context) as usize
	}
	fn gradient(&mut self, index: &[i64], global_batch: i64) -> Result<(Vec<f32>, f64)> {
		let (x, y) = self.train.batch(index, self.model.manifest.context)?;
		self.model.local_gradient(&x, &y, global_batch)
	}
	fn step(&mut self, gradient: &[f32], opt: &Adam) -> Result<()> {
		self.model.adam_step(gradient, opt)
	}
	fn params(&self) -> Result<Vec<f32>> {
		self.model.flat_params()
	}
	fn set_params(&mut self, flat: &[f32]) -> Result<()> {
		self.model.set_flat_params(flat)
	}
	fn reset_optimizer(&mut self) {
		self.model.reset_optimizer()
	}
	fn checkpoint(
		&self,
		meta: &BTreeMap<String, String>,
		outer: Option<&[f32]>,
	) -> Result<Vec<u8>> {
		let tensors = outer
			.map(|v| vec![("outer_momentum".to_string(), tch::Tensor::from_slice(v))])
			.unwrap_or_default();
		self.model.checkpoint(meta, tensors)
	}
	fn restore(&mut self, bytes: &[u8]) -> Result<Option<Vec<f32>>> {
		self.model.restore(bytes)?;
		let (tensors, _) = crate::checkpoint::decode(bytes)?;
		match tensors.iter().find(|(k, _)| k == "outer_momentum") {
			Some((_, t)) => Ok(Some(Vec::<f32>::try_from(t)?)),
			None => Ok(None),
		}
	}
	/// NaN without held-out data (a provider training on a chain has only the job's dataset).
	fn evaluate(&mut self) -> Result<f64> {
		match &self.test {
			Some(test) => self.model.evaluate(test),
			None => Ok(f64::NAN),
		}
	}
}

/// The ring a chain names for the group (this member included, in task order): `Ok(None)` while
/// a slot has no member ready (a reassigned task not yet accepted); an error ends training (the
/// task or its job is gone, or the task went to another provider).
pub type RingSource = Box<dyn FnMut() -> Result<Option<Vec<PeerId>>> + Send>;

/// Who the group is when it re-forms after a failed round.
pub enum Regroup {
	/// The members that answer: the group shrinks (off chain, where nothing else says who the
	/// group is).
	Shrink,
	/// The whole group as the source says it is now: the survivors wait until every member
	/// answers (restarted, or a replacement) and resume with all of them.
	Wait(RingSource),
}

/// Everything a training member needs.
pub struct Trainer<L: Learner> {
	/// What is trained.
	pub learner: L,
	/// Settings.
	pub cfg: TrainConfig,
	/// Blob store.
	pub store: ContentStore,
	/// This member's side of the group protocol.
	pub membership: Membership,
	/// AllReduce.
	pub collective: Collective,
	/// The async runtime (the loop runs on a blocking thread).
	pub runtime: tokio::runtime::Handle,
	/// Metrics.
	pub metrics: Metrics,
	/// Called after every epoch (the CLI prints a line; tests may stop a worker here).
	pub on_epoch: Box<dyn FnMut(&EpochRecord) + Send>,
	/// How the group re-forms.
	pub regroup: Regroup,
	/// Checkpoints this member holds from an earlier session, by epoch (a provider's journal):
	/// it resumes from the newest the group shares instead of training those epochs again.
	pub known: BTreeMap<u64, Cid>,
}

enum Outcome {
	Done,
	/// A round failed (the error says why, and which generation a member is at if it is ahead).
	Failed(crate::collective::AllReduceError),
}

impl<L: Learner> Trainer<L> {
	fn examples(&self) -> usize {
		self.learner.examples()
	}

	/// One member's local step `g` from the current parameters: its gradient and loss.
	pub fn local_step(&mut self, g: u64, rank: usize, n: usize) -> Result<(Vec<f32>, f64)> {
		local_step(&mut self.learner, &self.cfg, g, rank, n)
	}

	fn save_checkpoint(&mut self, epoch: u64, outer_v: &[f32]) -> Result<Cid> {
		let mut meta = BTreeMap::new();
		meta.insert("epoch".to_string(), epoch.to_string());
		let mode = match self.cfg.mode {
			Mode::Sync => "sync",
			Mode::Diloco => "diloco",
		};
		meta.insert("mode".to_string(), mode.to_string());
		let outer = if self.cfg.mode == Mode::Diloco {
			// Inner Adam state is each member's own and restarts every outer round; the outer
			// momentum is shared and part of the checkpoint.
			self.learner.reset_optimizer();
			Some(outer_v)
		} else {
			None
		};
		let bytes = self.learner.checkpoint(&meta, outer)?;
		Ok(self.store.put(&bytes)?)
	}

	fn restore(&mut self, cid: &Cid) -> Result<Vec<f32>> {
		let bytes = self.store.get(cid)?;
		Ok(self.learner.restore(&bytes)?.unwrap_or_else(|| vec![0.0; self.learner.numel()]))
	}

	/// Trains with `peers` (not including this worker); returns the report.
	pub fn run(mut self, peers: Vec<PeerId>) -> Result<TrainReport> {
		let me = self.membership.peer_id();
		let eval_start = self.learner.evaluate()?;
		let initial = self.save_checkpoint(0, &vec![0.0; self.learner.numel()])?;
		let mut checkpoints: BTreeMap<u64, Cid> = BTreeMap::from([(0, initial)]);
		let known = std::mem::take(&mut self.known);
		checkpoints.extend(known.into_iter().filter(|(e, c)| *e > 0 && self.store.has(c)));
		let mut regroup = std::mem::replace(&mut self.regroup, Regroup::Shrink);
		let mut generation = self.cfg.generation;
		self.membership.publish_generation(generation);
		self.publish(&checkpoints, false);
		let mut members: Vec<PeerId> = peers.into_iter().chain([me]).collect();
		let mut reforms = 0u32;
		let mut records: Vec<EpochRecord> = Vec::new();
		self.wait_for(&members)?;
		// Where the group is: a fresh group at its first checkpoint and generation; a running one
		// (this member restarted or replaces one) at the newest checkpoint all hold and the
		// generation it re-forms at.
		let found = self.probe(&members, &checkpoints)?;
		let mut resume = found.resume;
		generation = generation.max(found.generation);
		loop {
			self.membership.publish_generation(generation);
			let group = Group::in_order(generation, members.clone(), &self.cfg.ring);
			let cid = checkpoints.get(&resume).copied().context("resume checkpoint missing")?;
			let outer_v = self.restore(&cid)?;
			records.retain(|r| r.epoch <= resume);
			checkpoints.retain(|e, _| *e <= resume);
			self.publish(&checkpoints, false);
			tracing::info!(generation, members = group.members.len(), resume, checkpoint = %cid, wire = ?self.cfg.wire, "group formed");
			match self.epochs(&group, resume, outer_v, &mut checkpoints, &mut records)? {
				Outcome::Done => break,
				Outcome::Failed(why) => {
					reforms += 1;
					// One past this generation, or the newer one a member is already at.
					let next = generation.saturating_add(1).max(why.ahead().unwrap_or(0));
					self.metrics.reforms.inc();
					if reforms > self.cfg.max_reforms {
						bail!("gave up after {reforms} re-formations: {why}");
					}
					tracing::warn!("round failed ({why}); re-forming the group");
					self.membership.publish_generation(next);
					std::thread::sleep(Duration::from_millis(500));
					let found = match &mut regroup {
						Regroup::Shrink => self.probe(&group.members, &checkpoints)?,
						Regroup::Wait(ring) => self.wait_for_ring(ring, &checkpoints)?,
					};
					members = found.alive;
					resume = found.resume;
					generation = next.max(found.generation);
				}
			}
		}
		self.publish(&checkpoints, true);
		self.linger(&members);
		let last = checkpoints.values().next_back().copied().context("no checkpoint")?;
		Ok(TrainReport {
			peer_id: me.to_string(),
			checkpoint: last,
			eval: self.learner.evaluate()?,
			eval_start,
			epochs: records,
			reforms,
			allreduce_bytes_sent: self.collective.bytes_sent(),
			group: Group::in_order(generation, members, &self.cfg.ring)
				.members
				.iter()
				.map(|p| p.to_string())
				.collect(),
		})
	}

	fn epochs(
		&mut self,
		group: &Group,
		resume: u64,
		mut outer_v: Vec<f32>,
		checkpoints: &mut BTreeMap<u64, Cid>,
		records: &mut Vec<EpochRecord>,
	) -> Result<Outcome> {
		let rank = group.rank(&self.membership.peer_id()).context("not in the group")?;
		let n = group.members.len();
		let spe = steps_per_epoch(&self.cfg, self.examples());
		for epoch in resume + 1..=self.cfg.epochs {
			let mut loss_sum = 0.0;
			let start = self.learner.params()?;
			if self.cfg.mode == Mode::Diloco {
				self.learner.reset_optimizer();
			}
			let began = Instant::now();
			let sent_before = self.collective.bytes_sent();
			// The step chain's upkeep: states are serialised here and stored on a writer
			// thread while the next steps train; `chain_time` is what the loop waits for it.
			let mut chain_time = Duration::ZERO;
			let writer = StateWriter::spawn(self.store.clone())?;
			let mut keep = |learner: &L| -> Result<()> {
				let t = Instant::now();
				writer.put(state_bytes(learner)?)?;
				chain_time += t.elapsed();
				Ok(())
			};
			keep(&self.learner)?;
			let mut digests = Vec::with_capacity(spe as usize);
			let bar = crate::progress::bar(spe, format!("epoch {epoch}"));
			for s in 0..spe {
				let g = (epoch - 1) * spe + s;
				let (grad, loss) = self.local_step(g, rank, n)?;
				let digest = gradient_digest(g, &grad);
				loss_sum += loss;
				match self.cfg.mode {
					Mode::Sync => {
						let sum = match self.collective.all_reduce_blocking(
							group,
							g,
							grad,
							self.cfg.wire,
						) {
							Ok(sum) => sum,
							Err(e) => return Ok(Outcome::Failed(e)),
						};
						self.metrics.allreduce_rounds.inc();
						self.learner.step(&sum, &self.cfg.adam)?;
					}
					Mode::Diloco => self.learner.step(&grad, &self.cfg.adam)?,
				}
				digests.push(digest);
				keep(&self.learner)?;
				self.metrics.train_steps.inc();
				bar.inc(1);
			}
			bar.finish_and_clear();
			let t = Instant::now();
			let chain = StepChain { states: writer.finish()?, digests };
			chain_time += t.elapsed();
			let (steps_s, chain_s) = (began.elapsed().as_secs_f64(), chain_time.as_secs_f64());
			if self.cfg.mode == Mode::Diloco {
				// Pseudo-gradient: start − local end, averaged over the group.
				let end = self.learner.params()?;
				let delta: Vec<f32> = start.iter().zip(&end).map(|(a, b)| a - b).collect();
				let sum =
					match self.collective.all_reduce_blocking(group, epoch, delta, self.cfg.wire) {
						Ok(sum) => sum,
						Err(e) => return Ok(Outcome::Failed(e)),
					};
				self.metrics.allreduce_rounds.inc();
				let inv = 1.0 / n as f32;
				let (lr, mu) = (self.cfg.outer_lr as f32, self.cfg.outer_momentum as f32);
				let mut next = start.clone();
				for i in 0..next.len() {
					let avg = sum[i] * inv;
					outer_v[i] = mu * outer_v[i] + avg;
					next[i] -= lr * (avg + mu * outer_v[i]);
				}
				self.learner.set_params(&next)?;
			}
			let cid = self.save_checkpoint(epoch, &outer_v)?;
			checkpoints.insert(epoch, cid);
			let chain_cid = self.store.put(&chain.to_bytes())?;
			self.publish(checkpoints, false);
			let eval = self.learner.evaluate()?;
			self.metrics.train_loss.set(loss_sum / spe as f64);
			let record = EpochRecord {
				epoch,
				checkpoint: cid,
				gradient_root: chain.root(),
				step_chain: chain_cid,
				steps: spe,
				loss: loss_sum / spe as f64,
				eval,
				group_size: n,
				steps_s,
				chain_s,
				allreduce_bytes: self.collective.bytes_sent() - sent_before,
			};
			(self.on_epoch)(&record);
			records.push(record);
		}
		Ok(Outcome::Done)
	}

	fn publish(&self, checkpoints: &BTreeMap<u64, Cid>, finished: bool) {
		self.membership.publish(checkpoints, finished);
	}

	/// Waits until every member answers from this job's session (they may still be starting).
	fn wait_for(&self, members: &[PeerId]) -> Result<()> {
		let wait = self.membership.await_all(members, self.cfg.generation, Duration::from_secs(60));
		Ok(self.runtime.block_on(wait)?)
	}

	/// The members that answer, the newest epoch whose checkpoint all of them hold, and the
	/// highest generation among them.
	fn probe(&self, members: &[PeerId], mine: &BTreeMap<u64, Cid>) -> Result<Probe> {
		let probe = self.membership.probe(members, mine);
		Ok(self.runtime.block_on(probe)?)
	}

	/// Waits until the ring `source` names answers in full, and probes it; the ring becomes the
	/// group's order. Logs every 30 s while it waits.
	fn wait_for_ring(
		&mut self,
		source: &mut RingSource,
		mine: &BTreeMap<u64, Cid>,
	) -> Result<Probe> {
		let began = Instant::now();
		let mut told = Duration::ZERO;
		loop {
			let ring = source()?;
			if let Some(ring) = &ring {
				let wait =
					self.membership.await_all(ring, self.cfg.generation, Duration::from_secs(5));
				if self.runtime.block_on(wait).is_ok() {
					let found = self.probe(ring, mine)?;
					if found.alive.len() == ring.len() {
						tracing::info!(
							members = ring.len(),
							waited_s = began.elapsed().as_secs(),
							resume = found.resume,
							"the whole group answers again"
						);
						self.cfg.ring = ring.clone();
						return Ok(Probe { alive: ring.clone(), ..found });
					}
				}
			}
			if began.elapsed() >= told {
				tracing::info!(filled = ring.is_some(), waited_s = began.elapsed().as_secs(), "waiting for every member of the group to answer (a restart, or the chain's replacement)");
				told += Duration::from_secs(30);
			}
			std::thread::sleep(Duration::from_secs(1));
		}
	}

	/// After the last epoch, keeps answering until every member has finished, at most 10 s.
	fn linger(&self, members: &[PeerId]) {
		self.runtime.block_on(self.membership.linger(members, Duration::from_secs(10)));
	}
}

/// Re-executes member `rank`'s local steps `from..=step` from the model's current state (a
/// checkpoint, or a step chain's state) and returns the gradient digest of `step` and, in DiLoCo
/// mode, its step-chain leaf. In sync mode `from` must equal `step` (the state before a step
/// depends on the whole group's gradients); in DiLoCo mode the inner steps of an outer round are
/// local, so any step of the round replays from the round's start checkpoint, or alone from its
/// own state.
pub fn replay_step(
	learner: &mut impl Learner,
	cfg: &TrainConfig,
	from: u64,
	step: u64,
	rank: usize,
	n: usize,
) -> Result<(H256, Option<H256>)> {
	if from > step {
		bail!("--from-step {from} is after --step {step}");
	}
	if cfg.mode == Mode::Sync && from != step {
		bail!("in sync mode a step replays only from the checkpoint taken just before it");
	}
	for g in from..step {
		let (grad, _) = local_step(learner, cfg, g, rank, n)?;
		learner.step(&grad, &cfg.adam)?;
	}
	if cfg.mode == Mode::Sync {
		let (grad, _) = local_step(learner, cfg, step, rank, n)?;
		return Ok((gradient_digest(step, &grad), None));
	}
	let before = Cid::of_raw_bytes(&state_bytes(learner)?);
	let (digest, leaf) = replay_leaf(learner, cfg, &before, step, rank, n)?;
	Ok((digest, Some(leaf)))
}

/// A learner's state as a step chain names it: parameters, Adam moments and step count, as a
/// checkpoint without metadata or outer momentum (the same bytes for the same state).
pub fn state_bytes(learner: &impl Learner) -> Result<Vec<u8>> {
	learner.checkpoint(&BTreeMap::new(), None)
}

/// An audit's replay of one step: member `rank`'s step `g` from the learner's current state, which
/// is `from` (a step chain's state); returns the gradient digest and the step's leaf
/// ([`StepChain::leaf`]), which equals the member's only if the gradient and the state it led to
/// are the ones the member committed.
pub fn replay_leaf(
	learner: &mut impl Learner,
	cfg: &TrainConfig,
	from: &Cid,
	g: u64,
	rank: usize,
	n: usize,
) -> Result<(H256, H256)> {
	if cfg.mode == Mode::Sync {
		bail!("a sync-mode step's next state depends on the whole group's gradients");
	}
	let (grad, _) = local_step(learner, cfg, g, rank, n)?;
	let digest = gradient_digest(g, &grad);
	learner.step(&grad, &cfg.adam)?;
	let to = Cid::of_raw_bytes(&state_bytes(learner)?);
	Ok((digest, StepChain::leaf(from, &digest, &to)))
}

/// Member `rank`'s gradient at global step `g` (sync: its share of the global batch, scaled so the
/// members' gradients sum to the batch mean's; DiLoCo: the mean over its own share).
fn local_step(
	learner: &mut impl Learner,
	cfg: &TrainConfig,
	g: u64,
	rank: usize,
	n: usize,
) -> Result<(Vec<f32>, f64)> {
	let idx = match cfg.shard {
		Some(shard) => shard_batch(cfg, shard, g),
		None => member_batch(cfg, learner.examples(), g, rank, n),
	};
	let global = match cfg.mode {
		Mode::Sync => cfg.batch as i64,
		Mode::Diloco => idx.len() as i64,
	};
	learner.gradient(&idx, global)
}

#[cfg(test)]
mod tests {
	//! The orchestration with a pure-Rust learner (least squares, its own Adam): members over real
	//! libp2p on loopback, in one process, in well under a second.
	use super::*;
	use crate::collective::CollectiveConfig;

	/// y = w*·x on generated data; loss = Σ (w·x − y)² / global batch.
	struct LeastSquares {
		w: Vec<f32>,
		m: Vec<f32>,
		v: Vec<f32>,
		t: i32,
		x: Vec<Vec<f32>>,
		y: Vec<f32>,
		/// Gradients left before this member "crashes" (its gradient fails); `None`: never.
		crash_in: Option<usize>,
	}

	impl LeastSquares {
		fn new(d: usize, n: usize) -> Self {
			let target: Vec<f32> = (0..d).map(|i| i as f32 * 0.5 - 1.0).collect();
			let x: Vec<Vec<f32>> = (0..n)
				.map(|k| (0..d).map(|i| (((k * 31 + i * 17) % 23) as f32 - 11.0) / 11.0).collect())
				.collect();
			let y = x.iter().map(|r| r.iter().zip(&target).map(|(a, b)| a * b).sum()).collect();
			LeastSquares {
				w: vec![0.0; d],
				m: vec![0.0; d],
				v: vec![0.0; d],
				t: 0,
				x,
				y,
				crash_in: None,
			}
		}
		fn loss_at(&self, k: usize) -> f32 {
			self.x[k].iter().zip(&self.w).map(|(a, b)| a * b).sum::<f32>() - self.y[k]
		}
	}

	impl Learner for LeastSquares {
		fn numel(&self) -> usize {
			self.w.len()
		}
		fn examples(&self) -> usize {
			self.x.len()
		}
		fn gradient(&mut self, index: &[i64], global_batch: i64) -> Result<(Vec<f32>, f64)> {
			if let Some(left) = self.crash_in.as_mut() {
				if *left == 0 {
					bail!("crashed");
				}
				*left -= 1;
			}
			let mut g = vec![0.0; self.w.len()];
			let mut loss = 0.0;
			for &k in index {
				let e = self.loss_at(k as usize);
				loss += f64::from(e * e);
				for (gi, xi) in g.iter_mut().zip(&self.x[k as usize]) {
					*gi += 2.0 * e * xi / global_batch as f32;
				}
			}
			Ok((g, loss / global_batch as f64))
		}
		fn step(&mut self, g: &[f32], opt: &Adam) -> Result<()> {
			self.t += 1;
			let (b1, b2) = (opt.beta1 as f32, opt.beta2 as f32);
			let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
			for (((w, m), v), g) in self.w.iter_mut().zip(&mut self.m).zip(&mut self.v).zip(g) {
				*m = b1 * *m + (1.0 - b1) * g;
				*v = b2 * *v + (1.0 - b2) * g * g;
				*w -= opt.lr as f32 * (*m / c1) / ((*v / c2).sqrt() + opt.eps as f32);
			}
			Ok(())
		}
		fn params(&self) -> Result<Vec<f32>> {
			Ok(self.w.clone())
		}
		fn set_params(&mut self, flat: &[f32]) -> Result<()> {
			self.w = flat.to_vec();
			Ok(())
		}
		fn reset_optimizer(&mut self) {
			self.m.iter_mut().chain(self.v.iter_mut()).for_each(|x| *x = 0.0);
			self.t = 0;
		}
		fn checkpoint(
			&self,
			meta: &BTreeMap<String, String>,
			outer: Option<&[f32]>,
		) -> Result<Vec<u8>> {
			Ok(serde_json::to_vec(&(meta, &self.w, &self.m, &self.v, self.t, outer))?)
		}
		fn restore(&mut self, bytes: &[u8]) -> Result<Option<Vec<f32>>> {
			type State =
				(BTreeMap<String, String>, Vec<f32>, Vec<f32>, Vec<f32>, i32, Option<Vec<f32>>);
			let (_, w, m, v, t, outer): State = serde_json::from_slice(bytes)?;
			(self.w, self.m, self.v, self.t) = (w, m, v, t);
			Ok(outer)
		}
		fn evaluate(&mut self) -> Result<f64> {
			Ok((0..self.x.len()).map(|k| f64::from(self.loss_at(k).powi(2))).sum::<f64>()
				/ self.x.len() as f64)
		}
	}

	/// The settings every member of [`group`] trains with.
	fn config(mode: Mode) -> TrainConfig {
		TrainConfig {
			epochs: 6,
			batch: 16,
			adam: Adam { lr: 0.05, ..Adam::default() },
			seed: 3,
			mode,
			inner_steps: 4,
			outer_lr: 0.7,
			outer_momentum: 0.9,
			wire: Wire::F32,
			max_reforms: 0,
			shard: None,
			generation: 0,
			ring: Vec::new(),
		}
	}

	async fn group(n: usize, mode: Mode, dir: &std::path::Path) -> Vec<TrainReport> {
		group_with(n, config(mode), dir).await
	}

	async fn group_with(n: usize, cfg: TrainConfig, dir: &std::path::Path) -> Vec<TrainReport> {
		let (mode, wire) = (cfg.mode, cfg.wire);
		let seeds: Vec<String> = (0..n).map(|i| format!("ls-{mode:?}-{wire:?}-{i}")).collect();
		let nodes = crate::p2p::mesh(&seeds, Duration::from_secs(10)).await.unwrap();
		let ids: Vec<PeerId> = nodes.iter().map(|(net, _)| net.peer_id).collect();
		let mut tasks = Vec::new();
		for (i, (net, inbound)) in nodes.into_iter().enumerate() {
			let store = ContentStore::open(dir.join(format!("{mode:?}-{wire:?}-{i}"))).unwrap();
			let peers: Vec<PeerId> = ids.iter().copied().filter(|p| *p != net.peer_id).collect();
			let trainer = Trainer {
				learner: LeastSquares::new(8, 96),
				cfg: cfg.clone(),
				store,
				collective: Collective::start(
					net.clone(),
					inbound.allreduce,
					CollectiveConfig::default(),
				),
				membership: Membership::start(net, inbound.group),
				runtime: tokio::runtime::Handle::current(),
				metrics: Metrics::new(),
				on_epoch: Box::new(|_| {}),
				regroup: Regroup::Shrink,
				known: Default::default(),
			};
			tasks.push(tokio::task::spawn_blocking(move || trainer.run(peers)));
		}
		let mut reports = Vec::new();
		for t in tasks {
			reports.push(t.await.unwrap().unwrap());
		}
		reports
	}

	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn members_agree_and_learn_in_sync_and_diloco_mode() {
		let dir = tempfile::tempdir().unwrap();
		for mode in [Mode::Sync, Mode::Diloco] {
			let reports = group(3, mode, dir.path()).await;
			for r in &reports {
				assert_eq!(r.checkpoint, reports[0].checkpoint, "{mode:?}: one checkpoint");
				assert_eq!(r.epochs.len(), 6);
				assert!(
					r.eval < 0.2 * r.eval_start,
					"{mode:?}: loss {} -> {}",
					r.eval_start,
					r.eval
				);
				// Every epoch's checkpoint agrees, and each member's gradient root is its own.
				for (a, b) in r.epochs.iter().zip(&reports[0].epochs) {
					assert_eq!(a.checkpoint, b.checkpoint);
				}
			}
			assert_ne!(reports[0].epochs[0].gradient_root, reports[1].epochs[0].gradient_root);
		}
	}

	/// With bfloat16 on the wire the members still end every epoch with the same bits, still
	/// learn, and train another model than with f32 (the rounding is really applied).
	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn with_bf16_on_the_wire_members_agree_bit_for_bit_and_learn() {
		let dir = tempfile::tempdir().unwrap();
		for mode in [Mode::Sync, Mode::Diloco] {
			let exact = group(3, mode, dir.path()).await;
			let cfg = TrainConfig { wire: Wire::Bf16, ..config(mode) };
			let reports = group_with(3, cfg, dir.path()).await;
			for r in &reports {
				for (a, b) in r.epochs.iter().zip(&reports[0].epochs) {
					assert_eq!(a.checkpoint, b.checkpoint, "{mode:?}: every epoch agrees");
				}
				assert!(
					r.eval < 0.2 * r.eval_start,
					"{mode:?}: loss {} -> {}",
					r.eval_start,
					r.eval
				);
			}
			assert_ne!(
				reports[0].checkpoint, exact[0].checkpoint,
				"{mode:?}: the wire changed the sums"
			);
			let sent = |r: &[TrainReport]| r.iter().map(|r| r.allreduce_bytes_sent).sum::<u64>();
			assert!(sent(&exact) > 0);
			assert_eq!(2 * sent(&reports), sent(&exact), "{mode:?}: half the bytes on the wire");
		}
	}

	/// A chain group that loses a member mid-run waits for its slot to be filled (here by a
	/// replacement with another key, holding the lost member's checkpoints as a journal would)
	/// and goes on with the whole group: every epoch's checkpoint is the uninterrupted run's.
	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn a_chain_group_grows_back_and_trains_what_an_uninterrupted_group_trains() {
		let dir = tempfile::tempdir().unwrap();
		let reference = group(3, Mode::Diloco, dir.path()).await;
		let seeds: Vec<String> = (0..4).map(|i| format!("grow-{i}")).collect();
		let nodes = crate::p2p::mesh(&seeds, Duration::from_secs(10)).await.unwrap();
		let ids: Vec<PeerId> = nodes.iter().map(|(net, _)| net.peer_id).collect();
		// The ring the "chain" names: the reference's order (by peer id), the replacement (node 3)
		// in member 2's place once the lost member is gone; `None` between (not yet reassigned).
		let mut order = ids[..3].to_vec();
		order.sort();
		let slot = order.iter().position(|p| *p == ids[2]).unwrap();
		let chain = std::sync::Arc::new(std::sync::Mutex::new(Some(order.clone())));
		let (journal_tx, journal_rx) = std::sync::mpsc::channel::<(u64, Cid)>();
		let mut tasks = Vec::new();
		let mut replacement = None;
		for (i, (net, inbound)) in nodes.into_iter().enumerate() {
			let mut learner = LeastSquares::new(8, 96);
			// Member 2 fails at the first step of epoch 3 (4 inner steps an epoch).
			learner.crash_in = (i == 2).then_some(8);
			let source = chain.clone();
			let journal = journal_tx.clone();
			let trainer = Trainer {
				learner,
				cfg: TrainConfig { ring: order.clone(), max_reforms: 8, ..config(Mode::Diloco) },
				store: ContentStore::open(dir.path().join(format!("grow-{}", i.min(2)))).unwrap(),
				collective: Collective::start(
					net.clone(),
					inbound.allreduce,
					CollectiveConfig {
						stall_timeout: Duration::from_secs(2),
						..Default::default()
					},
				),
				membership: Membership::start(net, inbound.group),
				runtime: tokio::runtime::Handle::current(),
				metrics: Metrics::new(),
				on_epoch: Box::new(move |r| {
					if i == 2 {
						let _ = journal.send((r.epoch, r.checkpoint));
					}
				}),
				regroup: Regroup::Wait(Box::new(move || Ok(source.lock().unwrap().clone()))),
				known: Default::default(),
			};
			let mut cfg_ring = order.clone();
			cfg_ring[slot] = ids[3];
			match i {
				3 => replacement = Some((trainer, cfg_ring)),
				_ => {
					let peers: Vec<PeerId> =
						order.iter().copied().filter(|p| *p != ids[i]).collect();
					tasks.push(tokio::task::spawn_blocking(move || trainer.run(peers)));
				}
			}
		}
		let lost = tasks.pop().unwrap().await.unwrap();
		assert!(lost.unwrap_err().to_string().contains("crashed"));
		*chain.lock().unwrap() = None;
		// The replacement starts from the lost member's journal, once the chain names it.
		let known: BTreeMap<u64, Cid> = journal_rx.try_iter().collect();
		assert_eq!(known.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
		let (mut trainer, ring) = replacement.unwrap();
		*chain.lock().unwrap() = Some(ring.clone());
		trainer.cfg.ring = ring.clone();
		trainer.known = known;
		let me = ids[3];
		let peers: Vec<PeerId> = ring.iter().copied().filter(|p| *p != me).collect();
		tasks.push(tokio::task::spawn_blocking(move || trainer.run(peers)));
		let mut reports = Vec::new();
		for t in tasks {
			reports.push(t.await.unwrap().unwrap());
		}
		let want: Vec<Cid> = reference[0].epochs.iter().map(|e| e.checkpoint).collect();
		for r in &reports[..2] {
			assert!(r.reforms >= 1, "the survivors re-formed");
			assert_eq!(r.group.len(), 3, "the whole group at the end");
			// Epochs 1..2 before the loss, 3.. after it (epoch 3 redone by the grown-back group).
			let got: Vec<Cid> = r.epochs.iter().map(|e| e.checkpoint).collect();
			assert_eq!(got, want, "every epoch's checkpoint is the uninterrupted run's");
		}
		// The replacement trained only the epochs after the lost member's last checkpoint.
		let joined: Vec<u64> = reports[2].epochs.iter().map(|e| e.epoch).collect();
		assert_eq!(joined, vec![3, 4, 5, 6]);
		assert_eq!(reports[2].checkpoint, reference[0].checkpoint);
		assert!(reports[2].group.contains(&ids[3].to_string()));
	}

	/// What an auditor checks of a DiLoCo member: its step chain matches its root and starts at
	/// the epoch's checkpoint, and every step replays alone from its state to its leaf; a state or
	/// gradient that is not the member's gives another leaf.
	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn every_diloco_step_replays_alone_from_the_step_chain() {
		let dir = tempfile::tempdir().unwrap();
		let reports = group(3, Mode::Diloco, dir.path()).await;
		let cfg = config(Mode::Diloco);
		let mut replayed = 0;
		for (i, r) in reports.iter().enumerate() {
			let store = ContentStore::open(dir.path().join(format!("Diloco-F32-{i}"))).unwrap();
			let mut start: Option<Vec<u8>> = None;
			let mut rank = None;
			for e in &r.epochs {
				let chain = StepChain::from_bytes(&store.get(&e.step_chain).unwrap()).unwrap();
				assert_eq!(chain.root(), e.gradient_root);
				assert_eq!(chain.steps() as u64, e.steps);
				// State 0 is the epoch's start checkpoint with fresh moments.
				if let Some(start) = &start {
					let mut l = LeastSquares::new(8, 96);
					l.restore(start).unwrap();
					assert_eq!(Cid::of_raw_bytes(&state_bytes(&l).unwrap()), chain.states[0]);
				}
				let leaves = chain.leaves();
				let replay = |j: usize, state: usize, rank: usize| {
					let mut l = LeastSquares::new(8, 96);
					l.restore(&store.get(&chain.states[state]).unwrap()).unwrap();
					let g = (e.epoch - 1) * cfg.inner_steps + j as u64;
					replay_leaf(&mut l, &cfg, &chain.states[j], g, rank, 3).unwrap().1
				};
				// The member's rank is the one, and only one, whose examples give its leaf.
				let ranks: Vec<usize> = (0..3).filter(|k| replay(0, 0, *k) == leaves[0]).collect();
				assert_eq!(ranks.len(), 1, "member {i} epoch {}", e.epoch);
				assert_eq!(*rank.get_or_insert(ranks[0]), ranks[0]);
				for (j, leaf) in leaves.iter().enumerate() {
					assert_eq!(
						replay(j, j, ranks[0]),
						*leaf,
						"member {i} epoch {} step {j}",
						e.epoch
					);
					replayed += 1;
				}
				// Step 1 replayed from another state than the one it names: another leaf.
				assert_ne!(replay(1, 0, ranks[0]), leaves[1]);
				start = Some(store.get(&e.checkpoint).unwrap());
			}
		}
		assert_eq!(replayed, 3 * 6 * 4);
	}

	#[test]
	fn every_example_once_per_epoch_split_across_members() {
		let cfg = TrainConfig {
			epochs: 1,
			batch: 10,
			adam: Adam::default(),
			seed: 1,
			mode: Mode::Sync,
			inner_steps: 0,
			outer_lr: 0.0,
			outer_momentum: 0.0,
			wire: Wire::F32,
			max_reforms: 0,
			shard: None,
			generation: 0,
			ring: Vec::new(),
		};
		let mut seen: Vec<i64> = Vec::new();
		for g in 0..10 {
			let mut step: Vec<i64> =
				(0..3).flat_map(|r| member_batch(&cfg, 100, g, r, 3)).collect();
			assert_eq!(step.len(), 10);
			seen.append(&mut step);
		}
		seen.sort();
		assert_eq!(seen, (0..100).collect::<Vec<_>>());
		assert_ne!(permutation(1, 0, 100), permutation(1, 1, 100), "a new order every epoch");
	}
}
