#!/usr/bin/env bash
# Builds verity-node (and with it the wasm runtime) into the shared target dir.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"
log "building verity-node (target dir: $CARGO_TARGET_DIR)"
# The whole workspace, so the runtime is built with the same features `cargo test --workspace`
# uses and nothing is compiled twice.
cargo build --locked --workspace "$@"
