#!/usr/bin/env bash
# Runs every test: formatting, clippy (inside the builds), Rust tests (pallets with their
# benchmarks, runtime, node with the real binary, the 4-validator network, worker), the
# @polkadot/api end-to-end tests against dev nodes, and the main job (demo.sh) beside them.
# Installs what it needs first (scripts/setup.sh). Usage: scripts/test.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"

"$VERITY_ROOT/scripts/setup.sh"

log "cargo fmt --check"
cargo fmt --all -- --check

# Clippy: every cargo build below runs it on the workspace's crates, warnings denied (env.sh sets
# clippy-driver as the workspace wrapper), so no separate check of the dependencies is needed.
[ "${VERITY_CLIPPY:-1}" = 1 ] || { log "VERITY_CLIPPY=0: the test command needs clippy"; exit 1; }

"$VERITY_ROOT/scripts/build.sh"

pallets=(pallets/*/)
pallet_args=()
exclude_args=()
for p in "${pallets[@]}"; do
	name="pallet-$(basename "$p")"
	pallet_args+=(-p "$name")
	exclude_args+=(--exclude "$name")
done

log "cargo test (workspace; the pallets below, with their benchmarks)"
# Node tests start real nodes; one test binary at a time keeps the 2-core machine responsive.
cargo test --locked --workspace "${exclude_args[@]}" -- --test-threads=1

log "pallet tests on the mock runtimes, with every benchmark run once as a test"
# One build of the pallets' tests, with `runtime-benchmarks` (which their unit tests pass with too).
SKIP_WASM_BUILD=1 cargo test --locked "${pallet_args[@]}" --features runtime-benchmarks

log "end-to-end tests with @polkadot/api, and the main job (scripts/demo.sh, VERITY_DEMO_EXIT=1) so it cannot rot"
VERITY_E2E_DEMO=1 "$VERITY_ROOT/scripts/e2e.sh"

log "all tests passed"
