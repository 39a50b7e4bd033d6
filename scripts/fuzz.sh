#!/usr/bin/env bash
# The runtime call fuzzer (runtime/tests/fuzz.rs) for as long as asked: random calls of every
# Verity pallet from the dev chain's accounts, applied block by block to the real runtime, with
# try_state, total issuance and block weight checked after every block. One seed per run of 40
# blocks, from FIRST_SEED up; a failure names its seed and block and how to replay it.
# `scripts/test.sh` runs it bounded (3 seeds) as part of `cargo test --workspace`.
# Usage: scripts/fuzz.sh [SECONDS=3600] [FIRST_SEED=0]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"
VERITY_FUZZ_SECONDS="${1:-3600}" VERITY_FUZZ_SEED="${2:-0}" \
	cargo test --locked -p verity-runtime --test fuzz -- --nocapture
