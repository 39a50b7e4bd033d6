//! `/verity/probe/1`: bytes that are read in full and acknowledged — a link's throughput over the
//! same transport path the AllReduce uses (`bench-allreduce`).
//!
//! Request: `len u32 ‖ len bytes`. Response: `0`.

use super::codec::{invalid, read_sized, read_u8, write_sized};
use async_trait::async_trait;
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/verity/probe/1");
/// Largest probe (as large as the largest AllReduce chunk).
pub const MAX_PROBE: usize = super::allreduce::MAX_CHUNK;

/// The codec of [`PROTOCOL`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

#[async_trait]
impl libp2p::request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = Vec<u8>;
	type Response = ();

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
	where
		T: AsyncRead + Unpin + Send,
	{
		read_sized(io, MAX_PROBE, "probe").await
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<()>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => Ok(()),
			k => Err(invalid(format!("unknown probe answer {k}"))),
		}
	}

	async fn write_request<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		b: Vec<u8>,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		write_sized(io, &b).await?;
		io.close().await
	}

	async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, _: ()) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		io.write_all(&[0]).await?;
		io.close().await
	}
}
