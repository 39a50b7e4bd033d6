//! A trained kernel version's lineage, read from the chain and checked end to end
//! (`verity-worker lineage`):
//!
//! 1. the version's `aivmRegistry.Lineage` names its training job, whose model
//!    (`marketplace.TrainedModels`) links back to the version, has the same final checkpoint,
//!    and trained the kernel the version's record `supersedes`;
//! 2. every epoch of the job is in the chain's verified history (`proofOfCompute.EpochHistory`):
//!    each starts from the checkpoint the one before ended with (the first from the kernel's own
//!    parameters), its members agree on one checkpoint, and its audits passed; the last epoch's
//!    checkpoint is the job's final one;
//! 3. the base kernel's archive and the final checkpoint, fetched by CID from the endpoint
//!    directory (and checked against their CIDs), re-exported (`kernel::export`, byte-
//!    reproducible) give exactly the version's archive CID: the version is the base kernel's
//!    code with the job's checkpoint, nothing else.
//!
//! What is not true of the lineage is reported by name in [`Lineage::problems`], never skipped.

use super::{compute, directory_peers, shared};
use crate::{
	chain::{self, api, AccountId, AtBlock},
	error::{invalid, Context, Result},
	kernel::{export, KernelDir, Manifest},
	p2p::Net,
	store::ContentStore,
};
use polkadot_sdk::sp_core::H256;
use serde::Serialize;
use verity_primitives::{
	cid::Cid,
	kernel::{KernelId, KernelSpec},
};

/// One epoch of the training job, as the chain keeps it.
#[derive(Debug, Serialize)]
pub struct Epoch {
	/// The epoch.
	pub epoch: u32,
	/// The checkpoint it started from (none for the first).
	pub start: Option<Cid>,
	/// The checkpoint its members ended with (the first member's; see `agreed`).
	pub checkpoint: Cid,
	/// Whether every member committed that checkpoint.
	pub agreed: bool,
	/// Each member's task and step-digest root, in commit order.
	pub roots: Vec<(u64, H256)>,
	/// Audits drawn.
	pub audits: u32,
	/// Audits passed.
	pub passed: u32,
}

/// A trained version's lineage and what checking it found.
#[derive(Debug, Serialize)]
pub struct Lineage {
	/// The block it was read at (the finalized one: a lineage is history, not what a fork says).
	pub block: u64,
	/// The version.
	pub kernel: KernelId,
	/// The kernel that was trained.
	pub base: KernelId,
	/// The training job.
	pub job: u64,
	/// Who bought the training and registered the version.
	pub buyer: String,
	/// The same, as an account.
	#[serde(skip)]
	pub buyer_account: AccountId,
	/// The job's final checkpoint.
	pub checkpoint: Cid,
	/// The job's epochs, each as the chain keeps it.
	pub epochs: Vec<Epoch>,
	/// The version's archive.
	pub archive: Cid,
	/// The archive that re-exporting the base kernel with the final checkpoint gives (`None` if
	/// they could not be fetched).
	pub reexported: Option<Cid>,
	/// What does not hold; empty when the lineage is verified.
	pub problems: Vec<String>,
}

/// Reads `version`'s lineage at `at` (the finalized block) and checks its links and epochs
/// (steps 1 and 2 above).
pub async fn read(at: &AtBlock, version: KernelId) -> Result<Lineage> {
	let registry = || api::storage().aivm_registry();
	let key = |id: KernelId| subxt::utils::H256(id.0);
	let from = chain::read(at, registry().lineage(), (key(version),)).await?.ok_or_else(|| {
		invalid!(
			"kernel {version:?} has no lineage on chain at the finalized block #{}: it was not registered as a training job's model (or its registration is not final yet)",
			at.block_number()
		)
	})?;
	let entry = chain::read(at, registry().kernels(), (key(version),))
		.await?
		.ok_or_else(|| invalid!("kernel {version:?} is not registered"))?;
	let spec: KernelSpec = shared("kernel record", &entry.spec)?;
	let checkpoint: Cid = shared("checkpoint CID", &from.checkpoint)?;
	let mut problems = Vec::new();
	let base =
		spec.supersedes.ok_or_else(|| {
			invalid!("kernel {version:?} has a lineage but supersedes nothing: the chain is inconsistent")
		})?;
	let model = chain::read(at, api::storage().marketplace().trained_models(), (from.job,))
		.await?
		.ok_or_else(|| invalid!("training job {} has no model on chain", from.job))?;
	if model.version.map(|v| v.0) != Some(version.0) {
		problems.push(format!("job {}'s model does not link back to this version", from.job));
	}
	if model.kernel.0 != base.0 {
		problems.push(format!("job {} trained another kernel than the base", from.job));
	}
	if shared::<_, Cid>("checkpoint CID", &model.checkpoint)? != checkpoint {
		problems.push("the lineage's checkpoint is not the job's final checkpoint".into());
	}
	let mut epochs = Vec::new();
	let mut start: Option<Cid> = None;
	for epoch in 0..from.epochs {
		let Some(record) =
			chain::read(at, api::storage().proof_of_compute().epoch_history(), (from.job, epoch))
				.await?
		else {
			problems.push(format!("epoch {epoch} is not in the chain's verified history"));
			continue;
		};
		let commits = &record.commits.0;
		let cids: Vec<Cid> = commits
			.iter()
			.map(|(_, c)| shared("checkpoint CID", &c.checkpoint))
			.collect::<Result<_>>()?;
		let Some(first) = cids.first().copied() else {
			problems.push(format!("epoch {epoch} has no commitment"));
			continue;
		};
		let record_start: Option<Cid> =
			record.start.as_ref().map(|c| shared("checkpoint CID", c)).transpose()?;
		if epoch > 0 && record_start != start {
			problems.push(format!("epoch {epoch} did not start where epoch {} ended", epoch - 1));
		}
		if record.audits == 0 || record.passed != record.audits {
			problems.push(format!(
				"epoch {epoch}: {} of {} audits passed",
				record.passed, record.audits
			));
		}
		let agreed = cids.iter().all(|c| *c == first);
		if !agreed {
			problems.push(format!("epoch {epoch}: the members ended with different checkpoints"));
		}
		start = Some(first);
		epochs.push(Epoch {
			epoch,
			start: record_start,
			checkpoint: first,
			agreed,
			roots: commits.iter().map(|(t, c)| (*t, H256(c.root.0))).collect(),
			audits: record.audits,
			passed: record.passed,
		});
	}
	if start != Some(checkpoint) {
		problems.push("the last epoch's checkpoint is not the job's final checkpoint".into());
	}
	Ok(Lineage {
		block: at.block_number(),
		kernel: version,
		base,
		job: from.job,
		buyer: model.buyer.to_string(),
		buyer_account: model.buyer,
		checkpoint,
		epochs,
		archive: spec.archive,
		reexported: None,
		problems,
	})
}

/// Step 3: fetches the base kernel's archive and the final checkpoint by CID (from the base's
/// owner and the buyer first, then every endpoint), re-exports them into a scratch directory
/// and compares the archive with the version's.
pub async fn reexport(
	at: &AtBlock,
	net: &Net,
	store: &ContentStore,
	lineage: &mut Lineage,
) -> Result<()> {
	let base = chain::read(
		at,
		api::storage().aivm_registry().kernels(),
		(subxt::utils::H256(lineage.base.0),),
	)
	.await?
	.ok_or_else(|| invalid!("the base kernel {:?} is no longer registered", lineage.base))?;
	let record: KernelSpec = shared("kernel record", &base.spec)?;
	let peers = directory_peers(at, &[&base.owner, &lineage.buyer_account]).await?;
	let archive = compute::fetch_blob(net, store, &record.archive, &peers).await?;
	let checkpoint = compute::fetch_blob(net, store, &lineage.checkpoint, &peers).await?;
	let manifest = Manifest::from_record(record).map_err(|e| invalid!("{e}"))?;
	let scratch = tempfile::tempdir().context("a scratch directory for the export")?;
	let dir = KernelDir { path: scratch.path().join("base"), manifest, archive };
	let base_id = lineage.base;
	let done = tokio::task::spawn_blocking(move || {
		export::export(&dir, base_id, &checkpoint, &scratch.path().join("version"))
			.map(|e| e.manifest.record.archive)
	})
	.await??;
	if done != lineage.archive {
		lineage.problems.push(format!(
			"re-exporting the base kernel with the final checkpoint gives archive {done}, not the version's {}",
			lineage.archive
		));
	}
	lineage.reexported = Some(done);
	Ok(())
}
