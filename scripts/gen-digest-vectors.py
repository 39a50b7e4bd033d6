#!/usr/bin/env python3
"""Writes tests/vectors/digests.json: test vectors for every digest Verity's committees and
audits use, computed by this second, independent implementation of the specifications in
primitives/src/{digest,commit,merkle}.rs (exact rational arithmetic with fractions.Fraction and
hashlib, no shared code with the Rust side).

    python3 scripts/gen-digest-vectors.py [OUT]     (default: tests/vectors/digests.json)

Rust tests in primitives, the proof-of-compute pallet and the worker, and tests/e2e (the JS
commitment helper), check their implementations against the file. Floats are given by their
IEEE-754 bits (u32), so the vectors are exact; hashes are 0x-prefixed hex.
"""
import hashlib
import json
import math
import os
import random
import struct
import sys
from fractions import Fraction

I64_MAX = 2**63 - 1


def f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def quantise(bits, decimals):
    x = f32(bits)
    if math.isnan(x):
        return -(2**63)
    if math.isinf(x):
        return I64_MAX if x > 0 else -I64_MAX
    q = round(Fraction(x) * 10**decimals)  # Fraction rounds half to even
    return max(-I64_MAX, min(I64_MAX, q))


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def blake2_256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def hx(b):
    return "0x" + b.hex()


def output_digest(rule, outputs):
    kind, decimals = (1, 0) if rule["kind"] == "exact_digest" else (2, rule["decimals"])
    parts = [b"verity/output/v1", bytes([kind, decimals, len(outputs)])]
    for o in outputs:
        parts.append(bytes([len(o["dims"])]))
        parts += [struct.pack("<Q", d) for d in o["dims"]]
        for bits in o["values"]:
            parts.append(struct.pack("<I", bits) if kind == 1 else struct.pack("<q", quantise(bits, decimals)))
    return sha256(*parts)


def summary(outputs, length):
    values = [b for o in outputs for b in o["values"]]
    n = len(values)
    out = []
    for i in range(length):
        seg = values[i * n // length:(i + 1) * n // length]
        if not seg:
            out.append(0)
            continue
        mean = round(Fraction(sum(quantise(b, 9) for b in seg), len(seg)))
        out.append(max(-(2**63), min(I64_MAX, mean)))
    return out


def summary_digest(values):
    return sha256(b"".join(struct.pack("<q", v) for v in values))


def step_digest(step, gradient_bits):
    return sha256(b"verity/grad/v1", struct.pack("<QQ", step, len(gradient_bits)),
                  b"".join(struct.pack("<I", b) for b in gradient_bits))


def leaf(h):
    return blake2_256(b"\x00" + h)


def node(left, right):
    return blake2_256(b"\x01" + left + right)


def merkle(items, index=None):
    """(root, proof of items[index]) of the tree in primitives/src/merkle.rs."""
    level = [leaf(h) for h in items]
    proof = []
    idx = index
    while len(level) > 1:
        if idx is not None and (idx ^ 1) < len(level):
            proof.append(level[idx ^ 1])
        level = [node(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        if idx is not None:
            idx //= 2
    return (level[0] if level else bytes(32)), proof


def bits_of(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "vectors", "digests.json")
    rng = random.Random(20261129)

    # Quantisation: ties at every decimal count that can hold one, subnormals, the largest
    # finite floats, infinities, NaN, negative zero, and random values.
    special = [0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
               0x7fc00000, 0xffc00001, bits_of(0.5), bits_of(1.5), bits_of(2.5), bits_of(-0.5), bits_of(-2.5),
               bits_of(0.125), bits_of(0.375), bits_of(-0.625), bits_of(1e-3), bits_of(3.0517578125e-05),
               bits_of(9.2233720e18), bits_of(-9.2233720e18), bits_of(1e-30), bits_of(123456.789)]
    quantised = []
    for bits in special:
        for d in (0, 1, 2, 3, 6, 9, 12):
            quantised.append({"bits": bits, "decimals": d, "value": str(quantise(bits, d))})
    for _ in range(150):
        bits = bits_of(rng.uniform(-50, 50)) if rng.random() < 0.7 else rng.getrandbits(32)
        d = rng.choice([0, 1, 2, 3, 4, 6, 9, 12])
        quantised.append({"bits": bits, "decimals": d, "value": str(quantise(bits, d))})

    def tensor(dims):
        n = 1
        for d in dims:
            n *= d
        return {"dims": dims, "values": [bits_of(rng.gauss(0, 3)) for _ in range(n)]}

    rules = [{"kind": "exact_digest"}, {"kind": "quantised_digest", "decimals": 0},
             {"kind": "quantised_digest", "decimals": 3}, {"kind": "quantised_digest", "decimals": 12}]
    cases = [[tensor([2, 3])], [tensor([4, 10])], [tensor([0, 10])], [tensor([])], [tensor([3, 2, 2]), tensor([5])],
             [{"dims": [6], "values": [bits_of(x) for x in (0.0005, 0.0015, -0.0025, float("nan"), float("inf"), -0.0)]}]]
    outputs = []
    for case in cases:
        for rule in rules:
            outputs.append({"rule": rule, "outputs": case, "digest": hx(output_digest(rule, case))})

    summaries = []
    for case in cases + [[tensor([7, 13])], [tensor([2])]]:
        for length in (1, 3, 4, 16):
            s = summary(case, length)
            rule = {"kind": "numeric_tolerance", "len": length, "abs_tolerance": 1000, "rel_tolerance_ppm": 100}
            summaries.append({"rule": rule, "outputs": case, "summary": [str(v) for v in s], "digest": hx(summary_digest(s))})

    commitments = []
    for i in range(8):
        rnd, digest, nonce, member = rng.getrandbits(64) if i else 0, rng.randbytes(32), rng.randbytes(32), rng.randbytes(32)
        c = sha256(b"verity/commit/v1", struct.pack("<Q", rnd), digest, nonce, member)
        commitments.append({"round": str(rnd), "digest": hx(digest), "nonce": hx(nonce), "member": hx(member), "commitment": hx(c)})

    trees = []
    for n in range(0, 10):
        items = [blake2_256(struct.pack("<Q", i)) for i in range(n)]
        root, _ = merkle(items)
        trees.append({"items": [hx(h) for h in items], "root": hx(root),
                      "proofs": [[hx(p) for p in merkle(items, i)[1]] for i in range(n)]})

    steps = []
    for step, size in ((0, 0), (1, 1), (7, 5), (2**40 + 3, 33)):
        grad = [bits_of(rng.gauss(0, 1e-2)) for _ in range(size)]
        steps.append({"step": str(step), "gradient": grad, "digest": hx(step_digest(step, grad))})

    doc = {
        "about": "Written by scripts/gen-digest-vectors.py; the specification is in primitives/src/digest.rs, commit.rs and merkle.rs. Floats as IEEE-754 bits, i64/u64 as decimal strings.",
        "quantise": quantised,
        "outputs": outputs,
        "summaries": summaries,
        "commitments": commitments,
        "merkle": trees,
        "steps": steps,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
