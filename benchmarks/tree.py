"""Engine Merkle tree updates: leaves per CPU second of ``rollup.state.tree.SparseMerkleTree``.

    python -m benchmarks tree [--json results/tree-update.json]
    PYTHONPATH=<another checkout> python benchmarks/tree.py --label <name>   # the peer build

Per depth (12: an order tree, 24: an accounts tree) a tree of 20,000 random leaves gets random
updates in calls of 1, 256 and 4,096 leaves (``update``: one kernel call per call); the figure
is leaves / process CPU seconds (the machines are shared: CPU time, best of 3). The script uses
only the tree's public API, so the same file measures an older checkout (the binary trees) by
its PYTHONPATH; results/tree-update.json holds both builds, interleaved. Records: label, module
(where the tree came from), depth, per_call, leaves_per_cpu_second.
"""

from __future__ import annotations

import argparse
import json
import random
import time

DEPTHS = (12, 24)
PER_CALL = (1, 256, 4096)


def measure(label: str) -> list[dict]:
    import rollup.state.tree as tree_mod  # lazy: the build under PYTHONPATH (--label)

    out = []
    for depth in DEPTHS:
        rng = random.Random(depth)
        tree = tree_mod.SparseMerkleTree(depth)
        tree.update({rng.randrange(1 << depth): rng.randrange(1, 1 << 200)
                     for _ in range(20_000)})
        for k in PER_CALL:
            best = 0.0
            for _ in range(3):
                calls = [{rng.randrange(1 << depth): rng.randrange(1, 1 << 200)
                          for _ in range(k)} for _ in range(max(3, 8192 // k))]
                t0 = time.process_time()
                for c in calls:
                    tree.update(c)
                best = max(best, sum(map(len, calls)) / (time.process_time() - t0))
            out.append({"op": "tree_update", "label": label, "module": tree_mod.__file__,
                        "depth": depth, "per_call": k, "leaves_per_cpu_second": round(best)})
    return out


def main(json_path: str | None = None, label: str = "this build") -> list[dict]:
    records = measure(label)
    for r in records:
        print(json.dumps(r), flush=True)
    if json_path:
        with open(json_path, "w") as f:
            f.write(json.dumps(records, indent=2) + "\n")
    return records


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--label", default="this build")
    p.add_argument("--json")
    a = p.parse_args()
    main(a.json, a.label)
