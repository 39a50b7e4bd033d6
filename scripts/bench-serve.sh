#!/usr/bin/env bash
# Load on the paid inference server (tests/e2e/bench-serve.mjs) on a dev node of its own:
# requests/s and p50/p99 latency for 1, 8 and 64 concurrent clients (1 and 64 rows a request),
# beside the kernel's raw batched throughput and the voucher check's cost (bench-serve-raw) in
# the same run, then a soak with the server's memory sampled. For figures worth recording, build
# the release worker and pass it: VERITY_BENCH_WORKER=$CARGO_TARGET_DIR/release/verity-worker.
# Usage: scripts/bench-serve.sh [SECONDS_PER_PHASE=10] [SOAK_SECONDS=300]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export VERITY_WORKER="${VERITY_BENCH_WORKER:-$VERITY_WORKER}"
e2e_bench bench-serve.mjs "${1:-10}" "${2:-300}"
