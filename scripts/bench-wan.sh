#!/usr/bin/env bash
# Ring AllReduce across emulated WAN links: n worker processes, each in its own network namespace,
# joined by veth pairs to a bridge in a namespace of its own; each worker's link is rate-limited
# both ways with tc tbf (upload on the worker's end, download on the bridge's). In the same
# namespaces and on the same sizes: our ring on the bulk lane, our ring over libp2p only
# (/verity/allreduce/1), and torch.distributed gloo; plain TCP across one link (alone, and all n
# ring links at once) for the link's real throughput B. Reported against the link-limited
# optimum 2(n-1)/n·S/B. No latency is added (the kernel here has no netem).
# Needs root (ip netns, tc). Usage: scripts/bench-wan.sh [OUT_DIR]
#   VERITY_WAN_RATES=1gbit,200mbit  VERITY_WAN_N=2,4  VERITY_BENCH_SIZES_MIB=16,64  VERITY_BENCH_REPS=3
#   VERITY_BENCH_CHUNK_KIB=1024 (our ring's chunk size)
# Writes OUT_DIR/wan.jsonl and prints a markdown table (what docs/benchmarks.md records).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
rates="${VERITY_WAN_RATES:-1gbit,200mbit}"
ns_list="${VERITY_WAN_N:-2,4}"
sizes="${VERITY_BENCH_SIZES_MIB:-16,64}"
reps="${VERITY_BENCH_REPS:-3}"
chunk_kib="${VERITY_BENCH_CHUNK_KIB:-1024}"
[ "$(id -u)" = 0 ] || { log "bench-wan.sh needs root (network namespaces, tc)"; exit 1; }

log "building verity-worker (release)"
cargo build --locked --release -p verity-worker
W="$CARGO_TARGET_DIR/release/verity-worker"
prefix="vwan$$"

teardown() {
	for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
}
trap teardown EXIT

# setup N RATE: namespaces $prefix-0.. with 10.77.0.(i+1), a bridge in $prefix-sw, tbf both ways.
setup() {
	local n=$1 rate=$2
	teardown
	ip netns add "$prefix-sw"
	ip -n "$prefix-sw" link add br0 type bridge
	ip -n "$prefix-sw" link set br0 up
	for i in $(seq 0 $((n - 1))); do
		local ns="$prefix-$i"
		ip netns add "$ns"
		ip link add "vw$$-$i" type veth peer name "vb$$-$i"
		ip link set "vw$$-$i" netns "$ns"
		ip link set "vb$$-$i" netns "$prefix-sw"
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "10.77.0.$((i + 1))/24" dev "vw$$-$i"
		ip -n "$ns" link set "vw$$-$i" up
		ip -n "$prefix-sw" link set "vb$$-$i" master br0
		ip -n "$prefix-sw" link set "vb$$-$i" up
		# A burst of 512 KiB: above one GSO packet (64 KiB), well below the sizes measured.
		tc -n "$ns" qdisc add dev "vw$$-$i" root tbf rate "$rate" burst 512kb latency 100ms
		tc -n "$prefix-sw" qdisc add dev "vb$$-$i" root tbf rate "$rate" burst 512kb latency 100ms
	done
}

members() {
	local n=$1 port=$2 list=""
	for i in $(seq 0 $((n - 1))); do list="$list${list:+,}10.77.0.$((i + 1)):$port"; done
	echo "$list"
}

# link N SIZE_MIB LINKS: plain TCP, LINKS ring links (i -> i+1) at once; prints bytes/s per link.
link() {
	local n=$1 mib=$2 links=$3 pids=()
	for i in $(seq 0 $((links - 1))); do
		local to=$(((i + 1) % n))
		ip netns exec "$prefix-$to" python3 - "10.77.0.$((to + 1))" 5201 >/dev/null <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); buf = bytearray(1 << 20)
while c.recv_into(buf): pass
PY
		pids+=($!)
	done
	sleep 0.5
	for i in $(seq 0 $((links - 1))); do
		local to=$(((i + 1) % n))
		ip netns exec "$prefix-$i" python3 - "10.77.0.$((to + 1))" 5201 "$mib" >"$out/link.$i" <<'PY' &
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2]))); chunk = b"\1" * (1 << 20)
t = time.perf_counter()
for _ in range(int(sys.argv[3])): c.sendall(chunk)
c.shutdown(socket.SHUT_WR); c.recv(1); print(int(sys.argv[3]) * (1 << 20) / (time.perf_counter() - t))
PY
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$out"/link.* | sort -g | head -1
	rm -f "$out"/link.*
}

: >"$out/wan.jsonl"
IFS=, read -ra rate_list <<<"$rates"
IFS=, read -ra n_list <<<"$ns_list"
for rate in "${rate_list[@]}"; do
	for n in "${n_list[@]}"; do
		setup "$n" "$rate"
		big="${sizes##*,}"
		alone="$(link "$n" "$big" 1)"
		busy="$(link "$n" "$big" "$n")"
		log "rate $rate, n=$n: plain TCP $(python3 -c "print(round($alone/1e6,1))") MB/s alone, $(python3 -c "print(round($busy/1e6,1))") MB/s per link with all $n busy"
		for lane in bulk libp2p gloo; do
			log "rate $rate, n=$n: $lane"
			pids=()
			for i in $(seq 0 $((n - 1))); do
				if [ "$lane" = gloo ]; then
					ip netns exec "$prefix-$i" env GLOO_SOCKET_IFNAME="vw$$-$i" python3 scripts/bench_gloo.py --n "$n" --rank "$i" \
						--master 10.77.0.1 --port 29500 --sizes-mib "$sizes" --reps "$reps" >"$out/member.$i" &
				else
					extra=()
					[ "$lane" = libp2p ] && extra=(--libp2p-only)
					ip netns exec "$prefix-$i" "$W" bench-allreduce-member --members "$(members "$n" 4100)" --rank "$i" \
						--sizes-mib "$sizes" --reps "$reps" --chunk-kib "$chunk_kib" "${extra[@]}" \
						>"$out/member.$i" 2>"$out/member.$i.log" &
				fi
				pids+=($!)
			done
			wait "${pids[@]}"
			python3 - "$out" "$n" "$lane" "$rate" "$alone" "$busy" >>"$out/wan.jsonl" <<'PY'
import json, statistics, sys
out, n, lane, rate, alone, busy = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
rows = [json.loads(l) for i in range(n) for l in open(f"{out}/member.{i}") if l.strip()]
for size in sorted({r["bytes"] for r in rows}):
    per = [r.get("seconds", r.get("times")) for r in rows if r["bytes"] == size]
    # Each rep: the slowest member's time; then the median over reps.
    t = statistics.median(max(ts) for ts in zip(*per))
    share = 2 * (n - 1) / n * size
    print(json.dumps({"rate": rate, "n": n, "lane": lane, "bytes": size, "seconds": t,
                      "link_alone_bytes_per_s": alone, "link_busy_bytes_per_s": busy,
                      "optimum_seconds_busy": share / busy, "fraction_of_optimum_busy": share / busy / t,
                      "fraction_of_optimum_alone": share / alone / t}))
PY
			rm -f "$out"/member.*
		done
	done
done
teardown

python3 - "$out" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(os.path.join(sys.argv[1], "wan.jsonl")) if l.strip()]
key = lambda r: (r["rate"], r["n"], r["bytes"])
by = {}
for r in rows: by.setdefault(key(r), {})[r["lane"]] = r
print("| rate | n | size | B alone / busy (MB/s) | optimum 2(n−1)/n·S/B busy (ms) | bulk lane (ms) | fraction of optimum | libp2p only (ms) | fraction | gloo (ms) | fraction | gloo time / bulk lane |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for k, v in by.items():
    b, l, g = v["bulk"], v["libp2p"], v["gloo"]
    print("| %s | %d | %d MiB | %.1f / %.1f | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f | %.2f | %.2f |" % (
        k[0], k[1], k[2] >> 20, b["link_alone_bytes_per_s"] / 1e6, b["link_busy_bytes_per_s"] / 1e6, 1e3 * b["optimum_seconds_busy"],
        1e3 * b["seconds"], b["fraction_of_optimum_busy"], 1e3 * l["seconds"], l["fraction_of_optimum_busy"],
        1e3 * g["seconds"], g["fraction_of_optimum_busy"], g["seconds"] / b["seconds"]))
PY
