//! `verity-worker export` with real libtorch: a kernel's new version carries a checkpoint's
//! parameters in its own archive, runs as the base kernel with that checkpoint does, supersedes
//! the base, and is the same archive (the same CID) whoever exports it; a checkpoint of another
//! kernel or an occupied destination is refused and nothing is written.

mod common;

use common::*;
use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
};
use tch::Device;
use verity_worker::kernel::{KernelDir, Model};

/// A checkpoint of `kernel` whose parameters differ from the archive's (scaled and shifted, as
/// training would move them), written to `dir`.
fn changed_checkpoint(kernel: &str, dir: &Path) -> PathBuf {
	let base = KernelDir::open(&kernels().join(kernel)).unwrap();
	let mut model = Model::load(base.manifest, &base.archive, Device::Cpu).unwrap();
	let moved: Vec<f32> = model.flat_params().unwrap().iter().map(|v| v * 1.5 + 0.01).collect();
	model.set_flat_params(&moved).unwrap();
	let path = dir.join(format!("{kernel}.safetensors"));
	std::fs::write(&path, model.checkpoint(&BTreeMap::new(), Vec::new()).unwrap()).unwrap();
	path
}

fn json(out: &str) -> serde_json::Value {
	serde_json::from_str(out.trim().lines().last().unwrap()).unwrap()
}

/// The dev account Alice, the base kernel's owner in these exports.
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

fn alice() -> [u8; 32] {
	ALICE.parse::<verity_worker::chain::AccountId>().unwrap().0
}

fn export(checkpoint: &Path, out: &Path) -> (bool, String, String) {
	let base = kernels().join("digits");
	run(&[
		"export",
		"--kernel",
		base.to_str().unwrap(),
		"--checkpoint",
		checkpoint.to_str().unwrap(),
		"--out",
		out.to_str().unwrap(),
		"--owner",
		ALICE,
	])
}

/// `infer` on the digits test set: the output's digest.
fn infer(kernel: &Path, checkpoint: Option<&Path>, store: &Path) -> String {
	let input = kernels().join("digits/test.safetensors");
	let mut args = vec!["infer", "--kernel", kernel.to_str().unwrap()];
	args.extend(["--input", input.to_str().unwrap(), "--store", store.to_str().unwrap()]);
	if let Some(c) = checkpoint {
		args.extend(["--checkpoint", c.to_str().unwrap()]);
	}
	let (ok, out, err) = run(&args);
	assert!(ok, "{err}");
	json(&out)["digest"].as_str().unwrap().to_string()
}

#[test]
fn the_new_version_runs_as_the_base_with_the_checkpoint_and_supersedes_it() {
	let dir = tempfile::tempdir().unwrap();
	let checkpoint = changed_checkpoint("digits", dir.path());
	let out = dir.path().join("trained");
	let (ok, stdout, err) = export(&checkpoint, &out);
	assert!(ok, "{err}");
	let line = json(&stdout);
	assert_eq!(line["event"], "exported");

	let base = KernelDir::open(&kernels().join("digits")).unwrap();
	let new = KernelDir::open(&out).unwrap();
	// The owner is part of both ids (security review finding 16).
	let base_id = base.manifest.record.id(&alice());
	assert_eq!(line["supersedes"], format!("{base_id:?}").as_str());
	assert_eq!(new.manifest.record.supersedes, Some(base_id));
	assert_eq!(line["id"], format!("{:?}", new.manifest.record.id(&alice())).as_str());
	assert_eq!(new.manifest.check_archive(&new.archive).unwrap().to_text(), line["archive"]);
	assert_ne!(new.manifest.record.archive, base.manifest.record.archive);
	// Only the archive and the lineage differ from the base record.
	let mut same = new.manifest.record.clone();
	same.archive = base.manifest.record.archive;
	same.supersedes = base.manifest.record.supersedes;
	assert_eq!(same, base.manifest.record);
	assert!(out.join("test.safetensors").exists() && out.join("train.safetensors").exists());
	assert!(!dir
		.path()
		.read_dir()
		.unwrap()
		.any(|e| { e.unwrap().file_name().to_string_lossy().starts_with(".verity-export-") }));

	// The new archive alone computes what the base archive computes with the checkpoint.
	let store = dir.path().join("store");
	let with_checkpoint = infer(&kernels().join("digits"), Some(&checkpoint), &store);
	assert_eq!(infer(&out, None, &store), with_checkpoint);
	assert_ne!(infer(&kernels().join("digits"), None, &store), with_checkpoint);

	// Exporting the same checkpoint again gives the same archive, byte for byte.
	let again = dir.path().join("again");
	let (ok, stdout, err) = export(&checkpoint, &again);
	assert!(ok, "{err}");
	assert_eq!(json(&stdout)["archive"], line["archive"]);
	assert_eq!(std::fs::read(again.join("kernel.pt")).unwrap(), new.archive);
}

#[test]
fn a_foreign_checkpoint_or_an_occupied_destination_is_refused_and_nothing_is_written() {
	let dir = tempfile::tempdir().unwrap();
	// A checkpoint of the char transformer does not fit the digits MLP.
	let foreign = changed_checkpoint("charlm", dir.path());
	let out = dir.path().join("trained");
	let (ok, stdout, err) = export(&foreign, &out);
	assert!(!ok && stdout.is_empty());
	assert!(err.contains("does not fit the base kernel"), "{err}");
	assert!(!out.exists());
	// Bytes that are not a checkpoint.
	let junk = dir.path().join("junk");
	std::fs::write(&junk, b"not safetensors").unwrap();
	let (ok, _, err) = export(&junk, &out);
	assert!(!ok && !out.exists(), "{err}");
	// A destination that exists is left alone.
	std::fs::create_dir(&out).unwrap();
	std::fs::write(out.join("kernel.json"), b"mine").unwrap();
	let own = changed_checkpoint("digits", dir.path());
	let (ok, _, err) = export(&own, &out);
	assert!(!ok && err.contains("exists"), "{err}");
	assert_eq!(std::fs::read(out.join("kernel.json")).unwrap(), b"mine");
	// Nothing staged is left behind.
	assert_eq!(files_in(dir.path()), 4, "trained/, two checkpoints and junk only");
}
