//! The kernel's environment reaches libtorch: loading a kernel switches libtorch's deterministic
//! algorithms and float32 precision as its manifest says, read back from libtorch itself. Its own
//! test binary, because the switches are process-wide.

mod common;

use common::kernels;
use tch::{Device, Kind, Tensor};
use verity_worker::{
	kernel::{KernelDir, Manifest, Model},
	torch_env::{reproducibility, Reproducibility},
};

fn digits() -> (Manifest, Vec<u8>) {
	let dir = KernelDir::open(&kernels().join("digits")).unwrap();
	(dir.manifest, dir.archive)
}

/// Whether libtorch filled a fresh uninitialised tensor (it does so only with deterministic
/// algorithms on: NaN for floats).
fn empty_is_filled() -> bool {
	let t = Tensor::empty([1 << 16], (Kind::Float, Device::Cpu));
	t.isnan().all().int64_value(&[]) == 1
}

#[test]
fn glibc_accepts_the_worker_heap_policy() {
	// The thresholds verity-worker sets at start are within what glibc allows (an mmap threshold
	// above 32 MiB, say, would be refused).
	assert!(verity_worker::torch_env::malloc_keep_freed());
}

#[test]
fn loading_a_kernel_applies_its_determinism_and_precision_flags_to_libtorch() {
	let (manifest, archive) = digits();
	let env = &manifest.record.environment;
	assert!(env.deterministic_algorithms && env.tf32_disabled);

	// A kernel that allows nondeterminism and TF32 first: libtorch's switches follow it.
	let mut loose = manifest.clone();
	loose.record.environment.deterministic_algorithms = false;
	loose.record.environment.tf32_disabled = false;
	Model::load(loose, &archive, Device::Cpu).unwrap();
	assert_eq!(
		reproducibility(),
		Reproducibility { deterministic: false, reduced_precision: true, graph_optimized: true }
	);
	assert!(!empty_is_filled());

	// The example kernel asks for deterministic algorithms and IEEE float32; running it turns
	// TorchScript's graph optimisations off on the running thread.
	let model = Model::load(manifest, &archive, Device::Cpu).unwrap();
	assert!(empty_is_filled(), "deterministic libtorch fills uninitialised memory");
	let _ = model.forward(&Tensor::zeros([2, 64], (Kind::Float, Device::Cpu))).unwrap();
	assert_eq!(
		reproducibility(),
		Reproducibility { deterministic: true, reduced_precision: false, graph_optimized: false }
	);
}
