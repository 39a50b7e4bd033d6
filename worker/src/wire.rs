//! The worker-to-worker protocol `/verity/worker/1`: one request and one response per libp2p
//! stream (request-response over Noise + yamux). Binary layout, all integers little-endian:
//!
//! Request, first byte the kind:
//! - `0` chunk: `generation u64 ‖ round u64 ‖ step u32 ‖ chunk u32 ‖ len u32 ‖ len bytes` — a
//!   piece of an AllReduce (f32 little-endian values);
//! - `1` hello: `len u32 ‖ JSON` — group formation ([`Hello`]);
//! - `2` get-blob: `36-byte binary CIDv1`;
//! - `3` probe: `len u32 ‖ len bytes` — read in full and acknowledged (link throughput).
//!
//! Response, first byte the kind: `0` ack; `1` error (`len u32 ‖ UTF-8`); `2` hello (`len u32 ‖
//! JSON`); `3` blob (`len u64 ‖ bytes`); `4` not found.

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};
use std::io;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/verity/worker/1");
/// Largest AllReduce chunk accepted (64 MiB).
pub const MAX_CHUNK: usize = 64 << 20;
/// Largest blob served or fetched (4 GiB).
pub const MAX_BLOB: u64 = 4 << 30;
const MAX_TEXT: usize = 1 << 20;

/// One piece of an AllReduce round.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
	/// Which formation of the group (changes when the group re-forms).
	pub generation: u64,
	/// The round (training step) within the generation.
	pub round: u64,
	/// The ring step (0..2(n-1)).
	pub step: u32,
	/// The chunk index within the segment.
	pub chunk: u32,
	/// f32 values, little-endian.
	pub payload: Vec<u8>,
}

/// What a worker says about itself when a group forms or ends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hello {
	/// Epochs whose checkpoint this worker holds, with the checkpoint CIDs.
	pub checkpoints: Vec<(u64, String)>,
	/// Whether this worker has finished the whole training run.
	pub finished: bool,
}

/// A request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
	/// AllReduce data.
	Chunk(Chunk),
	/// Group formation.
	Hello(Hello),
	/// Ask for a blob by binary CID.
	GetBlob(Vec<u8>),
	/// Bytes that are only acknowledged (measures a link).
	Probe(Vec<u8>),
}

/// A response.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
	/// Received and applied.
	Ack,
	/// Refused, with why.
	Error(String),
	/// The answering worker's state.
	Hello(Hello),
	/// The blob's bytes.
	Blob(Vec<u8>),
	/// No such blob.
	NotFound,
}

/// The codec for [`PROTOCOL`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

fn invalid(msg: impl Into<String>) -> io::Error {
	io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

async fn read_u8<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u8> {
	let mut b = [0u8; 1];
	io.read_exact(&mut b).await?;
	Ok(b[0])
}
async fn read_u32<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u32> {
	let mut b = [0u8; 4];
	io.read_exact(&mut b).await?;
	Ok(u32::from_le_bytes(b))
}
async fn read_u64<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u64> {
	let mut b = [0u8; 8];
	io.read_exact(&mut b).await?;
	Ok(u64::from_le_bytes(b))
}
async fn read_bytes<T: AsyncRead + Unpin>(io: &mut T, len: usize) -> io::Result<Vec<u8>> {
	let mut buf = vec![0u8; len];
	io.read_exact(&mut buf).await?;
	Ok(buf)
}
async fn read_text<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<Vec<u8>> {
	let len = read_u32(io).await? as usize;
	if len > MAX_TEXT {
		return Err(invalid(format!("text of {len} bytes is over {MAX_TEXT}")));
	}
	read_bytes(io, len).await
}

#[async_trait]
impl libp2p::request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = Request;
	type Response = Response;

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => {
				let generation = read_u64(io).await?;
				let round = read_u64(io).await?;
				let step = read_u32(io).await?;
				let chunk = read_u32(io).await?;
				let len = read_u32(io).await? as usize;
				if len > MAX_CHUNK {
					return Err(invalid(format!("chunk of {len} bytes is over {MAX_CHUNK}")));
				}
				let payload = read_bytes(io, len).await?;
				Ok(Request::Chunk(Chunk { generation, round, step, chunk, payload }))
			}
			1 => {
				let json = read_text(io).await?;
				serde_json::from_slice(&json)
					.map(Request::Hello)
					.map_err(|e| invalid(format!("bad hello: {e}")))
			}
			2 => Ok(Request::GetBlob(read_bytes(io, verity_primitives::cid::BINARY_LEN).await?)),
			3 => {
				let len = read_u32(io).await? as usize;
				if len > MAX_CHUNK {
					return Err(invalid(format!("probe of {len} bytes is over {MAX_CHUNK}")));
				}
				Ok(Request::Probe(read_bytes(io, len).await?))
			}
			k => Err(invalid(format!("unknown request kind {k}"))),
		}
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => Ok(Response::Ack),
			1 => Ok(Response::Error(String::from_utf8_lossy(&read_text(io).await?).into_owned())),
			2 => {
				let json = read_text(io).await?;
				serde_json::from_slice(&json)
					.map(Response::Hello)
					.map_err(|e| invalid(format!("bad hello: {e}")))
			}
			3 => {
				let len = read_u64(io).await?;
				if len > MAX_BLOB {
					return Err(invalid(format!("blob of {len} bytes is over {MAX_BLOB}")));
				}
				Ok(Response::Blob(read_bytes(io, len as usize).await?))
			}
			4 => Ok(Response::NotFound),
			k => Err(invalid(format!("unknown response kind {k}"))),
		}
	}

	async fn write_request<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		req: Request,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		match req {
			Request::Chunk(c) => {
				let mut head = Vec::with_capacity(29);
				head.push(0);
				head.extend_from_slice(&c.generation.to_le_bytes());
				head.extend_from_slice(&c.round.to_le_bytes());
				head.extend_from_slice(&c.step.to_le_bytes());
				head.extend_from_slice(&c.chunk.to_le_bytes());
				head.extend_from_slice(&(c.payload.len() as u32).to_le_bytes());
				io.write_all(&head).await?;
				io.write_all(&c.payload).await?;
			}
			Request::Hello(h) => write_text(io, 1, &serde_json::to_vec(&h)?).await?,
			Request::GetBlob(cid) => {
				io.write_all(&[2]).await?;
				io.write_all(&cid).await?;
			}
			Request::Probe(bytes) => {
				io.write_all(&[3]).await?;
				io.write_all(&(bytes.len() as u32).to_le_bytes()).await?;
				io.write_all(&bytes).await?;
			}
		}
		io.close().await
	}

	async fn write_response<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		res: Response,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		match res {
			Response::Ack => io.write_all(&[0]).await?,
			Response::Error(e) => write_text(io, 1, e.as_bytes()).await?,
			Response::Hello(h) => write_text(io, 2, &serde_json::to_vec(&h)?).await?,
			Response::Blob(b) => {
				io.write_all(&[3]).await?;
				io.write_all(&(b.len() as u64).to_le_bytes()).await?;
				io.write_all(&b).await?;
			}
			Response::NotFound => io.write_all(&[4]).await?,
		}
		io.close().await
	}
}

async fn write_text<T: AsyncWrite + Unpin>(io: &mut T, kind: u8, text: &[u8]) -> io::Result<()> {
	io.write_all(&[kind]).await?;
	io.write_all(&(text.len() as u32).to_le_bytes()).await?;
	io.write_all(text).await
}
