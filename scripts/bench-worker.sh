#!/usr/bin/env bash
# The worker's benchmarks, each beside its anchor in the same run:
#   - bench-hw twice (reproducibility of the capacity figure);
#   - ring AllReduce (n = 2, 4; 1–256 MiB) on the bulk lane and over libp2p only, against the ring
#     optimum 2(n-1)/n·S/B (B = plain TCP on the same loopback, alone and with all n links busy),
#     and torch.distributed gloo all_reduce on the same sizes;
#   - the transport's cipher (Noise's ChaCha20-Poly1305) beside AES-256-GCM and memcpy;
#   - a tch training step against a PyTorch eager step, same kernel, weights and batch.
# Usage: scripts/bench-worker.sh [OUT_DIR]   (VERITY_BENCH_SIZES_MIB=1,16 for a quick run)
# Writes OUT_DIR/*.jsonl and prints a markdown summary (what docs/benchmarks.md records).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VERITY_ROOT"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
sizes="${VERITY_BENCH_SIZES_MIB:-1,4,16,64,256}"
reps="${VERITY_BENCH_REPS:-3}"

log "building verity-worker (release)"
cargo build --locked --release -p verity-worker
W="$CARGO_TARGET_DIR/release/verity-worker"
python3 scripts/kernels.py "$out/kernels" >/dev/null

log "bench-hw (twice)"
for i in 1 2; do "$W" bench-hw --threads "$(nproc)" >>"$out/hw.jsonl"; done

: >"$out/allreduce.jsonl"
: >"$out/gloo.jsonl"
for n in 2 4; do
	log "AllReduce n=$n on the bulk lane, then over libp2p only, sizes $sizes MiB"
	"$W" bench-allreduce --n "$n" --sizes-mib "$sizes" --reps "$reps" 2>/dev/null >>"$out/allreduce.jsonl"
	"$W" bench-allreduce --n "$n" --sizes-mib "$sizes" --reps "$reps" --libp2p-only 2>/dev/null >>"$out/allreduce.jsonl"
	log "gloo all_reduce n=$n"
	python3 scripts/bench_gloo.py --n "$n" --sizes-mib "$sizes" --reps "$reps" >>"$out/gloo.jsonl"
done

log "bench-cipher: the transport's AEAD beside AES-256-GCM"
"$W" bench-cipher >"$out/cipher.jsonl"

: >"$out/step.jsonl"
: >"$out/step-torch.jsonl"
for spec in "digits 64 200" "charlm 32 30"; do
	set -- $spec
	log "training step: $1, batch $2"
	"$W" bench-step --kernel "$out/kernels/$1" --batch "$2" --iters "$3" >>"$out/step.jsonl"
	python3 scripts/bench_torch_step.py "$out/kernels/$1" --batch "$2" --iters "$3" >>"$out/step-torch.jsonl"
done

python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
rd = lambda f: [json.loads(l) for l in open(os.path.join(out, f)) if l.strip()]
hw = rd("hw.jsonl")
print("### bench-hw (%s)" % hw[0]["device"])
print("| run | GEMM n | GFLOP/s | spread | copy GB/s | spread | capacity WU/s |")
print("|---|---|---|---|---|---|---|")
for i, h in enumerate(hw, 1):
    print("| %d | %d | %.1f | %.1f %% | %.2f | %.1f %% | %.4f |" % (i, h["gemm_n"], h["gemm_flops"] / 1e9, 100 * h["gemm_spread"],
          h["mem_bandwidth"] / 1e9, 100 * h["mem_spread"], h["capacity_wu_per_s"]))
print("run-to-run difference of the capacity: %.1f %%" % (100 * abs(hw[0]["gemm_flops"] - hw[1]["gemm_flops"]) / hw[0]["gemm_flops"]))
print()
ours, gloo = rd("allreduce.jsonl"), {(g["n"], g["bytes"]): g for g in rd("gloo.jsonl")}
old = {(f["n"], f["bytes"]): f for f in ours if f["lane"] == "libp2p"}
print("### AllReduce (loopback): bulk lane and libp2p only vs ring optimum vs gloo")
print("| n | size | plain TCP B alone / busy (MB/s) | optimum 2(n-1)/n·S/B busy (ms) | bulk lane (ms) | fraction of optimum (B busy) | libp2p only (ms) | gloo (ms) | gloo time / bulk lane | gloo time / libp2p only |")
print("|---|---|---|---|---|---|---|---|---|---|")
for f in (f for f in ours if f["lane"] == "bulk"):
    g, o = gloo.get((f["n"], f["bytes"])), old.get((f["n"], f["bytes"]))
    share = 2 * (f["n"] - 1) / f["n"] * f["bytes"]
    print("| %d | %d MiB | %.0f / %.0f | %.1f | %.1f | %.2f | %s | %s | %s | %s |" % (f["n"], f["bytes"] >> 20, f["link_bytes_per_s"] / 1e6,
          f["link_under_ring_load_bytes_per_s"] / 1e6, 1e3 * share / f["link_under_ring_load_bytes_per_s"], 1e3 * f["seconds"],
          f["fraction_of_optimum_under_ring_load"], "%.1f" % (1e3 * o["seconds"]) if o else "-",
          "%.1f" % (1e3 * g["seconds"]) if g else "-", "%.2f" % (g["seconds"] / f["seconds"]) if g else "-",
          "%.2f" % (g["seconds"] / o["seconds"]) if g and o else "-"))
print()
print("### bench-cipher: seal + open of 1 MiB records, one core")
print("| cipher | GB/s (plaintext through seal and open) | spread |")
print("|---|---|---|")
for c in rd("cipher.jsonl"):
    print("| %s | %.2f | %.1f %% |" % (c["cipher"], c["seal_open_bytes_per_s"] / 1e9, 100 * c["spread"]))
print()
print("### Training step: tch (verity-worker) vs PyTorch eager")
print("| kernel | batch | tch (ms) | PyTorch eager (ms) | tch / PyTorch |")
print("|---|---|---|---|---|")
for a, b in zip(rd("step.jsonl"), rd("step-torch.jsonl")):
    print("| %s | %d | %.3f | %.3f | %.2f |" % (a["kernel"], a["batch"], 1e3 * a["seconds"], 1e3 * b["seconds"], a["seconds"] / b["seconds"]))
PY
log "raw figures in $out"
