#!/usr/bin/env bash
# Writes the runtime's metadata (v16) to worker/metadata/verity.scale, which the worker's chain
# client is generated from. runtime/tests/metadata.rs fails when the committed file drifts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"
VERITY_UPDATE_METADATA=1 SKIP_WASM_BUILD=1 cargo test --locked -p verity-runtime --test metadata
log "wrote worker/metadata/verity.scale ($(stat -c %s worker/metadata/verity.scale) bytes)"
