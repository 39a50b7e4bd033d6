#!/usr/bin/env bash
# Runs the @polkadot/api end-to-end tests (tests/e2e) against a fresh `verity-node --dev --tmp`.
# The node runs on free loopback ports and is stopped on exit, whatever happens.
# Usage: scripts/e2e.sh [FILE...]   (no files: all, in two lanes)
#   VERITY_E2E_DEMO=1  also run the main job (demo.sh) after the shared-node files, and the
#                      dashboard's browser tests against its chain (scripts/test.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

[ -x "$VERITY_NODE" ] && [ -x "$VERITY_WORKER" ] || "$VERITY_ROOT/scripts/build.sh"
# The provider test's faulty worker: the same worker built with the test-only fault feature
# (a debug build; the feature refuses to compile into a release build).
VERITY_WORKER_FAULTY="$CARGO_TARGET_DIR/debug/verity-worker-faulty"
export VERITY_WORKER_FAULTY
(cd "$VERITY_ROOT" && cargo build --locked --workspace --features verity-worker/fault-injection \
	&& cp "$VERITY_WORKER" "$VERITY_WORKER_FAULTY" && cargo build --locked --workspace)
rpc_port="$(free_port)"
p2p_port="$(free_port)"
logfile="$(mktemp -t verity-e2e-node.XXXXXX.log)"

"$VERITY_NODE" --dev --tmp --rpc-port "$rpc_port" --listen-addr "/ip4/127.0.0.1/tcp/$p2p_port" \
	--no-prometheus --no-telemetry --no-mdns >"$logfile" 2>&1 &
node_pid=$!
kernels="$(mktemp -d -t verity-e2e-kernels.XXXXXX)"
cleanup() {
	stop_pid "$node_pid"
	rm -rf "$kernels"
}
trap cleanup EXIT

log "waiting for the dev node (rpc port $rpc_port, log $logfile)"
for _ in $(seq 1 180); do
	if rpc "$rpc_port" chain_getFinalizedHead >/dev/null 2>&1; then
		break
	fi
	kill -0 "$node_pid" 2>/dev/null || { tail -30 "$logfile"; log "the node exited"; exit 1; }
	sleep 1
done

# The example kernels, whose manifests kernel-record.test.mjs registers.
python3 "$VERITY_ROOT/scripts/kernels.py" "$kernels" >/dev/null

cd "$VERITY_ROOT/tests/e2e"
export VERITY_KERNELS="$kernels" VERITY_WS="ws://127.0.0.1:$rpc_port"
if [ $# -gt 0 ]; then
	node --test --test-concurrency=1 "$@"
	exit
fi
# provide.test.mjs, train.test.mjs and serve.test.mjs run their own nodes (they stop and restart
# nodes, kill workers, shorten windows, close channels). The first two, one after the other (the
# provider lane, ~28 min), run beside the files sharing this one, then serve.test.mjs (~5 min)
# after them (and after the main job, under VERITY_E2E_DEMO=1), so the two lanes end together.
provide_log="$(mktemp -t verity-e2e-provide.XXXXXX.log)"
node --test --test-concurrency=1 provide.test.mjs train.test.mjs >"$provide_log" 2>&1 &
provide_pid=$!
shared=0
node --test --test-concurrency=1 $(ls ./*.test.mjs | grep -v -e provide.test.mjs -e train.test.mjs -e serve.test.mjs) || shared=$?
demo=0
if [ "${VERITY_E2E_DEMO:-0}" = 1 ]; then
	# The main job after the shared-node files, still beside the provider lane (scripts/test.sh):
	# the shared node is stopped first, the demo starts its own.
	stop_pid "$node_pid"
	log "the main job (scripts/demo.sh, VERITY_DEMO_EXIT=1) beside the provider lane"
	VERITY_DEMO_EXIT=1 VERITY_DEMO_DASHBOARD_TEST=1 VERITY_RPC_PORT="$(free_port)" \
		VERITY_PROMETHEUS_PORT="$(free_port)" VERITY_DASHBOARD_PORT="$(free_port)" \
		"$VERITY_ROOT/scripts/demo.sh" || demo=$?
fi
serve=0
node --test --test-concurrency=1 serve.test.mjs || serve=$?
provide=0
wait "$provide_pid" || provide=$?
log "provider lane (provide.test.mjs, train.test.mjs):"
cat "$provide_log"
rm -f "$provide_log"
[ "$shared" = 0 ] || log "shared-node e2e files failed"
[ "$demo" = 0 ] || log "the main job failed"
[ "$serve" = 0 ] || log "serve.test.mjs failed"
[ "$provide" = 0 ] || log "provider lane failed"
[ "$shared" = 0 ] && [ "$demo" = 0 ] && [ "$serve" = 0 ] && [ "$provide" = 0 ]
