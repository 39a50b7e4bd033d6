//! `/verity/group/1`: a training member's status, asked for when a group forms, re-forms or ends.
//!
//! Request: one byte, `0`. Response: `len u32 ‖ JSON` of [`GroupStatus`].

use super::codec::{invalid, read_sized, read_u8, write_sized};
use async_trait::async_trait;
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use polkadot_sdk::sp_core::H256;
use serde::{Deserialize, Serialize};
use std::io;
use verity_primitives::cid::Cid;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/verity/group/1");
/// Largest status read (a status lists one CID per epoch, and one root and CID per committed
/// epoch).
const MAX_STATUS: usize = 1 << 20;

/// What a member says about itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
	/// Epochs whose checkpoint this member holds, with the checkpoint CIDs.
	pub checkpoints: Vec<(u64, Cid)>,
	/// Whether this member has finished the whole training run.
	pub finished: bool,
	/// The step chains ([`crate::steps::StepChain`]) of the epochs this worker committed, by the
	/// Merkle root committed on chain: what an auditor fetches (by CID) to replay one step.
	#[serde(default)]
	pub chains: Vec<(H256, Cid)>,
	/// The generation of the group this member trains in, or is about to re-form at; `None`
	/// before its first training session starts. A member that (re)joins a running group takes
	/// the highest it hears.
	#[serde(default)]
	pub generation: Option<u64>,
}

/// A status request (no fields: the protocol has one question).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusQuery;

/// The codec of [`PROTOCOL`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

#[async_trait]
impl libp2p::request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = StatusQuery;
	type Response = GroupStatus;

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<StatusQuery>
	where
		T: AsyncRead + Unpin + Send,
	{
		match read_u8(io).await? {
			0 => Ok(StatusQuery),
			k => Err(invalid(format!("unknown group request {k}"))),
		}
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<GroupStatus>
	where
		T: AsyncRead + Unpin + Send,
	{
		let json = read_sized(io, MAX_STATUS, "group status").await?;
		serde_json::from_slice(&json).map_err(|e| invalid(format!("bad group status: {e}")))
	}

	async fn write_request<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		_: StatusQuery,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		io.write_all(&[0]).await?;
		io.close().await
	}

	async fn write_response<T>(
		&mut self,
		_: &StreamProtocol,
		io: &mut T,
		status: GroupStatus,
	) -> io::Result<()>
	where
		T: AsyncWrite + Unpin + Send,
	{
		write_sized(io, &serde_json::to_vec(&status)?).await?;
		io.close().await
	}
}
