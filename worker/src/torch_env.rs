//! The process and libtorch set-up every kernel runs under: thread pools, the kernel
//! environment's reproducibility switches (through the C++ shim in [`crate::torch_ffi`]), and the
//! process-wide settings made once at start ([`prepare_process`]).

use crate::error::Result;
use verity_primitives::kernel::Environment;

/// Sets libtorch's thread pools: `threads` intra-op threads (part of a kernel's reproducible
/// setting), one inter-op thread. The rest of the reproducibility switches come with the kernel
/// ([`reproducible`], applied by [`crate::kernel::Model::load`]).
pub fn init_torch(threads: usize) {
	tch::set_num_threads(threads.max(1) as i32);
	tch::set_num_interop_threads(1);
}

/// libtorch's process-wide reproducibility switches, as read back from libtorch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reproducibility {
	/// Deterministic algorithms only (`torch.are_deterministic_algorithms_enabled()`).
	pub deterministic: bool,
	/// Some backend may compute float32 matmuls, convolutions or RNNs in TF32 or BF16.
	pub reduced_precision: bool,
	/// TorchScript's graph-executor optimisations are on for the calling thread (libtorch keeps
	/// this per thread; [`crate::kernel::Model::forward`] turns them off on the thread that runs
	/// the kernel).
	pub graph_optimized: bool,
}

/// Applies a kernel environment's switches to libtorch, process-wide: deterministic algorithms
/// and deterministic cuDNN when `env.deterministic_algorithms`, and IEEE float32 on every backend
/// when `env.tf32_disabled` (otherwise CUDA matmuls, convolutions and RNNs may use TF32). On
/// CUDA, cuBLAS needs `CUBLAS_WORKSPACE_CONFIG=:4096:8` in the environment before its first use
/// for deterministic results; [`prepare_process`] sets it.
pub fn reproducible(env: &Environment) -> Result<()> {
	crate::torch_ffi::set_reproducible(env.deterministic_algorithms, !env.tf32_disabled)
		.map_err(|e| crate::error::invalid!("libtorch refused the reproducibility settings: {e}"))
}

/// What libtorch's switches are now.
pub fn reproducibility() -> Reproducibility {
	let (deterministic, reduced_precision, graph_optimized) = crate::torch_ffi::reproducibility();
	Reproducibility { deterministic, reduced_precision, graph_optimized }
}

/// What [`prepare_process`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prepared {
	/// glibc took the heap settings (or the operator tuned malloc and nothing was changed).
	pub heap_policy: bool,
}

/// Process-wide settings, made once at start before any thread exists (they are read from the
/// environment, which is not safe to change once threads run):
///
/// - cuBLAS is deterministic only with a fixed workspace configuration, read when its first
///   handle is made: `CUBLAS_WORKSPACE_CONFIG=:4096:8` unless the operator chose one;
/// - freed tensors stay in glibc's heap for the next step (mmap threshold 32 MiB, trim beyond
///   1 GiB) unless the operator tuned malloc: mapping and faulting activations in again on every
///   step cost 20–25 % of a char-transformer step on CPU (docs/benchmarks.md).
pub fn prepare_process() -> Prepared {
	if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
		std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
	}
	let tuned = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"]
		.iter()
		.any(|v| std::env::var_os(v).is_some());
	Prepared { heap_policy: tuned || crate::torch_ffi::malloc_keep_freed() }
}

/// glibc's heap policy of [`prepare_process`] alone (`false` if glibc refused it).
pub use crate::torch_ffi::malloc_keep_freed;
