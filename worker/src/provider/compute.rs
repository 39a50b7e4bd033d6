//! A task's work: its kernel archive and input blobs, found by CID among the peers the chain's
//! endpoint directory names and checked against their CIDs, then the kernel run on libtorch over
//! the task's samples ([`crate::infer::run`]), its output stored as a content-addressed blob.
//! A training task's result is verified the same way: the kernel with the final checkpoint's
//! parameters over the task's shard of the job's dataset, the result being the checkpoint.

use super::journal::Computed;
use crate::{
	error::{bail, invalid, Result},
	infer,
	kernel::{Dataset, Manifest, Model},
	p2p::Net,
	store::{remote, ContentStore},
};
use libp2p::{Multiaddr, PeerId};
use std::{num::NonZeroUsize, time::Duration};
use tch::{Device, Tensor};
use verity_primitives::{cid::Cid, kernel::KernelSpec};

/// How long one peer gets to answer a blob request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// A peer as the endpoint directory names it.
#[derive(Clone, Debug)]
pub struct Peer {
	/// Its libp2p id.
	pub id: PeerId,
	/// Where it listens.
	pub addrs: Vec<Multiaddr>,
}

impl Peer {
	/// Parses an endpoint's binary peer id and libp2p addresses (an inference server's `…/http`
	/// address is not one); `None` if there is none valid.
	pub fn parse(peer: &[u8], addrs: &[Vec<u8>]) -> Option<Peer> {
		let id = PeerId::from_bytes(peer).ok()?;
		let addrs: Vec<Multiaddr> = addrs
			.iter()
			.filter_map(|a| Multiaddr::try_from(a.clone()).ok())
			.filter(|a| !a.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::Http)))
			.collect();
		(!addrs.is_empty()).then_some(Peer { id, addrs })
	}
}

/// Returns blob `cid`: from the local store, else from the first of `peers` that serves it (its
/// bytes checked against the CID before they are kept).
pub async fn fetch_blob(
	net: &Net,
	store: &ContentStore,
	cid: &Cid,
	peers: &[Peer],
) -> Result<Vec<u8>> {
	if store.has(cid) {
		match store.get(cid) {
			Ok(bytes) => return Ok(bytes),
			Err(e @ crate::store::StoreError::Mismatch { .. }) => {
				tracing::warn!(%cid, error = %e, "the local copy does not match its CID; discarded, fetching it again");
				store.discard(cid)?;
			}
			Err(e) => return Err(e.into()),
		}
	}
	let mut tried = Vec::new();
	for peer in peers.iter().filter(|p| p.id != net.peer_id) {
		for addr in &peer.addrs {
			net.add_peer(peer.id, addr.clone()).await?;
		}
		match tokio::time::timeout(FETCH_TIMEOUT, remote::fetch(net, store, peer.id, cid)).await {
			Ok(Ok(bytes)) => {
				tracing::info!(%cid, peer = %peer.id, bytes = bytes.len(), "blob fetched and checked");
				return Ok(bytes);
			}
			Ok(Err(e)) => tried.push(e.to_string()),
			Err(_) => tried.push(format!("peer {} did not answer in {FETCH_TIMEOUT:?}", peer.id)),
		}
	}
	match tried.is_empty() {
		true => bail!("no peer in the endpoint directory can serve blob {cid}"),
		false => bail!("no peer served blob {cid} ({})", tried.join("; ")),
	}
}

/// What one run needs, fetched.
pub struct Job {
	/// The task.
	pub task: u64,
	/// The kernel record (from the registry).
	pub record: KernelSpec,
	/// Its archive's bytes (checked against the record's CID).
	pub archive: Vec<u8>,
	/// The job's input blobs, in order.
	pub inputs: Vec<Vec<u8>>,
	/// First sample of the task's share.
	pub first: u64,
	/// Samples in the share.
	pub samples: u64,
	/// A training task's result: its final checkpoint (CID and bytes). The kernel runs with
	/// these parameters over the task's shard of the job's dataset, and the result is the
	/// checkpoint, not the output.
	pub checkpoint: Option<(Cid, Vec<u8>)>,
}

/// How the kernel runs.
#[derive(Clone, Copy)]
pub struct RunConfig {
	/// Device.
	pub device: Device,
	/// Rows per forward pass.
	pub batch: NonZeroUsize,
	/// Test-only fault: the output is changed before it is digested (`fault-injection` builds).
	pub wrong_output: bool,
	/// Test-only fault: training steps' digests are made up, not computed (`fault-injection`
	/// builds).
	pub fake_steps: bool,
	/// Test-only fault: no step chain is named to auditors (`fault-injection` builds).
	pub withhold_chains: bool,
}

/// Runs the kernel over the task's samples and stores the output (blocking: call it on a
/// blocking thread).
pub fn run(job: Job, cfg: RunConfig, store: &ContentStore) -> Result<Computed> {
	let manifest = Manifest::from_record(job.record).map_err(|e| invalid!("{e}"))?;
	let mut model = Model::load(manifest, &job.archive, cfg.device)?;
	if let Some((_, bytes)) = &job.checkpoint {
		model.restore(bytes)?;
	}
	let mut rows = Vec::new();
	for bytes in &job.inputs {
		rows.push(infer::input_of(&model, Dataset::from_bytes(bytes)?)?);
	}
	let all = Tensor::cat(&rows, 0);
	let total = all.size().first().copied().unwrap_or(0) as u64;
	let end = job.first.checked_add(job.samples).filter(|e| *e <= total);
	let Some(_) = end else {
		bail!(
			"the task's samples {}..{}+{} are outside the job's {total} input rows",
			job.first,
			job.first,
			job.samples
		);
	};
	let mut input = all.narrow(0, job.first as i64, job.samples as i64);
	if cfg.wrong_output {
		// The fault a test provider injects: a different input, so a different output.
		input = input.flip([0]);
	}
	let done = infer::run(&mut model, &input, cfg.batch, &format!("task {}: run", job.task))?;
	let output = match &job.checkpoint {
		Some((cid, bytes)) => {
			store.put(bytes)?;
			*cid
		}
		None => store.put(&done.blob)?,
	};
	Ok(Computed {
		output: output.to_text(),
		digest: format!("0x{}", hex::encode(done.digest.digest.as_bytes())),
		summary: done.digest.summary,
	})
}
