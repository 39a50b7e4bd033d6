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
cargo test --locked --workspace "${exclude_args[@]}" --no-run
# The two multi-validator node tests (double signing slashed; four validators finalising with one
# down) spend their eight minutes waiting for slots and finality, not computing: they run beside
# the other tests, one after the other, with their output shown when they end.
multi=(a_double_signing_validator_is_reported_slashed_and_left_out
	four_validators_finalize_tolerate_one_down_and_catch_up)
multi_log="$(mktemp -t verity-multi-validator.XXXXXX.log)"
log "multi-validator node tests in the background (output: $multi_log)"
# `--workspace` as above (not `-p verity-node`), so features unify the same way and the binaries
# just built are the ones run.
cargo test --locked --workspace "${exclude_args[@]}" --test equivocation --test local_network \
	-- --test-threads=1 >"$multi_log" 2>&1 &
multi_pid=$!
trap 'kill "$multi_pid" 2>/dev/null || true' EXIT
skip_args=()
for t in "${multi[@]}"; do skip_args+=(--skip "$t"); done
# Node tests start real nodes; one test at a time keeps the 2-core machine responsive.
cargo test --locked --workspace "${exclude_args[@]}" -- --test-threads=1 "${skip_args[@]}"

log "pallet tests on the mock runtimes, with every benchmark run once as a test"
# One build of the pallets' tests, with `runtime-benchmarks` (which their unit tests pass with too).
SKIP_WASM_BUILD=1 cargo test --locked "${pallet_args[@]}" --features runtime-benchmarks

log "waiting for the multi-validator node tests"
multi_rc=0
wait "$multi_pid" || multi_rc=$?
cat "$multi_log"
[ "$multi_rc" = 0 ] || { log "multi-validator node tests failed"; exit 1; }

log "end-to-end tests with @polkadot/api, and the main job (scripts/demo.sh, VERITY_DEMO_EXIT=1) so it cannot rot"
VERITY_E2E_DEMO=1 "$VERITY_ROOT/scripts/e2e.sh"

log "all tests passed"
