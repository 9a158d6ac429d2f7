"""CancelAll, DropOrders and atomic groups in the journal: a group is journaled as its requests (one
row each, one transaction) or not at all; a restart from the journal alone or from a snapshot
reproduces the engine exactly; the batch builder replays such a journal to the engine's root."""

from __future__ import annotations

import json
import sqlite3

import pytest

from rollup import errors as E
from rollup.durability.journal import Journal, request_json, snapshot
from rollup.engine import testnet as tn
from rollup.engine.restart import recover
from rollup.engine.testnet import CALL, DOMAIN, FAR, PERP, SOON
from rollup.settlement.batch import build_batch, plan_batches
from rollup.state.encoding import ORDER_TREE_DEPTH
from rollup.transactions import (
    BUY,
    SELL,
    T_CANCEL_ALL,
    T_DROP_ORDERS,
    Cancel,
    CancelAll,
    DropOrders,
    Order,
)
from tests.support.engine import check_consistent, receipt_view, view

order = tn.order


def signed(req):
    return req.signed(tn.key(req.account), DOMAIN)


def full_view(seq):
    v = view(seq)
    v["root"] = seq.state.root
    return v


def steps():
    """The scripted flow: (what, request or group); a group named "rejected" must fail."""
    return [
        ("one", order(1, SELL, 10, 60_100, 1)),
        ("one", order(1, SELL, 10, 60_200, 2)),
        ("one", order(1, BUY, 10, 2_900, 3, asset=CALL)),
        ("one", order(2, BUY, 10, 59_900, 1)),
        ("one", order(2, SELL, 10, 3_100, 2, asset=CALL)),
        ("group", [signed(Cancel(1, PERP, 2)), signed(Order(1, PERP, SELL, 8, 60_150, 4, FAR))]),
        ("group", [signed(CancelAll(2, 0, 100, SOON)),
                   signed(Order(2, PERP, BUY, 6, 59_950, 3, FAR)),
                   signed(Order(2, PERP, SELL, 6, 60_120, 4, FAR)),  # STP drops nothing: asks
                   signed(Order(2, CALL, BUY, 4, 3_000, 5, FAR))]),
        ("rejected", [signed(CancelAll(2, 0, 100, SOON)),
                      signed(Order(2, PERP, BUY, 6, 60_100, 6, FAR)),  # fills 1's ask
                      signed(Order(2, PERP, SELL, 1, 61_000, 3, FAR))]),  # id 3 used
        ("one", order(3, BUY, 5, 60_150, 1)),  # fills 2's ask, then 1's asks
        ("one", signed(CancelAll(1, PERP, 3, SOON))),
        ("one", DropOrders(2, CALL)),
        ("one", order(3, SELL, 2, 59_000, 2)),
    ]


def run(seq, todo, snap_at=None):
    """Apply the flow (a snapshot after step ``snap_at``); the snapshot's sequence number."""
    taken = None
    for k, (what, x) in enumerate(todo):
        n = seq.seq
        if what == "one":
            seq.submit(x)
        elif what == "group":
            assert len(seq.submit_group(x)) == len(x)
        else:
            with pytest.raises(E.GroupRejected):
                seq.submit_group(x)
            assert seq.seq == n
        assert seq.journal.last_seq() == seq.seq
        if k == snap_at:
            snapshot(seq)
            taken = seq.seq
    return taken


def test_restart_from_the_journal_or_a_snapshot_is_exact(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=3, journal=Journal(path))
    taken = run(seq, steps(), snap_at=6)
    check_consistent(seq)
    want = full_view(seq)
    types = [json.loads(b)["type"] for (b,) in seq.journal.db.execute(
        "SELECT body FROM requests ORDER BY seq")]
    assert types.count(T_CANCEL_ALL) == 2 and types.count(T_DROP_ORDERS) == 1
    seq.journal.close()
    for use_snapshot in (False, True):
        again = recover(path, DOMAIN, account_depth=8, use_snapshot=use_snapshot)
        assert again.journal.restored_from == (taken if use_snapshot else None)
        assert full_view(again) == want
        check_consistent(again)
        # and it goes on as the engine it replays (copies: the journal stays as it is)
        nxt = order(1, BUY, 3, 60_200, 9)
        assert receipt_view(again.clone().submit(nxt)) == receipt_view(seq.clone().submit(nxt))
        again.journal.close()


def test_a_group_is_one_row_per_request_in_one_transaction(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=3, journal=Journal(path))
    n = seq.seq
    group = [signed(CancelAll(1, 0, 50, SOON)), order(1, SELL, 10, 60_100, 1),
             order(1, BUY, 10, 59_900, 2)]
    seq.submit_group(group)
    rows = list(seq.journal.db.execute("SELECT seq, body FROM requests WHERE seq > ?", (n,)))
    assert rows == [(n + 1 + k, request_json(r)) for k, r in enumerate(group)]
    # a row already holding the next group's second number: its transaction must fail, and the
    # sequencer stops (its memory holds what the journal does not)
    m = seq.seq
    seq.journal.db.execute("INSERT INTO requests (seq, body) VALUES (?, ?)", (m + 2, "{}"))
    with pytest.raises(E.JournalError):
        seq.submit_group([signed(Cancel(1, PERP, 1)), order(1, SELL, 5, 60_300, 3)])
    assert seq.journal.last_seq() == m + 2 and seq.failed
    with pytest.raises(E.JournalError):
        seq.submit_group([signed(Cancel(1, PERP, 2))])
    seq.journal.db.execute("DELETE FROM requests WHERE seq = ?", (m + 2,))
    seq.journal.close()
    again = recover(path, DOMAIN, account_depth=8)
    assert again.seq == m and sorted(again.books[PERP].by_key) == [(1, 1), (1, 2)]
    again.journal.close()


def test_the_batch_builder_replays_such_a_journal_to_the_engines_root(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=3, journal=Journal(path))
    start, first = seq.seq, len(seq.records)
    run(seq, steps())
    reqs = [r for _, r in seq.journal.requests_after(start)]
    assert any(isinstance(r, CancelAll) for r in reqs) and any(
        isinstance(r, DropOrders) for r in reqs)
    pre = recover(Journal(path), DOMAIN, account_depth=8, upto=start)
    records = seq.records[first:]  # the trades: cancels publish nothing
    batch = build_batch(pre, reqs, slots=len(records) + 1, batch_number=1)
    assert batch.new_root == seq.state.root and batch.records == records
    # split into batches of 2 slots, each built from the state the previous one left
    for part in plan_batches(pre, reqs, slots=2):
        b = build_batch(pre, part, slots=2, batch_number=1)
        for r in part:
            pre.apply_verified(r)
        assert b.new_root == pre.state.root
    assert pre.state.root == seq.state.root
    seq.journal.close()


def test_drop_orders_survives_a_restart(tmp_path):
    """The operator's cancel-on-disconnect is journaled: after a restart the book does not hold
    the dropped orders again."""
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=2, journal=Journal(path))
    seq.submit(order(1, SELL, 10, 60_100, 1))
    seq.submit(order(1, BUY, 10, 2_900, 2, asset=CALL))
    r = seq.submit(DropOrders(1))
    assert [oid for _, oid, _ in r.dropped] == [1, 2]
    seq.journal.close()
    again = recover(path, DOMAIN, account_depth=8)
    assert again.open_orders(1) == [] and again.live == {}
    assert (again.state.root, again.seq) == (seq.state.root, seq.seq)
    again.journal.close()


def test_both_sides_rest_after_a_group(tmp_path):
    """A mass quote's orders rest in the order given (time priority follows the group)."""
    seq = tn.venue(n_accounts=2, journal=Journal(tmp_path / "j.db"))
    seq.submit_group([order(1, BUY, 1, 59_900, 1), order(1, BUY, 2, 59_900, 2)])
    seq.submit(order(2, BUY, 3, 59_900, 1))
    assert [(o.account, o.order_id) for o in seq.books[PERP].bids.iter_orders()] == [
        (1, 1), (1, 2), (2, 1)]
    seq.journal.close()


@pytest.mark.adversarial
def test_a_journal_of_another_order_depth_is_refused(tmp_path):
    """Order ids take slot ``id mod 2**depth``: rows written with depth-8 order trees would
    replay here into another state without any error. A journal is stamped with the depth on
    its first use; one of another depth, or one with rows and no stamp (written before the
    stamp, at depth 8), is refused by recovery and by a sequencer given it, before any row is
    applied; a replayed cancel-all is still refused after a restart."""
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=2, journal=Journal(path))
    ca = signed(CancelAll(1, 0, 9, SOON))
    seq.submit(order(1, SELL, 10, 60_100, 1))
    seq.submit(ca)
    seq.submit(order(1, SELL, 10, 60_200, 2))
    depth = str(ORDER_TREE_DEPTH)
    assert seq.journal._meta("order_depth") == depth
    seq.journal.close()
    again = recover(path, DOMAIN, account_depth=8)
    with pytest.raises(E.Replayed):
        again.submit(ca)
    assert [o.order_id for o in again.open_orders(1)] == [2]
    snapshot(again)
    again.journal.close()
    for stamp in ("8", None):
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("DELETE FROM meta WHERE key = 'order_depth'")
        if stamp is not None:
            db.execute("INSERT INTO meta (key, value) VALUES ('order_depth', ?)", (stamp,))
        db.close()
        for use_snapshot in (True, False):
            with pytest.raises(E.JournalError, match="order_depth = 8"):
                recover(path, DOMAIN, account_depth=8, use_snapshot=use_snapshot)
        j = Journal(path)
        with pytest.raises(E.JournalError, match="order_depth = 8"):
            tn.venue(n_accounts=2, journal=j)
        assert j._meta("order_depth") == stamp
        j.close()
