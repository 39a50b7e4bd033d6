#!/usr/bin/env python3
"""The anchor of `verity-worker bench-step`: one training step (forward, loss, backward, Adam) of the
same kernel, weights and batch in PyTorch eager mode (the kernel's nn.Module from
scripts/kernels.py, with the archive's weights), one thread, median of `iters` after 5 warm-ups,
under the kernel environment's determinism and precision switches, as the worker runs it.

    python3 scripts/bench_torch_step.py KERNEL_DIR --batch 64 --iters 100
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernels  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    manifest = json.load(open(os.path.join(a.kernel, "kernel.json")))
    # The switches the worker applies from the kernel's environment (kernel::reproducible), so
    # both sides compute the same way.
    env = manifest["record"]["environment"]
    torch.use_deterministic_algorithms(env["deterministic_algorithms"])
    torch.set_float32_matmul_precision("highest" if env["tf32_disabled"] else "high")
    scripted = torch.jit.load(os.path.join(a.kernel, "kernel.pt"))
    data = load_file(os.path.join(a.kernel, "train.safetensors"))
    if manifest["task"] == "classification":
        model = kernels.DigitsMlp()
        x, y = data["x"][: a.batch], data["y"][: a.batch]
    else:
        ctx = manifest["context"]
        model = kernels.CharLm(len(manifest["vocab"]), ctx=ctx)
        tokens = data["tokens"]
        idx = torch.arange(a.batch).unsqueeze(1) * ctx + torch.arange(ctx).unsqueeze(0)
        x, y = tokens[idx], tokens[idx + 1]
    model.load_state_dict(scripted.state_dict())
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(a.iters + 5):
        start = time.perf_counter()
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        if i >= 5:
            times.append(time.perf_counter() - start)
    m = statistics.median(times)
    print(json.dumps({"kernel": manifest["name"], "batch": a.batch, "seconds": m,
                      "spread": (max(times) - min(times)) / m, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
