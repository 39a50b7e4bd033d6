//! The C++ shim `csrc/reproducible.cpp`: libtorch's process-wide reproducibility switches, which
//! `tch` 0.24 does not bind, and glibc's heap policy. The only unsafe code of the worker;
//! [`crate::kernel::reproducible`] is its safe face.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr};

extern "C" {
	fn verity_torch_reproducible(
		deterministic: c_int,
		tf32: c_int,
		err: *mut c_char,
		err_len: usize,
	) -> c_int;
	fn verity_torch_deterministic() -> c_int;
	fn verity_torch_reduced_precision() -> c_int;
	fn verity_torch_graph_optimized() -> c_int;
	fn verity_malloc_keep_freed() -> c_int;
}

/// Makes glibc keep freed memory for reuse (tensors up to 32 MiB from the heap, trimmed beyond
/// 1 GiB free) instead of mapping and unmapping it on every training step. Call before threads
/// start. `false` when glibc refused a setting.
pub fn malloc_keep_freed() -> bool {
	// SAFETY: `mallopt` with valid parameters; called before other threads allocate.
	unsafe { verity_malloc_keep_freed() == 1 }
}

/// Turns deterministic algorithms (and deterministic cuDNN, no autotuning) on or off and sets the
/// float32 precision of every backend to IEEE, or to TF32 for CUDA ops when `tf32`. libtorch's
/// message on failure.
pub(crate) fn set_reproducible(deterministic: bool, tf32: bool) -> Result<(), String> {
	let mut err = [0 as c_char; 512];
	// SAFETY: the shim writes at most `err.len()` bytes, NUL-terminated, into `err` and touches
	// nothing else of ours; libtorch's global context is internally synchronised for these setters.
	let rc = unsafe {
		verity_torch_reproducible(
			c_int::from(deterministic),
			c_int::from(tf32),
			err.as_mut_ptr(),
			err.len(),
		)
	};
	if rc == 0 {
		return Ok(());
	}
	// SAFETY: `err` is NUL-terminated by the shim (snprintf) and lives until the end of this scope.
	Err(unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned())
}

/// `(deterministic algorithms on, any backend allowed reduced float32 precision, TorchScript
/// graph-executor optimisations on for this thread)`, read back from libtorch.
pub(crate) fn reproducibility() -> (bool, bool, bool) {
	// SAFETY: plain getters of libtorch's global (and thread-local) settings, no arguments.
	unsafe {
		(
			verity_torch_deterministic() != 0,
			verity_torch_reduced_precision() != 0,
			verity_torch_graph_optimized() != 0,
		)
	}
}
