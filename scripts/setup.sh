#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test Verity. Idempotent: a second run only checks.
# Needs: Rust (rustup), gcc, Python 3, Node 20, git. Installs: Debian packages (clang, lld, protoc),
# rustup targets for the wasm runtime, PyTorch 2.11.0 for the worker, and the npm packages of the
# end-to-end tests and the dashboard.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian packages: clang + lld (fast linker, see .cargo/config.toml), libclang (bindgen),
# protobuf-compiler (libp2p's protobuf code), chromium (the dashboard's browser tests, headless).
need=()
for pkg in clang libclang-dev lld protobuf-compiler chromium; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing Debian packages: ${need[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Rust: the wasm targets the runtime builder uses, and rust-src for wasm32v1-none's std build.
installed_targets="$(rustup target list --installed)"
for target in wasm32-unknown-unknown wasm32v1-none; do
	grep -qx "$target" <<<"$installed_targets" || { log "adding rustup target $target"; rustup target add "$target"; }
done
rustup component list --installed | grep -q '^rust-src' || { log "adding rust-src"; rustup component add rust-src; }
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

# Python packages of the worker: PyTorch 2.11.0 (its libtorch is what `tch` 0.24 links, with
# LIBTORCH_USE_PYTORCH=1 from env.sh), scikit-learn (its bundled digits data) and safetensors
# (scripts/kernels.py exports kernels and datasets with them; the benchmarks' PyTorch anchors).
if ! python3 -c 'import sys, torch, sklearn, safetensors; sys.exit(torch.__version__.split("+")[0] != "2.11.0")' 2>/dev/null; then
	log "installing torch==2.11.0, scikit-learn, safetensors (pip; torch brings ~4 GB of CUDA wheels)"
	python3 -m pip install --quiet --disable-pip-version-check torch==2.11.0 scikit-learn==1.9.1 safetensors==0.8.0
fi

# npm packages of the end-to-end tests (@polkadot/api 16.5.6, openai 6.49.0) and of the dashboard
# (@polkadot/api, esbuild, uPlot, puppeteer-core), pinned by their package-lock.json files.
npm_install "$VERITY_ROOT/tests/e2e"
npm_install "$VERITY_ROOT/dashboard"
log "setup complete"
