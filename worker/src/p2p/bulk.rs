//! The bulk lane: AllReduce chunks on a TCP connection of their own, sealed with AES-256-GCM,
//! under a key agreed over the peer's Noise-authenticated libp2p connection.
//!
//! Why: on `/verity/allreduce/1` every chunk is one request-response exchange on a yamux stream
//! of the Noise connection, sealed with ChaCha20-Poly1305; the cipher alone is a quarter of the
//! time and the stack around it most of the rest (`docs/benchmarks.md`). Here a sender streams its
//! chunks back to back on one long-lived connection per ring neighbour, with the CPU's AES
//! instructions, and the answers come back on the same connection, matched by sequence number.
//!
//! Setting up (`/verity/bulk/1`, a request-response on the libp2p connection): the sender draws a
//! fresh 16-byte session id and a 32-byte key and sends both; the receiver keeps them for
//! [`SESSION_TTL`] and answers with its bulk port. The sender connects to that port at the IP its
//! libp2p connection reaches the peer at and writes the session id; the receiver takes the session
//! (once: a replayed id finds nothing) and so knows which authenticated peer the connection is
//! from. The key never leaves Noise-encrypted traffic, so only that peer can produce frames that
//! open; a connection whose first frame does not open is closed.
//!
//! Frames, both ways: `len u32 ‖ ciphertext (len bytes) ‖ tag (16)`, the length authenticated as
//! associated data, the nonce `direction u8 ‖ 0 0 0 ‖ counter u64` (direction 0 chunks, 1
//! answers; the counter starts at 0 and never repeats under a session's key). A chunk's plaintext
//! is its payload followed by a fixed trailer, `seq u64 ‖ generation u64 ‖ round u64 ‖ step u32 ‖
//! chunk u32` (so the receiver hands the payload on without moving it); an answer's is `seq u64 ‖
//! kind u8 ‖ …` with kind 0 ack, `1 ‖ UTF-8 reason` refused, `2 ‖ generation u64` ahead, the same
//! answers as `/verity/allreduce/1`.
//!
//! A receiver without a bulk lane refuses the offer, and a port that cannot be reached fails the
//! setup: either way the sender sends that peer's chunks over `/verity/allreduce/1`, as before,
//! until the peer reconnects.

use super::{
	allreduce::{Chunk, ChunkAnswer, MAX_CHUNK},
	codec::{invalid, read_reason, read_u16, read_u8, write_reason, MAX_REASON},
	AllReduceEvent, NetError, Reply,
};
use async_trait::async_trait;
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::{PeerId, StreamProtocol};
use ring::{
	aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM},
	rand::{SecureRandom, SystemRandom},
};
use std::{
	collections::HashMap,
	io,
	net::{IpAddr, SocketAddr},
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt as _},
	net::{
		tcp::{OwnedReadHalf, OwnedWriteHalf},
		TcpListener, TcpStream,
	},
	sync::{mpsc, Semaphore},
};

/// The set-up protocol's name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/verity/bulk/1");
/// How long an offered session waits for its connection.
pub const SESSION_TTL: Duration = Duration::from_secs(30);
/// Most sessions offered and not yet connected; more offers are refused.
const MAX_SESSIONS: usize = 256;
/// How long a new connection may take to name its session, and a sender to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most accepted connections that have not named their session yet (each may take
/// [`CONNECT_TIMEOUT`] to): one more is closed at once, so a flood of idle connections holds no
/// more than this many sockets and tasks.
const MAX_UNNAMED: usize = 64;
/// Chunks queued for one peer's connection (the AllReduce keeps a window far below this).
pub(super) const QUEUE: usize = 1024;
/// Answers queued for one connection's writer; more are dropped (the sender's chunk then fails).
const ANSWER_QUEUE: usize = 4096;
/// A chunk's trailer: seq, generation, round, step, chunk.
const TRAILER: usize = 8 + 8 + 8 + 4 + 4;
/// The AEAD tag.
const TAG: usize = 16;
/// Bytes a chunk's payload grows by on the bulk lane: allocate payloads with this much spare
/// capacity and they are sealed where they are.
pub const SPARE: usize = TRAILER + TAG;
const CHUNKS: u8 = 0;
const ANSWERS: u8 = 1;

/// A sender's offer: a fresh session id and key.
#[derive(Clone, PartialEq, Eq)]
pub struct Offer {
	/// Names the connection that follows.
	pub session: [u8; 16],
	/// The AES-256-GCM key of that connection.
	pub key: [u8; 32],
}

impl std::fmt::Debug for Offer {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		// Never the key.
		write!(f, "Offer {{ session: {} }}", hex::encode(self.session))
	}
}

/// The receiver's answer to an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfferAnswer {
	/// Connect to this port.
	Port(u16),
	/// No bulk lane here (or too many sessions offered): send over libp2p.
	Refused(String),
}

/// The codec of [`PROTOCOL`]: request `session (16) ‖ key (32)`; response `0 ‖ port u16` or
/// `1 ‖ len u32 ‖ UTF-8 reason`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

#[async_trait]
impl libp2p::request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = Offer;
	type Response = OfferAnswer;

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Offer>
	where
		T: AsyncRead + Unpin + Send,
	{
		use futures::AsyncReadExt as _;
		let mut b = [0u8; 48];
		io.read_exact(&mut b).await?;
		let mut offer = Offer { session: [0; 16], key: [0; 32] };
		offer.session.copy_from_slice(&b[..16]);
		offer.key.copy_from_slice(&b[16..]);
		Ok(offer)
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<OfferAnswer>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => Ok(OfferAnswer::Port(read_u16(io).await?)),
			1 => Ok(OfferAnswer::Refused(read_reason(io).await?)),
			k => Err(invalid(format!("unknown offer answer {k}"))),
		}
	}

	async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, o: Offer) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		let mut b = [0u8; 48];
		b[..16].copy_from_slice(&o.session);
		b[16..].copy_from_slice(&o.key);
		io.write_all(&b).await?;
		io.close().await
	}

	async fn write_response<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		answer: OfferAnswer,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		match answer {
			OfferAnswer::Port(port) => {
				let mut b = [0u8; 3];
				b[1..].copy_from_slice(&port.to_le_bytes());
				io.write_all(&b).await?;
			}
			OfferAnswer::Refused(reason) => {
				io.write_all(&[1]).await?;
				write_reason(io, reason).await?;
			}
		}
		io.close().await
	}
}

/// A fresh offer from the system's random source.
pub fn new_offer() -> Result<Offer, NetError> {
	let rng = SystemRandom::new();
	let mut offer = Offer { session: [0; 16], key: [0; 32] };
	rng.fill(&mut offer.session)
		.and_then(|()| rng.fill(&mut offer.key))
		.map_err(|_| NetError::Transport("no system randomness for a bulk session".into()))?;
	Ok(offer)
}

struct Session {
	peer: PeerId,
	key: [u8; 32],
	offered: Instant,
}

/// The receiving side: the bulk listener's port and the sessions offered to it.
pub(super) struct Receiver {
	pub(super) port: u16,
	sessions: Mutex<HashMap<[u8; 16], Session>>,
	/// Places for connections that have not named their session yet ([`MAX_UNNAMED`]).
	unnamed: Arc<Semaphore>,
}

impl Receiver {
	/// Binds the bulk listener at `ip` (the libp2p listener's) and `port` (0: the system's
	/// choice).
	pub(super) async fn bind(ip: IpAddr, port: u16) -> Result<(Arc<Self>, TcpListener), NetError> {
		let at = SocketAddr::new(ip, port);
		let listener = TcpListener::bind(at)
			.await
			.map_err(|e| NetError::Transport(format!("bulk listener at {at}: {e}")))?;
		let port = listener.local_addr().map_err(|e| NetError::Transport(e.to_string()))?.port();
		Ok((Arc::new(Receiver::new(port)), listener))
	}

	fn new(port: u16) -> Self {
		Receiver {
			port,
			sessions: Mutex::new(HashMap::new()),
			unnamed: Arc::new(Semaphore::new(MAX_UNNAMED)),
		}
	}

	/// Keeps `peer`'s offer; the answer to send back.
	pub(super) fn offer(&self, peer: PeerId, offer: Offer) -> OfferAnswer {
		let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
		sessions.retain(|_, s| s.offered.elapsed() < SESSION_TTL);
		if sessions.len() >= MAX_SESSIONS {
			return OfferAnswer::Refused(format!("{MAX_SESSIONS} bulk sessions already wait"));
		}
		sessions.insert(offer.session, Session { peer, key: offer.key, offered: Instant::now() });
		OfferAnswer::Port(self.port)
	}

	fn take(&self, session: &[u8; 16]) -> Option<Session> {
		let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
		sessions.remove(session).filter(|s| s.offered.elapsed() < SESSION_TTL)
	}

	/// Serves one accepted connection: names its session, then delivers its chunks to the
	/// AllReduce (`events`) and writes their answers back, until the sender closes it or sends a
	/// frame that does not open.
	pub(super) async fn serve(
		self: Arc<Self>,
		mut stream: TcpStream,
		events: mpsc::Sender<AllReduceEvent>,
	) {
		let Ok(place) = self.unnamed.clone().try_acquire_owned() else {
			tracing::debug!(
				"bulk connection closed: {MAX_UNNAMED} others have not named a session"
			);
			return;
		};
		let mut session = [0u8; 16];
		let named = tokio::time::timeout(CONNECT_TIMEOUT, stream.read_exact(&mut session)).await;
		drop(place);
		if !matches!(named, Ok(Ok(_))) {
			return;
		}
		let Some(Session { peer, key, .. }) = self.take(&session) else {
			tracing::debug!("bulk connection for an unknown session closed");
			return;
		};
		let _ = stream.set_nodelay(true);
		let (rd, wr) = stream.into_split();
		let (answers, answer_rx) = mpsc::channel(ANSWER_QUEUE);
		tokio::spawn(write_answers(wr, sealing(&key), answer_rx));
		let open = sealing(&key);
		let mut frames = FrameReader { rd, counter: 0, direction: CHUNKS };
		loop {
			let (seq, chunk) = match frames.next(&open, MAX_CHUNK + TRAILER).await {
				Ok(Some(mut body)) => match split_chunk(&mut body) {
					Ok((seq, mut chunk)) => {
						chunk.payload = body;
						(seq, chunk)
					}
					Err(e) => {
						tracing::warn!(%peer, "bulk connection closed: {e}");
						return;
					}
				},
				Ok(None) => return,
				Err(e) => {
					tracing::warn!(%peer, "bulk connection closed: {e}");
					return;
				}
			};
			let reply = ChunkReply::Bulk { seq, answers: answers.clone() };
			super::deliver_chunk(&events, peer, chunk, reply);
		}
	}
}

/// Where a chunk's answer goes: the libp2p request it came on, or its bulk connection.
#[derive(Debug)]
pub enum ChunkReply {
	/// `/verity/allreduce/1`.
	Request(super::Responder<ChunkAnswer>),
	/// The bulk lane: the chunk's sequence number and the connection's answer writer.
	Bulk {
		/// The sender's sequence number of the chunk.
		seq: u64,
		/// The connection's answer queue.
		answers: mpsc::Sender<(u64, ChunkAnswer)>,
	},
}

impl ChunkReply {
	/// Sends the answer (dropped if the connection is gone or its queue is full: the sender's
	/// chunk then fails, or its round stalls).
	pub fn respond(self, answer: ChunkAnswer) {
		match self {
			ChunkReply::Request(r) => r.respond(answer),
			ChunkReply::Bulk { seq, answers } => {
				if let Err(e) = answers.try_send((seq, answer)) {
					tracing::warn!("bulk answer dropped: {e}");
				}
			}
		}
	}
}

fn sealing(key: &[u8; 32]) -> LessSafeKey {
	LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"))
}

fn nonce(direction: u8, counter: u64) -> Nonce {
	let mut n = [0u8; 12];
	n[0] = direction;
	n[4..].copy_from_slice(&counter.to_le_bytes());
	Nonce::assume_unique_for_key(n)
}

/// Seals `body` in place as the frame numbered `counter` of `direction` and writes it.
async fn write_frame(
	wr: &mut OwnedWriteHalf,
	key: &LessSafeKey,
	direction: u8,
	counter: u64,
	mut body: Vec<u8>,
) -> io::Result<()> {
	let len =
		u32::try_from(body.len()).map_err(|_| invalid("bulk frame over 4 GiB"))?.to_le_bytes();
	let tag: Tag = key
		.seal_in_place_separate_tag(nonce(direction, counter), Aad::from(len), &mut body)
		.map_err(|_| invalid("sealing a bulk frame failed"))?;
	body.extend_from_slice(tag.as_ref());
	// One vectored write of the length and the sealed body.
	let mut frame = bytes::Buf::chain(&len[..], &body[..]);
	wr.write_all_buf(&mut frame).await
}

struct FrameReader {
	rd: OwnedReadHalf,
	counter: u64,
	direction: u8,
}

impl FrameReader {
	/// The next frame's plaintext, `None` at a clean end of the connection.
	async fn next(&mut self, key: &LessSafeKey, max: usize) -> io::Result<Option<Vec<u8>>> {
		let mut len = [0u8; 4];
		match self.rd.read_exact(&mut len).await {
			Ok(_) => {}
			Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
			Err(e) => return Err(e),
		}
		let n = u32::from_le_bytes(len) as usize;
		if n > max {
			return Err(invalid(format!("bulk frame of {n} bytes is over {max}")));
		}
		// Read into the buffer's spare capacity: no zeroing of what the socket overwrites.
		let mut buf = Vec::with_capacity(n + TAG);
		while buf.len() < n + TAG {
			let want = (n + TAG - buf.len()) as u64;
			if (&mut self.rd).take(want).read_buf(&mut buf).await? == 0 {
				return Err(io::ErrorKind::UnexpectedEof.into());
			}
		}
		key.open_in_place(nonce(self.direction, self.counter), Aad::from(len), &mut buf)
			.map_err(|_| invalid("a bulk frame did not open (wrong key, or altered)"))?;
		self.counter += 1;
		buf.truncate(n);
		Ok(Some(buf))
	}
}

/// Takes the trailer off a chunk frame's plaintext: its sequence number and the chunk (payload
/// left in `body`).
fn split_chunk(body: &mut Vec<u8>) -> io::Result<(u64, Chunk)> {
	let at = body.len().checked_sub(TRAILER).ok_or_else(|| invalid("bulk chunk too short"))?;
	let t = &body[at..];
	let u64_at = |i: usize| u64::from_le_bytes(t[i..i + 8].try_into().expect("8 bytes"));
	let u32_at = |i: usize| u32::from_le_bytes(t[i..i + 4].try_into().expect("4 bytes"));
	let (seq, generation, round, step, chunk) =
		(u64_at(0), u64_at(8), u64_at(16), u32_at(24), u32_at(28));
	body.truncate(at);
	Ok((seq, Chunk { generation, round, step, chunk, payload: Vec::new() }))
}

async fn write_answers(
	mut wr: OwnedWriteHalf,
	key: LessSafeKey,
	mut answers: mpsc::Receiver<(u64, ChunkAnswer)>,
) {
	let mut counter = 0u64;
	while let Some((seq, answer)) = answers.recv().await {
		let mut body = seq.to_le_bytes().to_vec();
		match answer {
			ChunkAnswer::Ack => body.push(0),
			ChunkAnswer::Refused(reason) => {
				body.push(1);
				let mut reason = reason.into_bytes();
				reason.truncate(MAX_REASON);
				body.extend_from_slice(&reason);
			}
			ChunkAnswer::Ahead(generation) => {
				body.push(2);
				body.extend_from_slice(&generation.to_le_bytes());
			}
		}
		if write_frame(&mut wr, &key, ANSWERS, counter, body).await.is_err() {
			return;
		}
		counter += 1;
	}
}

fn parse_answer(body: &[u8]) -> io::Result<(u64, ChunkAnswer)> {
	if body.len() < 9 {
		return Err(invalid("bulk answer too short"));
	}
	let seq = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
	let answer = match body[8] {
		0 => ChunkAnswer::Ack,
		1 => ChunkAnswer::Refused(String::from_utf8_lossy(&body[9..]).into_owned()),
		2 if body.len() == 17 => {
			ChunkAnswer::Ahead(u64::from_le_bytes(body[9..].try_into().expect("8 bytes")))
		}
		k => return Err(invalid(format!("unknown bulk answer {k}"))),
	};
	Ok((seq, answer))
}

/// A chunk waiting for its connection, with where its answer goes.
pub(super) type Queued = (Chunk, Reply<ChunkAnswer>);

type Pending = Arc<Mutex<HashMap<u64, Reply<ChunkAnswer>>>>;

fn fail_all(pending: &Pending, peer: PeerId, reason: &str) {
	let replies: Vec<_> = pending.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
	for (_, reply) in replies {
		let _ = reply.send(Err(NetError::Request { peer, reason: reason.to_string() }));
	}
}

/// Connects to `peer`'s bulk port (at `ip`, once its offer was answered with `port`) and streams
/// the chunks of `queue` to it until the queue closes or the connection fails; on a failure every
/// chunk sent and not answered, and every one still queued, fails.
pub(super) async fn send(
	peer: PeerId,
	addr: SocketAddr,
	offer: Offer,
	mut queue: mpsc::Receiver<Queued>,
) -> Result<(), (NetError, mpsc::Receiver<Queued>)> {
	let setup = async {
		let mut stream = TcpStream::connect(addr).await?;
		stream.set_nodelay(true)?;
		stream.write_all(&offer.session).await?;
		io::Result::Ok(stream)
	};
	let stream = match tokio::time::timeout(CONNECT_TIMEOUT, setup).await {
		Ok(Ok(stream)) => stream,
		Ok(Err(e)) => {
			let reason = format!("bulk lane at {addr}: {e}");
			return Err((NetError::Dial { peer, reason }, queue));
		}
		Err(_) => {
			let reason = format!("bulk lane at {addr}: no connection within {CONNECT_TIMEOUT:?}");
			return Err((NetError::Dial { peer, reason }, queue));
		}
	};
	tracing::debug!(%peer, %addr, "bulk lane open");
	let (rd, mut wr) = stream.into_split();
	let pending: Pending = Arc::default();
	let key = sealing(&offer.key);
	let mut reader = {
		let (pending, key) = (pending.clone(), sealing(&offer.key));
		tokio::spawn(async move {
			let mut frames = FrameReader { rd, counter: 0, direction: ANSWERS };
			let why = loop {
				match frames.next(&key, 8 + 1 + MAX_REASON).await {
					Ok(Some(body)) => match parse_answer(&body) {
						Ok((seq, answer)) => {
							let reply =
								pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&seq);
							if let Some(reply) = reply {
								let _ = reply.send(Ok(answer));
							}
						}
						Err(e) => break e.to_string(),
					},
					Ok(None) => break "the peer closed the bulk connection".to_string(),
					Err(e) => break e.to_string(),
				}
			};
			fail_all(&pending, peer, &why);
			why
		})
	};
	let mut seq = 0u64;
	let why = loop {
		let next = tokio::select! {
			next = queue.recv() => next,
			// The answers stopped: nothing sent from here on would be answered.
			why = &mut reader => break why.unwrap_or_else(|e| e.to_string()),
		};
		let Some((chunk, reply)) = next else {
			// The event loop let go of this peer (it disconnected): nothing more will be answered.
			reader.abort();
			fail_all(&pending, peer, "the bulk lane closed: the peer disconnected");
			return Ok(());
		};
		pending.lock().unwrap_or_else(|e| e.into_inner()).insert(seq, reply);
		let mut body = chunk.payload;
		body.reserve_exact(SPARE);
		body.extend_from_slice(&seq.to_le_bytes());
		body.extend_from_slice(&chunk.generation.to_le_bytes());
		body.extend_from_slice(&chunk.round.to_le_bytes());
		body.extend_from_slice(&chunk.step.to_le_bytes());
		body.extend_from_slice(&chunk.chunk.to_le_bytes());
		if let Err(e) = write_frame(&mut wr, &key, CHUNKS, seq, body).await {
			break format!("writing to the bulk connection: {e}");
		}
		seq += 1;
	};
	reader.abort();
	fail_all(&pending, peer, &why);
	queue.close();
	while let Ok((_, reply)) = queue.try_recv() {
		let _ = reply.send(Err(NetError::Request { peer, reason: why.clone() }));
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn an_answer_round_trips_and_a_frame_opens_only_under_its_key_and_counter() {
		for answer in [ChunkAnswer::Ack, ChunkAnswer::Refused("no".into()), ChunkAnswer::Ahead(7)] {
			let mut body = 9u64.to_le_bytes().to_vec();
			match &answer {
				ChunkAnswer::Ack => body.push(0),
				ChunkAnswer::Refused(r) => {
					body.push(1);
					body.extend_from_slice(r.as_bytes());
				}
				ChunkAnswer::Ahead(g) => {
					body.push(2);
					body.extend_from_slice(&g.to_le_bytes());
				}
			}
			assert_eq!(parse_answer(&body).unwrap(), (9, answer));
		}
		assert!(parse_answer(&[0; 8]).is_err());
		assert!(parse_answer(&[0, 0, 0, 0, 0, 0, 0, 0, 2, 1]).is_err(), "a short generation");

		let key = sealing(&[7; 32]);
		let len = 5u32.to_le_bytes();
		let mut buf = b"hello".to_vec();
		let tag =
			key.seal_in_place_separate_tag(nonce(CHUNKS, 3), Aad::from(len), &mut buf).unwrap();
		buf.extend_from_slice(tag.as_ref());
		let opens = |k: &LessSafeKey, dir, ctr, len: [u8; 4]| {
			let mut b = buf.clone();
			k.open_in_place(nonce(dir, ctr), Aad::from(len), &mut b).map(|p| p.to_vec()).ok()
		};
		assert_eq!(opens(&key, CHUNKS, 3, len).as_deref(), Some(&b"hello"[..]));
		assert!(opens(&key, CHUNKS, 4, len).is_none(), "another counter (a replayed frame)");
		assert!(opens(&key, ANSWERS, 3, len).is_none(), "the other direction");
		assert!(opens(&key, CHUNKS, 3, 6u32.to_le_bytes()).is_none(), "an altered length");
		assert!(opens(&sealing(&[8; 32]), CHUNKS, 3, len).is_none(), "another key");
	}

	#[test]
	fn a_chunk_trailer_comes_off_and_leaves_the_payload_in_place() {
		let mut body = vec![1u8, 2, 3, 4];
		for v in [5u64, 6, 7] {
			body.extend_from_slice(&v.to_le_bytes());
		}
		body.extend_from_slice(&8u32.to_le_bytes());
		body.extend_from_slice(&9u32.to_le_bytes());
		let (seq, c) = split_chunk(&mut body).unwrap();
		assert_eq!((seq, c.generation, c.round, c.step, c.chunk), (5, 6, 7, 8, 9));
		assert_eq!(body, vec![1, 2, 3, 4]);
		assert!(split_chunk(&mut vec![0; TRAILER - 1]).is_err());
	}

	#[test]
	fn an_offer_is_taken_once_and_the_key_is_never_printed() {
		let r = Receiver::new(9);
		let peer = PeerId::random();
		let offer = new_offer().unwrap();
		assert_eq!(r.offer(peer, offer.clone()), OfferAnswer::Port(9));
		assert!(!format!("{offer:?}").contains(&hex::encode(offer.key)));
		assert_eq!(r.take(&offer.session).map(|s| (s.peer, s.key)), Some((peer, offer.key)));
		assert!(r.take(&offer.session).is_none(), "a replayed session id finds nothing");
		for _ in 0..MAX_SESSIONS {
			assert!(matches!(r.offer(peer, new_offer().unwrap()), OfferAnswer::Port(9)));
		}
		assert!(matches!(r.offer(peer, new_offer().unwrap()), OfferAnswer::Refused(_)));
	}
}

#[cfg(test)]
mod socket_tests {
	//! The receiving side on real loopback sockets: what a connection that is not the offered
	//! sender's gets, and what the offered sender's gets.
	use super::*;

	async fn connect(port: u16, session: &[u8; 16]) -> TcpStream {
		let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
		s.write_all(session).await.unwrap();
		s
	}

	/// Whether the receiver closed `s` (reads end) within a second.
	async fn closed(s: &mut TcpStream) -> bool {
		let mut b = [0u8; 1];
		matches!(
			tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await,
			Ok(Ok(0) | Err(_))
		)
	}

	fn chunk_frame(key: &LessSafeKey, counter: u64, seq: u64, round: u64) -> Vec<u8> {
		let mut body = vec![0u8, 0, 128, 63]; // 1.0f32
		for v in [seq, 0, round] {
			body.extend_from_slice(&v.to_le_bytes());
		}
		body.extend_from_slice(&0u32.to_le_bytes());
		body.extend_from_slice(&0u32.to_le_bytes());
		let len = (body.len() as u32).to_le_bytes();
		let tag = key
			.seal_in_place_separate_tag(nonce(CHUNKS, counter), Aad::from(len), &mut body)
			.unwrap();
		let mut frame = len.to_vec();
		frame.extend_from_slice(&body);
		frame.extend_from_slice(tag.as_ref());
		frame
	}

	/// A receiver on loopback serving every connection it accepts, as the event loop does, and
	/// where its chunks arrive.
	async fn listening() -> (Arc<Receiver>, mpsc::Receiver<AllReduceEvent>) {
		let (receiver, listener) = Receiver::bind("127.0.0.1".parse().unwrap(), 0).await.unwrap();
		let (events, inbox) = mpsc::channel(16);
		tokio::spawn({
			let receiver = receiver.clone();
			async move {
				while let Ok((s, _)) = listener.accept().await {
					tokio::spawn(receiver.clone().serve(s, events.clone()));
				}
			}
		});
		(receiver, inbox)
	}

	/// Waits (up to 5 s) until `n` places for unnamed connections are free.
	async fn places_free(receiver: &Receiver, n: usize) {
		for _ in 0..500 {
			if receiver.unnamed.available_permits() == n {
				return;
			}
			tokio::time::sleep(Duration::from_millis(10)).await;
		}
		panic!("{} places free, not {n}", receiver.unnamed.available_permits());
	}

	#[tokio::test]
	async fn the_listener_takes_the_port_it_is_given_and_says_when_it_cannot() {
		let ip: IpAddr = "127.0.0.1".parse().unwrap();
		let free = std::net::TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port();
		let (receiver, _listener) = Receiver::bind(ip, free).await.unwrap();
		assert_eq!(receiver.port, free);
		let Err(NetError::Transport(e)) = Receiver::bind(ip, free).await else {
			panic!("a port in use was bound twice")
		};
		assert!(e.starts_with(&format!("bulk listener at 127.0.0.1:{free}: ")), "{e}");
	}

	#[tokio::test]
	async fn connections_that_name_no_session_are_capped() {
		let (receiver, mut inbox) = listening().await;
		let port = receiver.port;
		let mut idle = Vec::new();
		for _ in 0..MAX_UNNAMED {
			idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
		}
		places_free(&receiver, 0).await;
		let mut extra = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
		assert!(closed(&mut extra).await, "one over the cap is closed at once");
		assert!(!closed(&mut idle[0]).await, "those under it still wait for their session");
		// Gone idle connections give their places back; an offered sender gets through.
		drop(idle);
		places_free(&receiver, MAX_UNNAMED).await;
		let offer = new_offer().unwrap();
		receiver.offer(PeerId::random(), offer.clone());
		let mut s = connect(port, &offer.session).await;
		s.write_all(&chunk_frame(&sealing(&offer.key), 0, 1, 2)).await.unwrap();
		let Some(AllReduceEvent::Chunk { chunk, .. }) = inbox.recv().await else {
			panic!("no chunk delivered")
		};
		assert_eq!(chunk.round, 2);
	}

	#[tokio::test]
	async fn only_the_offered_sender_under_its_key_gets_chunks_through() {
		let (receiver, mut inbox) = listening().await;
		let port = receiver.port;
		let peer = PeerId::random();
		let offer = new_offer().unwrap();
		let key = sealing(&offer.key);

		// A session nobody offered: closed, nothing delivered.
		let mut s = connect(port, &[9; 16]).await;
		assert!(closed(&mut s).await, "an unknown session is closed");

		// The offered session, but a frame under another key: closed, nothing delivered.
		assert_eq!(receiver.offer(peer, offer.clone()), OfferAnswer::Port(port));
		let mut s = connect(port, &offer.session).await;
		s.write_all(&chunk_frame(&sealing(&[1; 32]), 0, 0, 1)).await.unwrap();
		assert!(closed(&mut s).await, "a frame that does not open closes the connection");
		// The session was taken by that connection: connecting with it again finds nothing.
		let mut s = connect(port, &offer.session).await;
		assert!(closed(&mut s).await, "a session is used once");
		assert!(inbox.try_recv().is_err(), "nothing was delivered");

		// A fresh offer, the right key: the chunk arrives as the peer's, and its answer comes back.
		let offer = new_offer().unwrap();
		let key2 = sealing(&offer.key);
		receiver.offer(peer, offer.clone());
		let mut s = connect(port, &offer.session).await;
		s.write_all(&chunk_frame(&key2, 0, 41, 3)).await.unwrap();
		let Some(AllReduceEvent::Chunk { peer: from, chunk, reply }) = inbox.recv().await else {
			panic!("no chunk delivered")
		};
		assert_eq!((from, chunk.round, chunk.payload), (peer, 3, vec![0, 0, 128, 63]));
		reply.respond(ChunkAnswer::Refused("test".into()));
		let (rd, _wr) = s.into_split();
		let mut answers = FrameReader { rd, counter: 0, direction: ANSWERS };
		let body = answers.next(&key2, 1024).await.unwrap().unwrap();
		assert_eq!(parse_answer(&body).unwrap(), (41, ChunkAnswer::Refused("test".into())));

		// A frame sealed under the first session's key on the second session's connection (a
		// replay from another session): closed, nothing more delivered.
		let offer = new_offer().unwrap();
		receiver.offer(peer, offer.clone());
		let mut s = connect(port, &offer.session).await;
		s.write_all(&chunk_frame(&key, 0, 0, 1)).await.unwrap();
		assert!(closed(&mut s).await);
		assert!(inbox.try_recv().is_err());
	}
}
