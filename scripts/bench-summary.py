#!/usr/bin/env python3
"""Summarises a benchmark CLI --json-file: for each benchmark, the median extrinsic time (µs) at
the lowest and highest value of each component, so docs/benchmarks.md can show how a weight
depends (or does not) on a component. Usage: scripts/bench-summary.py results.json"""
import json
import statistics
import sys


def text(value):
    return bytes(value).decode() if isinstance(value, list) else str(value)


def main(path):
    for batch in json.load(open(path)):
        name = f"{text(batch['pallet'])}::{text(batch['benchmark'])}"
        results = batch["time_results"]
        by_components = {}
        for r in results:
            key = tuple((text(c[0]), c[1]) for c in r["components"])
            by_components.setdefault(key, []).append(r["extrinsic_time"] / 1000)
        if not by_components:
            continue
        keys = sorted(by_components)
        if keys == [()]:
            print(f"{name}: {statistics.median(by_components[()]):.1f} µs")
            continue
        for i, (component, _) in enumerate(keys[0]):
            lo = min(k[i][1] for k in keys)
            hi = max(k[i][1] for k in keys)
            # Median over every run with this component at `value`, whatever the others are.
            def at(value):
                times = [t for k, ts in by_components.items() if k[i][1] == value for t in ts]
                return statistics.median(times)
            print(f"{name}: {component}={lo}: {at(lo):.1f} µs, {component}={hi}: {at(hi):.1f} µs")


if __name__ == "__main__":
    main(sys.argv[1])
