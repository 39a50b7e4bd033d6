//! The worker's libp2p node, in the shape of rust-libp2p's file-sharing example: [`new`] builds
//! the swarm (TCP + Noise + yamux) and returns a [`Net`] handle, the [`Inbound`] receivers, and
//! the [`EventLoop`] the caller spawns. One request-response protocol per subsystem, composed as
//! one [`Behaviour`]:
//!
//! | protocol | module | who answers inbound requests |
//! |---|---|---|
//! | `/verity/allreduce/1` | [`allreduce`] | [`crate::collective`] (from [`Inbound::allreduce`]) |
//! | `/verity/bulk/1` | [`bulk`] | the event loop (keeps the offered session, answers the port) |
//! | `/verity/blob/1` | [`blob`] | [`crate::store::remote::serve`] (from [`Inbound::blobs`]) |
//! | `/verity/group/1` | [`group`] | [`crate::group::Membership`] (from [`Inbound::group`]) |
//! | `/verity/probe/1` | [`probe`] | the event loop (an acknowledgement) |
//!
//! AllReduce chunks go on the [`bulk`] lane, a TCP connection per ring neighbour set up over
//! `/verity/bulk/1` and sealed with AES-256-GCM, and over `/verity/allreduce/1` to a peer without
//! one. Every channel is bounded. The event loop answers nothing from shared state: an inbound
//! request whose owner's queue is full (or gone) is refused at once, so a slow subsystem shows up
//! as refusals at its peers, never as memory.

pub mod allreduce;
pub mod blob;
pub mod bulk;
mod codec;
pub mod group;
pub mod probe;

use allreduce::{Chunk, ChunkAnswer};
use blob::BlobAnswer;
pub use bulk::ChunkReply;
use bulk::{Offer, OfferAnswer};
use futures::StreamExt;
use group::{GroupStatus, StatusQuery};
use libp2p::{
	identity::Keypair,
	multiaddr::Protocol,
	noise,
	request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel},
	swarm::{NetworkBehaviour, SwarmEvent},
	tcp, yamux, Multiaddr, PeerId, Swarm,
};
use sha2::{Digest, Sha256};
use std::{
	collections::{HashMap, HashSet},
	net::{IpAddr, Ipv4Addr, SocketAddr},
	sync::Arc,
	time::Duration,
};
use tokio::{
	net::{TcpListener, TcpStream},
	sync::{mpsc, oneshot},
};
use verity_primitives::cid::Cid;

/// Why a network operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
	/// A request to a peer failed.
	#[error("request to {peer} failed: {reason}")]
	Request {
		/// The peer.
		peer: PeerId,
		/// What libp2p reported.
		reason: String,
	},
	/// Dialling a peer failed.
	#[error("dialling {peer} failed: {reason}")]
	Dial {
		/// The peer.
		peer: PeerId,
		/// What libp2p reported.
		reason: String,
	},
	/// Building the swarm or listening failed.
	#[error("libp2p: {0}")]
	Transport(String),
	/// An address without a `/p2p/<peer id>` at its end.
	#[error("peer address {0} does not end in /p2p/<peer id>")]
	NoPeerId(Multiaddr),
	/// The event loop is gone.
	#[error("the network stopped")]
	Stopped,
}

/// Capacity of each inbound queue: requests beyond it are refused.
const INBOUND_QUEUE: usize = 4096;
/// Capacity of the command queue.
const COMMAND_QUEUE: usize = 1024;
/// Most requests kept per peer while it is being dialled; more fail at once.
const MAX_WAITING: usize = 4096;

/// The protocols, composed.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
	allreduce: request_response::Behaviour<allreduce::Codec>,
	bulk: request_response::Behaviour<bulk::Codec>,
	blob: request_response::Behaviour<blob::Codec>,
	group: request_response::Behaviour<group::Codec>,
	probe: request_response::Behaviour<probe::Codec>,
}

/// Answers one inbound request of a protocol whose answer is `T`.
#[derive(Debug)]
pub struct Responder<T> {
	channel: ResponseChannel<T>,
	answers: mpsc::Sender<Answer>,
}

/// An answer on its way to the swarm.
#[derive(Debug)]
enum Answer {
	Chunk(ResponseChannel<ChunkAnswer>, ChunkAnswer),
	Blob(ResponseChannel<BlobAnswer>, BlobAnswer),
	Status(ResponseChannel<GroupStatus>, GroupStatus),
}

macro_rules! responder {
	($t:ty, $variant:ident) => {
		impl Responder<$t> {
			/// Sends the answer (dropped if the connection is gone).
			pub fn respond(self, answer: $t) {
				// At most one answer per inbound request, and inbound requests are bounded by
				// the inbound queues; a full answer queue drops it and the peer's request fails.
				if let Err(e) = self.answers.try_send(Answer::$variant(self.channel, answer)) {
					tracing::warn!("answer dropped: {e}");
				}
			}
		}
	};
}
responder!(ChunkAnswer, Chunk);
responder!(BlobAnswer, Blob);
responder!(GroupStatus, Status);

/// What the network delivers to the AllReduce.
#[derive(Debug)]
pub enum AllReduceEvent {
	/// A peer sent a chunk; answer through `reply`.
	Chunk {
		/// Who sent it (authenticated by Noise).
		peer: PeerId,
		/// The chunk.
		chunk: Chunk,
		/// Where the answer goes.
		reply: ChunkReply,
	},
	/// The last connection to a peer closed.
	PeerGone(PeerId),
	/// A connection to a peer was established (a peer that was gone is back).
	PeerConnected(PeerId),
}

/// An inbound blob request.
#[derive(Debug)]
pub struct BlobRequest {
	/// Who asks.
	pub peer: PeerId,
	/// For what.
	pub cid: Cid,
	/// Where the answer goes.
	pub reply: Responder<BlobAnswer>,
}

/// An inbound status request.
#[derive(Debug)]
pub struct StatusRequest {
	/// Who asks.
	pub peer: PeerId,
	/// Where the answer goes.
	pub reply: Responder<GroupStatus>,
}

/// The inbound side of each protocol, to be handed to its owner. Dropping a receiver makes the
/// event loop refuse that protocol's requests.
pub struct Inbound {
	/// AllReduce chunks and lost peers, for [`crate::collective::Collective`].
	pub allreduce: mpsc::Receiver<AllReduceEvent>,
	/// Blob requests, for [`crate::store::remote::serve`].
	pub blobs: mpsc::Receiver<BlobRequest>,
	/// Status requests, for [`crate::group::Membership`].
	pub group: mpsc::Receiver<StatusRequest>,
}

type Reply<T> = oneshot::Sender<Result<T, NetError>>;

/// A request to send, with where its answer goes.
enum Outbound {
	Chunk(Chunk, Reply<ChunkAnswer>),
	Offer(Offer, Reply<OfferAnswer>),
	Blob(Cid, Reply<BlobAnswer>),
	Status(Reply<GroupStatus>),
	Probe(Vec<u8>, Reply<()>),
}

impl Outbound {
	fn fail(self, error: NetError) {
		match self {
			Outbound::Chunk(_, r) => drop(r.send(Err(error))),
			Outbound::Offer(_, r) => drop(r.send(Err(error))),
			Outbound::Blob(_, r) => drop(r.send(Err(error))),
			Outbound::Status(r) => drop(r.send(Err(error))),
			Outbound::Probe(_, r) => drop(r.send(Err(error))),
		}
	}
}

enum Command {
	Send(PeerId, Outbound),
	Dial(PeerId, Multiaddr, Option<oneshot::Sender<Result<(), NetError>>>),
	Connected(oneshot::Sender<Vec<PeerId>>),
	/// The bulk lane to a peer could not be set up: its chunks go over libp2p until it reconnects.
	BulkOff(PeerId),
	/// The peers in `bulk_out` ([`Net::bulk_peers`]).
	BulkPeers(oneshot::Sender<Vec<PeerId>>),
}

/// Handle to the network's event loop. Cheap to clone.
#[derive(Clone)]
pub struct Net {
	commands: mpsc::Sender<Command>,
	/// This worker's peer id.
	pub peer_id: PeerId,
	/// The address this worker listens on (with its `/p2p/` id).
	pub addr: Multiaddr,
}

/// Network settings.
pub struct NetConfig {
	/// The node's identity.
	pub key: Keypair,
	/// Where to listen, e.g. `/ip4/127.0.0.1/tcp/0`.
	pub listen: Multiaddr,
	/// How long a request may take before it fails.
	pub request_timeout: Duration,
	/// Whether AllReduce chunks use the [`bulk`] lane, a TCP listener of its own on the libp2p
	/// listener's IP at this port (0: one the system chooses; a fixed one for a firewall or a
	/// NAT's port forwarding). `None`: chunks go over `/verity/allreduce/1`, and peers' offers are
	/// refused.
	pub bulk: Option<u16>,
}

/// An ed25519 identity derived from a seed string (sha2-256 of the seed is the secret key), so
/// tests and scripts know every worker's peer id in advance.
pub fn key_from_seed(seed: &str) -> Keypair {
	let secret: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
	Keypair::ed25519_from_bytes(secret).expect("any 32 bytes are an ed25519 secret key")
}

/// The IP an address names, if it names one.
fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
	addr.iter().find_map(|p| match p {
		Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
		Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
		_ => None,
	})
}

/// Splits `/ip4/…/tcp/…/p2p/<id>` into the peer id and the address.
pub fn split_peer_addr(addr: &Multiaddr) -> Result<(PeerId, Multiaddr), NetError> {
	let mut rest = addr.clone();
	match rest.pop() {
		Some(Protocol::P2p(peer)) => Ok((peer, rest)),
		_ => Err(NetError::NoPeerId(addr.clone())),
	}
}

/// Builds the swarm and starts listening; returns the handle, the inbound receivers and the
/// event loop, which does nothing until the caller runs it (`tokio::spawn(event_loop.run())`).
pub async fn new(config: NetConfig) -> Result<(Net, Inbound, EventLoop), NetError> {
	let peer_id = config.key.public().to_peer_id();
	let rr = request_response::Config::default()
		.with_request_timeout(config.request_timeout)
		.with_max_concurrent_streams(1024);
	let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.key)
		.with_tokio()
		.with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
		.map_err(|e| NetError::Transport(e.to_string()))?
		.with_behaviour(|_| Behaviour {
			allreduce: request_response::Behaviour::new(
				[(allreduce::PROTOCOL, ProtocolSupport::Full)],
				rr.clone(),
			),
			bulk: request_response::Behaviour::new(
				[(bulk::PROTOCOL, ProtocolSupport::Full)],
				rr.clone(),
			),
			blob: request_response::Behaviour::new(
				[(blob::PROTOCOL, ProtocolSupport::Full)],
				rr.clone(),
			),
			group: request_response::Behaviour::new(
				[(group::PROTOCOL, ProtocolSupport::Full)],
				rr.clone(),
			),
			probe: request_response::Behaviour::new(
				[(probe::PROTOCOL, ProtocolSupport::Full)],
				rr.clone(),
			),
		})
		.map_err(|e| NetError::Transport(e.to_string()))?
		.with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
		.build();
	let bulk = match config.bulk {
		Some(port) => {
			// The libp2p listener's IP (any interface when it names none).
			let ip = ip_of(&config.listen).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
			Some(bulk::Receiver::bind(ip, port).await?)
		}
		None => None,
	};
	swarm.listen_on(config.listen).map_err(|e| NetError::Transport(e.to_string()))?;
	// Wait for the listener to report its address (port 0 gets a real port).
	let addr = loop {
		if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
			break address.with(Protocol::P2p(peer_id));
		}
	};
	let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
	let (allreduce_tx, allreduce_rx) = mpsc::channel(INBOUND_QUEUE);
	let (blobs_tx, blobs_rx) = mpsc::channel(INBOUND_QUEUE);
	let (group_tx, group_rx) = mpsc::channel(INBOUND_QUEUE);
	let answers = mpsc::channel(INBOUND_QUEUE);
	let (bulk_in, bulk_listener) = bulk.unzip();
	let event_loop = EventLoop {
		swarm,
		weak_commands: commands_tx.downgrade(),
		commands,
		bulk_in,
		bulk_listener,
		bulk_out: HashMap::new(),
		bulk_off: HashSet::new(),
		remote_ip: HashMap::new(),
		allreduce: allreduce_tx,
		blobs: blobs_tx,
		group: group_tx,
		answers,
		pending: Pending::default(),
		addrs: HashMap::new(),
		dialing: HashMap::new(),
		waiting: HashMap::new(),
	};
	let inbound = Inbound { allreduce: allreduce_rx, blobs: blobs_rx, group: group_rx };
	Ok((Net { commands: commands_tx, peer_id, addr }, inbound, event_loop))
}

impl Net {
	async fn send<T>(
		&self,
		peer: PeerId,
		make: impl FnOnce(Reply<T>) -> Outbound,
	) -> oneshot::Receiver<Result<T, NetError>> {
		let (reply, rx) = oneshot::channel();
		let _ = self.commands.send(Command::Send(peer, make(reply))).await;
		rx
	}

	/// Sends an AllReduce chunk; the answer arrives on the returned receiver (pipelining).
	pub async fn send_chunk(
		&self,
		peer: PeerId,
		chunk: Chunk,
	) -> oneshot::Receiver<Result<ChunkAnswer, NetError>> {
		self.send(peer, |r| Outbound::Chunk(chunk, r)).await
	}

	/// Asks `peer` for the blob `cid` (the bytes are not checked here: see
	/// [`crate::store::remote::fetch`]).
	pub async fn get_blob(&self, peer: PeerId, cid: Cid) -> Result<BlobAnswer, NetError> {
		self.send(peer, |r| Outbound::Blob(cid, r)).await.await.map_err(|_| NetError::Stopped)?
	}

	/// Asks `peer` for its training status.
	pub async fn status(&self, peer: PeerId) -> Result<GroupStatus, NetError> {
		self.send(peer, Outbound::Status).await.await.map_err(|_| NetError::Stopped)?
	}

	/// Sends probe bytes; the acknowledgement arrives on the returned receiver.
	pub async fn probe(
		&self,
		peer: PeerId,
		bytes: Vec<u8>,
	) -> oneshot::Receiver<Result<(), NetError>> {
		self.send(peer, |r| Outbound::Probe(bytes, r)).await
	}

	/// Remembers `addr` for `peer` and connects; resolves once connected (or failed). Requests to
	/// the peer made meanwhile wait for the connection.
	pub async fn dial(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetError> {
		let (tx, rx) = oneshot::channel();
		let dial = Command::Dial(peer, addr, Some(tx));
		self.commands.send(dial).await.map_err(|_| NetError::Stopped)?;
		rx.await.map_err(|_| NetError::Stopped)?
	}

	/// Remembers `addr` for `peer` and starts connecting, without waiting: a request to the peer
	/// made after this returns waits for the connection (or fails with the dial).
	pub async fn add_peer(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetError> {
		self.commands.send(Command::Dial(peer, addr, None)).await.map_err(|_| NetError::Stopped)
	}

	/// Peers this worker's chunks go to on the bulk lane (set up, or being set up).
	pub async fn bulk_peers(&self) -> Vec<PeerId> {
		let (tx, rx) = oneshot::channel();
		if self.commands.send(Command::BulkPeers(tx)).await.is_err() {
			return Vec::new();
		}
		rx.await.unwrap_or_default()
	}

	/// Peers with an open connection.
	pub async fn connected(&self) -> Vec<PeerId> {
		let (tx, rx) = oneshot::channel();
		if self.commands.send(Command::Connected(tx)).await.is_err() {
			return Vec::new();
		}
		rx.await.unwrap_or_default()
	}
}

/// Outbound requests waiting for their answers, one map per protocol (request ids are per
/// behaviour).
#[derive(Default)]
struct Pending {
	chunks: HashMap<OutboundRequestId, Reply<ChunkAnswer>>,
	offers: HashMap<OutboundRequestId, Reply<OfferAnswer>>,
	blobs: HashMap<OutboundRequestId, Reply<BlobAnswer>>,
	status: HashMap<OutboundRequestId, Reply<GroupStatus>>,
	probes: HashMap<OutboundRequestId, Reply<()>>,
}

/// The loop that owns the swarm; run it with `tokio::spawn(event_loop.run())`. It ends when every
/// [`Net`] handle is dropped.
pub struct EventLoop {
	swarm: Swarm<Behaviour>,
	commands: mpsc::Receiver<Command>,
	/// For the bulk lane's set-up tasks (weak: the loop still ends when every [`Net`] is dropped).
	weak_commands: mpsc::WeakSender<Command>,
	/// The bulk lane's receiving side and listener (`None`: no bulk lane).
	bulk_in: Option<Arc<bulk::Receiver>>,
	bulk_listener: Option<TcpListener>,
	/// Each peer's bulk connection's queue (its task sets it up, then writes to it).
	bulk_out: HashMap<PeerId, mpsc::Sender<bulk::Queued>>,
	/// Peers whose bulk lane could not be set up since they last connected.
	bulk_off: HashSet<PeerId>,
	/// The IP each connected peer is reached at (where its bulk listener is).
	remote_ip: HashMap<PeerId, IpAddr>,
	allreduce: mpsc::Sender<AllReduceEvent>,
	blobs: mpsc::Sender<BlobRequest>,
	group: mpsc::Sender<StatusRequest>,
	answers: (mpsc::Sender<Answer>, mpsc::Receiver<Answer>),
	pending: Pending,
	/// Addresses given with [`Net::dial`].
	addrs: HashMap<PeerId, Multiaddr>,
	/// Dials in progress, with who waits for them.
	dialing: HashMap<PeerId, Vec<oneshot::Sender<Result<(), NetError>>>>,
	/// Requests waiting for a dial to finish (at most [`MAX_WAITING`] per peer).
	waiting: HashMap<PeerId, Vec<Outbound>>,
}

impl EventLoop {
	/// Runs until every [`Net`] handle is dropped.
	pub async fn run(mut self) {
		loop {
			tokio::select! {
				command = self.commands.recv() => match command {
					None => break,
					Some(command) => self.on_command(command),
				},
				Some(answer) = self.answers.1.recv() => self.on_answer(answer),
				event = self.swarm.select_next_some() => self.on_swarm(event),
				accepted = accept(self.bulk_listener.as_ref()) => match (accepted, &self.bulk_in) {
					(Ok((stream, _)), Some(bulk)) => {
						tokio::spawn(bulk.clone().serve(stream, self.allreduce.clone()));
					}
					(Err(e), _) => tracing::warn!("bulk listener: {e}"),
					_ => {}
				},
			}
		}
	}

	/// Sends an answer; one whose connection has closed meanwhile is dropped (the peer's request
	/// fails on its side).
	fn on_answer(&mut self, answer: Answer) {
		let b = self.swarm.behaviour_mut();
		let sent = match answer {
			Answer::Chunk(channel, a) => b.allreduce.send_response(channel, a).is_ok(),
			Answer::Blob(channel, a) => b.blob.send_response(channel, a).is_ok(),
			Answer::Status(channel, a) => b.group.send_response(channel, a).is_ok(),
		};
		if !sent {
			tracing::debug!("answer dropped: the connection closed");
		}
	}

	fn on_command(&mut self, command: Command) {
		match command {
			Command::Send(peer, outbound) => {
				if self.swarm.is_connected(&peer) || !self.addrs.contains_key(&peer) {
					self.send_now(peer, outbound);
				} else {
					// Not connected: dial the known address and send once connected (a second,
					// concurrent dial by request-response would be refused and fail the request).
					let waiting = self.waiting.entry(peer).or_default();
					if waiting.len() >= MAX_WAITING {
						let reason = format!("{MAX_WAITING} requests already wait for the dial");
						outbound.fail(NetError::Request { peer, reason });
					} else {
						waiting.push(outbound);
						self.dial(peer, None);
					}
				}
			}
			Command::Dial(peer, addr, done) => {
				self.addrs.insert(peer, addr);
				self.dial(peer, done);
			}
			Command::Connected(tx) => {
				let _ = tx.send(self.swarm.connected_peers().copied().collect());
			}
			Command::BulkPeers(tx) => {
				let _ = tx.send(self.bulk_out.keys().copied().collect());
			}
			Command::BulkOff(peer) => {
				self.bulk_off.insert(peer);
				self.bulk_out.remove(&peer);
			}
		}
	}

	fn send_now(&mut self, peer: PeerId, outbound: Outbound) {
		let outbound = match outbound {
			Outbound::Chunk(chunk, reply) => match self.send_bulk(peer, chunk, reply) {
				None => return,
				Some((chunk, reply)) => Outbound::Chunk(chunk, reply),
			},
			other => other,
		};
		let b = self.swarm.behaviour_mut();
		match outbound {
			Outbound::Chunk(chunk, reply) => {
				self.pending.chunks.insert(b.allreduce.send_request(&peer, chunk), reply);
			}
			Outbound::Offer(offer, reply) => {
				self.pending.offers.insert(b.bulk.send_request(&peer, offer), reply);
			}
			Outbound::Blob(cid, reply) => {
				self.pending.blobs.insert(b.blob.send_request(&peer, cid), reply);
			}
			Outbound::Status(reply) => {
				self.pending.status.insert(b.group.send_request(&peer, StatusQuery), reply);
			}
			Outbound::Probe(bytes, reply) => {
				self.pending.probes.insert(b.probe.send_request(&peer, bytes), reply);
			}
		}
	}

	/// Queues a chunk on `peer`'s bulk lane, setting the lane up first if need be; gives the chunk
	/// back when it is to go over `/verity/allreduce/1` (no bulk lane here or at the peer).
	fn send_bulk(
		&mut self,
		peer: PeerId,
		chunk: Chunk,
		reply: Reply<ChunkAnswer>,
	) -> Option<(Chunk, Reply<ChunkAnswer>)> {
		use mpsc::error::TrySendError;
		if self.bulk_in.is_none() || self.bulk_off.contains(&peer) {
			return Some((chunk, reply));
		}
		let mut queued = (chunk, reply);
		if let Some(tx) = self.bulk_out.get(&peer) {
			match tx.try_send(queued) {
				Ok(()) => return None,
				Err(TrySendError::Full((_, reply))) => {
					let reason = format!("{} chunks already queued on the bulk lane", bulk::QUEUE);
					let _ = reply.send(Err(NetError::Request { peer, reason }));
					return None;
				}
				// The lane's connection ended: set up a new one.
				Err(TrySendError::Closed(q)) => {
					self.bulk_out.remove(&peer);
					queued = q;
				}
			}
		}
		let Some(ip) = self.remote_ip.get(&peer).copied() else {
			return Some(queued);
		};
		let (tx, rx) = mpsc::channel(bulk::QUEUE);
		let _ = tx.try_send(queued);
		self.bulk_out.insert(peer, tx);
		tokio::spawn(open_bulk(peer, ip, rx, self.weak_commands.clone()));
		None
	}

	fn dial(&mut self, peer: PeerId, done: Option<oneshot::Sender<Result<(), NetError>>>) {
		if self.swarm.is_connected(&peer) {
			if let Some(done) = done {
				let _ = done.send(Ok(()));
			}
			return;
		}
		let first = !self.dialing.contains_key(&peer);
		let waiters = self.dialing.entry(peer).or_default();
		waiters.extend(done);
		if !first {
			return;
		}
		let Some(addr) = self.addrs.get(&peer).cloned() else {
			self.dial_failed(peer, "no known address".into());
			return;
		};
		// A fresh source port: with port reuse, two peers dialling each other at the same moment
		// meet in one TCP simultaneous open, both act as dialer, and both handshakes fail.
		let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
			.addresses(vec![addr])
			.allocate_new_port()
			.build();
		if let Err(e) = self.swarm.dial(opts) {
			tracing::debug!(%peer, "dial failed: {e}");
			self.dial_failed(peer, e.to_string());
		}
	}

	fn dial_failed(&mut self, peer: PeerId, reason: String) {
		for done in self.dialing.remove(&peer).unwrap_or_default() {
			let _ = done.send(Err(NetError::Dial { peer, reason: reason.clone() }));
		}
		for outbound in self.waiting.remove(&peer).unwrap_or_default() {
			outbound.fail(NetError::Dial { peer, reason: reason.clone() });
		}
	}

	fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
		match event {
			SwarmEvent::Behaviour(BehaviourEvent::Allreduce(e)) => {
				if let Some((peer, chunk, channel)) = settle(&mut self.pending.chunks, e) {
					self.on_chunk(peer, chunk, channel);
				}
			}
			SwarmEvent::Behaviour(BehaviourEvent::Bulk(e)) => {
				if let Some((peer, offer, channel)) = settle(&mut self.pending.offers, e) {
					let answer = match &self.bulk_in {
						Some(bulk) => bulk.offer(peer, offer),
						None => OfferAnswer::Refused("no bulk lane here".into()),
					};
					let _ = self.swarm.behaviour_mut().bulk.send_response(channel, answer);
				}
			}
			SwarmEvent::Behaviour(BehaviourEvent::Blob(e)) => {
				if let Some((peer, cid, channel)) = settle(&mut self.pending.blobs, e) {
					self.on_blob(peer, cid, channel);
				}
			}
			SwarmEvent::Behaviour(BehaviourEvent::Group(e)) => {
				if let Some((peer, _, channel)) = settle(&mut self.pending.status, e) {
					self.on_status(peer, channel);
				}
			}
			SwarmEvent::Behaviour(BehaviourEvent::Probe(e)) => {
				if let Some((_, _, channel)) = settle(&mut self.pending.probes, e) {
					let _ = self.swarm.behaviour_mut().probe.send_response(channel, ());
				}
			}
			SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
				tracing::info!(peer = %peer_id, "peer disconnected");
				self.bulk_out.remove(&peer_id);
				self.remote_ip.remove(&peer_id);
				let _ = self.allreduce.try_send(AllReduceEvent::PeerGone(peer_id));
			}
			SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
				tracing::debug!(peer = %peer_id, "connected");
				if let Some(ip) = ip_of(endpoint.get_remote_address()) {
					self.remote_ip.insert(peer_id, ip);
				}
				// A peer that (re)connects gets another try at a bulk lane.
				self.bulk_off.remove(&peer_id);
				let _ = self.allreduce.try_send(AllReduceEvent::PeerConnected(peer_id));
				for done in self.dialing.remove(&peer_id).unwrap_or_default() {
					let _ = done.send(Ok(()));
				}
				for outbound in self.waiting.remove(&peer_id).unwrap_or_default() {
					self.send_now(peer_id, outbound);
				}
			}
			SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. }
				if !self.swarm.is_connected(&peer) =>
			{
				self.dial_failed(peer, error.to_string());
			}
			_ => {}
		}
	}

	fn on_chunk(&mut self, peer: PeerId, chunk: Chunk, channel: ResponseChannel<ChunkAnswer>) {
		let reply = ChunkReply::Request(Responder { channel, answers: self.answers.0.clone() });
		deliver_chunk(&self.allreduce, peer, chunk, reply);
	}

	fn on_blob(&mut self, peer: PeerId, cid: Cid, channel: ResponseChannel<BlobAnswer>) {
		let reply = Responder { channel, answers: self.answers.0.clone() };
		if let Err(e) = self.blobs.try_send(BlobRequest { peer, cid, reply }) {
			let (mpsc::error::TrySendError::Full(req) | mpsc::error::TrySendError::Closed(req)) = e;
			req.reply.respond(BlobAnswer::Refused("not serving blobs now".into()));
		}
	}

	fn on_status(&mut self, peer: PeerId, channel: ResponseChannel<GroupStatus>) {
		let reply = Responder { channel, answers: self.answers.0.clone() };
		// Nobody answering (not training): the request is dropped and fails at the peer.
		let _ = self.group.try_send(StatusRequest { peer, reply });
	}
}

/// Hands a chunk to the AllReduce, from either path; refuses it at once when the queue is full.
fn deliver_chunk(
	events: &mpsc::Sender<AllReduceEvent>,
	peer: PeerId,
	chunk: Chunk,
	reply: ChunkReply,
) {
	if let Err(e) = events.try_send(AllReduceEvent::Chunk { peer, chunk, reply }) {
		let (mpsc::error::TrySendError::Full(ev) | mpsc::error::TrySendError::Closed(ev)) = e;
		if let AllReduceEvent::Chunk { reply, .. } = ev {
			reply.respond(ChunkAnswer::Refused("worker busy: chunk queue full".into()));
		}
	}
}

/// The next connection on the bulk listener (never, without one).
async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
	match listener {
		Some(l) => l.accept().await,
		None => std::future::pending().await,
	}
}

/// Sets up the bulk lane to `peer` (at `ip`) and streams `queue`'s chunks on it; when the peer
/// refuses the offer or its port cannot be reached, turns the lane off for the peer and hands the
/// queued chunks back to the event loop, which sends them over `/verity/allreduce/1`.
async fn open_bulk(
	peer: PeerId,
	ip: IpAddr,
	queue: mpsc::Receiver<bulk::Queued>,
	commands: mpsc::WeakSender<Command>,
) {
	let offered = async {
		let offer = bulk::new_offer()?;
		let (reply, rx) = oneshot::channel();
		let commands = commands.upgrade().ok_or(NetError::Stopped)?;
		commands
			.send(Command::Send(peer, Outbound::Offer(offer.clone(), reply)))
			.await
			.map_err(|_| NetError::Stopped)?;
		drop(commands);
		match rx.await.map_err(|_| NetError::Stopped)?? {
			OfferAnswer::Port(port) => Ok((offer, port)),
			OfferAnswer::Refused(reason) => Err(NetError::Request { peer, reason }),
		}
	};
	let (error, mut queue) = match offered.await {
		Ok((offer, port)) => {
			match bulk::send(peer, SocketAddr::new(ip, port), offer, queue).await {
				Ok(()) => return,
				Err(failed) => failed,
			}
		}
		Err(e) => (e, queue),
	};
	tracing::info!(%peer, "no bulk lane to the peer ({error}): its chunks go over libp2p");
	let Some(commands) = commands.upgrade() else { return };
	if commands.send(Command::BulkOff(peer)).await.is_err() {
		return;
	}
	// The event loop let go of the queue's sender: what is in it comes back here, in order.
	while let Some((chunk, reply)) = queue.recv().await {
		if let Err(mpsc::error::SendError(Command::Send(_, outbound))) =
			commands.send(Command::Send(peer, Outbound::Chunk(chunk, reply))).await
		{
			outbound.fail(NetError::Stopped);
		}
	}
}

/// Settles an outbound request's answer or failure from one protocol's `event` (each protocol keeps
/// its own `pending` map); returns the event if it is an inbound request, for its owner.
fn settle<Req, Res>(
	pending: &mut HashMap<OutboundRequestId, Reply<Res>>,
	event: request_response::Event<Req, Res>,
) -> Option<(PeerId, Req, ResponseChannel<Res>)> {
	use request_response::{Event as E, Message};
	match event {
		E::Message { peer, message: Message::Request { request, channel, .. }, .. } => {
			Some((peer, request, channel))
		}
		E::Message { message: Message::Response { request_id, response }, .. } => {
			if let Some(reply) = pending.remove(&request_id) {
				let _ = reply.send(Ok(response));
			}
			None
		}
		E::OutboundFailure { peer, request_id, error, .. } => {
			if let Some(reply) = pending.remove(&request_id) {
				let _ = reply.send(Err(NetError::Request { peer, reason: error.to_string() }));
			}
			None
		}
		E::InboundFailure { peer, error, .. } => {
			tracing::debug!(%peer, "inbound request failed: {error}");
			None
		}
		E::ResponseSent { .. } => None,
	}
}

/// Test and benchmark helper: a node on loopback per seed, every pair connected, their event loops
/// spawned; returns the handles and inbound receivers once every node sees every other (a dial
/// resolves on the dialler's side first; the listener learns of the connection a moment later).
/// Every node has a bulk lane.
pub async fn mesh(
	seeds: &[String],
	request_timeout: Duration,
) -> Result<Vec<(Net, Inbound)>, NetError> {
	let nodes: Vec<(String, bool)> = seeds.iter().map(|s| (s.clone(), true)).collect();
	mesh_with(&nodes, request_timeout).await
}

/// [`mesh`] of `(seed, bulk lane)` nodes.
pub async fn mesh_with(
	seeds: &[(String, bool)],
	request_timeout: Duration,
) -> Result<Vec<(Net, Inbound)>, NetError> {
	let mut nodes = Vec::new();
	for (seed, bulk) in seeds {
		let (net, inbound, event_loop) = new(NetConfig {
			key: key_from_seed(seed),
			listen: "/ip4/127.0.0.1/tcp/0"
				.parse()
				.map_err(|e: libp2p::multiaddr::Error| NetError::Transport(e.to_string()))?,
			request_timeout,
			bulk: bulk.then_some(0),
		})
		.await?;
		tokio::spawn(event_loop.run());
		nodes.push((net, inbound));
	}
	let handles: Vec<Net> = nodes.iter().map(|(n, _)| n.clone()).collect();
	// Every node dials every other, as `train --peer …` members do: two connections per pair, each
	// driven by its own task, so both directions' encryption can use both cores.
	for a in &handles {
		for b in handles.iter().filter(|b| b.peer_id != a.peer_id) {
			let (peer, addr) = split_peer_addr(&b.addr)?;
			a.dial(peer, addr).await?;
		}
	}
	let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
	for net in &handles {
		while net.connected().await.len() < handles.len() - 1 {
			if tokio::time::Instant::now() > deadline {
				return Err(NetError::Transport("the mesh did not connect within 20 s".into()));
			}
			tokio::time::sleep(Duration::from_millis(10)).await;
		}
	}
	Ok(nodes)
}
