#!/usr/bin/env python3
"""The anchor of `verity-worker bench-allreduce`: torch.distributed all_reduce with the gloo backend
on loopback TCP, n processes, the same tensor sizes; median seconds of `reps` after one warm-up.

    python3 scripts/bench_gloo.py --n 2 --sizes-mib 1,16,64 --reps 3

Prints one JSON line per size: {"n", "bytes", "seconds", "goodput_bytes_per_s"}.

One rank of a group across machines or network namespaces (scripts/bench-wan.sh), rank 0 at
--master (its IP), each rank started by hand:

    python3 scripts/bench_gloo.py --n 4 --rank 2 --master 10.77.0.1 --port 29500 --sizes-mib 16

prints {"n", "rank", "bytes", "times"} per size: this rank's seconds of each timed all_reduce.
"""
import argparse
import json
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, n, port, sizes, reps, queue, master="127.0.0.1"):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = master
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=n)
    for size in sizes:
        t = torch.full((size // 4,), float(rank) + 0.5)
        dist.all_reduce(t)
        times = []
        for _ in range(reps):
            t = torch.full((size // 4,), float(rank) + 0.5)
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - start)
        if queue is None:
            print(json.dumps({"n": n, "rank": rank, "bytes": size, "times": times}), flush=True)
        elif rank == 0:
            queue.put((size, statistics.median(times)))
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--sizes-mib", default="1,16,64")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rank", type=int, help="run only this rank (with --master and --port)")
    ap.add_argument("--master", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=29500)
    a = ap.parse_args()
    sizes = [int(s) << 20 for s in a.sizes_mib.split(",")]
    if a.rank is not None:
        worker(a.rank, a.n, a.port, sizes, a.reps, None, a.master)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    mp.start_processes(worker, args=(a.n, port, sizes, a.reps, queue), nprocs=a.n, join=True, start_method="spawn")
    for _ in sizes:
        size, seconds = queue.get()
        print(json.dumps({"n": a.n, "bytes": size, "seconds": seconds, "goodput_bytes_per_s": size / seconds}), flush=True)


if __name__ == "__main__":
    main()
