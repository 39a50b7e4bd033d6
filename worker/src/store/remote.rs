//! Blobs between workers: [`serve`] answers peers' blob requests from the local store, [`fetch`]
//! asks a peer for a blob and keeps it only if its bytes match the CID.

use super::{ContentStore, StoreError};
use crate::p2p::{blob::BlobAnswer, BlobRequest, Net, NetError};
use libp2p::PeerId;
use tokio::sync::mpsc;
use verity_primitives::cid::Cid;

/// Why a blob could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
	/// The request failed.
	#[error(transparent)]
	Net(#[from] NetError),
	/// The peer does not hold the blob.
	#[error("peer {peer} does not have blob {cid}")]
	NotFound {
		/// The peer asked.
		peer: PeerId,
		/// The blob.
		cid: Cid,
	},
	/// The peer refused.
	#[error("peer {peer} refused blob {cid}: {reason}")]
	Refused {
		/// The peer asked.
		peer: PeerId,
		/// The blob.
		cid: Cid,
		/// Its reason.
		reason: String,
	},
	/// The bytes do not match the CID (nothing was stored), or storing failed.
	#[error(transparent)]
	Store(#[from] StoreError),
}

/// Fetches the blob `cid` from `peer` and stores it, checking its bytes against the CID first:
/// bytes that do not match are an error and nothing is written.
pub async fn fetch(
	net: &Net,
	store: &ContentStore,
	peer: PeerId,
	cid: &Cid,
) -> Result<Vec<u8>, FetchError> {
	match net.get_blob(peer, *cid).await? {
		BlobAnswer::Blob(bytes) => {
			store.put_expected(cid, &bytes)?;
			Ok(bytes)
		}
		BlobAnswer::NotFound => Err(FetchError::NotFound { peer, cid: *cid }),
		BlobAnswer::Refused(reason) => Err(FetchError::Refused { peer, cid: *cid, reason }),
	}
}

/// Answers blob requests from `store` until the network stops. Reading runs on a blocking thread
/// (a blob may be large), one request at a time: the inbound queue bounds what waits.
pub async fn serve(store: ContentStore, mut requests: mpsc::Receiver<BlobRequest>) {
	while let Some(BlobRequest { peer, cid, reply }) = requests.recv().await {
		let store = store.clone();
		let answer = match tokio::task::spawn_blocking(move || store.get(&cid)).await {
			Ok(Ok(bytes)) => BlobAnswer::Blob(bytes),
			Ok(Err(StoreError::NotFound(_))) => BlobAnswer::NotFound,
			Ok(Err(e)) => BlobAnswer::Refused(e.to_string()),
			Err(e) => BlobAnswer::Refused(format!("reading the blob failed: {e}")),
		};
		tracing::debug!(%peer, %cid, "blob request answered");
		reply.respond(answer);
	}
}
