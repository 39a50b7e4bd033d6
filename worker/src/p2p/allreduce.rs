//! `/verity/allreduce/1`: one AllReduce chunk per request, acknowledged or refused.
//!
//! Request: `generation u64 ‖ round u64 ‖ step u32 ‖ chunk u32 ‖ len u32 ‖ len bytes` (f32
//! little-endian values), all integers little-endian. Response: `0` ack, `1 ‖ len u32 ‖ UTF-8`
//! refused with the reason, or `2 ‖ generation u64`: refused because the receiver's group is at a
//! newer generation (the sender re-forms at that generation instead of one past its own).

use super::codec::{invalid, read_reason, read_sized, read_u32, read_u64, read_u8, write_reason};
use async_trait::async_trait;
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/verity/allreduce/1");
/// Largest chunk accepted (64 MiB).
pub const MAX_CHUNK: usize = 64 << 20;

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

/// The receiver's answer to a chunk.
#[derive(Clone, Debug, PartialEq)]
pub enum ChunkAnswer {
	/// Received and applied.
	Ack,
	/// Refused, with why.
	Refused(String),
	/// Refused: the receiver is at this newer generation of the group.
	Ahead(u64),
}

/// The codec of [`PROTOCOL`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

#[async_trait]
impl libp2p::request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = Chunk;
	type Response = ChunkAnswer;

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Chunk>
	where
		T: AsyncRead + Unpin + Send,
	{
		let generation = read_u64(io).await?;
		let round = read_u64(io).await?;
		let step = read_u32(io).await?;
		let chunk = read_u32(io).await?;
		let payload = read_sized(io, MAX_CHUNK, "chunk").await?;
		Ok(Chunk { generation, round, step, chunk, payload })
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<ChunkAnswer>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => Ok(ChunkAnswer::Ack),
			1 => Ok(ChunkAnswer::Refused(read_reason(io).await?)),
			2 => Ok(ChunkAnswer::Ahead(read_u64(io).await?)),
			k => Err(invalid(format!("unknown chunk answer {k}"))),
		}
	}

	async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, c: Chunk) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		// The header in one write, the payload in another: one small frame per chunk.
		let len = u32::try_from(c.payload.len()).map_err(|_| invalid("chunk over 4 GiB"))?;
		let mut head = Vec::with_capacity(28);
		head.extend_from_slice(&c.generation.to_le_bytes());
		head.extend_from_slice(&c.round.to_le_bytes());
		head.extend_from_slice(&c.step.to_le_bytes());
		head.extend_from_slice(&c.chunk.to_le_bytes());
		head.extend_from_slice(&len.to_le_bytes());
		io.write_all(&head).await?;
		io.write_all(&c.payload).await?;
		io.close().await
	}

	async fn write_response<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		answer: ChunkAnswer,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		match answer {
			ChunkAnswer::Ack => io.write_all(&[0]).await?,
			ChunkAnswer::Refused(reason) => {
				io.write_all(&[1]).await?;
				write_reason(io, reason).await?;
			}
			ChunkAnswer::Ahead(generation) => {
				let mut out = [2u8; 9];
				out[1..].copy_from_slice(&generation.to_le_bytes());
				io.write_all(&out).await?;
			}
		}
		io.close().await
	}
}
