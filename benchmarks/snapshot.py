"""Snapshots and copies of a sequencer: write, load and clone times, file size.

    python -m benchmarks snapshot --accounts 2000,20000 --orders 20000 --json snapshot.json

For each size: a venue with that many funded accounts (depth 24) takes ``--orders`` orders of
the engine benchmark's stream (about half cross, the rest rest in the book), then is
snapshotted (``to_snapshot`` + ``encode``: the arrays and the file's bytes, no disk), loaded
(``decode`` + ``from_snapshot``) and cloned (``Sequencer.clone``, what the batch builder does
three times a batch). For reference, the same engine through pickle (dumps + loads), the format
the snapshots and copies used before. Best of three wall times; the collector frozen first, as
the sequencer process runs (``tune_gc``).

Records: {"op": "snapshot", "accounts", "orders", "resting", "tree_nodes", "write_seconds",
"load_seconds", "clone_seconds", "bytes", "pickle_seconds", "pickle_bytes", "load_average"}.
"""

from __future__ import annotations

import gc
import json
import os
import pickle  # the reference only: rollup itself does not use it
import time

from benchmarks.common import best_of, print_table, write_json


def _engine(n_accounts: int, n_orders: int):
    from benchmarks.engine import _order_stream
    from rollup.engine import testnet as tn

    seq = tn.venue(n_accounts=n_accounts, depth=24, deposit=10**13, shared_key=True)
    seq.defer_root = True
    stream = _order_stream(n_orders, n_accounts, seed=3)
    for k in range(0, len(stream), 256):
        seq.submit_many(stream[k:k + 256], verified=True)
    seq.defer_root = False
    seq.state.flush()
    return seq


def measure(n_accounts: int, n_orders: int) -> dict:
    from rollup.durability.snapshot import decode, encode
    from rollup.engine.sequencer import Sequencer

    seq = _engine(n_accounts, n_orders)
    gc.collect()
    gc.freeze()
    data = encode(seq.to_snapshot())
    Sequencer.from_snapshot(decode(data))  # kernels loaded
    raw = pickle.dumps(seq, protocol=pickle.HIGHEST_PROTOCOL)
    rec = {"op": "snapshot", "accounts": n_accounts, "orders": n_orders,
           "resting": sum(len(b) for b in seq.books.values()),
           "tree_nodes": len(seq.state.account_tree.nodes) + sum(
               len(t.nodes) for t in seq.state.order_trees.values()),
           "write_seconds": round(best_of(lambda: encode(seq.to_snapshot())), 4),
           "load_seconds": round(best_of(lambda: Sequencer.from_snapshot(decode(data))), 4),
           "clone_seconds": round(best_of(seq.clone), 4),
           "bytes": len(data),
           "pickle_seconds": round(best_of(lambda: pickle.loads(pickle.dumps(
               seq, protocol=pickle.HIGHEST_PROTOCOL))), 4),
           "pickle_bytes": len(raw),
           # the machines are shared: how much of a core we had
           "load_average": round(os.getloadavg()[0], 2)}
    gc.unfreeze()
    print(json.dumps(rec), flush=True)
    return rec


def main(accounts: list[int], orders: int, json_path: str | None) -> None:
    t = time.perf_counter()
    records = [measure(n, orders) for n in accounts]
    write_json(records, json_path)
    print_table(f"snapshots ({time.perf_counter() - t:.0f} s)", records,
                [("accounts", "accounts"), ("resting", "resting"), ("tree_nodes", "nodes"),
                 ("write_seconds", "write s"), ("load_seconds", "load s"),
                 ("clone_seconds", "clone s"), ("pickle_seconds", "pickle s"),
                 ("bytes", "bytes"), ("pickle_bytes", "pickle bytes")])
