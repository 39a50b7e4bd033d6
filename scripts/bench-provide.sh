#!/usr/bin/env bash
# Timing and load of the provider daemons (tests/e2e/bench-provide.mjs) on a dev node of its own:
# one job step by step (blocks from post to payment, next to the first block each step could
# happen in), then JOBS jobs at once over PROVIDERS daemons (all paid? deadlines missed? CPU and
# memory per daemon). Usage: scripts/bench-provide.sh [PROVIDERS=6] [JOBS=20]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
e2e_bench bench-provide.mjs "${1:-6}" "${2:-20}"
