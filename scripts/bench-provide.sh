#!/usr/bin/env bash
# Timing and load of the provider daemons (tests/e2e/bench-provide.mjs) on a dev node of its own:
# one job step by step (blocks from post to payment, next to the first block each step could
# happen in), then JOBS jobs at once over PROVIDERS daemons (all paid? deadlines missed? CPU and
# memory per daemon). Usage: scripts/bench-provide.sh [PROVIDERS=6] [JOBS=20]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ -x "$VERITY_NODE" ] && [ -x "$VERITY_WORKER" ] || "$VERITY_ROOT/scripts/build.sh"
kernels="$(mktemp -d -t verity-bench-kernels.XXXXXX)"
trap 'rm -rf "$kernels"' EXIT
python3 "$VERITY_ROOT/scripts/kernels.py" "$kernels" >/dev/null
cd "$VERITY_ROOT/tests/e2e"
VERITY_KERNELS="$kernels" node bench-provide.mjs "${1:-6}" "${2:-20}"
