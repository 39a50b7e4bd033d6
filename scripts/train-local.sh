#!/usr/bin/env bash
# Trains a kernel with N verity-worker processes on this machine (libp2p on loopback, ring AllReduce),
# waits for all of them and prints a summary. Used by scripts/demo.sh; handy by hand.
# Usage: scripts/train-local.sh N KERNEL_DIR WORK_DIR [train flags…]
#   e.g. python3 scripts/kernels.py /tmp/kernels && scripts/train-local.sh 3 /tmp/kernels/digits /tmp/train --epochs 15 --lr 0.005
# Each worker's JSON output and log are in WORK_DIR/worker-<i>.{json,log}; its blobs in WORK_DIR/store-<i>.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
n="$1" kernel="$2" work="$3"
shift 3
[ -x "$VERITY_WORKER" ] || { log "no $VERITY_WORKER: run scripts/build.sh"; exit 1; }
mkdir -p "$work"
ports=() addrs=() pids=()
for i in $(seq 0 $((n - 1))); do
	ports+=("$(free_port)")
	addrs+=("/ip4/127.0.0.1/tcp/${ports[$i]}/p2p/$("$VERITY_WORKER" peer-id --identity "worker-$i")")
done
for i in $(seq 0 $((n - 1))); do
	peers=()
	for j in $(seq 0 $((n - 1))); do [ "$j" = "$i" ] || peers+=(--peer "${addrs[$j]}"); done
	"$VERITY_WORKER" train --kernel "$kernel" --store "$work/store-$i" --identity "worker-$i" \
		--listen "/ip4/127.0.0.1/tcp/${ports[$i]}" "${peers[@]}" "$@" \
		>"$work/worker-$i.json" 2>"$work/worker-$i.log" &
	pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [ "$status" != 0 ]; then
	tail -n 20 "$work"/worker-*.log >&2
	log "a worker failed"
	exit 1
fi
python3 - "$work" "$n" "$kernel" <<'PY'
import json, sys, os
work, n, kernel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
name = json.load(open(os.path.join(kernel, "kernel.json")))["name"]
reports = []
for i in range(n):
    lines = [json.loads(l) for l in open(os.path.join(work, "worker-%d.json" % i)) if l.strip()]
    reports.append(next(l["report"] for l in lines if l["event"] == "done"))
cids = {r["checkpoint"] for r in reports}
r = reports[0]
last = r["epochs"][-1]
print("  workers          %d verity-worker processes, libp2p (TCP + Noise + yamux) on loopback, ring AllReduce every step" % n)
print("  kernel           %s, %d epochs of %d steps" % (name, len(r["epochs"]), last["steps"]))
print("  test accuracy    %.1f %% before, %.1f %% after" % (100 * r["eval_start"], 100 * r["eval"]))
print("  checkpoint       %s (%s)" % (r["checkpoint"], "the same CID on every worker" if len(cids) == 1 else "WORKERS DISAGREE: %s" % cids))
print("  gradient root    %s (worker 0, last epoch: Merkle root of its per-step gradient digests)" % last["gradient_root"])
if len(cids) != 1:
    sys.exit(1)
PY
