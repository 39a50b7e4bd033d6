//! Finds the libtorch that `torch-sys` links (PyTorch's, with `LIBTORCH_USE_PYTORCH=1`, or
//! `LIBTORCH`) and puts its `lib/` on the binaries' run path, so `verity-worker` and its tests
//! start without `LD_LIBRARY_PATH`. Where libtorch has CUDA, `libtorch_cuda` is linked even though
//! no symbol of it is referenced directly: the linker's `--as-needed` would otherwise drop it and
//! libtorch would find no CUDA backend at run time.
use std::{env, path::PathBuf, process::Command};

fn libtorch_lib_dir() -> Option<PathBuf> {
	if let Ok(dir) = env::var("LIBTORCH") {
		return Some(PathBuf::from(dir).join("lib"));
	}
	let python = env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
	let out = Command::new(python)
		.args([
			"-c",
			"import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
		])
		.output()
		.ok()?;
	if !out.status.success() {
		return None;
	}
	Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()))
}

fn main() {
	println!("cargo:rerun-if-env-changed=LIBTORCH");
	println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
	println!("cargo:rerun-if-changed=build.rs");
	let Some(lib) = libtorch_lib_dir() else {
		println!("cargo:warning=libtorch not found (install torch==2.11.0 with scripts/setup.sh)");
		return;
	};
	println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
	if lib.join("libtorch_cuda.so").exists() {
		println!("cargo:rustc-link-search=native={}", lib.display());
		println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
		println!("cargo:rustc-link-arg=-ltorch_cuda");
		println!("cargo:rustc-link-arg=-Wl,--as-needed");
	}
}
