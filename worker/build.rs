//! Finds the libtorch that `torch-sys` links (PyTorch's, with `LIBTORCH_USE_PYTORCH=1`, or
//! `LIBTORCH`) and puts its `lib/` on the binaries' run path, so `verity-worker` and its tests
//! start without `LD_LIBRARY_PATH`. Where libtorch has CUDA, `libtorch_cuda` is linked even though
//! no symbol of it is referenced directly: the linker's `--as-needed` would otherwise drop it and
//! libtorch would find no CUDA backend at run time. It also compiles the worker's small C++ shim
//! (`csrc/reproducible.cpp`) against that libtorch's headers.
use std::{
	env,
	path::{Path, PathBuf},
	process::Command,
};

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

/// Whether PyTorch was built with the C++11 string ABI (`torch-sys` compiles its own C++ the same way).
fn cxx11_abi() -> &'static str {
	let python = env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
	let out = Command::new(python)
		.args(["-c", "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"])
		.output();
	match out {
		Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "0" => "0",
		_ => "1",
	}
}

/// Compiles `csrc/reproducible.cpp` (libtorch switches `tch` does not bind) against the headers of
/// the libtorch in `lib`'s parent.
fn compile_shim(lib: &Path) {
	println!("cargo:rerun-if-changed=csrc/reproducible.cpp");
	let include = lib.parent().map(|p| p.join("include")).unwrap_or_default();
	cc::Build::new()
		.cpp(true)
		.pic(true)
		.std("c++17")
		// A system include: libtorch's headers warn under -Wextra; our own file still does not.
		.flag("-isystem")
		.flag(include.display().to_string())
		.define("_GLIBCXX_USE_CXX11_ABI", cxx11_abi())
		.define("GLOG_USE_GLOG_EXPORT", None)
		.file("csrc/reproducible.cpp")
		.compile("verity_reproducible");
}

fn main() {
	println!("cargo:rerun-if-env-changed=LIBTORCH");
	println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
	println!("cargo:rerun-if-changed=build.rs");
	// `#[subxt::subxt]` in src/chain reads the runtime's metadata at compile time, which cargo
	// does not track: a build script that re-runs when the file changes makes cargo rebuild the
	// crate, so the generated calls follow `scripts/gen-metadata.sh`.
	println!("cargo:rerun-if-changed=metadata/verity.scale");
	let Some(lib) = libtorch_lib_dir() else {
		println!("cargo:warning=libtorch not found (install torch==2.11.0 with scripts/setup.sh)");
		return;
	};
	println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
	compile_shim(&lib);
	if lib.join("libtorch_cuda.so").exists() {
		println!("cargo:rustc-link-search=native={}", lib.display());
		println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
		println!("cargo:rustc-link-arg=-ltorch_cuda");
		println!("cargo:rustc-link-arg=-Wl,--as-needed");
	}
}
