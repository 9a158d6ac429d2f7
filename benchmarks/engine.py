"""Engine throughput: order matching, account updates with the root recomputed, liquidation scan
over 100,000 accounts, Black-Scholes Greeks for 1,000,000 option positions.

All on one thread (the Poseidon batches run serially). Times are CPU seconds of this process
(``time.process_time``): the machines are shared, and CPU time is what one core delivers.
Signature verification is timed on its own: it is independent per request and can run in a pool
ahead of the single-writer sequencer, so the matching figures take the orders as verified
(``submit_many(..., verified=True)`` / ``apply_verified``).

Records: ``sequencer_orders_core`` (``submit_many`` groups of 256 and of 64 orders, matched by
the compiled core: validation, margin, book and state updates; ``apply_per_second`` without the
root, ``per_second`` with the root of all of them flushed at the end; ``handed_back``: orders the
core left to the Python path); ``sequencer_orders_one_by_one`` (``apply_verified`` per order, the
Python path; the core records carry their ``speedup_over_one_by_one``);
``sequencer_orders_root_each`` (the root after every order);
``sequencer_orders_journaled`` (group commit to a SQLite journal, 256 requests a group);
``signature_verify`` (pure Python ``Request.verify``, one by one) and
``signature_verify_batch`` (``verify_requests`` on the same signed orders: messages and
signatures in one batch, compiled; ``verify_many_per_second`` the signatures alone, messages
precomputed; ``speedup`` over ``signature_verify``); ``account_updates`` at depths 24 and 32
for accounts at random ids (the worst case: paths share nothing below the top levels) and at
consecutive ids (as deposits allocate them), root after each update and per batch;
``poseidon`` (hashes per second of the batch kernel: the bound on every root);
``liquidation_scan``; ``greeks``.
"""

from __future__ import annotations

import json
import os
import random
import time

import numpy as np

from benchmarks.common import print_table, write_json


def _record(records: list[dict], **rec) -> None:
    # the machines are shared: the 1-minute load average says how much of a core we had
    rec["load_average"] = round(os.getloadavg()[0], 2)
    records.append(rec)
    print(json.dumps(rec), flush=True)


def _order_stream(n: int, n_accounts: int, seed: int = 1, max_size: int = 50):
    """Limit orders around a mid price from random accounts; about half cross."""
    from rollup.engine import testnet as tn
    from rollup.transactions import Order

    rng = random.Random(seed)
    oid = dict.fromkeys(range(1, n_accounts + 1), 0)
    out = []
    for _ in range(n):
        acc = rng.randrange(1, n_accounts + 1)
        oid[acc] += 1
        side = rng.randrange(2)
        price = tn.PERP_PRICE + (rng.randrange(-5, 3) if side == 0 else rng.randrange(-2, 6))
        out.append(Order(acc, tn.PERP, side, rng.randrange(1, max_size), price, oid[acc],
                         10**9))
    return out


def _cpu() -> float:
    return time.process_time()


def _submit_groups(seq, stream: list, group: int) -> tuple[int, int]:
    """``submit_many`` over consecutive groups; (fills, rejected)."""
    from rollup.errors import EngineError

    fills = rejected = 0
    for k in range(0, len(stream), group):
        for res in seq.submit_many(stream[k:k + group], verified=True):
            if isinstance(res, EngineError):
                rejected += 1
            else:
                fills += len(res.fills)
    return fills, rejected


def bench_matching(records: list[dict], n_orders: int, n_rooted: int,
                   n_accounts: int = 1_000) -> None:
    import gc

    from rollup.engine import testnet as tn
    from rollup.engine.orderbook import warm_up
    from rollup.engine.sequencer import tune_gc
    from rollup.errors import EngineError

    warm_up()  # the kernels load (or compile) outside the timings, as ``rollup sequencer run``
    thresholds = gc.get_threshold()

    def venue(**kw):
        seq = tn.venue(n_accounts=n_accounts, deposit=10**13, depth=24, shared_key=True, **kw)
        seq.flush()  # the set-up's root, outside the timings
        tune_gc()  # the collector settings of ``rollup sequencer run``, once the state is built
        return seq

    # 1. the compiled core: runs of orders matched by ``submit_many`` (validation, margin, book
    # and state updates; the service's group commit and batch endpoint deliver such groups); the
    # root of all of them hashed once at the end
    # 1,000 accounts: about 50 orders each, so order ids stay within their 256 slots
    python_rate = None
    for label, group in (("sequencer_orders_core", 256), ("sequencer_orders_core", 64),
                         ("sequencer_orders_one_by_one", 1)):
        seq = venue(defer_root=True)
        stream = _order_stream(n_orders, n_accounts, seed=2)
        fills = rejected = 0
        t0 = _cpu()
        if group == 1:  # the Python path, one request at a time (``apply_verified``)
            for o in stream:
                try:
                    fills += len(seq.apply_verified(o).fills)
                except EngineError:
                    rejected += 1
        else:
            fills, rejected = _submit_groups(seq, stream, group)
        t1 = _cpu()
        seq.flush()
        t2 = _cpu()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        rec = dict(op=label, orders=n_orders, group=group, fills=fills, rejected=rejected,
                   depth=24, seconds=round(t2 - t0, 4), flush_seconds=round(t2 - t1, 4),
                   apply_per_second=round(n_orders / (t1 - t0)),
                   per_second=round(n_orders / (t2 - t0)))
        if group == 1:
            python_rate = n_orders / (t1 - t0)
        else:
            rec["handed_back"] = seq.core_stats["handed_back"]
        records_core = [r for r in records if r["op"] == "sequencer_orders_core"]
        if group == 1 and records_core:
            for r in records_core:  # the core over the Python path, no root either side
                r["speedup_over_one_by_one"] = round(r["apply_per_second"] / python_rate, 2)
        _record(records, **rec)

    # 2. the root after every order (what a receipt per request with its own root costs)
    seq = venue()
    stream = _order_stream(n_rooted, n_accounts, seed=2)
    fills = rejected = 0
    t0 = _cpu()
    for o in stream:
        try:
            fills += len(seq.apply_verified(o).fills)
        except EngineError:
            rejected += 1
    dt = _cpu() - t0
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    _record(records, op="sequencer_orders_root_each", orders=n_rooted, fills=fills,
            rejected=rejected, depth=24, seconds=round(dt, 4),
            apply_per_second=round(n_rooted / dt), per_second=round(n_rooted / dt))

    # 3. the core's flow journaled: group commit (one SQLite transaction, one fsync per group)
    import tempfile

    from rollup.durability.journal import Journal

    with tempfile.TemporaryDirectory() as d:
        seq = venue(journal=Journal(f"{d}/journal.db"), defer_root=True)
        stream = _order_stream(n_orders, n_accounts, seed=2)
        group = 256
        w0, t0 = time.perf_counter(), _cpu()
        fills, rejected = _submit_groups(seq, stream, group)
        t1 = _cpu()
        seq.flush()
        t2, w2 = _cpu(), time.perf_counter()
        seq.journal.close()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        _record(records, op="sequencer_orders_journaled", orders=n_orders, group=group,
                fills=fills, rejected=rejected, depth=24, seconds=round(t2 - t0, 4),
                flush_seconds=round(t2 - t1, 4), wall_seconds=round(w2 - w0, 4),
                apply_per_second=round(n_orders / (t1 - t0)),
                per_second=round(n_orders / (t2 - t0)))


def bench_signatures(records: list[dict], n: int, n_python: int | None = None) -> None:
    """n signed orders; pure Python verifies the first ``n_python`` of them (default all), the
    batch verifier all n in one call (after a warm-up call that may compile the kernels)."""
    from circuits.eddsa_batch import verify_many
    from rollup.engine import testnet as tn
    from rollup.transactions import Order, request_messages, verify_requests

    orders = [Order(1, tn.PERP, 0, 1, 60_000, i + 1, 10**9).signed(tn.key(1), tn.DOMAIN)
              for i in range(n)]
    pk = tn.public_key(tn.key(1))
    n_py = n if n_python is None else min(n, n_python)
    t0 = _cpu()
    assert all(o.verify(pk, tn.DOMAIN) for o in orders[:n_py])
    dt = _cpu() - t0
    py_rate = n_py / dt
    _record(records, op="signature_verify", n=n_py, seconds=round(dt, 4),
            per_second=round(py_rate))

    keys = [pk] * n
    t0 = time.perf_counter()
    verify_requests(orders[:1], keys[:1], tn.DOMAIN)
    warmup = time.perf_counter() - t0
    t0 = _cpu()
    ok = verify_requests(orders, keys, tn.DOMAIN)
    dt = _cpu() - t0
    assert all(ok)
    msgs = request_messages(orders, tn.DOMAIN)
    sigs = [o.sig for o in orders]
    t0 = _cpu()
    assert all(verify_many(keys, msgs, sigs))
    dt_sig = _cpu() - t0
    _record(records, op="signature_verify_batch", n=n, batch_size=n, seconds=round(dt, 4),
            per_second=round(n / dt), verify_many_per_second=round(n / dt_sig),
            speedup=round(n / dt / py_rate, 1), warmup_seconds=round(warmup, 2))


def bench_state_updates(records: list[dict], depths: list[int], n_accounts: int,
                        n_each: int, n_batched: int) -> None:
    from rollup.state.state import Account, State

    for depth in depths:
        for layout in ("random", "consecutive"):
            rng = random.Random(3)
            st = State(account_depth=depth)
            if layout == "random":
                ids = rng.sample(range(1 << min(depth, 40)), n_accounts)
            else:
                ids = list(range(1, n_accounts + 1))
            for i in ids:
                st.accounts[i] = Account((1, 2), collateral=10**9)  # any key: no signatures
            t0 = _cpu()
            st.recompute_root()
            build = _cpu() - t0

            def update(i: int, st: State = st) -> None:
                st.begin()
                acc = st.edit_account(i)
                acc.collateral += 1
                acc.nonce += 1

            t0 = _cpu()
            for _ in range(n_each):
                update(rng.choice(ids))
                st.commit()
            each = _cpu() - t0
            t0 = _cpu()
            for _ in range(n_batched):
                update(rng.choice(ids))
                st.commit(defer=True)
            st.flush()
            batched = _cpu() - t0
            _record(records, op="account_updates", depth=depth, ids=layout,
                    accounts=n_accounts, build_seconds=round(build, 3),
                    root_each_per_second=round(n_each / each),
                    root_per_batch_per_second=round(n_batched / batched), batch=n_batched)


def bench_poseidon(records: list[dict], n: int) -> None:
    """Hashes per second: the batch kernel (what the trees use) and one call at a time."""
    from circuits.poseidon import poseidon
    from circuits.poseidon_batch import hash_ints
    from circuits.poseidon_constants import R

    rng = random.Random(6)
    for k in (2, 6, 8):
        rows = [[rng.randrange(R) for _ in range(k)] for _ in range(n)]
        hash_ints(rows[:2])
        t0 = _cpu()
        hash_ints(rows)
        batch = _cpu() - t0
        t0 = _cpu()
        for r in rows[: n // 10]:
            poseidon(r)
        single = (_cpu() - t0) * 10
        _record(records, op="poseidon", inputs=k, hashes=n,
                batch_per_second=round(n / batch), single_per_second=round(n / single),
                us_per_hash=round(batch / n * 1e6, 2))


def bench_liquidation_scan(records: list[dict], n_accounts: int) -> None:
    from rollup.engine import testnet as tn
    from rollup.margin.liquidation import MarginMatrix
    from rollup.state.state import EMPTY_SLOT, POSITION_SLOTS, Account

    seq = tn.venue(n_accounts=1, depth=24)
    st = seq.state
    rng = np.random.default_rng(4)
    sizes = rng.integers(-3_000_000, 3_000_000, size=(n_accounts, 3))
    coll = rng.integers(10**9, 10**10, size=n_accounts)
    for i in range(n_accounts):
        b = [int(x) for x in sizes[i]]
        pos = [(tn.PERP, b[0], 0), (tn.CALL, b[1] // 100, 0), (tn.PUT, b[2] // 100, 0)]
        pos += [EMPTY_SLOT] * (POSITION_SLOTS - 3)
        # quote leg of the perp position so the book of accounts is near zero-sum
        st.accounts[10 + i] = Account((1, 2), 0, int(coll[i]) - b[0] * tn.PERP_PRICE, pos)
    t0 = _cpu()
    mm = MarginMatrix(st)
    build = _cpu() - t0
    best, flagged = float("inf"), 0
    for price in (57_000, 60_000, 63_000):
        st.oracle[tn.PERP] = st.oracle[tn.PERP].__class__(price, 0, 0, 0)
        t0 = _cpu()
        flagged = len(mm.scan())
        best = min(best, _cpu() - t0)
    _record(records, op="liquidation_scan", accounts=len(mm.ids), seconds=round(best, 4),
            build_seconds=round(build, 3), flagged_at_63000=flagged)


def bench_greeks(records: list[dict], n: int) -> None:
    from rollup.margin import greeks as bs

    rng = np.random.default_rng(5)
    s = rng.uniform(50, 150, n)
    k = rng.uniform(50, 150, n)
    t = rng.uniform(0.02, 2.0, n)
    v = rng.uniform(0.1, 1.0, n)
    call = rng.random(n) < 0.5
    size = rng.integers(-100, 100, n).astype(np.float64)
    acc = rng.integers(0, n // 10, n)
    bs.greeks(s[:10], k[:10], t[:10], 0.03, v[:10], call[:10])  # compile the ufunc
    best = best_acc = float("inf")
    for _ in range(3):
        t0 = _cpu()
        bs.position_greeks(size, s, k, t, 0.03, v, call)
        best = min(best, _cpu() - t0)
        t0 = _cpu()
        bs.account_greeks(acc, size, s, k, t, 0.03, v, call, n_accounts=n // 10)
        best_acc = min(best_acc, _cpu() - t0)
    _record(records, op="greeks", positions=n, seconds=round(best, 4),
            with_account_sums_seconds=round(best_acc, 4))


def run(quick: bool = False, json_path=None) -> list[dict]:
    records: list[dict] = []
    if quick:
        bench_matching(records, 2_000, 100)
        bench_signatures(records, 2)
        bench_state_updates(records, [24], 200, 50, 200)
        bench_poseidon(records, 200)
        bench_liquidation_scan(records, 2_000)
        bench_greeks(records, 10_000)
    else:
        bench_matching(records, 50_000, 1_000)
        bench_signatures(records, 2_000, n_python=200)
        bench_state_updates(records, [24, 32], 5_000, 500, 5_000)
        bench_poseidon(records, 5_000)
        bench_liquidation_scan(records, 100_000)
        bench_greeks(records, 1_000_000)
    write_json(records, json_path)
    return records


def main(json_path=None, quick: bool = False) -> list[dict]:
    records = run(quick, json_path)
    print_table("engine (one thread)", records,
                [("op", "op"), ("orders", "orders"), ("group", "group"), ("fills", "fills"),
                 ("depth", "depth"),
                 ("ids", "ids"), ("apply_per_second", "per s (no root)"),
                 ("per_second", "per s"), ("batch_per_second", "hashes/s"),
                 ("root_each_per_second", "updates/s (root each)"),
                 ("root_per_batch_per_second", "updates/s (root per batch)"),
                 ("accounts", "accounts"), ("positions", "positions"), ("seconds", "s")])
    return records
