"""Group commit in the sequencer service: submits queued together are journaled in one
transaction, and every caller gets exactly what a submit of its own would have given it.

The worker thread is held on a call of its own while the submits queue up, so the groups (and
the calls between them) are known; the order the service applied the requests in is recorded
from the groups it ran, and the same requests are then submitted one at a time, in that order, to
a second service on a fresh data folder: same answers, same journal, same root.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import msgspec
import pytest

from rollup import errors as E
from rollup.api.service import SequencerService, admin_token_file
from rollup.config import load
from rollup.engine.restart import recover
from rollup.transactions import BUY, SELL, Cancel, OracleUpdate, Order, Transfer
from tests.support.operator import DOMAIN, ORACLE, PERP, PRICE, trader, wait_until, write_config

FAR = 10**9
N_TRADERS = 6


def start(folder, **kw) -> SequencerService:
    return SequencerService(load(write_config(folder, n_traders=N_TRADERS)),
                            log=lambda m: None, **kw).start()


@contextmanager
def held(svc: SequencerService, then=None):
    """The worker thread busy on a call of its own (running ``then(service)`` first) until the
    block ends: whatever is submitted meanwhile queues up behind it."""
    entered, release = threading.Event(), threading.Event()

    def hold(s):
        if then is not None:
            then(s)
        entered.set()
        release.wait(60)

    t = threading.Thread(target=svc.call, args=(hold,), daemon=True)
    t.start()
    assert entered.wait(30)
    try:
        yield
    finally:
        release.set()
        t.join(30)


def queued(svc: SequencerService, n: int) -> None:
    wait_until(lambda: svc._q.qsize() >= n)


def in_thread(fn, *args) -> tuple[threading.Thread, list]:
    """fn(*args) on a thread; the list gets ("ok", result) or ("error", exception)."""
    out: list = []

    def run():
        try:
            out.append(("ok", fn(*args)))
        except BaseException as exc:
            out.append(("error", exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def answer(res) -> tuple:
    """What a caller saw, comparable across services (errors by type and reason; a receipt
    without its root: a group's receipts carry the root after the group, see ``roots``; and
    without the wall-clock time it was received)."""
    kind, v = res
    if kind == "ok":
        out = {k: x for k, x in v.items() if k not in ("root", "received_us")}
        out["fills"] = [{k: x for k, x in f.items() if k != "received_us"} for f in v["fills"]]
        return kind, out
    return kind, type(v).__name__, v.reason


def untimed(page: dict) -> dict:
    return {**page, "fills": [{k: x for k, x in f.items() if k != "received_us"}
                              for f in page["fills"]]}


def roots(results, group_reqs, reqs) -> set:
    """The roots the accepted requests of one group were answered with."""
    k = {id(r): i for i, r in enumerate(reqs)}
    return {results[k[id(r)]][0][1]["root"] for r in group_reqs
            if results[k[id(r)]][0][0] == "ok"}


def record_groups(svc: SequencerService) -> list[list]:
    """The requests of every group the worker runs, in the order it runs them."""
    groups: list[list] = []
    run = svc._run_group

    def spy(group):
        groups.append([r for g in group for r in g.reqs])
        return run(group)

    svc._run_group = spy
    return groups


def journal_rows(svc: SequencerService) -> list[tuple[int, dict]]:
    return svc.call(lambda s: [(n, r.to_json()) for n, r in s.journal.requests_after(0)])


def workload() -> list:
    """Orders crossing each other, transfers, and requests that must be rejected: a forged
    signature, a reused nonce, a reused order id, a cancel of an unknown order."""
    reqs = [OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN)]
    for i in range(1, N_TRADERS + 1):
        side = BUY if i % 2 else SELL
        for k in range(3):
            price = PRICE + (k * 10 if side == BUY else -k * 10)
            reqs.append(Order(i, PERP, side, 1 + k, price, k + 1, FAR).signed(trader(i), DOMAIN))
        reqs.append(Transfer(i, i % N_TRADERS + 1, 1_000, 0, FAR).signed(trader(i), DOMAIN))
    reqs += [
        Transfer(1, 2, 5, 1, FAR).signed(trader(2), DOMAIN),  # BadSignature
        Transfer(2, 3, 5, 0, FAR).signed(trader(2), DOMAIN),  # StaleNonce (nonce 0 used)
        Order(3, PERP, BUY, 1, PRICE - 900, 1, FAR).signed(trader(3), DOMAIN),  # OrderIdReused
        Cancel(4, PERP, 77).signed(trader(4), DOMAIN),  # UnknownOrder
        Order(5, PERP, SELL, 2, PRICE + 900, 9, FAR).signed(trader(5), DOMAIN),  # rests
    ]
    return reqs


@pytest.fixture(scope="module")
def reqs():
    return workload()


def test_grouped_submits_answer_as_serial_submits_and_survive_a_restart(tmp_path, reqs):
    svc = start(tmp_path / "grouped")
    results: dict[int, list] = {0: [("ok", svc.submit(reqs[0]))]}  # the price first
    groups = record_groups(svc)
    first, second = reqs[1:15], reqs[15:]
    threads = []
    try:
        base = svc.status()
        with held(svc):
            for k, r in enumerate(first, 1):
                t, results[k] = in_thread(svc.submit, r)
                threads.append(t)
            queued(svc, len(first))
            # a read between the two groups: it sees the state after the first, before the second
            ts, status = in_thread(svc.status)
            queued(svc, len(first) + 1)
            for k, r in enumerate(second, len(first) + 1):
                t, results[k] = in_thread(svc.submit, r)
                threads.append(t)
            queued(svc, len(reqs))
        for t in [*threads, ts]:
            t.join(60)
        assert [len(g) for g in groups] == [len(first), len(second)]
        assert sorted(map(id, groups[0])) == sorted(map(id, first))
        applied = [reqs[0]] + [r for g in groups for r in g]
        by_id = {id(r): answer(results[k][0]) for k, r in enumerate(reqs)}
        n_ok_first = sum(by_id[id(r)][0] == "ok" for r in groups[0])
        assert status[0][1]["seq"] == base["seq"] + n_ok_first
        kinds = [by_id[id(r)][0] if by_id[id(r)][0] == "ok" else by_id[id(r)][1]
                 for r in applied]
        assert {"BadSignature", "StaleNonce", "OrderIdReused", "UnknownOrder"} <= set(kinds)
        after = svc.status()
        assert after["group_commits"] == {"groups": 2, "requests": len(reqs) - 1}
        # one root per group: the status read between the groups saw the first one's
        assert roots(results, groups[0], reqs) == {status[0][1]["root"]}
        assert roots(results, groups[1], reqs) == {after["root"]}
        assert after["stopped"] is None
        fills = svc.fills_since(0, 10_000, None)
        rows = journal_rows(svc)
        assert fills["fills"]
    finally:
        svc.close()

    # the same requests one at a time (no grouping), in the order the service applied them
    one = start(tmp_path / "serial", group_max=1)
    try:
        serial = []
        for r in applied:
            t, out = in_thread(one.submit, r)
            t.join(60)
            serial.append(answer(out[0]))
        assert serial == [by_id[id(r)] for r in applied]
        st = one.status()
        for k in ("root", "seq", "accepted", "rejected", "fills", "resting_orders"):
            assert st[k] == after[k], k
        assert st["group_commits"] == {"groups": 0, "requests": 0}
        # the same fill history, apart from when each fill's request was received
        assert untimed(one.fills_since(0, 10_000, None)) == untimed(fills)
        assert journal_rows(one) == rows
    finally:
        one.close()

    # every acknowledged request is in the journal: a restart (and recover) gives the same state
    cfg = load(tmp_path / "grouped" / "rollup.toml")
    again = SequencerService(cfg, log=lambda m: None).start()
    try:
        st = again.status()
        assert (st["root"], st["seq"]) == (after["root"], after["seq"])
        assert again.fills_since(0, 10_000, None) == fills
    finally:
        again.close()
    rec = recover(cfg.journal_path, cfg.domain(), cfg.tree_depth)
    rec.journal.close()
    assert f"0x{rec.state.root:064x}" == after["root"]


def test_a_group_of_rejected_requests_changes_nothing(tmp_path, reqs):
    svc = start(tmp_path / "a")
    try:
        before, rows = svc.status(), journal_rows(svc)
        bad = [Transfer(1, 2, 5, 0, FAR).signed(trader(2), DOMAIN),  # BadSignature
               Transfer(1, 2, 10**15, 0, FAR).signed(trader(1), DOMAIN),  # no collateral
               Cancel(1, PERP, 5).signed(trader(1), DOMAIN)]  # UnknownOrder
        outs = []
        with held(svc):
            outs = [in_thread(svc.submit, r) for r in bad]
            queued(svc, len(bad))
        for t, _ in outs:
            t.join(60)
        assert [type(o[0][1]).__name__ for _, o in outs] == [
            "BadSignature", "InsufficientCollateral", "UnknownOrder"]
        after = svc.status()
        assert after["group_commits"]["groups"] == 1
        assert (after["root"], after["seq"]) == (before["root"], before["seq"])
        assert after["rejected"] == before["rejected"] + len(bad)
        assert journal_rows(svc) == rows
        # a batch of them too: every entry is its error, nothing applied
        res = svc.submit_batch(bad)
        assert [type(x).__name__ for x in res] == [
            "BadSignature", "InsufficientCollateral", "UnknownOrder"]
        assert svc.status()["root"] == before["root"] and journal_rows(svc) == rows
    finally:
        svc.close()


def test_journal_failure_fails_the_whole_group_and_stops_the_service(tmp_path, reqs):
    folder = tmp_path / "a"
    svc = start(folder)
    try:
        before = svc.status()
        n = before["seq"]

        def block_second_row(s):
            # a row already holding the group's second number: its transaction must fail
            s.journal.db.execute("INSERT INTO requests (seq, body) VALUES (?, ?)",
                                 (n + 2, '{"type": 0}'))

        group = reqs[:6]  # all acceptable: the failure is the journal's alone
        with held(svc, then=block_second_row):
            outs = [in_thread(svc.submit, r) for r in group]
            queued(svc, len(group))
        for t, _ in outs:
            t.join(60)
        assert all(o[0][0] == "error" and isinstance(o[0][1], E.JournalError) for _, o in outs)
        st = svc.status()  # reads still answer, and say why submits are refused
        assert st["stopped"] and "group journal write failed" in st["stopped"]
        assert st["rejected"] == before["rejected"] + len(group)
        with pytest.raises(E.JournalError, match="stopped"):
            svc.submit(reqs[6])
        with pytest.raises(E.JournalError, match="stopped"):
            svc.submit_batch(reqs[6:8])
        svc.call(lambda s: s.journal.db.execute("DELETE FROM requests WHERE seq = ?", (n + 2,)))
    finally:
        svc.close()
    # the restart replays the journal: the state before the group, accepting again
    again = start(folder)
    try:
        st = again.status()
        assert (st["root"], st["seq"], st["stopped"]) == (before["root"], n, None)
        assert again.submit(reqs[0])["seq"] == n + 1
    finally:
        again.close()


def test_lone_submit_journal_failure_is_that_requests_alone(tmp_path, reqs):
    """A submit with nothing queued behind it takes the one-request path, as before group
    commit: its failed journal write rolls it back and the service goes on."""
    svc = start(tmp_path / "a")
    try:
        n = svc.status()["seq"]
        svc.call(lambda s: s.journal.db.execute(
            "INSERT INTO requests (seq, body) VALUES (?, ?)", (n + 1, '{"type": 0}')))
        with pytest.raises(E.JournalError):
            svc.submit(reqs[0])
        st = svc.status()
        assert (st["seq"], st["stopped"]) == (n, None)
        svc.call(lambda s: s.journal.db.execute("DELETE FROM requests WHERE seq = ?", (n + 1,)))
        assert svc.submit(reqs[0])["seq"] == n + 1
    finally:
        svc.close()


def test_unexpected_failure_before_anything_applied_answers_one_by_one(tmp_path, reqs):
    svc = start(tmp_path / "a")
    try:
        calls = []
        seq = svc.call(lambda s: s.seq)

        def broken(batch, **kw):  # fails before applying anything
            calls.append(len(batch))
            raise RuntimeError("verifier unavailable")

        seq.submit_many = broken
        before = svc.status()
        with held(svc):
            outs = []
            for k, r in enumerate(reqs[:4]):  # queued in this order (the price first)
                outs.append(in_thread(svc.submit, r))
                queued(svc, k + 1)
        for t, _ in outs:
            t.join(60)
        assert calls == [4]
        assert all(o[0][0] == "ok" for _, o in outs)
        assert svc.status()["seq"] == before["seq"] + 4
        del seq.submit_many
    finally:
        svc.close()


def test_api_benchmark_smoke(tmp_path):
    from benchmarks import api as bench

    records: list[dict] = []
    reqs = bench._stream(40, 8, signed=False)
    bench.bench_mode(records, "ack", reqs, 4, 0, 8, False, tmp_path)
    bench.bench_mode(records, "batch", reqs, 2, 10, 8, False, tmp_path)
    assert [r["mode"] for r in records] == ["ack", "batch"]
    assert all(r["accepted"] == 40 and r["per_second"] > 0 for r in records)
    assert 0 < records[0]["ack_p50_ms"] <= records[0]["ack_p99_ms"]
    assert records[1]["mean_group"] >= 10  # a batch is journaled as one group


def test_api_trace_smoke(tmp_path):
    """``--mode trace``: every segment of a lone order's path is seen for every order, and the
    segments tile the client's send-to-answer time (the sum of their means is the mean ack)."""
    from benchmarks import api as bench

    records: list[dict] = []
    bench.bench_trace(records, bench._stream(30, 8, signed=True), 8, tmp_path)
    seg = records[0]["segments_us"]
    named = {k: v for k, v in seg.items() if not k.startswith("(")}
    assert list(named) == [name for name, _, _ in bench._Trace.SEGMENTS]
    assert all(v["n"] == 30 and v["p50_us"] >= 0 for v in named.values())
    tiled = sum(v["mean_us"] for v in named.values())
    assert abs(tiled - records[0]["ack_mean_ms"] * 1e3) < 0.1 * len(named)  # rounding only
    assert seg["(inside the commit) COMMIT statement: fsync"]["n"] == 30


def test_restart_from_the_services_snapshot_keeps_state_books_and_fills(tmp_path, reqs):
    """With ``snapshot_every`` the service snapshots the sequencer (the fill history is in the
    journal's database); a restart loads the newest snapshot and replays only the journal rows
    after it: same root, books and fills as a full replay. A snapshot written by the engine's
    own ``snapshot`` serves the service just as well; one taken after another journal's row,
    of another domain, or damaged, is skipped for a full replay."""
    from rollup.durability.journal import snapshot

    logs: list[str] = []
    cfg = load(write_config(tmp_path / "snap", n_traders=N_TRADERS, snapshot_every=7))
    svc = SequencerService(cfg, log=logs.append).start()
    for r in reqs[:-3]:
        try:
            svc.submit(r)
        except E.EngineError:
            pass

    def view(s):
        seq = s.seq
        fills = msgspec.to_builtins(s.fills_page(0, 10**9, None).fills)
        return (seq.seq, seq.state.root, [f["id"] for f in fills], fills,
                {a: sorted((o.account, o.order_id, o.remaining) for o in b.by_key.values())
                 for a, b in seq.books.items()})

    written = [m for m in logs if m.startswith("snapshot at")]
    assert len(written) >= 2, logs  # every 7 requests (the genesis is 7+ rows)
    want = svc.call(view)
    svc.close()
    assert any(m.startswith("snapshot at") for m in logs[-2:])  # and one at the clean stop
    assert not admin_token_file(cfg).exists()  # the operator token lives while the service does

    logs.clear()
    svc = SequencerService(cfg, log=logs.append).start()
    assert svc.call(view) == want
    restored = [m for m in logs if m.startswith("restored the snapshot at")]
    assert restored and restored[0].startswith(f"restored the snapshot at {want[0]}, replayed 0")
    # the journal goes on from there; a second restart sees the new rows after the snapshot
    for r in reqs[-3:]:
        try:
            svc.submit(r)
        except E.EngineError:
            pass
    want = svc.call(view)
    svc.close()
    svc = SequencerService(cfg, log=logs.append).start()
    assert svc.call(view) == want
    # a snapshot written by the engine's own snapshot function: the service starts from it
    # (nothing of the fill history is in a snapshot)
    n = svc.call(lambda s: s.seq.seq)
    svc.call(lambda s: snapshot(s.seq))
    svc.close()
    logs.clear()
    svc = SequencerService(cfg, log=logs.append).start()
    assert svc.call(view) == want
    assert any(m.startswith(f"restored the snapshot at {n}, replayed 0") for m in logs), logs
    svc.close()
    # a snapshot of the service's own, but the journal's row at its number is not the one it was
    # taken after (another journal), or the configuration's domain changed: skipped
    svc = SequencerService(cfg, log=logs.append).start()
    n = svc.call(lambda s: s.seq.seq)
    svc.call(lambda s: s.journal.maybe_snapshot(s.seq, stopping=True))
    svc.close()
    import sqlite3

    db = sqlite3.connect(cfg.journal_path)
    (body,) = db.execute("SELECT body FROM requests WHERE seq = ?", (n,)).fetchone()
    db.execute("UPDATE requests SET body = ? WHERE seq = ?", (" " + body, n))  # same request
    db.commit()
    db.close()
    logs.clear()
    svc = SequencerService(cfg, log=logs.append).start()
    assert svc.call(view) == want
    # (skipped for an older snapshot of the journal, if one is left, or a full replay)
    assert any("does not match" in m for m in logs) and not any(
        m.startswith(f"restored the snapshot at {n},") for m in logs), logs
    svc.close()
    other = load(write_config(tmp_path / "snap", n_traders=N_TRADERS, snapshot_every=7,
                              chain_id=424242))
    logs.clear()
    svc = SequencerService(other, log=logs.append).start()
    assert svc.call(lambda s: s.seq.domain.chain_id) == 424242
    assert not any(m.startswith("restored") for m in logs), logs
    svc.close()
    # damaged snapshot files: skipped, full replay
    damaged = list((cfg.data / "journal.db.snapshots").glob("snap-*.snap"))
    assert damaged
    for p in damaged:
        p.write_bytes(p.read_bytes()[:-10])
    logs.clear()
    svc = SequencerService(cfg, log=logs.append).start()
    assert svc.call(view) == want
    assert not any(m.startswith("restored") for m in logs), logs
    svc.close()
    assert recover(cfg.journal_path, DOMAIN, cfg.tree_depth).state.root == want[1]


def test_signatures_are_checked_on_the_callers_thread(tmp_path, reqs):
    """The service verifies a submit's signature in one compiled batch on the caller's thread
    (beside the single writer); the worker uses the answer only for the key still current."""
    svc = start(tmp_path / "a")
    try:
        seq = svc.call(lambda s: s.seq)
        threads: list[str] = []
        real = seq.preverify

        def spy(batch):
            threads.append(threading.current_thread().name)
            return real(batch)

        seq.preverify = spy
        assert svc.submit(reqs[0])["accepted"]
        res = svc.submit_batch(reqs[1:8])
        assert all(not isinstance(r, Exception) for r in res), res
        forged = Transfer(1, 2, 5, 1, FAR).signed(trader(2), DOMAIN)
        with pytest.raises(E.BadSignature):
            svc.submit(forged)
        assert threads and "sequencer" not in threads and len(threads) == 3
        # an answer for a key that is no longer the signer's is not used: verified again
        fake = seq.preverify([forged])
        assert fake[0] is not None and fake[0][1] is False
        with pytest.raises(E.BadSignature):
            svc.call(lambda s: s.seq.submit(forged, ((1, 2), True)))  # another key: re-checked
    finally:
        svc.close()


def test_api_submits_are_verified_and_limited_at_their_turn_in_one_batch(tmp_path, reqs):
    """``enqueue(admit=True)`` (POST /v1/requests): no thread before the writer; the worker
    checks the signatures of the entries it takes together in one batch, then their rate
    limits in queue order; a forged or limited request is answered in its place, changing
    nothing, and the others go ahead."""
    from rollup.api.codec import ApiError
    from rollup.api.limits import RateLimiter

    svc = start(tmp_path / "a")
    try:
        assert svc.submit(reqs[0])["accepted"]  # the oracle price
        seq = svc.call(lambda s: s.seq)
        calls: list[tuple[str, int]] = []
        real = seq.preverify

        def spy(batch):
            calls.append((threading.current_thread().name, len(batch)))
            return real(batch)

        seq.preverify = spy
        svc.limiter = RateLimiter(0.01, 1)  # one request per account, then 429
        items = [Order(1, PERP, SELL, 1, PRICE + 500, 1, FAR).signed(trader(1), DOMAIN),
                 Order(2, PERP, SELL, 1, PRICE + 500, 1, FAR).signed(trader(1), DOMAIN),
                 Order(1, PERP, SELL, 1, PRICE + 600, 2, FAR).signed(trader(1), DOMAIN),
                 Order(3, PERP, SELL, 1, PRICE + 500, 1, FAR).signed(trader(3), DOMAIN)]
        before = svc.status()
        with held(svc):
            futs = [svc.enqueue([r], single=True, public=True, admit=True) for r in items]
            queued(svc, len(items))
        outs = []
        for f in futs:
            try:
                outs.append(f.result(60).seq)
            except Exception as exc:
                outs.append(type(exc).__name__)
        assert calls == [("sequencer", 4)]
        assert outs[0] == before["seq"] + 1 and outs[3] == before["seq"] + 2
        assert outs[1] == "BadSignature" and outs[2] == "ApiError"
        assert isinstance(futs[2].exception(), ApiError) and futs[2].exception().status == 429
        after = svc.status()
        assert after["seq"] == before["seq"] + 2 and after["rate_limited"] == 1
    finally:
        svc.close()


def test_a_read_queued_behind_a_group_sees_its_receipts_and_history(tmp_path):
    """Receipts are stored and the order history fed after the answers, but before the worker
    runs the next entry: a read queued right behind a group (taken while the group was
    gathered) sees the group's fill times and order states."""
    svc = start(tmp_path / "a")
    try:
        assert svc.submit(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))["accepted"]
        maker = Order(1, PERP, SELL, 2, PRICE, 1, FAR).signed(trader(1), DOMAIN)
        taker = Order(2, PERP, BUY, 2, PRICE, 1, FAR).signed(trader(2), DOMAIN)
        with held(svc):
            futs = [svc.enqueue([r], single=True, public=True, admit=True)
                    for r in (maker, taker)]
            queued(svc, 2)
            page = svc.call_soon(lambda s: (s.fills_page(0, 10, None),
                                            s.order_status(1, 1)))
            queued(svc, 3)
        rs = [f.result(60) for f in futs]
        fills, status = page.result(60)
        assert rs[1].fills and [f.received_us for f in fills.fills] == \
            [rs[1].received_us] * len(rs[1].fills)
        assert status.status == "filled" and status.filled == 2
    finally:
        svc.close()
