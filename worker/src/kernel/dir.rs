//! A kernel directory as `scripts/kernels.py` writes it: the manifest, the TorchScript archive,
//! and (for kernels that are trained) the training and held-out data.

use super::{Dataset, Manifest};
use crate::error::{Context, Result};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "kernel.json";
/// The TorchScript archive's file name (the record's `archive` CID names its bytes).
pub const ARCHIVE: &str = "kernel.pt";
/// The training data's file name.
pub const TRAIN: &str = "train.safetensors";
/// The held-out data's file name.
pub const TEST: &str = "test.safetensors";

/// An opened kernel directory: its checked manifest and archive bytes.
pub struct KernelDir {
	/// Where it is.
	pub path: PathBuf,
	/// The manifest, checked ([`Manifest::from_json`]).
	pub manifest: Manifest,
	/// The archive's bytes.
	pub archive: Vec<u8>,
}

impl KernelDir {
	/// Reads and checks the manifest and reads the archive; nothing is written anywhere.
	pub fn open(path: &Path) -> Result<Self> {
		let manifest_path = path.join(MANIFEST);
		let bytes = std::fs::read(&manifest_path)
			.with_context(|| format!("reading {}", manifest_path.display()))?;
		let manifest = Manifest::from_json(&bytes)
			.map_err(|e| crate::error::invalid!("{}: {e}", manifest_path.display()))?;
		let archive_path = path.join(ARCHIVE);
		let archive = std::fs::read(&archive_path)
			.with_context(|| format!("reading {}", archive_path.display()))?;
		Ok(KernelDir { path: path.to_path_buf(), manifest, archive })
	}

	/// The training data.
	pub fn train(&self) -> Result<Dataset> {
		Dataset::read(&self.path.join(TRAIN))
	}

	/// The held-out data.
	pub fn test(&self) -> Result<Dataset> {
		Dataset::read(&self.path.join(TEST))
	}
}
