//! The worker's libp2p node as an actor: one task owns the [`Swarm`] (TCP + Noise + yamux,
//! request-response on [`crate::wire::PROTOCOL`]); everything else talks to it through a [`Net`]
//! handle over bounded channels. Inbound AllReduce chunks and lost peers are delivered as
//! [`Event`]s; hellos and blob requests are answered by the actor itself.

use crate::error::{Error, Result};
use crate::{
	store::ContentStore,
	wire::{Chunk, Codec, Hello, Request, Response, PROTOCOL},
};
use futures::StreamExt;
use libp2p::{
	identity::Keypair,
	multiaddr::Protocol,
	noise,
	request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel},
	swarm::SwarmEvent,
	tcp, yamux, Multiaddr, PeerId, Swarm,
};
use sha2::{Digest, Sha256};
use std::{
	collections::{HashMap, HashSet},
	sync::{Arc, Mutex},
	time::Duration,
};
use tokio::sync::{mpsc, oneshot};

type Behaviour = request_response::Behaviour<Codec>;

/// Why a request to a peer failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("request to {peer} failed: {reason}")]
pub struct NetError {
	/// The peer.
	pub peer: PeerId,
	/// What libp2p reported.
	pub reason: String,
}

/// Something the network delivers to the worker.
#[derive(Debug)]
pub enum Event {
	/// A peer sent an AllReduce chunk; answer through `reply`.
	Chunk {
		/// Who sent it (authenticated by Noise).
		peer: PeerId,
		/// The chunk.
		chunk: Chunk,
		/// Where the answer goes.
		reply: Responder,
	},
	/// The last connection to a peer closed.
	PeerGone(PeerId),
}

/// Where the answer to an outbound request goes.
type Reply = oneshot::Sender<Result<Response, NetError>>;

/// An answer on its way to the swarm.
type Answer = (ResponseChannel<Response>, Response);

/// Answers one inbound request.
#[derive(Debug)]
pub struct Responder {
	channel: ResponseChannel<Response>,
	tx: mpsc::Sender<Answer>,
}

impl Responder {
	/// Sends the answer (dropped if the connection is gone).
	pub fn respond(self, response: Response) {
		// At most one answer per inbound request, and inbound requests are bounded by the peers'
		// windows and the event queue; a full queue drops the answer and the peer's request fails.
		if let Err(e) = self.tx.try_send((self.channel, response)) {
			tracing::warn!("answer dropped: {e}");
		}
	}
}

enum Cmd {
	Request { peer: PeerId, request: Request, reply: oneshot::Sender<Result<Response, NetError>> },
	Dial(PeerId, Multiaddr),
	Connected(oneshot::Sender<Vec<PeerId>>),
}

/// Handle to the network actor. Cheap to clone.
#[derive(Clone)]
pub struct Net {
	cmd: mpsc::Sender<Cmd>,
	/// This worker's peer id.
	pub peer_id: PeerId,
	/// The address this worker listens on (with its `/p2p/` id).
	pub addr: Multiaddr,
}

/// Network settings.
pub struct NetConfig {
	/// Identity.
	pub key: Keypair,
	/// Where to listen, e.g. `/ip4/127.0.0.1/tcp/0`.
	pub listen: Multiaddr,
	/// How long a request may take before it fails.
	pub request_timeout: Duration,
}

/// An ed25519 identity derived from a seed string (sha2-256 of the seed is the secret key), so
/// tests and scripts know every worker's peer id in advance.
pub fn key_from_seed(seed: &str) -> Keypair {
	let secret: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
	Keypair::ed25519_from_bytes(secret).expect("any 32 bytes are an ed25519 secret key")
}

/// Splits `/ip4/…/tcp/…/p2p/<id>` into the peer id and the address.
pub fn split_peer_addr(addr: &Multiaddr) -> Result<(PeerId, Multiaddr)> {
	let mut addr = addr.clone();
	match addr.pop() {
		Some(Protocol::P2p(peer)) => Ok((peer, addr)),
		_ => crate::error::bail!("peer address {addr} does not end in /p2p/<peer id>"),
	}
}

impl Net {
	/// Starts the actor; returns its handle and the stream of inbound events.
	pub async fn start(
		config: NetConfig,
		store: Option<ContentStore>,
		hello: Arc<Mutex<Hello>>,
	) -> Result<(Net, mpsc::Receiver<Event>)> {
		let peer_id = config.key.public().to_peer_id();
		let rr_config = request_response::Config::default()
			.with_request_timeout(config.request_timeout)
			.with_max_concurrent_streams(1024);
		let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.key)
			.with_tokio()
			.with_tcp(
				tcp::Config::default().nodelay(true),
				noise::Config::new,
				yamux::Config::default,
			)
			.map_err(|e| Error::Transport(e.to_string()))?
			.with_behaviour(|_| {
				Behaviour::with_codec(Codec, [(PROTOCOL, ProtocolSupport::Full)], rr_config)
			})
			.map_err(|e| Error::Transport(e.to_string()))?
			.with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
			.build();
		swarm.listen_on(config.listen).map_err(|e| Error::Transport(e.to_string()))?;
		// Wait for the listener to report its address (port 0 gets a real port).
		let addr = loop {
			if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
				break address.with(Protocol::P2p(peer_id));
			}
		};
		let (cmd_tx, cmd_rx) = mpsc::channel(1024);
		let (event_tx, event_rx) = mpsc::channel(4096);
		let actor = Actor {
			swarm,
			cmd_rx,
			event_tx,
			pending: HashMap::new(),
			resp: mpsc::channel(4096),
			store,
			hello,
			addrs: HashMap::new(),
			dialing: HashSet::new(),
			waiting: HashMap::new(),
		};
		tokio::spawn(actor.run());
		Ok((Net { cmd: cmd_tx, peer_id, addr }, event_rx))
	}

	/// Sends `request` to `peer` and waits for its response.
	pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, NetError> {
		let (reply, rx) = oneshot::channel();
		let gone = |reason: &str| NetError { peer, reason: reason.into() };
		self.cmd
			.send(Cmd::Request { peer, request, reply })
			.await
			.map_err(|_| gone("network stopped"))?;
		rx.await.map_err(|_| gone("network stopped"))?
	}

	/// Sends `request` and returns a receiver for the response, without waiting (pipelining).
	pub async fn start_request(
		&self,
		peer: PeerId,
		request: Request,
	) -> oneshot::Receiver<Result<Response, NetError>> {
		let (reply, rx) = oneshot::channel();
		let _ = self.cmd.send(Cmd::Request { peer, request, reply }).await;
		rx
	}

	/// Remembers `addr` for `peer` and dials it.
	pub async fn dial(&self, peer: PeerId, addr: Multiaddr) {
		let _ = self.cmd.send(Cmd::Dial(peer, addr)).await;
	}

	/// Peers with an open connection.
	pub async fn connected(&self) -> Vec<PeerId> {
		let (tx, rx) = oneshot::channel();
		if self.cmd.send(Cmd::Connected(tx)).await.is_err() {
			return Vec::new();
		}
		rx.await.unwrap_or_default()
	}
}

struct Actor {
	swarm: Swarm<Behaviour>,
	cmd_rx: mpsc::Receiver<Cmd>,
	event_tx: mpsc::Sender<Event>,
	pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, NetError>>>,
	resp: (mpsc::Sender<Answer>, mpsc::Receiver<Answer>),
	store: Option<ContentStore>,
	hello: Arc<Mutex<Hello>>,
	/// Addresses given with [`Net::dial`].
	addrs: HashMap<PeerId, Multiaddr>,
	/// Dials in progress.
	dialing: HashSet<PeerId>,
	/// Requests waiting for a dial to finish.
	waiting: HashMap<PeerId, Vec<(Request, Reply)>>,
}

impl Actor {
	async fn run(mut self) {
		loop {
			tokio::select! {
				cmd = self.cmd_rx.recv() => match cmd {
					None => break,
					Some(cmd) => self.on_cmd(cmd),
				},
				Some((channel, response)) = self.resp.1.recv() => {
					let _ = self.swarm.behaviour_mut().send_response(channel, response);
				},
				event = self.swarm.select_next_some() => self.on_swarm(event),
			}
		}
	}

	fn on_cmd(&mut self, cmd: Cmd) {
		match cmd {
			Cmd::Request { peer, request, reply } => {
				if self.swarm.is_connected(&peer) || !self.addrs.contains_key(&peer) {
					let id = self.swarm.behaviour_mut().send_request(&peer, request);
					self.pending.insert(id, reply);
				} else {
					// Not connected: dial the known address and send once connected (a second,
					// concurrent dial by request-response would be refused and fail the request).
					self.waiting.entry(peer).or_default().push((request, reply));
					self.dial(peer);
				}
			}
			Cmd::Dial(peer, addr) => {
				self.addrs.insert(peer, addr);
				self.dial(peer);
			}
			Cmd::Connected(tx) => {
				let _ = tx.send(self.swarm.connected_peers().copied().collect());
			}
		}
	}

	fn dial(&mut self, peer: PeerId) {
		if self.swarm.is_connected(&peer) || !self.dialing.insert(peer) {
			return;
		}
		let Some(addr) = self.addrs.get(&peer).cloned() else { return };
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
		self.dialing.remove(&peer);
		for (_, reply) in self.waiting.remove(&peer).unwrap_or_default() {
			let _ = reply.send(Err(NetError { peer, reason: format!("dial failed: {reason}") }));
		}
	}

	fn on_swarm(&mut self, event: SwarmEvent<request_response::Event<Request, Response>>) {
		use request_response::{Event as E, Message};
		match event {
			SwarmEvent::Behaviour(E::Message { peer, message, .. }) => match message {
				Message::Request { request, channel, .. } => {
					self.on_request(peer, request, channel)
				}
				Message::Response { request_id, response } => {
					if let Some(reply) = self.pending.remove(&request_id) {
						let _ = reply.send(Ok(response));
					}
				}
			},
			SwarmEvent::Behaviour(E::OutboundFailure { peer, request_id, error, .. }) => {
				if let Some(reply) = self.pending.remove(&request_id) {
					let _ = reply.send(Err(NetError { peer, reason: error.to_string() }));
				}
			}
			SwarmEvent::Behaviour(E::InboundFailure { peer, error, .. }) => {
				tracing::debug!(%peer, "inbound request failed: {error}");
			}
			SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
				tracing::info!(peer = %peer_id, "peer disconnected");
				let _ = self.event_tx.try_send(Event::PeerGone(peer_id));
			}
			SwarmEvent::ConnectionEstablished { peer_id, .. } => {
				tracing::debug!(peer = %peer_id, "connected");
				self.dialing.remove(&peer_id);
				for (request, reply) in self.waiting.remove(&peer_id).unwrap_or_default() {
					let id = self.swarm.behaviour_mut().send_request(&peer_id, request);
					self.pending.insert(id, reply);
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

	fn on_request(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
		let response = match request {
			Request::Chunk(chunk) => {
				let reply = Responder { channel, tx: self.resp.0.clone() };
				if let Err(e) = self.event_tx.try_send(Event::Chunk { peer, chunk, reply }) {
					let (mpsc::error::TrySendError::Full(ev)
					| mpsc::error::TrySendError::Closed(ev)) = e;
					if let Event::Chunk { reply, .. } = ev {
						reply.respond(Response::Error("worker busy: chunk queue full".into()));
					}
				}
				return;
			}
			Request::Probe(_) => Response::Ack,
			Request::Hello(_) => {
				Response::Hello(self.hello.lock().map(|h| h.clone()).unwrap_or_default())
			}
			Request::GetBlob(bytes) => {
				match (&self.store, verity_primitives::cid::Cid::from_binary(&bytes)) {
					(_, Err(e)) => Response::Error(format!("malformed CID: {}", e.as_str())),
					(None, _) => Response::NotFound,
					(Some(store), Ok(cid)) => match store.get(&cid) {
						Ok(blob) => Response::Blob(blob),
						Err(crate::store::StoreError::NotFound(_)) => Response::NotFound,
						Err(e) => Response::Error(e.to_string()),
					},
				}
			}
		};
		let _ = self.swarm.behaviour_mut().send_response(channel, response);
	}
}

/// Fetches the blob `cid` from `peer` and stores it, checking its bytes against the CID first:
/// bytes that do not match are an error and nothing is written.
pub async fn fetch_blob(
	net: &Net,
	store: &ContentStore,
	peer: PeerId,
	cid: &verity_primitives::cid::Cid,
) -> Result<Vec<u8>> {
	match net.request(peer, Request::GetBlob(cid.to_bytes().to_vec())).await? {
		Response::Blob(bytes) => {
			store.put_expected(cid, &bytes)?;
			Ok(bytes)
		}
		Response::NotFound => {
			crate::error::bail!("peer {peer} does not have blob {}", cid.to_text())
		}
		Response::Error(e) => {
			crate::error::bail!("peer {peer} refused blob {}: {e}", cid.to_text())
		}
		other => crate::error::bail!("peer {peer} answered a blob request with {other:?}"),
	}
}
