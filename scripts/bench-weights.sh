#!/usr/bin/env bash
# Generates a pallet's weights.rs with the node's benchmark CLI, on the real runtime in wasm.
#   scripts/bench-weights.sh pallet_fee_settlement [extra benchmark-CLI flags]
#   scripts/bench-weights.sh all [flags]   every Verity pallet, then the anchor
#                                          (pallet_balances::transfer_keep_alive, JSON only)
# Builds verity-node with --features runtime-benchmarks in its own target dir (the feature
# changes most of the sdk, so sharing one dir would make normal and benchmark builds evict each
# other's runtime); the first build takes ~40 min on 2 cores. Also writes the raw results as JSON
# (target dir, bench-results/) for docs/benchmarks.md and scripts/bench-summary.py.
#   VERITY_BENCH_PROFILE  cargo profile of the node (default dev; `production` for weights a
#                         launched chain should use: the runtime is always release wasm, but the
#                         host functions it calls (storage, trie, crypto) run in the node and are
#                         unoptimised in dev, which inflates every weight; see docs/benchmarks.md)
#   VERITY_BENCH_STEPS, VERITY_BENCH_REPEAT  (defaults 50 and 20)
#   VERITY_BENCH_BUILT=1  run the node already built (a pallet's new weights.rs would make cargo
#                         rebuild the runtime and relink the node first)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"

pallet="${1:?usage: scripts/bench-weights.sh <pallet_name>|all [flags]}"
shift
if [ "$pallet" = all ]; then
	# One build for all: each pallet's new weights.rs would otherwise make the next run rebuild
	# the runtime and relink the node (10 minutes with the production profile's fat LTO).
	"$0" pallet_balances "$@"
	for p in pallet_aivm_registry pallet_fee_settlement pallet_marketplace pallet_proof_of_compute \
		pallet_staking_governance; do
		VERITY_BENCH_BUILT=1 "$0" "$p" "$@"
	done
	exit 0
fi
dir="pallets/$(echo "${pallet#pallet_}" | tr _ -)"
# The anchor: polkadot-sdk's pallet, measured beside ours to compare with its own weights.
anchor=0
[ "$pallet" = pallet_balances ] && anchor=1
[ "$anchor" = 1 ] || [ -d "$dir" ] || { log "no crate for $pallet at $dir"; exit 1; }

export CARGO_TARGET_DIR="${VERITY_BENCH_TARGET_DIR:-$HOME/.cache/verity/target-bench}"
# frame-benchmarking-cli embeds a test runtime used only by `benchmark storage`; its wasm build
# cannot find itself in our workspace's metadata (it is an optional dependency), so skip it.
export SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1
profile="${VERITY_BENCH_PROFILE:-dev}"
profile_dir="$profile"
[ "$profile" = dev ] && profile_dir=debug
if [ "${VERITY_BENCH_BUILT:-0}" = 1 ]; then
	log "using the verity-node already built (VERITY_BENCH_BUILT=1)"
else
	log "building verity-node --features runtime-benchmarks --profile $profile (target dir: $CARGO_TARGET_DIR)"
	cargo build --locked -p verity-node --features runtime-benchmarks --profile "$profile"
fi

results="$CARGO_TARGET_DIR/bench-results"
mkdir -p "$results"
log "benchmarking $pallet"
if [ "$anchor" = 1 ]; then
	extrinsic=transfer_keep_alive
	output=()
else
	extrinsic='*'
	output=(--template scripts/frame-weight-template.hbs --output "$dir/src/weights.rs")
fi
"$CARGO_TARGET_DIR/$profile_dir/verity-node" benchmark pallet \
	--chain dev \
	--pallet "$pallet" \
	--extrinsic "$extrinsic" \
	--steps "${VERITY_BENCH_STEPS:-50}" \
	--repeat "${VERITY_BENCH_REPEAT:-20}" \
	--wasm-execution compiled \
	--heap-pages 4096 \
	"${output[@]}" \
	--json-file "$results/$pallet.json" \
	"$@"
log "wrote ${output[*]:+$dir/src/weights.rs and }$results/$pallet.json"
