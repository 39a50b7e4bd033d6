#!/usr/bin/env python3
"""Authors Verity's example AIVM kernels with PyTorch and exports them for `verity-worker`.

    python3 scripts/kernels.py OUT_DIR [--seed 7] [--only digits|charlm]

For each kernel, OUT_DIR/<name>/ gets:
  kernel.pt           the TorchScript archive (what the registry's archive CID names)
  kernel.json         the manifest: name, task (loss and data layout) and `record`, the kernel record
                      exactly as the chain's aivm-registry stores it (verity_primitives::kernel::
                      KernelSpec in its JSON form: archive CID, environment, tensor specs, declared
                      cost, aggregation rule); the worker reads it with that type, a test checks
                      this script's JSON against it, and the demo registers it as it is
  train.safetensors   the training data, test.safetensors the held-out data

Kernels:
  digits  an MLP classifier (64 -> 128 -> 10) on scikit-learn's bundled digits (no download)
  charlm  a 2-layer character-level transformer on text this script generates from a small grammar

Everything is generated from the seed, so two runs write identical data and identical initial
weights. Nothing is downloaded.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import struct
import sys
import zipfile
import zlib

import torch
import torch.nn as nn
from safetensors.torch import save_file

LIBTORCH = torch.__version__.split("+")[0]


class DigitsMlp(nn.Module):
    def __init__(self, hidden: int = 128):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q = q.view(b, t, h, d // h).transpose(1, 2)
        k = k.view(b, t, h, d // h).transpose(1, 2)
        v = v.view(b, t, h, d // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / float(d // h) ** 0.5)
        att = torch.softmax(att + mask, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))


class CharLm(nn.Module):
    def __init__(self, vocab: int, d: int = 64, heads: int = 4, layers: int = 2, ctx: int = 64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.size(1)
        pos = torch.arange(t, device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        mask = torch.triu(torch.full((t, t), float("-inf"), device=idx.device), diagonal=1)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln(x))


def raw_cid(data):
    """CIDv1 text of `data` as Verity names blobs: raw codec (0x55), sha2-256, base32 lower case."""
    binary = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


def tensor(dtype, shape):
    """A tensor spec; dimension 0 means any size (the batch)."""
    return {"dtype": dtype, "shape": shape}


def manifest(name, task, inputs, outputs, forward_flops, rule, seed, extra=None):
    """The manifest; `record["archive"]` is filled in by `export` once the archive is written."""
    m = {
        "name": name,
        "task": task,
        "record": {
            "archive": None,
            "environment": {
                "libtorch": LIBTORCH,
                "device": "cpu",
                "dtype": "f32",
                "deterministic_algorithms": True,
                "tf32_disabled": True,
                "seed": seed,
            },
            "inputs": inputs,
            "outputs": outputs,
            # Declared cost in FLOPs per sample: forward, and a training step (forward + backward ~ 3x).
            "inference_flops": forward_flops,
            "train_flops": 3 * forward_flops,
            "rule": rule,
            "supersedes": None,
        },
    }
    if extra:
        m.update(extra)
    return m


def make_reproducible(path):
    """TorchScript archives carry a random `.data/serialization_id`; replace it (same length, stored
    uncompressed) with digits derived from the archive's other entries, fixing both CRC fields, so the
    same module always gives the same bytes and so the same CID."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        info = next(i for i in infos if i.filename.endswith(".data/serialization_id"))
        h = hashlib.sha256()
        for i in infos:
            if i is not info:
                h.update(i.filename.encode() + z.read(i))
    assert info.compress_type == zipfile.ZIP_STORED
    new = str(int.from_bytes(h.digest(), "big")).encode()[: info.file_size].rjust(info.file_size, b"0")
    crc = zlib.crc32(new)
    raw = bytearray(open(path, "rb").read())
    off = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", raw, off + 26)
    data = off + 30 + name_len + extra_len
    raw[data : data + info.file_size] = new
    struct.pack_into("<I", raw, off + 14, crc)
    pos = 0
    while True:
        pos = raw.find(b"PK\x01\x02", pos)
        assert pos >= 0, "central directory entry not found"
        n_len = struct.unpack_from("<H", raw, pos + 28)[0]
        if raw[pos + 46 : pos + 46 + n_len] == info.filename.encode():
            struct.pack_into("<I", raw, pos + 16, crc)
            break
        pos += 4
    open(path, "wb").write(bytes(raw))
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None


def export(module, example, out, m):
    os.makedirs(out, exist_ok=True)
    module.eval()
    scripted = torch.jit.script(module)
    # Sanity: the scripted module computes what the eager one does.
    with torch.no_grad():
        assert torch.equal(scripted(example), module(example))
    scripted.save(os.path.join(out, "kernel.pt"))
    make_reproducible(os.path.join(out, "kernel.pt"))
    assert torch.equal(torch.jit.load(os.path.join(out, "kernel.pt"))(example), scripted(example))
    with open(os.path.join(out, "kernel.pt"), "rb") as f:
        m["record"]["archive"] = raw_cid(f.read())
    with open(os.path.join(out, "kernel.json"), "w") as f:
        json.dump(m, f, indent=2, sort_keys=True)
        f.write("\n")


def digits(out, seed):
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    x, y = x[perm].contiguous(), y[perm].contiguous()
    n_test = 360
    torch.manual_seed(seed)
    model = DigitsMlp()
    m = manifest(
        "digits-mlp",
        "classification",
        [tensor("f32", [0, 64])],
        [tensor("f32", [0, 10])],
        2 * (64 * 128 + 128 * 10),
        {"kind": "quantised_digest", "decimals": 3},
        seed,
    )
    export(model, x[:4], out, m)
    save_file({"x": x[n_test:].contiguous(), "y": y[n_test:].contiguous()}, os.path.join(out, "train.safetensors"))
    save_file({"x": x[:n_test].contiguous(), "y": y[:n_test].contiguous()}, os.path.join(out, "test.safetensors"))


def grammar_text(seed, sentences=6000):
    rng = random.Random(seed)
    subjects = ["the validator", "a worker", "the buyer", "every provider", "the committee", "a verifier",
                "the chain", "the group", "our kernel", "the market"]
    verbs = ["checks", "trains", "verifies", "pays for", "commits", "reveals", "averages", "slashes",
             "finalises", "stores"]
    objects = ["the block", "a gradient", "the checkpoint", "every result", "the digest", "a voucher",
               "the epoch", "its stake", "the offer", "the model"]
    tails = ["", " at once", " before the deadline", " with a proof", " in one round", " over libp2p",
             " for the buyer", " on the chain"]
    lines = []
    for _ in range(sentences):
        s = "%s %s %s%s." % (rng.choice(subjects), rng.choice(verbs), rng.choice(objects), rng.choice(tails))
        lines.append(s[0].upper() + s[1:])
    return " ".join(lines) + "\n"


def charlm(out, seed):
    text = grammar_text(seed)
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    tokens = torch.tensor([stoi[c] for c in text], dtype=torch.int64)
    n_test = len(tokens) // 10
    ctx, d, layers = 64, 64, 2
    torch.manual_seed(seed)
    model = CharLm(len(vocab), d=d, layers=layers, ctx=ctx)
    params = sum(p.numel() for p in model.parameters())
    # Per sequence of ctx tokens: 2 FLOPs per parameter per token, plus attention (QK^T and AV).
    flops = 2 * params * ctx + layers * 2 * 2 * ctx * ctx * d
    m = manifest(
        "char-transformer",
        "next-token",
        [tensor("i64", [0, ctx])],
        [tensor("f32", [0, ctx, len(vocab)])],
        flops,
        {"kind": "quantised_digest", "decimals": 3},
        seed,
        {"context": ctx, "vocab": "".join(vocab)},
    )
    export(model, tokens[: 2 * ctx].view(2, ctx), out, m)
    save_file({"tokens": tokens[n_test:].contiguous()}, os.path.join(out, "train.safetensors"))
    save_file({"tokens": tokens[:n_test].contiguous()}, os.path.join(out, "test.safetensors"))


def main():
    # TorchScript writes a module's constants in set order, which follows Python's string hashing:
    # fix the hash seed so that two exports are byte-identical.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", choices=["digits", "charlm"])
    a = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    if a.only in (None, "digits"):
        digits(os.path.join(a.out, "digits"), a.seed)
    if a.only in (None, "charlm"):
        charlm(os.path.join(a.out, "charlm"), a.seed)


if __name__ == "__main__":
    main()
