//! Ring AllReduce over libp2p as an actor ([`Collective`] is its handle).
//!
//! The vector is cut into n segments (one per member, in ring order) and each segment into chunks
//! of at most `chunk_bytes`. Reduce-scatter then all-gather, 2(n−1) ring steps; at step s member r
//! receives from its predecessor the segment `(r − s − 1) mod n` (reduce, s < n−1: added to its own)
//! or `(r − u) mod n` with u = s − (n−1) (gather: copied), and forwards exactly that region at step
//! s+1. Each chunk moves on as soon as it arrives, so the steps pipeline; every member sends and
//! receives 2(n−1)/n of the vector, the bandwidth optimum. The additions of a segment happen in
//! ring order starting at the member after its owner, and the final values are copied, not
//! recomputed, so every member ends with bit-identical results, run after run.
//!
//! A chunk of the wrong size, for a round other than the current or the next one, or from a peer
//! that is not the ring predecessor is refused with an error and aborts the round; so does a member
//! that disconnects or a round that makes no progress for `stall_timeout`. Nothing of an aborted
//! round is returned, and the actor keeps serving later rounds.
//!
//! Generations converge: members re-form independently, so one may be a generation ahead of
//! another. A chunk of an older generation is answered [`ChunkAnswer::Ahead`] with this member's
//! generation and does not abort its round; a chunk of a newer generation from a member is kept and
//! aborts the round with [`AllReduceError::Behind`]. Either way the member that is behind learns the
//! newer generation ([`AllReduceError::ahead`]) and re-forms at it, where the kept chunk is waiting,
//! instead of one past its own (which could leave members chasing each other's generations).

#[cfg(target_endian = "big")]
compile_error!("the AllReduce wire format is little-endian f32, sent without conversion");

use crate::p2p::{
	allreduce::{Chunk, ChunkAnswer},
	AllReduceEvent, ChunkReply, Net, NetError,
};
use futures::{future::BoxFuture, stream::FuturesUnordered, FutureExt, StreamExt};
use libp2p::PeerId;
use std::{
	collections::{HashSet, VecDeque},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot};
pub use verity_primitives::training::Wire;
use verity_primitives::training::{from_bf16, to_bf16};

/// Why an AllReduce round failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AllReduceError {
	/// A member disconnected.
	#[error("group member {0} disconnected")]
	PeerLost(PeerId),
	/// No chunk arrived and no send completed for the stall timeout.
	#[error("round stalled: no progress for {0:?} (waiting on {1})")]
	Stalled(Duration, PeerId),
	/// A peer sent something that does not belong in this round.
	#[error("bad chunk from {peer}: {reason}")]
	BadChunk {
		/// The sender.
		peer: PeerId,
		/// What was wrong.
		reason: String,
	},
	/// Sending to the successor failed.
	#[error(transparent)]
	Send(#[from] NetError),
	/// The successor refused a chunk.
	#[error("successor {peer} refused a chunk: {reason}")]
	Refused {
		/// The successor.
		peer: PeerId,
		/// Its error text.
		reason: String,
	},
	/// A member is at a newer generation of the group: this one re-forms at it.
	#[error("member {peer} is at generation {generation}, ahead of this member")]
	Behind {
		/// The member.
		peer: PeerId,
		/// Its generation.
		generation: u64,
	},
	/// This worker is not in the group it was asked to reduce in.
	#[error("this worker is not a member of the group")]
	NotMember,
	/// The actor stopped.
	#[error("the AllReduce actor stopped")]
	Stopped,
}

impl AllReduceError {
	/// The newer generation a member is at, when the round failed because this one was behind.
	pub fn ahead(&self) -> Option<u64> {
		match self {
			AllReduceError::Behind { generation, .. } => Some(*generation),
			_ => None,
		}
	}
}

/// A formation of a training group: members in ring order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
	/// Changes every time the group re-forms; chunks of other generations are refused.
	pub generation: u64,
	/// Members in ring order.
	pub members: Vec<PeerId>,
}

impl Group {
	/// A group of `members` sorted by peer id (every member computes the same ring).
	pub fn new(generation: u64, members: Vec<PeerId>) -> Self {
		Self::in_order(generation, members, &[])
	}

	/// A group of `members` in the order of `order` (e.g. a chain job's tasks), those not in it
	/// after, by peer id. Every member given the same `order` computes the same ring; the ring
	/// fixes the order of every sum's additions, so a fixed order makes the results independent of
	/// the members' keys.
	pub fn in_order(generation: u64, mut members: Vec<PeerId>, order: &[PeerId]) -> Self {
		let at = |p: &PeerId| order.iter().position(|o| o == p).unwrap_or(order.len());
		members.sort_by_cached_key(|p| (at(p), p.to_bytes()));
		members.dedup();
		Group { generation, members }
	}

	/// The rank of `peer`.
	pub fn rank(&self, peer: &PeerId) -> Option<usize> {
		self.members.iter().position(|p| p == peer)
	}
}

/// Tuning.
#[derive(Clone, Copy, Debug)]
pub struct CollectiveConfig {
	/// Largest chunk in bytes.
	pub chunk_bytes: usize,
	/// Chunks in flight to the successor.
	pub window: usize,
	/// A round with no progress for this long fails.
	pub stall_timeout: Duration,
}

impl Default for CollectiveConfig {
	fn default() -> Self {
		CollectiveConfig { chunk_bytes: 1 << 20, window: 8, stall_timeout: Duration::from_secs(10) }
	}
}

struct Job {
	group: Group,
	round: u64,
	wire: Wire,
	data: Vec<f32>,
	reply: oneshot::Sender<Result<Vec<f32>, AllReduceError>>,
}

/// Handle to the AllReduce actor.
#[derive(Clone)]
pub struct Collective {
	tx: mpsc::Sender<Job>,
	sent: Arc<AtomicU64>,
}

impl Collective {
	/// Starts the actor on the AllReduce events of `net` ([`crate::p2p::Inbound::allreduce`]).
	pub fn start(
		net: Net,
		events: mpsc::Receiver<AllReduceEvent>,
		config: CollectiveConfig,
	) -> Self {
		let (tx, rx) = mpsc::channel(4);
		let sent = Arc::new(AtomicU64::new(0));
		tokio::spawn(Actor::new(net, events, rx, config, sent.clone()).run());
		Collective { tx, sent }
	}

	/// Payload bytes of the chunks this member sent and its successors acknowledged, all rounds.
	pub fn bytes_sent(&self) -> u64 {
		self.sent.load(Ordering::Relaxed)
	}

	/// Sums `data` element-wise across `group` (identical on every member) in round `round`,
	/// exactly (f32 on the wire).
	pub async fn all_reduce(
		&self,
		group: &Group,
		round: u64,
		data: Vec<f32>,
	) -> Result<Vec<f32>, AllReduceError> {
		self.all_reduce_on(group, round, data, Wire::F32).await
	}

	/// [`Self::all_reduce`] with the values in `wire`'s format on the wire (every member of the
	/// round must use the same; a chunk of the other size is refused). With [`Wire::Bf16`] the
	/// result is the f32 sum of bfloat16-rounded partial sums, rounded to bfloat16: still the same
	/// bits on every member.
	pub async fn all_reduce_on(
		&self,
		group: &Group,
		round: u64,
		data: Vec<f32>,
		wire: Wire,
	) -> Result<Vec<f32>, AllReduceError> {
		let (reply, rx) = oneshot::channel();
		self.tx
			.send(Job { group: group.clone(), round, wire, data, reply })
			.await
			.map_err(|_| AllReduceError::Stopped)?;
		rx.await.map_err(|_| AllReduceError::Stopped)?
	}

	/// [`Self::all_reduce_on`] from a thread outside the async runtime (the training loop).
	pub fn all_reduce_blocking(
		&self,
		group: &Group,
		round: u64,
		data: Vec<f32>,
		wire: Wire,
	) -> Result<Vec<f32>, AllReduceError> {
		// The channels are runtime-agnostic, so a plain executor can wait on them here.
		futures::executor::block_on(self.all_reduce_on(group, round, data, wire))
	}
}

/// Segment `j` of `n` over `len` values: `[start, end)`.
fn segment(len: usize, n: usize, j: usize) -> (usize, usize) {
	let base = len / n;
	let extra = len % n;
	let start = j * base + j.min(extra);
	(start, start + base + usize::from(j < extra))
}

struct Round {
	group: Group,
	round: u64,
	wire: Wire,
	rank: usize,
	data: Vec<f32>,
	chunk_len: usize,
	/// (step, chunk) pairs received and applied.
	received: HashSet<(u32, u32)>,
	expected_receives: usize,
	/// Sends not yet started (step, chunk).
	queue: VecDeque<(u32, u32)>,
	in_flight: usize,
	sends_left: usize,
	last_progress: Instant,
	reply: oneshot::Sender<Result<Vec<f32>, AllReduceError>>,
}

impl Round {
	fn n(&self) -> usize {
		self.group.members.len()
	}
	fn steps(&self) -> u32 {
		2 * (self.n() as u32 - 1)
	}
	/// The segment member `rank` receives at `step`.
	fn recv_segment(&self, rank: usize, step: u32) -> usize {
		let n = self.n();
		let s = step as usize;
		if s < n - 1 {
			(rank + n - (s + 1) % n) % n
		} else {
			(rank + n - (s - (n - 1)) % n) % n
		}
	}
	/// The segment this member sends at `step` (what its successor receives).
	fn send_segment(&self, step: u32) -> usize {
		self.recv_segment((self.rank + 1) % self.n(), step)
	}
	fn chunks_in(&self, seg: usize) -> usize {
		let (a, b) = segment(self.data.len(), self.n(), seg);
		(b - a).div_ceil(self.chunk_len)
	}
	fn region(&self, seg: usize, chunk: usize) -> (usize, usize) {
		let (a, b) = segment(self.data.len(), self.n(), seg);
		let start = a + chunk * self.chunk_len;
		(start, (start + self.chunk_len).min(b))
	}
	fn predecessor(&self) -> PeerId {
		self.group.members[(self.rank + self.n() - 1) % self.n()]
	}
	fn successor(&self) -> PeerId {
		self.group.members[(self.rank + 1) % self.n()]
	}
	fn done(&self) -> bool {
		self.received.len() == self.expected_receives && self.sends_left == 0
	}

	/// Checks and applies a chunk; on success queues its forwarding.
	fn apply(&mut self, peer: PeerId, c: &Chunk) -> Result<(), String> {
		if peer != self.predecessor() {
			return Err(format!("{peer} is not this member's ring predecessor"));
		}
		if c.step >= self.steps() {
			return Err(format!("step {} out of range (ring has {} steps)", c.step, self.steps()));
		}
		let seg = self.recv_segment(self.rank, c.step);
		if c.chunk as usize >= self.chunks_in(seg) {
			return Err(format!("chunk {} out of range for step {}", c.chunk, c.step));
		}
		let (a, b) = self.region(seg, c.chunk as usize);
		let expected = (b - a) * self.wire.value_bytes();
		if c.payload.len() != expected {
			return Err(format!(
				"chunk {} of step {} has {} bytes, expected {expected}",
				c.chunk,
				c.step,
				c.payload.len(),
			));
		}
		if !self.received.insert((c.step, c.chunk)) {
			return Err(format!("chunk {} of step {} received twice", c.chunk, c.step));
		}
		let reduce = c.step < self.n() as u32 - 1;
		let completes = c.step + 2 == self.n() as u32;
		let dst = &mut self.data[a..b];
		if self.wire == Wire::Bf16 {
			let values =
				c.payload.chunks_exact(2).map(|b| from_bf16(u16::from_le_bytes([b[0], b[1]])));
			if reduce {
				dst.iter_mut().zip(values).for_each(|(x, v)| *x += v);
				if completes {
					// This member completed the segment's sum: it keeps what it sends round.
					dst.iter_mut().for_each(|x| *x = from_bf16(to_bf16(*x)));
				}
			} else {
				dst.iter_mut().zip(values).for_each(|(x, v)| *x = v);
			}
		} else {
			match bytemuck::try_cast_slice::<u8, f32>(&c.payload) {
				// The wire is little-endian f32, as this machine is (checked at compile time).
				Ok(values) if reduce => dst.iter_mut().zip(values).for_each(|(x, v)| *x += v),
				Ok(values) => dst.copy_from_slice(values),
				Err(_) => {
					let values = c
						.payload
						.chunks_exact(4)
						.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
					if reduce {
						dst.iter_mut().zip(values).for_each(|(x, v)| *x += v);
					} else {
						dst.iter_mut().zip(values).for_each(|(x, v)| *x = v);
					}
				}
			}
		}
		if c.step + 1 < self.steps() {
			self.queue.push_back((c.step + 1, c.chunk));
		}
		self.last_progress = Instant::now();
		Ok(())
	}

	fn payload(&self, step: u32, chunk: u32) -> Vec<u8> {
		let (a, b) = self.region(self.send_segment(step), chunk as usize);
		let values = &self.data[a..b];
		// Room for the bulk lane's trailer and tag: the chunk is sealed where it is.
		let mut payload =
			Vec::with_capacity(values.len() * self.wire.value_bytes() + crate::p2p::bulk::SPARE);
		match self.wire {
			Wire::F32 => payload.extend_from_slice(bytemuck::cast_slice::<f32, u8>(values)),
			Wire::Bf16 => {
				values.iter().for_each(|x| payload.extend_from_slice(&to_bf16(*x).to_le_bytes()))
			}
		}
		payload
	}
}

/// A finished send: (generation, round, payload bytes, answer).
type SendResult = (u64, u64, usize, Result<ChunkAnswer, NetError>);

/// Most chunks kept for the next round while the current one runs or before it starts (a fast
/// predecessor may be a round ahead); beyond this a peer is refused, so it cannot grow memory.
const MAX_EARLY: usize = 65_536;

struct Actor {
	net: Net,
	events: mpsc::Receiver<AllReduceEvent>,
	jobs: mpsc::Receiver<Job>,
	config: CollectiveConfig,
	current: Option<Round>,
	sends: FuturesUnordered<BoxFuture<'static, SendResult>>,
	/// Chunks that arrived for the next round before it started (at most [`MAX_EARLY`]).
	early: Vec<(PeerId, Chunk, ChunkReply)>,
	/// The last round that started: (generation, round).
	last: Option<(u64, u64)>,
	/// Peers that disconnected and have not been seen since.
	gone: HashSet<PeerId>,
	/// Payload bytes sent and acknowledged ([`Collective::bytes_sent`]).
	sent: Arc<AtomicU64>,
}

impl Actor {
	fn new(
		net: Net,
		events: mpsc::Receiver<AllReduceEvent>,
		jobs: mpsc::Receiver<Job>,
		config: CollectiveConfig,
		sent: Arc<AtomicU64>,
	) -> Self {
		Actor {
			net,
			events,
			jobs,
			config,
			current: None,
			sends: FuturesUnordered::new(),
			early: Vec::new(),
			last: None,
			gone: HashSet::new(),
			sent,
		}
	}

	async fn run(mut self) {
		let mut tick = tokio::time::interval(Duration::from_millis(100));
		loop {
			tokio::select! {
				job = self.jobs.recv(), if self.current.is_none() => match job {
					None => break,
					Some(job) => self.start(job).await,
				},
				event = self.events.recv() => match event {
					None => break,
					Some(AllReduceEvent::Chunk { peer, chunk, reply }) => self.on_chunk(peer, chunk, reply).await,
					Some(AllReduceEvent::PeerConnected(peer)) => {
						self.gone.remove(&peer);
					},
					Some(AllReduceEvent::PeerGone(peer)) => {
						self.gone.insert(peer);
						if self.current.as_ref().is_some_and(|r| r.group.members.contains(&peer)) {
							self.fail(AllReduceError::PeerLost(peer));
						}
					},
				},
				Some(done) = self.sends.next() => self.on_sent(done).await,
				_ = tick.tick() => {
					if let Some(r) = &self.current {
						if r.last_progress.elapsed() > self.config.stall_timeout {
							let waiting = if r.received.len() < r.expected_receives { r.predecessor() } else { r.successor() };
							self.fail(AllReduceError::Stalled(self.config.stall_timeout, waiting));
						}
					}
				},
			}
		}
	}

	async fn start(&mut self, job: Job) {
		let Some(rank) = job.group.rank(&self.net.peer_id) else {
			let _ = job.reply.send(Err(AllReduceError::NotMember));
			return;
		};
		let n = job.group.members.len();
		if n == 1 {
			let _ = job.reply.send(Ok(job.data));
			return;
		}
		if let Some(peer) = job.group.members.iter().find(|p| self.gone.contains(p)) {
			// A member already known to be gone: fail at once instead of waiting for the stall timeout.
			let _ = job.reply.send(Err(AllReduceError::PeerLost(*peer)));
			self.gone.remove(&peer.clone());
			return;
		}
		self.last = Some((job.group.generation, job.round));
		let chunk_len = (self.config.chunk_bytes / 4).max(1);
		let mut r = Round {
			group: job.group,
			round: job.round,
			wire: job.wire,
			rank,
			data: job.data,
			chunk_len,
			received: HashSet::new(),
			expected_receives: 0,
			queue: VecDeque::new(),
			in_flight: 0,
			sends_left: 0,
			last_progress: Instant::now(),
			reply: job.reply,
		};
		for step in 0..r.steps() {
			r.expected_receives += r.chunks_in(r.recv_segment(rank, step));
			r.sends_left += r.chunks_in(r.send_segment(step));
		}
		for c in 0..r.chunks_in(r.send_segment(0)) {
			r.queue.push_back((0, c as u32));
		}
		self.current = Some(r);
		// Chunks that came early for this round are applied now; the rest are stale.
		for (peer, chunk, reply) in std::mem::take(&mut self.early) {
			self.on_chunk(peer, chunk, reply).await;
		}
		self.pump().await;
		self.finish_if_done();
	}

	async fn on_chunk(&mut self, peer: PeerId, chunk: Chunk, reply: ChunkReply) {
		// A peer that sends is connected, whatever an earlier disconnection said.
		self.gone.remove(&peer);
		let Some(r) = self.current.as_mut() else {
			// Between rounds: keep chunks of the next round (a faster predecessor), refuse others.
			if self.is_next(&chunk) && self.early.len() < MAX_EARLY {
				self.early.push((peer, chunk, reply));
			} else {
				match self.last {
					Some((generation, _)) if chunk.generation < generation => {
						reply.respond(ChunkAnswer::Ahead(generation))
					}
					_ => reply.respond(ChunkAnswer::Refused(format!(
						"no round in progress for generation {} round {}",
						chunk.generation, chunk.round
					))),
				}
			}
			return;
		};
		if chunk.generation < r.group.generation {
			// The sender is behind: it re-forms at this generation; this round goes on.
			reply.respond(ChunkAnswer::Ahead(r.group.generation));
			return;
		}
		if chunk.generation > r.group.generation && r.group.members.contains(&peer) {
			// This member is behind: the chunk waits for the round it belongs to.
			if self.early.len() < MAX_EARLY {
				let generation = chunk.generation;
				self.early.push((peer, chunk, reply));
				self.fail(AllReduceError::Behind { peer, generation });
			} else {
				reply.respond(ChunkAnswer::Refused(format!("more than {MAX_EARLY} chunks kept")));
			}
			return;
		}
		if (chunk.generation, chunk.round) != (r.group.generation, r.round) {
			if chunk.generation == r.group.generation && chunk.round == r.round + 1 {
				if self.early.len() < MAX_EARLY {
					self.early.push((peer, chunk, reply));
				} else {
					reply.respond(ChunkAnswer::Refused(format!(
						"more than {MAX_EARLY} chunks ahead of round {}",
						r.round
					)));
				}
				return;
			}
			let reason = format!(
				"chunk for generation {} round {} while round {} of generation {} is in progress",
				chunk.generation, chunk.round, r.round, r.group.generation
			);
			reply.respond(ChunkAnswer::Refused(reason.clone()));
			if r.group.members.contains(&peer) {
				self.fail(AllReduceError::BadChunk { peer, reason });
			}
			return;
		}
		match r.apply(peer, &chunk) {
			Ok(()) => {
				reply.respond(ChunkAnswer::Ack);
				self.pump().await;
				self.finish_if_done();
			}
			Err(reason) => {
				reply.respond(ChunkAnswer::Refused(reason.clone()));
				self.fail(AllReduceError::BadChunk { peer, reason });
			}
		}
	}

	fn is_next(&self, chunk: &Chunk) -> bool {
		match self.last {
			None => true,
			Some((generation, round)) => {
				(chunk.generation == generation && chunk.round == round + 1)
					|| chunk.generation > generation
			}
		}
	}

	/// Starts queued sends up to the window.
	async fn pump(&mut self) {
		let Some(r) = self.current.as_mut() else { return };
		while r.in_flight < self.config.window {
			let Some((step, chunk)) = r.queue.pop_front() else { break };
			let request = Chunk {
				generation: r.group.generation,
				round: r.round,
				step,
				chunk,
				payload: r.payload(step, chunk),
			};
			r.in_flight += 1;
			let bytes = request.payload.len();
			let rx = self.net.send_chunk(r.successor(), request).await;
			let (generation, round) = (r.group.generation, r.round);
			self.sends.push(
				async move {
					(generation, round, bytes, rx.await.unwrap_or(Err(NetError::Stopped)))
				}
				.boxed(),
			);
		}
	}

	async fn on_sent(&mut self, (generation, round, bytes, result): SendResult) {
		let Some(r) = self.current.as_mut() else { return };
		if (generation, round) != (r.group.generation, r.round) {
			return; // a send of an aborted round
		}
		r.in_flight -= 1;
		match result {
			Ok(ChunkAnswer::Ack) => {
				self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
				r.sends_left -= 1;
				r.last_progress = Instant::now();
				self.pump().await;
				self.finish_if_done();
			}
			Ok(ChunkAnswer::Refused(reason)) => {
				let peer = r.successor();
				self.fail(AllReduceError::Refused { peer, reason });
			}
			Ok(ChunkAnswer::Ahead(generation)) if generation > r.group.generation => {
				let peer = r.successor();
				self.fail(AllReduceError::Behind { peer, generation });
			}
			Ok(ChunkAnswer::Ahead(generation)) => {
				let (peer, reason) = (r.successor(), format!("ahead at generation {generation}"));
				self.fail(AllReduceError::Refused { peer, reason });
			}
			Err(e) => self.fail(AllReduceError::Send(e)),
		}
	}

	fn finish_if_done(&mut self) {
		if self.current.as_ref().is_some_and(Round::done) {
			if let Some(r) = self.current.take() {
				let _ = r.reply.send(Ok(r.data));
			}
		}
	}

	fn fail(&mut self, error: AllReduceError) {
		let mut failed = None;
		if let Some(r) = self.current.take() {
			tracing::warn!(
				generation = r.group.generation,
				round = r.round,
				"AllReduce round aborted: {error}"
			);
			failed = Some(r.group.generation);
			let _ = r.reply.send(Err(error));
		}
		// Chunks of a newer generation wait for the re-formed group; the rest are refused.
		let (keep, refuse): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early)
			.into_iter()
			.partition(|(_, chunk, _)| failed.is_some_and(|g| chunk.generation > g));
		self.early = keep;
		for (_, chunk, reply) in refuse {
			reply.respond(ChunkAnswer::Refused(format!("round {} aborted", chunk.round)));
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_ring_follows_the_given_order_and_sorts_the_rest_by_peer_id() {
		let peers: Vec<PeerId> = (0..4)
			.map(|i| crate::p2p::key_from_seed(&format!("ring-{i}")).public().to_peer_id())
			.collect();
		let given = [peers[2], peers[0]];
		let g = Group::in_order(1, vec![peers[0], peers[1], peers[2], peers[3], peers[0]], &given);
		assert_eq!(g.members[..2], given, "the given order first, each member once");
		let mut rest = [peers[1], peers[3]];
		rest.sort_by_key(|p| p.to_bytes());
		assert_eq!(g.members[2..], rest[..]);
		assert_eq!(Group::new(1, peers.clone()), Group::in_order(1, peers.clone(), &[]));
		assert_ne!(Group::in_order(1, peers.clone(), &[peers[3]]).members[0], g.members[0]);
	}

	#[test]
	fn segments_cover_the_vector_once() {
		for len in [0usize, 1, 2, 3, 7, 100, 1001] {
			for n in 1..6 {
				let mut next = 0;
				for j in 0..n {
					let (a, b) = segment(len, n, j);
					assert_eq!(a, next);
					next = b;
				}
				assert_eq!(next, len);
			}
		}
	}
}
