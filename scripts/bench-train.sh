#!/usr/bin/env bash
# Training on chain beside the same training off chain, in one run (tests/e2e/bench-train.mjs):
# a dev node of its own, six provider daemons (three train, three audit), one DiLoCo job of the
# digits kernel from post to payment, then the same job with three `verity-worker train`
# processes; prints per-epoch wall time on and off chain, their ratio, and whether every epoch's
# checkpoint CID is the same. Usage: scripts/bench-train.sh [EPOCHS=5] [WINDOW=3]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
e2e_bench bench-train.mjs "${1:-5}" "${2:-3}"
