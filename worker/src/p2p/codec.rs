//! Reading and writing the length-checked fields the worker's protocols are made of. Every length
//! is checked against its protocol's limit before anything is allocated.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io;

pub(super) fn invalid(msg: impl Into<String>) -> io::Error {
	io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

pub(super) async fn read_u8<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u8> {
	let mut b = [0u8; 1];
	io.read_exact(&mut b).await?;
	Ok(b[0])
}

pub(super) async fn read_u16<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u16> {
	let mut b = [0u8; 2];
	io.read_exact(&mut b).await?;
	Ok(u16::from_le_bytes(b))
}

pub(super) async fn read_u32<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u32> {
	let mut b = [0u8; 4];
	io.read_exact(&mut b).await?;
	Ok(u32::from_le_bytes(b))
}

pub(super) async fn read_u64<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u64> {
	let mut b = [0u8; 8];
	io.read_exact(&mut b).await?;
	Ok(u64::from_le_bytes(b))
}

pub(super) async fn read_bytes<T: AsyncRead + Unpin>(
	io: &mut T,
	len: usize,
) -> io::Result<Vec<u8>> {
	let mut buf = vec![0u8; len];
	io.read_exact(&mut buf).await?;
	Ok(buf)
}

/// `len u32 ‖ len bytes`, refused over `max` bytes.
pub(super) async fn read_sized<T: AsyncRead + Unpin>(
	io: &mut T,
	max: usize,
	what: &str,
) -> io::Result<Vec<u8>> {
	let len = read_u32(io).await? as usize;
	if len > max {
		return Err(invalid(format!("{what} of {len} bytes is over {max}")));
	}
	read_bytes(io, len).await
}

/// Longest refusal reason the protocols write or read (a longer one is cut).
pub(super) const MAX_REASON: usize = 64 << 10;

/// A refusal reason: `len u32 ‖ UTF-8`, cut at [`MAX_REASON`] bytes.
pub(super) async fn write_reason<T: AsyncWrite + Unpin>(
	io: &mut T,
	reason: String,
) -> io::Result<()> {
	let mut reason = reason.into_bytes();
	reason.truncate(MAX_REASON);
	write_sized(io, &reason).await
}

/// A reason written by [`write_reason`] (bytes that are not UTF-8 replaced).
pub(super) async fn read_reason<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<String> {
	let text = read_sized(io, MAX_REASON, "reason").await?;
	Ok(String::from_utf8_lossy(&text).into_owned())
}

/// `len u32 ‖ bytes`.
pub(super) async fn write_sized<T: AsyncWrite + Unpin>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
	let len = u32::try_from(bytes.len()).map_err(|_| invalid("field over 4 GiB"))?;
	io.write_all(&len.to_le_bytes()).await?;
	io.write_all(bytes).await
}
