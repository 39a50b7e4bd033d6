#!/usr/bin/env bash
# Runs every test: formatting, clippy, Rust tests (runtime, node with the real binary, the 4-validator
# network), the @polkadot/api end-to-end tests against a dev node, and the main job (demo.sh).
# Installs what it needs first (scripts/setup.sh). Usage: scripts/test.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"

"$VERITY_ROOT/scripts/setup.sh"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings
pallets=(pallets/*/)
pallet_args=()
for p in "${pallets[@]}"; do pallet_args+=(-p "$(basename "$p" | sed 's/^/pallet-/')"); done
SKIP_WASM_BUILD=1 cargo clippy --locked "${pallet_args[@]}" --all-targets --features runtime-benchmarks -- -D warnings

"$VERITY_ROOT/scripts/build.sh"

log "cargo test (workspace)"
# Node tests start real nodes; one test binary at a time keeps the 2-core machine responsive.
cargo test --locked --workspace -- --test-threads=1

log "pallet benchmarks, each run once as a test on the mock runtime"
SKIP_WASM_BUILD=1 cargo test --locked "${pallet_args[@]}" --features runtime-benchmarks -- benchmarking

log "end-to-end tests with @polkadot/api"
"$VERITY_ROOT/scripts/e2e.sh"

log "the main job (scripts/demo.sh, VERITY_DEMO_EXIT=1), so it cannot rot"
VERITY_DEMO_EXIT=1 VERITY_RPC_PORT="$(free_port)" VERITY_PROMETHEUS_PORT="$(free_port)" \
	"$VERITY_ROOT/scripts/demo.sh"

log "all tests passed"
