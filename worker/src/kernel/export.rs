//! A kernel's new version from a training checkpoint: the base kernel's TorchScript archive with
//! the checkpoint's parameters in place of its own, saved as a new archive, and a record that
//! names that archive and `supersedes` the base. Everything else in the record (environment,
//! tensors, declared cost, rule) is the base's: the code did not change, only the weights.
//!
//! The export is checked before anything is written: the checkpoint must be one of the base
//! kernel's (its `kernel` metadata names the base archive, every parameter present with its
//! shape), and the new archive, loaded back, must hold exactly the checkpoint's parameters, bit
//! for bit. libtorch writes the same bytes for the same module and parameters, so anyone holding
//! the base archive and the checkpoint (a training job's result on chain) gets the same archive
//! CID: the new version's lineage can be checked by exporting again.

use super::{dir, KernelDir, Manifest, Model};
use crate::error::{bail, Context, Result};
use std::path::Path;
use tch::Device;
use verity_primitives::{cid::Cid, kernel::KernelId};

/// A new version written by [`export`].
pub struct Exported {
	/// Its manifest (the record names the new archive and supersedes the base).
	pub manifest: Manifest,
	/// The new archive's bytes.
	pub archive: Vec<u8>,
	/// The checkpoint the parameters came from.
	pub checkpoint: Cid,
}

/// Writes the new version of `base` carrying `checkpoint`'s parameters into `out`, a kernel
/// directory (`kernel.json`, `kernel.pt`, and the base's training and held-out data if it has
/// them); the record supersedes `base_id`, the base's id on chain (its owner is part of it).
/// `out` must not exist yet; on any error nothing is left there.
pub fn export(
	base: &KernelDir,
	base_id: KernelId,
	checkpoint: &[u8],
	out: &Path,
) -> Result<Exported> {
	if out.exists() {
		bail!("{} exists; the export goes into a new directory", out.display());
	}
	let mut model = Model::load(base.manifest.clone(), &base.archive, Device::Cpu)?;
	model.restore(checkpoint).context("the checkpoint does not fit the base kernel")?;
	let trained = model.flat_params()?;
	// Written beside `out` first, then moved into place once checked.
	let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
	std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
	let staging = tempfile::Builder::new()
		.prefix(".verity-export-")
		.tempdir_in(parent)
		.with_context(|| format!("a staging directory in {}", parent.display()))?;
	let archive_path = staging.path().join(dir::ARCHIVE);
	model.save_archive(&archive_path)?;
	let archive = std::fs::read(&archive_path)
		.with_context(|| format!("reading {}", archive_path.display()))?;
	let mut manifest = base.manifest.clone();
	manifest.record.archive = Cid::of_raw_bytes(&archive);
	manifest.record.supersedes = Some(base_id);
	// The new archive, loaded as any worker will load it, holds exactly the trained parameters.
	let reloaded = Model::load(manifest.clone(), &archive, Device::Cpu)?;
	let same =
		reloaded.flat_params()?.iter().map(|v| v.to_bits()).eq(trained.iter().map(|v| v.to_bits()));
	if !same {
		bail!("the exported archive does not hold the checkpoint's parameters");
	}
	let json = serde_json::to_vec_pretty(&manifest).context("encoding the manifest")?;
	std::fs::write(staging.path().join(dir::MANIFEST), json).context("writing the manifest")?;
	for data in [dir::TRAIN, dir::TEST] {
		let from = base.path.join(data);
		if from.exists() {
			std::fs::copy(&from, staging.path().join(data))
				.with_context(|| format!("copying {}", from.display()))?;
		}
	}
	let staged = staging.keep();
	std::fs::rename(&staged, out)
		.with_context(|| format!("moving the export to {}", out.display()))?;
	Ok(Exported { manifest, archive, checkpoint: Cid::of_raw_bytes(checkpoint) })
}
