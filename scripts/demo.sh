#!/usr/bin/env bash
# The main job, end to end (today: the chain, payment channels, the market, group training by
# workers — not yet connected to the chain — and governance).
# Installs what is missing, builds the node, starts a dev chain, waits until it produces and
# finalises blocks, serves 10,000 pay-per-request calls through a payment channel settled in one
# redeem, registers the digits kernel's record from its manifest, has an inference job allocated to
# the cheapest of two offers, run by each committee member with verity-worker (libtorch) and
# verified by commit-reveal and paid, trains the registered kernel with three workers, changes a
# parameter by stake-weighted vote, prints a summary with how to reach the chain from
# polkadot.js, and keeps the chain running until Ctrl-C.
#   VERITY_DEMO_EXIT=1  stop after the summary (used by CI to check the command works)
#   VERITY_RPC_PORT     RPC port (default 9944)
#   VERITY_PROMETHEUS_PORT  the node's Prometheus port (default 9615)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

"$VERITY_ROOT/scripts/setup.sh"
"$VERITY_ROOT/scripts/build.sh"

rpc_port="${VERITY_RPC_PORT:-9944}"
prometheus_port="${VERITY_PROMETHEUS_PORT:-9615}"
base="$(mktemp -d -t verity-demo.XXXXXX)"
logfile="$base/node.log"
log "starting verity-node --dev (rpc ws://127.0.0.1:$rpc_port, log $logfile)"
"$VERITY_NODE" --dev --base-path "$base" --rpc-port "$rpc_port" --rpc-cors all \
	--prometheus-port "$prometheus_port" --no-telemetry >"$logfile" 2>&1 &
node_pid=$!
cleanup() {
	kill -INT "$node_pid" 2>/dev/null || true
	wait "$node_pid" 2>/dev/null || true
	rm -rf "$base"
}
trap cleanup EXIT INT TERM

log "waiting for the first finalised block"
finalized=0
for _ in $(seq 1 240); do
	kill -0 "$node_pid" 2>/dev/null || { tail -30 "$logfile"; log "the node exited"; exit 1; }
	if head="$(rpc "$rpc_port" chain_getFinalizedHead 2>/dev/null)"; then
		finalized="$(rpc "$rpc_port" chain_getHeader "[$head]" | block_number)"
		[ "$finalized" -ge 1 ] && break
	fi
	sleep 1
done
[ "$finalized" -ge 1 ] || { tail -30 "$logfile"; log "no finalised block within 4 minutes"; exit 1; }

log "payment channel: Alice pays Bob per request with signed vouchers; Bob settles once"
channel_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_WS="ws://127.0.0.1:$rpc_port" node demo/channel.mjs "${VERITY_DEMO_REQUESTS:-10000}")"

log "kernels: exporting the digits MLP and the char transformer with PyTorch (scripts/kernels.py)"
python3 "$VERITY_ROOT/scripts/kernels.py" "$base/kernels" >/dev/null
log "market: the digits kernel registered from its manifest, two providers offer CPU, a job goes to the cheapest, each committee member runs it with verity-worker, the chain verifies and pays"
market_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_KERNEL_DIR="$base/kernels/digits" VERITY_WS="ws://127.0.0.1:$rpc_port" node demo/market.mjs)"
log "training: three workers train the digits kernel together (ring AllReduce over libp2p)"
training_summary="$("$VERITY_ROOT/scripts/train-local.sh" 3 "$base/kernels/digits" "$base/train" --epochs 15 --lr 0.005)"
log "governance: a parameter change proposed, voted with stake, enacted as Root"
governance_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_WS="ws://127.0.0.1:$rpc_port" node demo/governance.mjs 300)"

best="$(rpc "$rpc_port" chain_getHeader | block_number)"
finalized="$(rpc "$rpc_port" chain_getHeader "[$(rpc "$rpc_port" chain_getFinalizedHead)]" | block_number)"
chain="$(rpc "$rpc_port" system_chain | tr -d '"')"
version="$(rpc "$rpc_port" system_version | tr -d '"')"
props="$(rpc "$rpc_port" system_properties)"
cat <<TXT

  Verity dev chain is running
  ---------------------------
  chain            $chain (verity-node $version)
  best block       #$best
  finalised block  #$finalized
  token            $props
  validators       Alice (BABE + GRANDPA)
  JSON-RPC         ws://127.0.0.1:$rpc_port   (http on the same port)
  Prometheus       http://127.0.0.1:$prometheus_port/metrics
  polkadot.js      https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$rpc_port#/explorer
                   (or @polkadot/api: ApiPromise.create({ provider: new WsProvider('ws://127.0.0.1:$rpc_port') }))
  dev accounts     //Alice //Bob //Charlie //Dave //Eve //Ferdie, 1,000,000 VER each; Alice is sudo and bonded 100,000 VER as validator

  Pay-per-request through a payment channel (fee-settlement)
$channel_summary

  A kernel, two offers, a job allocated at minimum cost, run by the committee, verified and paid
  (aivm-registry, marketplace, proof-of-compute)
$market_summary
  Three workers train the registered kernel (verity-worker: libtorch, libp2p AllReduce); the
  chain client that publishes the checkpoint CID on chain is the next step
$training_summary

  A parameter changed by stake-weighted vote (staking-governance)
$governance_summary

TXT
if [ "${VERITY_DEMO_EXIT:-0}" = 1 ]; then
	log "VERITY_DEMO_EXIT=1: stopping"
	exit 0
fi
log "running; press Ctrl-C to stop"
wait "$node_pid"
