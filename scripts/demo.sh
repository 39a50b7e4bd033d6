#!/usr/bin/env bash
# The main job, end to end: the chain, six provider daemons, payment channels, the market,
# training on chain and governance.
# Installs what is missing, builds the node and the worker, starts a dev chain and six
# `verity-worker provide --train` daemons (Charlie, Dave, Eve and the Alice, Bob and Charlie
# stash accounts: each bonds its provider stake, measures its capacity, publishes its offer,
# registers as verifier and publishes its endpoint); the buyer registers the digits kernel's
# record from its manifest, serves the test set and posts an inference job, which the daemons
# accept, run on libtorch, verify in committee and get paid for, and the buyer scores the output
# it fetched by CID; the kernel's owner posts a training job, which three daemons train together
# (DiLoCo, ring AllReduce over libp2p) with every epoch's checkpoint CID and gradient root on
# chain and audited by the other three, exports the final checkpoint as a new version of the
# kernel, registers it and has it run by an inference job; Bob's daemon then serves the trained
# version over HTTP (`provide --serve`) and Alice sends 1,000 requests, each paid by a voucher on
# a payment channel and answered with a signed receipt, scored against the labels and settled in
# one redeem, and the char transformer answers a completion asked through the openai npm client
# on another channel; a parameter changes by stake-weighted vote; serves the web dashboard
# (scripts/dashboard.sh) and prints a summary with its address and how to reach the chain from
# polkadot.js, and keeps the chain running until Ctrl-C.
#   VERITY_DEMO_EXIT=1  stop after the summary (used by CI to check the command works)
#   VERITY_DEMO_DASHBOARD_TEST=1  before that, run the dashboard's browser tests (dashboard/test)
#                       against this chain, with the main job's state
#   VERITY_DASHBOARD_PORT  the dashboard's port (default 8090)
#   VERITY_RPC_PORT     RPC port (default 9944)
#   VERITY_PROMETHEUS_PORT  the node's Prometheus port (default 9615)
#   VERITY_SERVE_PORT   the inference server's port (default: a free one)
#   VERITY_DEMO_REQUESTS  paid inference requests (default 1000)
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
	--prometheus-port "$prometheus_port" --no-telemetry --state-pruning archive >"$logfile" 2>&1 &
node_pid=$!
provider_pids=()
dashboard_pid=""
cleanup() {
	[ -z "$dashboard_pid" ] || stop_pid "$dashboard_pid"
	for pid in "${provider_pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	for pid in "${provider_pids[@]}"; do stop_pid "$pid"; done
	stop_pid "$node_pid"
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

# The providers: own keys, own data directories, prices from cheapest to dearest. Charlie's daemon
# serves its Prometheus metrics, which the dashboard's provider page shows live.
metrics_port="$(free_port)"
for p in Charlie:0.012 Dave:0.02 Eve:0.025 Alice//stash:0.03 Bob//stash:0.032 Charlie//stash:0.035; do
	who="${p%%:*}"
	dir="$base/providers/${who//\//-}"
	mkdir -p "$dir"
	metrics=()
	[ "$who" != Charlie ] || metrics=(--metrics "127.0.0.1:$metrics_port")
	"$VERITY_WORKER" provide --node "ws://127.0.0.1:$rpc_port" --suri "//$who" --data "$dir" \
		--price "${p#*:}" --bond --train "${metrics[@]}" >"$dir/stdout" 2>"$dir/provide.log" &
	provider_pids+=("$!")
done
log "started ${#provider_pids[@]} verity-worker provide daemons (logs in $base/providers/*/provide.log)"

log "kernels: exporting the digits MLP and the char transformer with PyTorch (scripts/kernels.py)"
python3 "$VERITY_ROOT/scripts/kernels.py" "$base/kernels" >/dev/null
log "market: the buyer registers the digits kernel and posts an inference job; the provider daemons do the rest"
providers_failed() {
	for f in "$base"/providers/*/provide.log; do log "$f:"; tail -20 "$f" >&2; done
	exit 1
}
market_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_KERNEL_DIR="$base/kernels/digits" VERITY_PROVIDERS=6 \
	VERITY_WS="ws://127.0.0.1:$rpc_port" node demo/market.mjs)" || providers_failed
log "training on chain: Bob posts a training job; three daemons train, the other three audit; the result becomes a new kernel version"
serving="$base/providers/Bob-serving"
mkdir -p "$serving"
training_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_KERNEL_DIR="$base/kernels/digits" VERITY_PROVIDERS=6 \
	VERITY_DEMO_OUT="$serving" VERITY_WS="ws://127.0.0.1:$rpc_port" node demo/train.mjs)" || providers_failed
log "paid inference: Bob's daemon serves the trained version over HTTP (Alice pays each request with a voucher) and the char transformer as text"
trained="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$serving/trained.json")"
# The same daemon serves the char transformer as text (OpenAI-style completions): Bob registers it.
charlm="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_WS="ws://127.0.0.1:$rpc_port" VERITY_CHARLM_DIR="$base/kernels/charlm" \
	VERITY_DEMO_OUT="$serving" node demo/charlm.mjs)"
serve_port="${VERITY_SERVE_PORT:-$(free_port)}"
"$VERITY_WORKER" provide --node "ws://127.0.0.1:$rpc_port" --suri //Bob --data "$serving" --bond --no-verify \
	--price 0.012 --serve "127.0.0.1:$serve_port" --serve-kernel "$trained" \
	--serve-text "$charlm=$base/kernels/charlm/kernel.json" >"$serving/stdout" 2>"$serving/provide.log" &
provider_pids+=("$!")
serving_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_WS="ws://127.0.0.1:$rpc_port" VERITY_SERVE_URL="http://127.0.0.1:$serve_port" \
	VERITY_SERVE_KERNEL="$trained" VERITY_SERVE_TEXT="$charlm" VERITY_KERNEL_DIR="$base/kernels/digits" \
	node demo/serve.mjs "${VERITY_DEMO_REQUESTS:-1000}")" \
	|| { tail -20 "$serving/provide.log" >&2; exit 1; }
log "governance: a parameter change proposed, voted with stake, enacted as Root"
governance_summary="$(cd "$VERITY_ROOT/tests/e2e" && VERITY_WS="ws://127.0.0.1:$rpc_port" node demo/governance.mjs 300)"

dashboard_port="${VERITY_DASHBOARD_PORT:-8090}"
dashboard_build >/dev/null
node "$VERITY_ROOT/dashboard/serve.mjs" "$dashboard_port" >"$base/dashboard.log" 2>&1 &
dashboard_pid=$!
dashboard_url="http://127.0.0.1:$dashboard_port/?rpc=ws%3A%2F%2F127.0.0.1%3A$rpc_port"
charlie=5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y # //Charlie on every dev chain

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
  dashboard        $dashboard_url#/market
                   (Charlie's daemon live: $dashboard_url#/provider/$charlie with its metrics at
                   http://127.0.0.1:$metrics_port/metrics; scripts/dashboard.sh serves it for any node)
  polkadot.js      https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$rpc_port#/explorer
                   (or @polkadot/api: ApiPromise.create({ provider: new WsProvider('ws://127.0.0.1:$rpc_port') }))
  dev accounts     //Alice //Bob //Charlie //Dave //Eve //Ferdie, 1,000,000 VER each; Alice is sudo and bonded 100,000 VER as validator

  A kernel, six provider daemons, a job allocated at minimum cost, run, verified by a committee
  of daemons and paid (aivm-registry, marketplace, proof-of-compute; verity-worker provide)
$market_summary
  Training on chain: a group the chain formed trains the kernel (libtorch, ring AllReduce over
  libp2p), every epoch's checkpoint CID and gradient roots on chain and audited, the final
  checkpoint verified, paid, and registered as the kernel's new version (marketplace,
  proof-of-compute, aivm-registry; verity-worker provide --train, verity-worker export; dev
  chain: windows shortened to 3 blocks by sudo)
$training_summary

  Paid inference: a provider's daemon serves the trained model over HTTP, each request paid by a
  voucher on a payment channel and answered with a signed receipt, all settled in one redeem,
  and a text model's OpenAI-style completions (fee-settlement; verity-worker provide --serve)
$serving_summary

  A parameter changed by stake-weighted vote (staking-governance)
$governance_summary

TXT
if [ "${VERITY_DEMO_DASHBOARD_TEST:-0}" = 1 ]; then
	log "the dashboard's browser tests (dashboard/test, headless chromium) against this chain"
	(cd "$VERITY_ROOT/dashboard" && VERITY_WS="ws://127.0.0.1:$rpc_port" \
		VERITY_DASHBOARD_METRICS="http://127.0.0.1:$metrics_port/metrics //Charlie" \
		node --test --test-concurrency=1 test/)
fi
if [ "${VERITY_DEMO_EXIT:-0}" = 1 ]; then
	log "VERITY_DEMO_EXIT=1: stopping"
	exit 0
fi
log "running; press Ctrl-C to stop"
wait "$node_pid"
