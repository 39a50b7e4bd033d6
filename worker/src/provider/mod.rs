//! `verity-worker provide`: the provider daemon. It connects to a node, puts its offer, stake,
//! verifier registration and endpoint on chain ([`setup`]), then follows the best blocks and
//! does what the chain asks of its account:
//!
//! - a task assigned to it: accept it in the accept window (decline it, without penalty, if it
//!   is a training task: this daemon runs inference), fetch the kernel archive and the
//!   job's inputs by CID ([`compute`]), run the kernel on libtorch, store the output, submit its
//!   CID; heartbeats while it runs;
//! - a committee seat: re-run the task (or reuse its own run when it is the provider), commit to
//!   the digest, and reveal it in the first block of the reveal window.
//!
//! Every decision is taken from the chain's state at the block being handled, so a retracted
//! block or a restart changes nothing: what is not on chain yet is done again. What cannot be
//! read back from the chain (results computed, commit nonces) is in the [`journal`], saved before
//! the transaction that needs it is sent. The node going away is logged and retried.

pub mod compute;
pub mod journal;
pub mod lineage;
pub mod setup;
pub mod training;

use crate::{
	chain::{
		self,
		api::{
			self,
			runtime_types::{
				pallet_marketplace::types::{JobKind, TaskState},
				pallet_proof_of_compute::types::Subject,
			},
		},
		subxt_err, AccountId, AtBlock, Submitter,
	},
	collective::{Collective, CollectiveConfig},
	error::{invalid, Result},
	group::Membership,
	metrics::Metrics,
	p2p::{self, Net, NetConfig},
	steps::StepChain,
	store::{remote, ContentStore},
	train::{EpochRecord, TrainReport},
};
use compute::{Peer, RunConfig};
use futures::{future::try_join_all, FutureExt};
use journal::{AuditDuty, Computed, EpochEntry, JournalFile, RoundRecord, TaskRecord};
use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr};
use setup::{Price, Setup};
use std::{
	collections::{BTreeSet, HashSet},
	path::PathBuf,
	sync::Arc,
	time::Duration,
};
use tokio::sync::mpsc;
use training::TrainingTask;
use verity_primitives::{cid::Cid, kernel::KernelSpec};

/// Settings of a provider.
pub struct ProvideConfig {
	/// The node's WebSocket address.
	pub url: String,
	/// Where the journal, the blob store and the libp2p key live.
	pub data: PathBuf,
	/// Resource class offered.
	pub class: u8,
	/// Capacity offered, milli-WU/s (measured).
	pub capacity: u64,
	/// Price.
	pub price: Price,
	/// Smallest and largest job taken, WU.
	pub min_job: u64,
	/// See `min_job`.
	pub max_job: u64,
	/// Bond the missing provider stake from the account.
	pub bond: bool,
	/// Register as a verifier (take committee seats).
	pub verify: bool,
	/// Take training tasks (one at a time); otherwise they are declined.
	pub train: bool,
	/// libp2p listen address.
	pub listen: Multiaddr,
	/// The bulk lane's TCP port (0: the system's choice).
	pub bulk_port: u16,
	/// Addresses published instead of the listen address (behind NAT, on another interface).
	pub announce: Vec<Multiaddr>,
	/// How the kernel runs.
	pub run: RunConfig,
	/// The inference server's address (`/ip4/…/tcp/…/http`), published with the endpoint.
	pub serving: Option<Multiaddr>,
}

/// A transaction or computation in progress, so a block does not start it twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Action {
	Accept(u64),
	/// Declining an assigned task this daemon cannot run (a training task).
	Decline(u64),
	Heartbeat(u64),
	Submit(u64),
	Commit(u64),
	Reveal(u64),
	/// Running task `.0`'s kernel (for the task itself or for a round about it).
	Compute(u64),
	/// Re-pricing the offer after the price index moved.
	Reprice,
	/// Training task `.0` with its group.
	Train(u64),
	/// Committing epoch `.1` of training task `.0`.
	CommitEpoch(u64, u32),
	/// Revealing the leaf of audit `.0` (a step of this worker's).
	RevealLeaf(u64),
	/// Replaying the audited step of round `.0`.
	Replay(u64),
}

/// How many blocks before its due block a training task's heartbeat goes out.
const TRAINING_HEARTBEAT_SLACK: u64 = 4;

/// How often (blocks) a provider pricing by the index checks whether its offer should move.
const REPRICE_EVERY: u64 = 10;

/// How far (per mille) the offer's price may drift from index × factor before it is re-set.
const REPRICE_SLACK: u128 = 20;

/// What a finished action reports back to the loop.
enum Done {
	/// A transaction went in (with its block number) or failed (logged).
	Tx(Action, Option<u64>),
	/// The chain refused it for good: never sent again.
	Refused(Action),
	/// A task's result was computed.
	Computed(u64, Result<Computed>),
	/// Training task `.0` finished an epoch.
	Epoch(u64, EpochRecord),
	/// Training task `.0`'s session ended.
	Trained(u64, Result<TrainReport>),
	/// Round `.0`'s audited step was replayed.
	Replayed(u64, Result<Computed>),
}

/// The daemon's state.
pub struct Daemon {
	cfg: ProvideConfig,
	me: AccountId,
	submitter: Arc<Submitter>,
	journal: JournalFile,
	store: ContentStore,
	net: Net,
	metrics: Metrics,
	/// Tasks seen assigned to this account and not yet gone.
	tasks: BTreeSet<u64>,
	busy: HashSet<Action>,
	done_tx: mpsc::UnboundedSender<Done>,
	done_rx: mpsc::UnboundedReceiver<Done>,
	/// Tasks whose last run failed, with the block to try again at.
	retry_at: std::collections::HashMap<u64, u64>,
	/// The node being followed (for the finalised state, and a training group's best state).
	client: Option<chain::Chain>,
	/// Transactions included at a block not yet handled: not sent again before it is.
	settled: std::collections::HashMap<Action, u64>,
	/// The block `act` last decided at.
	now: u64,
	/// The block from which the offer's price is checked against the index again.
	reprice_at: u64,
	/// Actions the chain refused for good (a result too late to verify).
	refused: HashSet<Action>,
	/// What a training session uses.
	parts: training::Parts,
	/// Training sessions and replays that failed, with the block to try again at (0: set at the
	/// next decision).
	backoff: std::collections::HashMap<Action, u64>,
	/// Tasks of this account known to be training tasks (`None`: inference).
	kinds: std::collections::HashMap<u64, Option<TrainingTask>>,
	/// Training tasks whose journal this process has checked against the chain.
	resumed: HashSet<u64>,
}

/// The libp2p identity kept in the data directory, created on first start (mode 0600).
fn p2p_key(path: &std::path::Path) -> Result<Keypair> {
	match std::fs::read(path) {
		Ok(bytes) => Keypair::from_protobuf_encoding(&bytes)
			.map_err(|e| invalid!("{}: not a libp2p key: {e}", path.display())),
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
			let key = Keypair::generate_ed25519();
			let bytes = key.to_protobuf_encoding().map_err(|e| invalid!("{e}"))?;
			use std::os::unix::fs::OpenOptionsExt;
			let mut f =
				std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
			std::io::Write::write_all(&mut f, &bytes)?;
			f.sync_all()?;
			Ok(key)
		}
		Err(e) => Err(e.into()),
	}
}

fn h256(hex_text: &str) -> Result<[u8; 32]> {
	let bytes = hex::decode(hex_text.trim_start_matches("0x")).map_err(|e| invalid!("{e}"))?;
	bytes.try_into().map_err(|_| invalid!("not 32 bytes: {hex_text}"))
}

/// Converts a generated type into the shared type with the same SCALE encoding.
pub(crate) fn shared<G: codec::Encode, S: codec::Decode>(what: &'static str, g: &G) -> Result<S> {
	S::decode(&mut &g.encode()[..])
		.map_err(|e| chain::ChainError::Decode { what, message: e.to_string() }.into())
}

impl Daemon {
	/// Opens the data directory and starts the libp2p node (serving the store's blobs).
	pub async fn new(
		cfg: ProvideConfig,
		signer: subxt_signer::sr25519::Keypair,
		metrics: Metrics,
	) -> Result<Self> {
		std::fs::create_dir_all(&cfg.data)?;
		let store = ContentStore::open(cfg.data.join("store"))?;
		let journal = JournalFile::open(&cfg.data.join("journal.json"))?;
		let key = p2p_key(&cfg.data.join("p2p.key"))?;
		let (net, inbound, event_loop) = p2p::new(NetConfig {
			key,
			listen: cfg.listen.clone(),
			request_timeout: Duration::from_secs(60),
			bulk: Some(cfg.bulk_port),
		})
		.await?;
		tokio::spawn(event_loop.run());
		tokio::spawn(remote::serve(store.clone(), inbound.blobs));
		let parts = training::Parts {
			net: net.clone(),
			store: store.clone(),
			membership: Membership::start(net.clone(), inbound.group),
			collective: Collective::start(
				net.clone(),
				inbound.allreduce,
				CollectiveConfig::default(),
			),
			metrics: metrics.clone(),
			device: cfg.run.device,
			audits: Default::default(),
		};
		let submitter = Arc::new(Submitter::new(signer));
		let me = *submitter.account();
		let (done_tx, done_rx) = mpsc::unbounded_channel();
		let tasks = journal.state.tasks.keys().copied().collect();
		let daemon = Daemon {
			cfg,
			me,
			submitter,
			journal,
			store,
			net,
			metrics,
			tasks,
			busy: HashSet::new(),
			done_tx,
			done_rx,
			retry_at: Default::default(),
			client: None,
			settled: Default::default(),
			now: 0,
			reprice_at: 0,
			refused: HashSet::new(),
			parts,
			kinds: Default::default(),
			resumed: HashSet::new(),
			backoff: Default::default(),
		};
		daemon.publish_chains();
		Ok(daemon)
	}

	/// Removes the step chains of a finished training task, and their states, from the store
	/// (the checkpoints stay: they are the model).
	fn prune_chains(&self, task: u64, record: &TaskRecord) {
		let (mut chains, mut states) = (0, 0);
		for e in &record.epochs {
			let Ok(cid) = Cid::parse(e.leaves.as_bytes()) else { continue };
			let Some(chain) =
				self.store.get(&cid).ok().and_then(|b| StepChain::from_bytes(&b).ok())
			else {
				continue;
			};
			for s in &chain.states {
				states += usize::from(self.store.discard(s).is_ok());
			}
			chains += usize::from(self.store.discard(&cid).is_ok());
		}
		tracing::info!(task, chains, states, "step chains pruned");
	}

	/// Tells auditors (in this worker's group status) where the step chain of every epoch in the
	/// journal is, by the root committed for it.
	fn publish_chains(&self) {
		if self.cfg.run.withhold_chains {
			return;
		}
		let chains = self
			.journal
			.state
			.tasks
			.values()
			.flat_map(|t| &t.epochs)
			.filter_map(|e| {
				let root = h256(&e.root).ok()?;
				Some((polkadot_sdk::sp_core::H256(root), Cid::parse(e.leaves.as_bytes()).ok()?))
			})
			.collect();
		self.parts.membership.publish_chains(chains);
	}

	/// The account this daemon acts for.
	pub fn account(&self) -> &AccountId {
		&self.me
	}

	/// What the inference server needs of the daemon: its store and libp2p node (kernel archives
	/// come from there) and its transaction queue (redeems share the account's nonces).
	pub fn serving_parts(&self) -> (ContentStore, Net, Arc<Submitter>) {
		(self.store.clone(), self.net.clone(), self.submitter.clone())
	}

	/// Publishes the inference server's address with the endpoint.
	pub fn set_serving(&mut self, addr: Option<Multiaddr>) {
		self.cfg.serving = addr;
	}

	/// The libp2p peer id and the addresses published for it (binary forms), the inference
	/// server's `…/http` address last.
	fn endpoint(&self) -> (Vec<u8>, Vec<Vec<u8>>) {
		let mut addrs = match self.cfg.announce.is_empty() {
			false => self.cfg.announce.clone(),
			true => {
				let mut a = self.net.addr.clone();
				if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
					a.pop();
				}
				vec![a]
			}
		};
		addrs.extend(self.cfg.serving.clone());
		(self.net.peer_id.to_bytes(), addrs.into_iter().map(|a| a.to_vec()).collect())
	}

	/// Runs until the process is stopped: connects, sets up, follows blocks; reconnects when the
	/// node goes away.
	pub async fn run(mut self) -> Result<()> {
		tracing::info!(account = %self.me, peer = %self.net.peer_id, addr = %self.net.addr, "provider starting");
		let mut wait = Duration::from_secs(1);
		loop {
			match chain::connect(&self.cfg.url).await {
				Ok(c) => {
					wait = Duration::from_secs(1);
					self.submitter.set_chain(c.clone()).await;
					if let Err(e) = self.follow(&c).await {
						tracing::warn!(node = %self.cfg.url, error = %e, "lost the node; reconnecting");
					}
				}
				Err(e) => tracing::warn!(error = %e, retry_in = ?wait, "cannot reach the node"),
			}
			tokio::time::sleep(wait).await;
			wait = (wait * 2).min(Duration::from_secs(15));
		}
	}

	async fn follow(&mut self, c: &chain::Chain) -> Result<()> {
		self.client = Some(c.clone());
		let mut blocks = c.client.stream_best_blocks().await.map_err(subxt_err)?;
		let mut ready = false;
		let mut latest: Option<AtBlock> = None;
		let mut rescanned = false;
		loop {
			tokio::select! {
				block = blocks.next() => {
					let Some(block) = block else { return Err(invalid!("the node closed the block stream")) };
					// Blocks already waiting behind this one (a daemon short of CPU, or the
					// stream's catch-up): their events are read, but decisions are taken only at
					// the newest block in hand, so a slow daemon decides on a state as old as it
					// is behind, never on none.
					let mut pending = std::collections::VecDeque::from([block.map_err(subxt_err)?]);
					let block = loop {
						while let Some(next) = blocks.next().now_or_never() {
							let Some(next) = next else { return Err(invalid!("the node closed the block stream")) };
							pending.push_back(next.map_err(subxt_err)?);
						}
						let oldest = pending.pop_front().expect("one block at least");
						if pending.is_empty() {
							break oldest;
						}
						let at = oldest.at().await.map_err(subxt_err)?;
						self.observe(&at, false).await?;
					};
					let (best, at) = tokio::join!(c.rpc.chain_get_header(None), block.at());
					let best = best.ok().flatten().map(|h| h.number);
					self.metrics.provider_blocks_behind.set(best.map_or(0, |b| b.saturating_sub(block.number())) as i64);
					let at = at.map_err(subxt_err)?;
					self.metrics.provider_block.set(at.block_number() as i64);
					// Just (re)connected, the stream replays blocks from the last finalised one:
					// the first decision waits for the node's best block, so nothing is sent
					// from a state already overtaken (a result submitted twice, a fee wasted).
					let current = latest.is_some() || best.is_none_or(|b| block.number() + 1 >= b);
					self.observe(&at, current).await?;
					if !current {
						continue;
					}
					if !ready {
						match self.setup(&at).await {
							Ok(Setup::Ready) => ready = true,
							Ok(Setup::Waiting(msg)) => tracing::warn!("{msg}"),
							Err(e) => tracing::warn!(error = %e, "setting up on chain failed; trying again next block"),
						}
					}
					if !rescanned {
						self.rescan(&at).await?;
						rescanned = true;
					}
					if ready {
						self.act(&at).await?;
					}
					latest = Some(at);
				}
				Some(done) = self.done_rx.recv() => {
					self.finish(done)?;
					if let (true, Some(at)) = (ready, &latest) {
						self.act(at).await?;
					}
				}
			}
		}
	}

	/// On (re)connecting: tasks assigned to this account and rounds it sits in, from storage
	/// (events of blocks missed while down are not replayed).
	async fn rescan(&mut self, at: &AtBlock) -> Result<()> {
		let storage = at.storage();
		let mut tasks =
			storage.iter(api::storage().marketplace().tasks(), ()).await.map_err(subxt_err)?;
		while let Some(entry) = tasks.next().await {
			let entry = entry.map_err(subxt_err)?;
			let task = entry.value().decode().map_err(subxt_err)?;
			if task.provider == self.me {
				let (id,) = entry.key().map_err(subxt_err)?.decode().map_err(subxt_err)?;
				self.tasks.insert(id);
			}
		}
		let mut rounds = storage
			.iter(api::storage().proof_of_compute().rounds(), ())
			.await
			.map_err(subxt_err)?;
		let mut added = false;
		while let Some(entry) = rounds.next().await {
			let entry = entry.map_err(subxt_err)?;
			let round = entry.value().decode().map_err(subxt_err)?;
			if !round.members.0.contains(&self.me) {
				continue;
			}
			let (id,) = entry.key().map_err(subxt_err)?.decode().map_err(subxt_err)?;
			let Some(record) = self.round_record(at, round.subject).await? else { continue };
			if let std::collections::btree_map::Entry::Vacant(e) =
				self.journal.state.rounds.entry(id)
			{
				e.insert(record);
				added = true;
			}
		}
		// Audits of this account's training steps, still waiting for its leaf.
		let mut audits = storage
			.iter(api::storage().proof_of_compute().audits(), ())
			.await
			.map_err(subxt_err)?;
		while let Some(entry) = audits.next().await {
			let entry = entry.map_err(subxt_err)?;
			let audit = entry.value().decode().map_err(subxt_err)?;
			if audit.member == self.me && audit.leaf.is_none() {
				let (id,) = entry.key().map_err(subxt_err)?.decode().map_err(subxt_err)?;
				let duty = AuditDuty { task: audit.task, epoch: audit.epoch, step: audit.step };
				added |= self.journal.state.audits.insert(id, duty).is_none();
			}
		}
		if added {
			self.journal.save()?;
		}
		tracing::info!(
			tasks = self.tasks.len(),
			rounds = self.journal.state.rounds.len(),
			"duties on chain"
		);
		Ok(())
	}

	/// Reads the block's events: new tasks and committee seats for this account, its slashes.
	async fn observe(&mut self, at: &AtBlock, current: bool) -> Result<()> {
		let events = at.events().fetch().await.map_err(subxt_err)?;
		for ev in events.find::<api::marketplace::events::TaskAssigned>() {
			let ev = ev.map_err(subxt_err)?;
			if ev.provider == self.me {
				tracing::info!(
					task = ev.task,
					job = ev.job,
					samples = ev.samples,
					accept_by = ev.accept_by,
					"task assigned"
				);
				self.tasks.insert(ev.task);
				// The accept window is the shortest: accept at once, without waiting for the
				// decision pass (the chain refuses it if the task moved on meanwhile).
				if u64::from(ev.accept_by) > at.block_number() {
					self.now = self.now.max(at.block_number());
					self.accept_or_decline(at, ev.task, ev.job).await?;
				}
			}
		}
		let mut added = false;
		for ev in events.find::<api::proof_of_compute::events::CommitteeSelected>() {
			let ev = ev.map_err(subxt_err)?;
			if !ev.members.contains(&self.me) {
				continue;
			}
			let Some(record) = self.round_record(at, ev.subject).await? else { continue };
			tracing::info!(
				round = ev.round,
				task = record.task,
				audit = record.audit,
				commit_end = ev.commit_end,
				reveal_end = ev.reveal_end,
				"drawn for a committee"
			);
			self.journal.state.rounds.entry(ev.round).or_insert(record);
			added = true;
		}
		for ev in events.find::<api::proof_of_compute::events::AuditsDrawn>() {
			let ev = ev.map_err(subxt_err)?;
			for (audit, task, step) in ev.audits {
				if self.tasks.contains(&task) {
					tracing::info!(
						audit,
						job = ev.job,
						epoch = ev.epoch,
						task,
						step,
						"a step of ours is audited"
					);
					let duty = AuditDuty { task, epoch: ev.epoch, step };
					self.journal.state.audits.insert(audit, duty);
					added = true;
				}
			}
		}
		for ev in events.find::<api::proof_of_compute::events::EpochInvalidated>() {
			let ev = ev.map_err(subxt_err)?;
			if ev.member == self.me {
				tracing::warn!(
					job = ev.job,
					epoch = ev.epoch,
					task = ev.task,
					"an audit found our step wrong: the epoch is invalid"
				);
			}
		}
		if added {
			self.journal.save()?;
		}
		for ev in events.find::<api::proof_of_compute::events::Penalised>() {
			let ev = ev.map_err(subxt_err)?;
			if ev.member == self.me {
				tracing::warn!(
					round = ev.round,
					amount = ev.amount,
					"penalised by a committee round"
				);
				self.metrics.provider_slashes.inc();
			}
		}
		for ev in events.find::<api::marketplace::events::DeadlineMissed>() {
			let ev = ev.map_err(subxt_err)?;
			if ev.provider == self.me {
				tracing::warn!(task = ev.task, penalty = ev.penalty, "missed a task deadline");
				self.metrics.provider_slashes.inc();
			}
		}
		if !current {
			return Ok(());
		}
		let account = at
			.storage()
			.fetch(api::storage().system().account(), (self.me,))
			.await
			.map_err(subxt_err)?
			.decode()
			.map_err(subxt_err)?;
		self.metrics
			.provider_free_balance
			.set(account.data.free as f64 / verity_primitives::currency::VER as f64);
		Ok(())
	}

	fn finish(&mut self, done: Done) -> Result<()> {
		match done {
			Done::Tx(action, included) => {
				self.busy.remove(&action);
				if let Some(number) = included {
					self.settled.insert(action, number);
				}
			}
			Done::Refused(action) => {
				self.busy.remove(&action);
				self.refused.insert(action);
			}
			Done::Computed(task, result) => {
				self.busy.remove(&Action::Compute(task));
				match result {
					Ok(c) => {
						tracing::info!(task, output = %c.output, digest = %c.digest, "kernel run finished");
						self.journal.state.tasks.entry(task).or_default().computed =
							Some(c.clone());
						for r in self.journal.state.rounds.values_mut().filter(|r| r.task == task) {
							r.computed.get_or_insert(c.clone());
						}
						self.journal.save()?;
					}
					Err(e) => {
						tracing::warn!(task, error = %e, "cannot run the task yet; nothing submitted");
						self.retry_at.insert(task, 0);
					}
				}
			}
			Done::Epoch(task, r) => {
				let journaled = self.journal.state.tasks.get(&task).map_or(0, |t| t.epochs.len());
				// A session started again replays the epochs already journaled: same bytes.
				if r.epoch == journaled as u64 + 1 {
					let (root, chain) = match self.cfg.run.fake_steps {
						false => (r.gradient_root, r.step_chain),
						true => fake_steps(&self.store, &r)?,
					};
					let r = EpochRecord { gradient_root: root, step_chain: chain, ..r };
					let rec = self.journal.state.tasks.entry(task).or_default();
					tracing::info!(task, epoch = r.epoch - 1, checkpoint = %r.checkpoint, root = %r.gradient_root, steps = r.steps, loss = r.loss, steps_s = r.steps_s, chain_s = r.chain_s, allreduce_bytes = r.allreduce_bytes, "epoch trained");
					rec.epochs.push(EpochEntry {
						checkpoint: r.checkpoint.to_text(),
						root: format!("0x{}", hex::encode(r.gradient_root.as_bytes())),
						steps: u32::try_from(r.steps).unwrap_or(u32::MAX),
						leaves: r.step_chain.to_text(),
					});
					self.journal.save()?;
					self.publish_chains();
				}
			}
			Done::Trained(task, result) => {
				self.busy.remove(&Action::Train(task));
				match result {
					Ok(r) => {
						tracing::info!(task, checkpoint = %r.checkpoint, epochs = r.epochs.len(), reforms = r.reforms, "training finished")
					}
					Err(e) => {
						tracing::warn!(task, error = %e, "training stopped; trying again in 5 blocks");
						self.backoff.insert(Action::Train(task), 0);
					}
				}
			}
			Done::Replayed(round, result) => {
				self.busy.remove(&Action::Replay(round));
				match result {
					Ok(c) => {
						if let Some(r) = self.journal.state.rounds.get_mut(&round) {
							r.computed = Some(c);
							self.journal.save()?;
						}
					}
					Err(e) => {
						tracing::warn!(round, error = %e, "cannot replay the audited step yet");
						self.backoff.insert(Action::Replay(round), 0);
					}
				}
			}
		}
		Ok(())
	}

	/// Sends `call` in the background unless `action` is already under way.
	fn send<C>(&mut self, action: Action, call: C)
	where
		C: subxt::transactions::Payload + Send + Sync + 'static,
	{
		// Included in a block this daemon has not handled yet: its state will show it.
		if self.settled.get(&action).is_some_and(|b| *b > self.now)
			|| self.refused.contains(&action)
			|| !self.busy.insert(action)
		{
			return;
		}
		let (submitter, done) = (self.submitter.clone(), self.done_tx.clone());
		tokio::spawn(async move {
			let included = match submitter.submit(&call).await {
				Ok(inc) => {
					tracing::info!(
						?action,
						block = inc.number,
						fee = inc.fee,
						"transaction in block"
					);
					Some(inc.number)
				}
				Err(e) if matches!(e.pallet_error(), Some("TooLateToVerify" | "EpochInvalid")) => {
					tracing::warn!(?action, error = %e, "the chain will not verify this result (too late for the job's deadline, or an audit invalidated an epoch); not sent again");
					let _ = done.send(Done::Refused(action));
					return;
				}
				Err(e) => {
					tracing::warn!(?action, error = %e, "transaction failed");
					None
				}
			};
			let _ = done.send(Done::Tx(action, included));
		});
	}

	/// Decides, from the chain's state at `at`, what to do next for every task and round.
	async fn act(&mut self, at: &AtBlock) -> Result<()> {
		let now = at.block_number();
		self.now = now;
		self.settled.retain(|_, b| *b > now);
		// Ids below these were opened by this block: missing from storage means ended.
		let (next_task, next_round) = tokio::try_join!(
			chain::read(at, api::storage().marketplace().next_task(), ()),
			chain::read(at, api::storage().proof_of_compute().next_round(), ()),
		)?;
		let (next_task, next_round) = (next_task.unwrap_or(0), next_round.unwrap_or(0));
		let mut by_state = [0i64; 4];
		let ids: Vec<u64> = self.tasks.iter().copied().collect();
		// One round trip's latency for all of them, not one per task.
		let entries = try_join_all(
			ids.iter().map(|id| chain::read(at, api::storage().marketplace().tasks(), (*id,))),
		)
		.await?;
		for (id, entry) in ids.into_iter().zip(entries) {
			let Some(task) = entry.filter(|t| t.provider == self.me) else {
				if id >= next_task {
					continue; // Not opened at this block (a fork that has not seen it yet).
				}
				// Finished, failed, or given to another provider; its result is forgotten once
				// that is final (until then it is looked at again every block).
				// A task with an audit still open keeps its record (and its step chains served).
				let audited = self.journal.state.audits.values().any(|d| d.task == id);
				if !self.journal.state.tasks.contains_key(&id) {
					self.tasks.remove(&id);
					self.kinds.remove(&id);
				} else if !audited && self.gone_when_final(false, id).await? {
					self.tasks.remove(&id);
					self.kinds.remove(&id);
					let record = self.journal.state.tasks.remove(&id);
					self.journal.save()?;
					// Its step chains are no longer needed: the chain audits a training task's
					// epochs before it pays it.
					if let Some(record) = record.filter(|r| !r.epochs.is_empty()) {
						self.publish_chains();
						self.prune_chains(id, &record);
					}
				}
				continue;
			};
			match task.state {
				TaskState::Assigned => {
					by_state[0] += 1;
					self.accept_or_decline(at, id, task.job).await?;
				}
				TaskState::Accepted => {
					by_state[1] += 1;
					if let Some(t) = self.kind_of(at, id).await? {
						self.act_training(at, id, &task, t).await?;
						continue;
					}
					match self.journal.state.tasks.get(&id).and_then(|t| t.computed.clone()) {
						Some(c) => {
							use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
							let cid = BoundedVec(c.output.into_bytes());
							self.send(
								Action::Submit(id),
								api::tx().marketplace().submit_result(id, cid),
							);
						}
						None => {
							self.journal.state.tasks.entry(id).or_default();
							self.compute(at, id).await;
							// A run longer than the heartbeat interval: tell the chain it is alive.
							if u64::from(task.due) <= now + 2 {
								self.send(
									Action::Heartbeat(id),
									api::tx().marketplace().heartbeat(id),
								);
							}
						}
					}
				}
				TaskState::Submitted => by_state[2] += 1,
				TaskState::Verified => by_state[3] += 1,
			}
		}
		if matches!(self.cfg.price, Price::Index { permille } if permille != 1000)
			&& now >= self.reprice_at
		{
			self.reprice_at = now + REPRICE_EVERY;
			self.reprice(at).await;
		}
		for (i, state) in ["assigned", "accepted", "submitted", "verified"].iter().enumerate() {
			self.metrics.provider_tasks.with_label_values(&[state]).set(by_state[i]);
		}
		let rounds: Vec<(u64, RoundRecord)> =
			self.journal.state.rounds.iter().map(|(k, v)| (*k, v.clone())).collect();
		let poc = || api::storage().proof_of_compute();
		let (states, commits, reveals) = tokio::try_join!(
			try_join_all(rounds.iter().map(|(id, _)| chain::read(at, poc().rounds(), (*id,)))),
			try_join_all(rounds.iter().map(|(id, _)| chain::read(
				at,
				poc().commits(),
				(*id, self.me)
			))),
			try_join_all(rounds.iter().map(|(id, _)| chain::read(
				at,
				poc().reveals(),
				(*id, self.me)
			))),
		)?;
		let mut changed = false;
		for (((id, rec), round), (committed, revealed)) in
			rounds.into_iter().zip(states).zip(commits.into_iter().zip(reveals))
		{
			let (committed, revealed) = (committed.is_some(), revealed.is_some());
			let Some(round) = round else {
				if id >= next_round || !self.gone_when_final(true, id).await? {
					// Not opened at this block, or closed only in blocks a reorg may undo: keep
					// what was saved for it.
					continue;
				}
				self.journal.state.rounds.remove(&id);
				changed = true;
				continue;
			};
			let (commit_end, reveal_end) =
				(u64::from(round.commit_end), u64::from(round.reveal_end));
			if now < commit_end && !committed {
				// Own result first (the provider's seat), else run the task again (or, in an
				// audit's round, replay the audited step).
				let computed = match rec.audit {
					Some(_) => rec.computed.clone(),
					None => rec.computed.clone().or_else(|| {
						self.journal.state.tasks.get(&rec.task).and_then(|t| t.computed.clone())
					}),
				};
				let Some(c) = computed else {
					match rec.audit {
						// The last try before the window closes (a commitment sent now is in a
						// block before it ends): a step chain still not served is committed as
						// unverifiable.
						Some(audit) => self.replay(at, id, audit, commit_end <= now + 2),
						None => self.compute(at, rec.task).await,
					}
					continue;
				};
				let nonce = match &rec.nonce {
					Some(n) => h256(n)?,
					None => {
						let mut n = [0u8; 32];
						getrandom(&mut n)?;
						n
					}
				};
				if rec.nonce.is_none() || rec.computed.is_none() {
					// Saved before the commitment goes out: a restart reveals this very nonce.
					let r = self.journal.state.rounds.get_mut(&id).expect("listed above");
					r.nonce = Some(format!("0x{}", hex::encode(nonce)));
					r.computed = Some(c.clone());
					self.journal.save()?;
				}
				let digest = h256(&c.digest)?;
				let commitment = verity_primitives::commit::commitment(
					id,
					&digest.into(),
					&nonce.into(),
					&self.me,
				);
				self.send(
					Action::Commit(id),
					api::tx().proof_of_compute().commit(id, subxt::utils::H256(commitment.0)),
				);
			} else if committed && now >= commit_end && now < reveal_end {
				if let (false, Some(c), Some(n)) = (revealed, &rec.computed, &rec.nonce) {
					use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
					self.send(
						Action::Reveal(id),
						api::tx().proof_of_compute().reveal(
							id,
							subxt::utils::H256(h256(&c.digest)?),
							BoundedVec(c.output.clone().into_bytes()),
							subxt::utils::H256(h256(n)?),
							BoundedVec(c.summary.clone()),
						),
					);
				}
			}
		}
		if changed {
			self.journal.save()?;
		}
		self.metrics.provider_rounds.set(self.journal.state.rounds.len() as i64);
		self.reveal_leaves(at).await
	}

	/// Answers the audits of this account's training steps: the step's leaf with its Merkle
	/// proof, from the leaves kept when the epoch was trained.
	async fn reveal_leaves(&mut self, at: &AtBlock) -> Result<()> {
		if self.journal.state.audits.is_empty() {
			return Ok(());
		}
		let poc = || api::storage().proof_of_compute();
		let duties: Vec<(u64, AuditDuty)> =
			self.journal.state.audits.iter().map(|(a, d)| (*a, *d)).collect();
		let (next, states) = tokio::try_join!(
			chain::read(at, poc().next_audit(), ()),
			try_join_all(duties.iter().map(|(a, _)| chain::read(at, poc().audits(), (*a,)))),
		)?;
		let mut changed = false;
		for ((audit, duty), state) in duties.into_iter().zip(states) {
			let Some(state) = state else {
				if audit < next.unwrap_or(0) {
					self.journal.state.audits.remove(&audit);
					changed = true;
				}
				continue;
			};
			if state.leaf.is_some() || self.busy.contains(&Action::RevealLeaf(audit)) {
				continue;
			}
			let entry = self
				.journal
				.state
				.tasks
				.get(&duty.task)
				.and_then(|t| t.epochs.get(duty.epoch as usize))
				.cloned();
			let Some(entry) = entry else {
				tracing::warn!(
					audit,
					task = duty.task,
					epoch = duty.epoch,
					"audited epoch not in the journal: its leaf cannot be revealed"
				);
				continue;
			};
			let cid = Cid::parse(entry.leaves.as_bytes()).map_err(|e| invalid!("{e:?}"))?;
			let leaves = StepChain::from_bytes(&self.store.get(&cid)?)?.leaves();
			let step = duty.step as usize;
			let (Some(leaf), Some(proof)) =
				(leaves.get(step).copied(), verity_primitives::merkle::merkle_proof(&leaves, step))
			else {
				tracing::warn!(
					audit,
					step,
					leaves = leaves.len(),
					"audited step outside the epoch's leaves"
				);
				continue;
			};
			use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
			tracing::info!(audit, task = duty.task, epoch = duty.epoch, step, %leaf, "revealing the audited step's leaf");
			self.send(
				Action::RevealLeaf(audit),
				api::tx().proof_of_compute().reveal_leaf(
					audit,
					subxt::utils::H256(leaf.0),
					BoundedVec(proof.into_iter().map(|h| subxt::utils::H256(h.0)).collect()),
				),
			);
		}
		if changed {
			self.journal.save()?;
		}
		Ok(())
	}

	/// Whether a session or replay that failed may start again at `now`: a session 5 blocks after
	/// it failed, a replay the next block (an audited member that is restarting has until the
	/// auditors' last try to serve its step chain).
	fn may_start(&mut self, action: Action, now: u64) -> bool {
		match self.backoff.get(&action) {
			Some(0) => {
				let wait = if matches!(action, Action::Replay(_)) { 1 } else { 5 };
				self.backoff.insert(action, now + wait);
				false
			}
			Some(b) if *b > now => false,
			_ => true,
		}
	}

	/// The chain's record of task `id` if it is a training task (cached: a task's job does not
	/// change).
	async fn kind_of(&mut self, at: &AtBlock, id: u64) -> Result<Option<TrainingTask>> {
		if let Some(k) = self.kinds.get(&id) {
			return Ok(k.clone());
		}
		let k = training::read_task(at, id).await?;
		self.kinds.insert(id, k.clone());
		Ok(k)
	}

	/// The record of a committee seat for `subject`: a task's round, or an audit's (whose task
	/// is read from the audit; `None` once the audit is gone).
	async fn round_record(&self, at: &AtBlock, subject: Subject) -> Result<Option<RoundRecord>> {
		Ok(match subject {
			Subject::Task(task) => {
				Some(RoundRecord { task, computed: None, nonce: None, audit: None })
			}
			Subject::Audit(audit) => {
				chain::read(at, api::storage().proof_of_compute().audits(), (audit,)).await?.map(
					|a| RoundRecord {
						task: a.task,
						computed: None,
						nonce: None,
						audit: Some(audit),
					},
				)
			}
		})
	}

	/// A training task this account accepted: train once the group formed on chain, commit each
	/// epoch in order once the one before closed with our checkpoint (the chain takes the group's
	/// last checkpoint as the next epoch's start, which auditors replay from), then, the last
	/// epoch's audits over, submit the final checkpoint; heartbeats throughout.
	async fn act_training(
		&mut self,
		at: &AtBlock,
		id: u64,
		task: &api::runtime_types::pallet_marketplace::types::TaskEntry,
		t: TrainingTask,
	) -> Result<()> {
		let now = at.block_number();
		// A missed heartbeat fails the whole group's job: more slack than for inference.
		if u64::from(task.due) <= now + TRAINING_HEARTBEAT_SLACK {
			tracing::debug!(task = id, due = task.due, now, "heartbeat");
			self.send(Action::Heartbeat(id), api::tx().marketplace().heartbeat(id));
		}
		let poc = || api::storage().proof_of_compute();
		let (next, last) = tokio::try_join!(
			chain::read(at, poc().next_epoch(), (id,)),
			chain::read(at, poc().last_checkpoint(), (t.job,)),
		)?;
		let next = next.unwrap_or(0);
		let journaled = self.journal.state.tasks.get(&id).map_or(0, |r| r.epochs.len() as u32);
		if journaled < next && !self.busy.contains(&Action::Train(id)) {
			// The task was taken over from another provider (or the journal was lost): the epochs
			// that opened before are the predecessor's; their checkpoints come from the chain so
			// that the session joins the group where they ended and commits from `next` on.
			let taken = training::chain_epochs(at, &t, journaled, next).await?;
			if let Some(newest) = taken.last() {
				tracing::info!(task = id, job = t.job, from = journaled, epochs = taken.len(), checkpoint = %newest.checkpoint, "taking over a training task: the epochs before this provider are its predecessor's");
				let rec = self.journal.state.tasks.entry(id).or_default();
				rec.epochs.extend(taken.into_iter().map(|e| EpochEntry {
					checkpoint: e.checkpoint.to_text(),
					root: format!("0x{}", hex::encode(e.root.as_bytes())),
					steps: e.steps,
					leaves: String::new(),
				}));
				self.journal.save()?;
			}
		}
		let rec = self.journal.state.tasks.get(&id).cloned().unwrap_or_default();
		let trained = rec.epochs.len() as u32;
		if trained < t.epochs
			&& !self.busy.contains(&Action::Train(id))
			&& self.may_start(Action::Train(id), now)
		{
			match training::group_peers(at, &t, &self.me).await? {
				None => tracing::debug!(task = id, "waiting for the group to form on chain"),
				Some(peers) => self.start_training(at, id, t.clone(), peers),
			}
		}
		let last: Option<Cid> = last.map(|c| shared("checkpoint CID", &c)).transpose()?;
		if !rec.epochs.is_empty() && self.resumed.insert(id) {
			Self::check_resume(id, &rec, next, last.as_ref());
		}
		if let Some(e) = rec.epochs.get(next as usize) {
			let previous_closed = match next.checked_sub(1) {
				None => true,
				Some(p) => {
					last.map(|c| c.to_text()).as_ref()
						== rec.epochs.get(p as usize).map(|e| &e.checkpoint)
				}
			};
			if previous_closed {
				use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
				self.send(
					Action::CommitEpoch(id, next),
					api::tx().proof_of_compute().commit_epoch(
						id,
						next,
						BoundedVec(e.checkpoint.clone().into_bytes()),
						e.steps,
						subxt::utils::H256(h256(&e.root)?),
					),
				);
			}
		}
		if trained < t.epochs || next < t.epochs {
			return Ok(());
		}
		match rec.computed {
			// The final checkpoint's outputs on our shard: what the verification round compares.
			None => self.compute(at, id).await,
			Some(c) => {
				let last_epoch = t.epochs.saturating_sub(1);
				if chain::read(at, poc().epochs(), (t.job, last_epoch)).await?.is_none() {
					use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
					let cid = BoundedVec(c.output.into_bytes());
					self.send(Action::Submit(id), api::tx().marketplace().submit_result(id, cid));
				}
			}
		}
		Ok(())
	}

	/// A training task this process found in its journal (a restart): where it goes on from, and
	/// whether the journal agrees with the chain. The chain's `LastCheckpoint` (the start of the
	/// next epoch to close) must be one of the journal's checkpoints; a journal that disagrees is
	/// not committed from (commits wait for the chain's checkpoint to be ours).
	fn check_resume(id: u64, rec: &TaskRecord, committed: u32, chain: Option<&Cid>) {
		let chain = chain.map(Cid::to_text);
		let at = chain.as_ref().and_then(|c| rec.epochs.iter().position(|e| &e.checkpoint == c));
		match (chain.as_deref(), at) {
			(Some(theirs), None) => tracing::warn!(
				task = id,
				committed,
				chain_checkpoint = theirs,
				"the chain's checkpoint is none of the journal's: not committing from it"
			),
			(theirs, epoch) => tracing::info!(
				task = id,
				trained = rec.epochs.len(),
				committed,
				chain_checkpoint = theirs.unwrap_or("none (before the first epoch closed)"),
				journal_epoch = epoch.map_or(-1, |e| e as i64),
				"resuming a training task from the journal at the chain's checkpoint"
			),
		}
	}

	/// Starts training task `id` with the group `peers` (off the loop, which keeps following
	/// blocks, committing epochs and answering audits meanwhile).
	fn start_training(&mut self, at: &AtBlock, id: u64, t: TrainingTask, peers: Vec<Peer>) {
		let Some(chain) = self.client.clone() else { return };
		// The checkpoints of the epochs already trained (a restart): the session resumes from the
		// newest the group shares.
		let known: std::collections::BTreeMap<u64, Cid> = self
			.journal
			.state
			.tasks
			.get(&id)
			.map(|rec| {
				let parsed = rec.epochs.iter().map(|e| Cid::parse(e.checkpoint.as_bytes()).ok());
				(1..).zip(parsed).filter_map(|(e, c)| Some((e, c?))).collect()
			})
			.unwrap_or_default();
		tracing::info!(
			task = id,
			job = t.job,
			members = peers.len() + 1,
			epochs = t.epochs,
			journaled = known.len(),
			"the group formed on chain; training"
		);
		self.busy.insert(Action::Train(id));
		let (at, parts, done) = (at.clone(), self.parts.clone(), self.done_tx.clone());
		let (epochs, me) = (done.clone(), self.me);
		tokio::spawn(async move {
			let on_epoch = Box::new(move |r: &EpochRecord| {
				let _ = epochs.send(Done::Epoch(id, r.clone()));
			});
			let result =
				training::train(at, chain, parts, (id, me), t, peers, known, on_epoch).await;
			let _ = done.send(Done::Trained(id, result));
		});
	}

	/// Replays the audited step of round `round` (audit `audit`) off the loop.
	fn replay(&mut self, at: &AtBlock, round: u64, audit: u64, last_try: bool) {
		let action = Action::Replay(round);
		if self.busy.contains(&action) || !self.may_start(action, at.block_number()) {
			return;
		}
		self.busy.insert(action);
		let (at, parts, done) = (at.clone(), self.parts.clone(), self.done_tx.clone());
		tokio::spawn(async move {
			let result = training::replay(&at, &parts, round, audit, last_try).await;
			let _ = done.send(Done::Replayed(round, result));
		});
	}

	/// Accepts assigned task `task` of job `job`, or declines it (no penalty) when this daemon
	/// cannot run it: a training task when it does not train (`--train`), already trains for
	/// another job, or the job's settings are not ones it can train with.
	async fn accept_or_decline(&mut self, at: &AtBlock, task: u64, job: u64) -> Result<()> {
		let training = chain::read(at, api::storage().marketplace().jobs(), (job,))
			.await?
			.is_some_and(|j| matches!(j.kind, JobKind::Training { .. }));
		let why = match (training, self.cfg.train) {
			(false, _) => None,
			(true, false) => Some("this daemon does not train (no --train)".to_string()),
			(true, true) => match self.kind_of(at, task).await {
				Err(e) => Some(e.to_string()),
				Ok(_)
					if self
						.kinds
						.iter()
						.any(|(t, k)| *t != task && k.is_some() && self.tasks.contains(t)) =>
				{
					Some("already training for another job".to_string())
				}
				Ok(_) => None,
			},
		};
		match why {
			Some(why) => {
				if !self.busy.contains(&Action::Decline(task)) {
					tracing::warn!(task, job, %why, "a training task this daemon cannot take: declined");
				}
				self.send(Action::Decline(task), api::tx().marketplace().decline_task(task));
			}
			None => self.send(Action::Accept(task), api::tx().marketplace().accept_task(task)),
		}
		Ok(())
	}

	/// Moves the offer's price to index × factor when the index has moved it beyond the slack.
	async fn reprice(&mut self, at: &AtBlock) {
		match self.offer_change(at, REPRICE_SLACK).await {
			Ok(Some(setup::OfferChange { id: Some(id), capacity, price })) => {
				tracing::info!(offer = id, price = %setup::PriceText(&price), "the price index moved; re-pricing the offer");
				let (min_job, max_job) = (self.cfg.min_job, self.cfg.max_job);
				self.send(
					Action::Reprice,
					api::tx().marketplace().update_offer(id, capacity, price, min_job, max_job),
				);
			}
			// Gone (withdrawn by the operator): not re-published behind their back.
			Ok(_) => {}
			Err(e) => tracing::warn!(error = %e, "cannot read the price index; offer left as is"),
		}
	}

	/// Whether round (`round`) or task `id` is over in the finalised state, which no reorg undoes:
	/// only then does the journal forget it.
	async fn gone_when_final(&self, round: bool, id: u64) -> Result<bool> {
		let Some(chain) = &self.client else { return Ok(false) };
		let at = chain.client.at_current_block().await.map_err(subxt_err)?;
		let s = at.storage();
		if round {
			let next = s
				.fetch(api::storage().proof_of_compute().next_round(), ())
				.await
				.map_err(subxt_err)?
				.decode()
				.map_err(subxt_err)?;
			let open = s
				.try_fetch(api::storage().proof_of_compute().rounds(), (id,))
				.await
				.map_err(subxt_err)?
				.is_some();
			return Ok(id < next && !open);
		}
		let next = s
			.fetch(api::storage().marketplace().next_task(), ())
			.await
			.map_err(subxt_err)?
			.decode()
			.map_err(subxt_err)?;
		let mine = match s
			.try_fetch(api::storage().marketplace().tasks(), (id,))
			.await
			.map_err(subxt_err)?
		{
			Some(v) => v.decode().map_err(subxt_err)?.provider == self.me,
			None => false,
		};
		Ok(id < next && !mine)
	}

	/// Starts running task `id`'s kernel unless it runs already or failed a moment ago.
	async fn compute(&mut self, at: &AtBlock, id: u64) {
		let now = at.block_number();
		if self.busy.contains(&Action::Compute(id)) {
			return;
		}
		match self.retry_at.get(&id) {
			Some(0) => {
				self.retry_at.insert(id, now + 5);
				return;
			}
			Some(b) if *b > now => return,
			_ => {}
		}
		// Fetching and running happen off the loop, which keeps following blocks meanwhile.
		self.busy.insert(Action::Compute(id));
		let (at, net, store) = (at.clone(), self.net.clone(), self.store.clone());
		let (cfg, done) = (self.cfg.run, self.done_tx.clone());
		// A training task of ours: its final checkpoint is in the journal, not yet on chain.
		let own = self
			.journal
			.state
			.tasks
			.get(&id)
			.and_then(|t| t.epochs.last())
			.and_then(|e| Cid::parse(e.checkpoint.as_bytes()).ok());
		tokio::spawn(async move {
			let result = match gather(&at, &net, &store, id, own).await {
				Ok(job) => {
					tracing::info!(task = id, samples = job.samples, "running the kernel");
					tokio::task::spawn_blocking(move || compute::run(job, cfg, &store))
						.await
						.map_err(Into::into)
						.and_then(|r| r)
				}
				Err(e) => Err(e),
			};
			let _ = done.send(Done::Computed(id, result));
		});
	}
}

/// Everything task `id`'s run needs: the kernel record, its archive and the job's inputs,
/// fetched by CID and checked. For a training task: the job's dataset and the final checkpoint
/// (`own` for the task's provider, else the result it submitted).
async fn gather(
	at: &AtBlock,
	net: &Net,
	store: &ContentStore,
	id: u64,
	own: Option<Cid>,
) -> Result<compute::Job> {
	let task = chain::read(at, api::storage().marketplace().tasks(), (id,))
		.await?
		.ok_or_else(|| invalid!("task {id} is not on chain"))?;
	let job = chain::read(at, api::storage().marketplace().jobs(), (task.job,))
		.await?
		.ok_or_else(|| invalid!("job {} is not on chain", task.job))?;
	let (inputs, checkpoint): (Vec<Cid>, Option<Cid>) = match &job.kind {
		JobKind::Inference { inputs, .. } => {
			(inputs.0.iter().map(|c| shared("input CID", c)).collect::<Result<_>>()?, None)
		}
		JobKind::Training { dataset, .. } => {
			let result = match (own, &task.result) {
				(Some(c), _) => c,
				(None, Some(c)) => shared("result CID", c)?,
				(None, None) => return Err(invalid!("training task {id} has no result yet")),
			};
			(vec![shared("dataset CID", dataset)?], Some(result))
		}
	};
	let kernel = chain::read(at, api::storage().aivm_registry().kernels(), (job.kernel,))
		.await?
		.ok_or_else(|| invalid!("kernel {:?} is not registered", job.kernel))?;
	let record: KernelSpec = shared("kernel record", &kernel.spec)?;
	let peers = directory_peers(at, &[&job.buyer, &kernel.owner]).await?;
	let bar = crate::progress::bar(
		1 + inputs.len() as u64 + u64::from(checkpoint.is_some()),
		format!("task {id}: fetch"),
	);
	let archive = compute::fetch_blob(net, store, &record.archive, &peers).await?;
	bar.inc(1);
	let mut blobs = Vec::new();
	for cid in &inputs {
		blobs.push(compute::fetch_blob(net, store, cid, &peers).await?);
		bar.inc(1);
	}
	let checkpoint = match checkpoint {
		Some(cid) => Some((cid, compute::fetch_blob(net, store, &cid, &peers).await?)),
		None => None,
	};
	bar.finish_and_clear();
	Ok(compute::Job {
		task: id,
		record,
		archive,
		inputs: blobs,
		first: task.first_sample,
		samples: task.samples,
		checkpoint,
	})
}

/// Who may hold a job's blobs: `first` (the buyer, the kernel's owner), then everyone in the
/// endpoint directory.
pub(crate) async fn directory_peers(at: &AtBlock, first: &[&AccountId]) -> Result<Vec<Peer>> {
	let storage = at.storage();
	let mut peers = Vec::new();
	for who in first {
		if let Some(e) = storage
			.try_fetch(api::storage().marketplace().endpoints(), (**who,))
			.await
			.map_err(subxt_err)?
		{
			let e = e.decode().map_err(subxt_err)?;
			peers.extend(Peer::parse(
				&e.peer.0,
				&e.addrs.0.iter().map(|a| a.0.clone()).collect::<Vec<_>>(),
			));
		}
	}
	let mut all =
		storage.iter(api::storage().marketplace().endpoints(), ()).await.map_err(subxt_err)?;
	while let Some(entry) = all.next().await {
		let e = entry.map_err(subxt_err)?.value().decode().map_err(subxt_err)?;
		if let Some(p) =
			Peer::parse(&e.peer.0, &e.addrs.0.iter().map(|a| a.0.clone()).collect::<Vec<_>>())
		{
			if !peers.iter().any(|q: &Peer| q.id == p.id) {
				peers.push(p);
			}
		}
	}
	Ok(peers)
}

/// The test-only fault (`--fault-fake-steps`): the epoch's step chain with every gradient digest
/// replaced by one of a step never computed, committed under its own (valid) Merkle root, as a
/// member skipping the work would have to; an audit of any of its steps replays the step from its
/// state and finds another leaf.
fn fake_steps(store: &ContentStore, r: &EpochRecord) -> Result<(polkadot_sdk::sp_core::H256, Cid)> {
	use polkadot_sdk::sp_core::H256;
	let mut chain = StepChain::from_bytes(&store.get(&r.step_chain)?)?;
	for (s, d) in chain.digests.iter_mut().enumerate() {
		*d = H256::repeat_byte(0xfa);
		d.0[..8].copy_from_slice(&(s as u64).to_le_bytes());
	}
	Ok((chain.root(), store.put(&chain.to_bytes())?))
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
	use std::io::Read;
	std::fs::File::open("/dev/urandom")?.read_exact(buf)?;
	Ok(())
}
