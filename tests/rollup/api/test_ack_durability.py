"""An answer to POST /v1/requests is sent only once its journal commit (the fsync) returned:
a held commit holds the answer, a failed commit is a 503 and nothing of the request is kept.
The state's hashing runs during the commit; a commit that fails after it stops the service
until a restart replays the journal."""

from __future__ import annotations

import threading
import time

from rollup.transactions import BUY, SELL, Order, Transfer
from tests.support.journal_faults import CommitGate
from tests.support.operator import DOMAIN, PERP, PRICE, trader

FAR = 10**9


def gate(served) -> CommitGate:
    def install(s):
        s.journal.db = CommitGate(s.journal.db)
        return s.journal.db

    return served.svc.call(install)


def order(i, side, size, price, oid):
    return Order(i, PERP, side, size, price, oid, FAR).signed(trader(i), DOMAIN)


def post_in_thread(served, req):
    out: list = []
    t = threading.Thread(target=lambda: out.append(served.client.post(req)), daemon=True)
    t.start()
    return t, out


def test_no_answer_before_the_journal_commit_returns(served):
    g = gate(served)
    g.hold = threading.Event()
    t, out = post_in_thread(served, order(1, SELL, 3, PRICE, 1))
    assert g.entered.wait(30)
    time.sleep(0.3)
    assert t.is_alive() and not out  # the commit is held: no answer yet
    g.hold.set()
    t.join(30)
    (st, r), = out
    assert st == 200 and r["resting"]["remaining"] == 3
    # a fill (its hashing runs beside the commit) the same way
    g.hold.clear()
    g.entered.clear()
    t, out = post_in_thread(served, order(2, BUY, 1, PRICE, 1))
    assert g.entered.wait(30)
    time.sleep(0.3)
    assert t.is_alive() and not out
    g.hold.set()
    t.join(30)
    (st, r), = out
    assert st == 200 and len(r["fills"]) == 1
    assert served.client.get("/v1/status")["seq"] == r["seq"]


def test_a_failed_commit_is_a_503_and_keeps_nothing(served):
    c = served.client
    g = gate(served)
    before = c.get("/v1/status")
    # nothing to hash (a resting order): the commit fails, the request is rolled back
    g.fail_next = True
    st, r = c.post(order(1, SELL, 3, PRICE, 1))
    assert (st, r["error"]["code"]) == (503, "JournalError"), r
    st1 = c.get("/v1/status")
    assert (st1["seq"], st1["root"], st1["stopped"]) == (before["seq"], before["root"], None)
    st, r = c.post(order(1, SELL, 3, PRICE, 1))
    assert st == 200, r
    mid = c.get("/v1/status")
    # a transfer moves two accounts: hashed during its commit, which fails: service stopped
    g.fail_next = True
    st, r = c.post(Transfer(2, 3, 1_000, 0, FAR).signed(trader(2), DOMAIN))
    assert (st, r["error"]["code"]) == (503, "JournalError"), r
    st2 = c.get("/v1/status")
    assert st2["stopped"] and "journal commit failed" in st2["stopped"]
    st, r = c.post(order(4, BUY, 1, PRICE - 900, 1))
    assert (st, r["error"]["code"]) == (503, "JournalError")
    # the restart replays the journal: the state before the transfer, accepting again
    served.restart()
    c = served.client
    st3 = c.get("/v1/status")
    assert (st3["seq"], st3["root"], st3["stopped"]) == (mid["seq"], mid["root"], None)
    st, r = c.post(Transfer(2, 3, 1_000, 0, FAR).signed(trader(2), DOMAIN))
    assert st == 200 and r["seq"] == mid["seq"] + 1, r
