//! `/verity/blob/1`: fetch a content-addressed blob by CID.
//!
//! Request: the 36-byte binary CIDv1. Response: `0 ‖ len u64 ‖ bytes` the blob, `1` not found, or
//! `2 ‖ len u32 ‖ UTF-8` refused with the reason. The fetcher checks the bytes against the CID
//! before keeping them ([`crate::store::remote`]).

use super::codec::{invalid, read_bytes, read_reason, read_u64, read_u8, write_reason};
use async_trait::async_trait;
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;
use verity_primitives::cid::{Cid, BINARY_LEN};

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/verity/blob/1");
/// Largest blob served or fetched (4 GiB).
pub const MAX_BLOB: u64 = 4 << 30;

/// The answer to a blob request.
#[derive(Clone, Debug, PartialEq)]
pub enum BlobAnswer {
	/// The blob's bytes.
	Blob(Vec<u8>),
	/// The peer does not hold it.
	NotFound,
	/// Refused, with why.
	Refused(String),
}

/// The codec of [`PROTOCOL`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

#[async_trait]
impl libp2p::request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = Cid;
	type Response = BlobAnswer;

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Cid>
	where
		T: AsyncRead + Unpin + Send,
	{
		let bytes = read_bytes(io, BINARY_LEN).await?;
		Cid::from_binary(&bytes).map_err(|e| invalid(format!("malformed CID: {}", e.as_str())))
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<BlobAnswer>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => {
				let len = read_u64(io).await?;
				if len > MAX_BLOB {
					return Err(invalid(format!("blob of {len} bytes is over {MAX_BLOB}")));
				}
				Ok(BlobAnswer::Blob(read_bytes(io, len as usize).await?))
			}
			1 => Ok(BlobAnswer::NotFound),
			2 => Ok(BlobAnswer::Refused(read_reason(io).await?)),
			k => Err(invalid(format!("unknown blob answer {k}"))),
		}
	}

	async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, cid: Cid) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		io.write_all(&cid.to_bytes()).await?;
		io.close().await
	}

	async fn write_response<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		answer: BlobAnswer,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		match answer {
			BlobAnswer::Blob(bytes) => {
				io.write_all(&[0]).await?;
				io.write_all(&(bytes.len() as u64).to_le_bytes()).await?;
				io.write_all(&bytes).await?;
			}
			BlobAnswer::NotFound => io.write_all(&[1]).await?,
			BlobAnswer::Refused(reason) => {
				io.write_all(&[2]).await?;
				write_reason(io, reason).await?;
			}
		}
		io.close().await
	}
}
