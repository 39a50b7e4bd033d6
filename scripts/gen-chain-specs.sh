#!/usr/bin/env bash
# Regenerates chain-spec/*.json from the runtime presets. node/tests/chain_specs.rs fails when the
# committed files drift from the presets.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$VERITY_ROOT/scripts/build.sh"
out="$VERITY_ROOT/chain-spec"
mkdir -p "$out"
"$VERITY_NODE" export-chain-spec --chain dev >"$out/dev.json"
"$VERITY_NODE" export-chain-spec --chain local >"$out/local.json"
"$VERITY_NODE" export-chain-spec --chain testnet >"$out/testnet.json"
"$VERITY_NODE" export-chain-spec --chain testnet --raw >"$out/testnet-raw.json"
log "wrote $(ls "$out"/*.json | wc -l) chain specs to chain-spec/"
