//! `verity-worker kernel`: a kernel directory's record as the chain will store it;
//! `verity-worker export`: a kernel's new version carrying a training checkpoint's parameters.

use anyhow::Context;
use codec::Encode;
use std::path::{Path, PathBuf};
use verity_worker::{
	chain::AccountId,
	kernel::{export, KernelDir},
	output::Output,
};

#[derive(clap::Args)]
pub struct ExportArgs {
	/// The base kernel directory (kernel.json, kernel.pt).
	#[arg(long)]
	kernel: PathBuf,
	/// A checkpoint of the base kernel (a training job's result, fetched by its CID).
	#[arg(long)]
	checkpoint: PathBuf,
	/// Where the new version's kernel directory goes (must not exist).
	#[arg(long)]
	out: PathBuf,
	/// The base kernel's owner (SS58), who registers the new version: the owner is part of both
	/// kernels' ids.
	#[arg(long)]
	owner: AccountId,
}

pub fn show(dir: &Path, owner: &AccountId) -> anyhow::Result<()> {
	let kernel = KernelDir::open(dir)?;
	kernel.manifest.check_archive(&kernel.archive)?;
	let record = &kernel.manifest.record;
	let encoded = format!("0x{}", hex::encode(record.encode()));
	Output::Kernel { id: record.id(&owner.0), archive: record.archive, encoded }.print()?;
	Ok(())
}

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
	verity_worker::torch_env::init_torch(1);
	// The archive is checked against the record where it is loaded (`Model::load`).
	let base = KernelDir::open(&a.kernel)?;
	let checkpoint = std::fs::read(&a.checkpoint)
		.with_context(|| format!("reading {}", a.checkpoint.display()))?;
	let base_id = base.manifest.record.id(&a.owner.0);
	let done = export::export(&base, base_id, &checkpoint, &a.out)?;
	let record = &done.manifest.record;
	Output::Exported {
		id: record.id(&a.owner.0),
		archive: record.archive,
		supersedes: base_id,
		checkpoint: done.checkpoint,
		encoded: format!("0x{}", hex::encode(record.encode())),
	}
	.print()?;
	Ok(())
}
