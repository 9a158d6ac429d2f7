"""`rollup sequencer run` as a process: concurrent clients, SIGKILL, restart from the journal.

Every acknowledged request must survive a SIGKILL (it was journaled before the answer), and the
restarted server's root must equal the root of replaying exactly the acknowledged requests on
the genesis. Requests are signed before the clock starts (signing is slow in Python).
"""

from __future__ import annotations

import http.client
import json
import signal
import threading

from rollup.config import load
from rollup.durability.journal import Journal
from rollup.engine.restart import recover
from rollup.engine.sequencer import Sequencer
from rollup.recovery.genesis import genesis_requests
from rollup.state.state import State
from rollup.transactions import (
    BUY,
    POST_ONLY,
    SELL,
    Cancel,
    OracleUpdate,
    Order,
    Transfer,
    request_from_json,
)
from tests.support.operator import (
    DOMAIN,
    ORACLE,
    PERP,
    PRICE,
    Client,
    ServerProcess,
    body,
    trader,
    wait_until,
    write_config,
)

THREADS, PER_THREAD = 8, 50
FAR = 10**9


def n_transfers(per_thread: int) -> int:
    return sum(1 for k in range(per_thread - 1) if k % 5 == 4)


def scripts(n_threads: int, per_thread: int, nonce0: int = 0, oid0: int = 0) -> list[list]:
    """Per thread (account t + 1): orders crossing the other threads', some transfers (own
    nonces, in order) and cancels (some of orders already filled: rejected)."""
    out = []
    for t in range(n_threads):
        a, key, nonce, reqs = t + 1, trader(t + 1), nonce0, []
        for k in range(per_thread):
            if k == per_thread - 1:  # one order far from the others: it rests
                side = BUY if t % 2 else SELL
                far = PRICE - 5_000 if side == BUY else PRICE + 5_000
                reqs.append(Order(a, PERP, side, 1, far, oid0 + k + 1, FAR, POST_ONLY))
            elif k % 5 == 4:
                reqs.append(Transfer(a, a % n_threads + 1, 1_000 + k, nonce, FAR))
                nonce += 1
            elif k % 7 == 6:
                reqs.append(Cancel(a, PERP, oid0 + k))
            else:
                side = BUY if (t + k) % 2 else SELL
                price = PRICE + (k % 3) * 10 * (1 if side == BUY else -1)
                reqs.append(Order(a, PERP, side, 1 + k % 3, price, oid0 + k + 1, FAR))
        out.append([body(r.signed(key, DOMAIN)) for r in reqs])
    return out


def run_clients(url: str, per_thread: list[list[bytes]], acks: list, stop=None) -> list:
    """Each thread posts its bodies in order on one connection; acks collects (seq, body) of
    every 200; returns the statuses seen."""
    statuses, lock = [], threading.Lock()

    def worker(bodies):
        c = Client(url, timeout=60)
        try:
            for b in bodies:
                if stop is not None and stop.is_set():
                    return
                try:
                    s, r = c.call("POST", "/v1/requests", b)
                except (OSError, http.client.HTTPException, ValueError):  # the server was killed
                    return
                with lock:
                    statuses.append(s)
                    if s == 200:
                        acks.append((r["seq"], b, r["root"]))
        finally:
            c.close()

    ts = [threading.Thread(target=worker, args=(b,)) for b in per_thread]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return statuses


def replay(cfg, bodies_by_seq: dict[int, bytes], genesis_seq: int) -> Sequencer:
    """The genesis, then exactly these requests in journal order, on a fresh sequencer."""
    seq = Sequencer(State(cfg.tree_depth), cfg.domain())
    for r in genesis_requests(cfg):
        seq.apply_verified(r)
    assert seq.seq == genesis_seq
    for n in sorted(bodies_by_seq):
        seq.apply_verified(request_from_json(json.loads(bodies_by_seq[n])))
        assert seq.seq == n
    return seq


def test_concurrent_clients_sigkill_restart(tmp_path):
    path = write_config(tmp_path / "op", n_traders=THREADS, depth=8)
    cfg = load(path)
    oracle = body(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))
    work = scripts(THREADS, PER_THREAD)
    tail = scripts(4, 30, nonce0=n_transfers(PER_THREAD), oid0=1000)
    log = tmp_path / "server.log"

    srv = ServerProcess(path, log).start()
    c = Client(srv.url)
    st0 = c.get("/v1/status")
    s, r = c.call("POST", "/v1/requests", oracle)
    assert s == 200, r
    acks = [(r["seq"], oracle, r["root"])]
    statuses = run_clients(srv.url, work, acks)
    assert len(statuses) == THREADS * PER_THREAD
    assert set(statuses) <= {200, 404, 409, 422}
    assert statuses.count(200) > THREADS * PER_THREAD // 2
    st1 = c.get("/v1/status")
    fills1 = c.get("/v1/fills?limit=10000")["fills"]
    assert fills1 and st1["resting_orders"] >= THREADS
    # every request acknowledged exactly once, in one gapless sequence after the genesis, and
    # the root is the root of replaying the acknowledged requests
    seqs = sorted(n for n, _, _ in acks)
    assert seqs == list(range(st0["seq"] + 1, st1["seq"] + 1))
    by_seq = {n: b for n, b, _ in acks}
    assert replay(cfg, by_seq, st0["genesis_seq"]).state.root == int(st1["root"], 16)
    assert max(acks)[2] == st1["root"]
    c.close()

    # a second burst, SIGKILLed in the middle: whatever was acknowledged is in the journal
    stop = threading.Event()
    runner = threading.Thread(target=run_clients, args=(srv.url, tail, acks, stop))
    runner.start()
    wait_until(lambda: len(acks) >= len(by_seq) + 10, timeout=60)
    assert srv.kill(signal.SIGKILL) == -signal.SIGKILL
    stop.set()
    runner.join(60)
    j = Journal(cfg.journal_path)
    try:
        journal = {n: json.dumps(r.to_json()).encode() for n, r in j.requests_after(st0["seq"])}
    finally:
        j.close()
    for n, b, _ in acks:
        assert json.loads(journal[n]) == json.loads(b)
    assert len(journal) >= len(acks) > len(by_seq)  # (a request may be journaled, unanswered)
    expect = replay(cfg, journal, st0["genesis_seq"])

    srv = ServerProcess(path, log).start()
    c = Client(srv.url)
    st2 = c.get("/v1/status")
    assert st2["seq"] == st0["seq"] + len(journal)
    assert int(st2["root"], 16) == expect.state.root
    assert st2["resting_orders"] == sum(len(b) for b in expect.books.values())
    assert c.get("/v1/fills?limit=10000")["fills"][:len(fills1)] == fills1
    assert c.get("/v1/accounts/1")["nonce"] >= n_transfers(PER_THREAD)
    rec = recover(cfg.journal_path, cfg.domain(), cfg.tree_depth)
    rec.journal.close()
    assert rec.state.root == expect.state.root
    s, r = c.call("POST", "/v1/requests", b"{" * 10)  # malformed: rejected, still serving
    assert s == 400 and c.get("/v1/status")["seq"] == st2["seq"]
    c.close()
    assert srv.kill(signal.SIGTERM) == 0
    assert "Traceback" not in log.read_text()


def test_the_writer_settles_once_the_answer_is_written(served, monkeypatch):
    """The receipts of answered requests are stored when the server says the answers are
    written, not only after the writer's idle wait (made a minute long here)."""
    from rollup.api import service as S

    monkeypatch.setattr(S, "SETTLE_IDLE_S", 60.0)
    svc = served.svc
    for oid in (1, 2, 3):
        st, r = served.client.post(Order(1, PERP, BUY, 1, PRICE - 1_000, oid, 10**9)
                                   .signed(trader(1), DOMAIN))
        assert st == 200, r
        wait_until(lambda: not svc._unsettled, timeout=10)
        seq = r["seq"]
        assert svc.call(lambda s, seq=seq: s.journal.receipt(seq)) is not None
