"""Snapshots (format 1): a loaded snapshot is the engine it was taken from, every observable
compared, and goes on identically; a damaged, unknown or foreign file is refused with
SnapshotError and recovery falls back to an older file or to the journal alone; the golden v1
file still loads; the fill history is journaled with its requests; no pickle in ``rollup/``.

``python tests/rollup/durability/test_snapshot.py`` rewrites the golden file (only ever for a new
format version, under a new name: old files must keep loading; the exception is a change of the
state commitment, which no old state survives: the order trees' depth 8 -> 12 rewrote it, and
so did the scenario rule: rows in the oracle leaves and the global root, published by the venue
before its first trade, the positions root as one H16 over packed words, and the quaternary
Merkle trees).
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from circuits.merkle import SparseMerkleTree as RefTree
from circuits.poseidon import poseidon
from rollup import errors as E
from rollup.durability import snapshot as S
from rollup.durability.journal import Journal, snapshot
from rollup.engine import testnet as tn
from rollup.engine.restart import recover
from rollup.engine.sequencer import Sequencer
from rollup.engine.testnet import CALL, FAR, PERP
from rollup.transactions import BUY, SELL, Domain, FundingTick, Order, Withdrawal
from tests.support.engine import (
    check_consistent,
    compare,
    compare_roots,
    differential,
    run_one,
    seeded_ops,
    submit_chunk,
    through_snapshot,
    view,
)

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "vectors" / "snapshot-v1.snap"


def through_file(seq) -> Sequencer:
    return through_snapshot(seq)


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_round_trip_after_random_streams_then_same_future(seed):
    """After a random stream (orders of every kind, options, funding, prices, withdrawals,
    liquidations, expiries), the loaded snapshot equals the engine in every observable (accounts
    with nonces, books in priority order with their stamps, live slots, seen ids, signed
    resting orders, records, resting totals, time, oracle, sequence number) and the root; both
    then take the same further requests with the same results and roots."""
    flow = seeded_ops(seed, 120)
    ref, engine = differential(flow[:80], [7, 3, 11], [""])
    assert sum(len(b) for b in engine.books.values()) > 3 and engine.records
    back = through_file(engine)
    check_consistent(back)
    assert view(back) == view(engine)
    assert back.state.root == engine.state.root and back.seq == engine.seq
    assert back.state.recompute_root() == engine.state.root
    # the same future on both: the one loaded and the one that never stopped
    rng = random.Random(seed)
    more = []
    for k in range(80):
        asset = rng.choice([PERP, PERP, CALL])
        mid, step = (60_000, 100) if asset == PERP else (3_000, 10)
        more.append(Order(rng.randrange(1, 5), asset, rng.randrange(2), rng.randrange(1, 3_000),
                          mid + rng.randrange(-5, 6) * step, 50_000 + k, FAR))
    for k in range(0, len(more), 16):
        assert submit_chunk(back, more[k:k + 16]) == submit_chunk(engine, more[k:k + 16])
    compare(engine, back)
    compare_roots(engine, back)


def test_signed_resting_orders_and_a_wide_account_round_trip():
    """Signatures of resting orders (a batch proves them) and the exact totals of an account
    beyond the compiled core's range survive; the loaded engine trades on identically."""
    seq = tn.venue(n_accounts=4)
    seq.submit(tn.order(1, SELL, 10, 60_100, 1))
    seq.submit(tn.order(2, BUY, 5, 59_900, 1))
    seq.submit(tn.order(3, SELL, 3, 3_100, 1, asset=CALL))
    seq.apply_verified(Order(4, PERP, SELL, 2**20, 2**50, 1, FAR))  # notional 2**70: wide
    assert 4 in seq._wide_totals
    back = through_file(seq)
    assert back.resting == seq.resting and back.resting[(1, 1)].sig is not None
    assert back._wide_totals == seq._wide_totals and view(back) == view(seq)
    nxt = [tn.order(3, BUY, 12, 60_200, 2), tn.order(4, SELL, 5, 59_900, 2)]
    assert [run_one(back, r) for r in nxt] == [run_one(seq, r) for r in nxt]
    compare(seq, back)
    compare_roots(seq, back)


def test_clone_is_independent_and_goes_on_identically():
    _, seq = differential(seeded_ops(4, 60), [4], [""])
    copy = seq.clone()
    before = view(copy)
    assert before == view(seq) and copy.journal is None
    more = [Order(1, PERP, SELL, 7, 60_000, 5_001, FAR), Order(2, PERP, BUY, 9, 60_100, 5_001,
                                                                 FAR)]
    want = [run_one(seq, r) for r in more]
    assert any(w[0] == "ok" and w[1][3] for w in want)  # it traded
    assert view(copy) == before  # the original moved on, the copy did not
    assert [run_one(copy, r) for r in more] == want
    compare(seq, copy)
    compare_roots(seq, copy)


# --- the file -----------------------------------------------------------------------------------


def _file(seq) -> bytes:
    return S.encode(seq.to_snapshot())


def _rehash(data: bytes) -> bytes:
    n = len(S.MAGIC) + 8
    return data[:n] + hashlib.sha256(data[n + 32:]).digest() + data[n + 32:]


def test_damaged_unknown_and_foreign_files_are_refused():
    seq = tn.venue(n_accounts=2)
    good = _file(seq)
    assert S.decode(good).root == seq.state.root
    flipped = bytearray(good)
    flipped[-3] ^= 1
    cases = {
        "hash": bytes(flipped), "hash ": good[:-7], "not a snapshot": b"ZKDSNAX\n" + good[8:],
        "format 2": good[:8] + struct.pack(">I", 2) + good[12:],
    }
    # a valid hash over a header naming an object dtype: refused before any byte is read
    n = len(S.MAGIC) + S._FIXED.size
    hlen = struct.unpack(">I", good[12:16])[0]
    header = json.loads(good[n:n + hlen])
    header["arrays"][0]["dtype"] = "|O"
    h = json.dumps(header).encode()
    cases["dtype |O"] = _rehash(good[:12] + struct.pack(">I", len(h)) + bytes(32) + h
                                + good[n + hlen:])
    for why, data in cases.items():
        with pytest.raises(S.SnapshotError, match=why.split()[0] if why != "hash " else "hash"):
            S.decode(data)
    other = S.decode(good)
    with pytest.raises(S.SnapshotError, match="another domain"):
        Sequencer.from_snapshot(other, Domain(1, 2))
    with pytest.raises(S.SnapshotError, match="depth"):
        Sequencer.from_snapshot(other, tn.DOMAIN, 16)
    # a table that does not give the header's root
    wrong = other._replace(root=other.root ^ 1)
    with pytest.raises(S.SnapshotError, match="root"):
        Sequencer.from_snapshot(wrong)
    # a malformed table
    arrays = dict(other.arrays)
    arrays["state.accounts.nonce"] = arrays["state.accounts.nonce"][:-1]
    with pytest.raises(S.SnapshotError, match="malformed"):
        Sequencer.from_snapshot(other._replace(arrays=arrays))


def _journaled(path, n=30, every=10):
    seq = tn.venue(n_accounts=4, journal=Journal(path, snapshot_every=every))
    for k in range(n):
        side = k % 2
        try:
            seq.apply_verified(Order(1 + k % 4, PERP, side, 5 + k, 60_000 + (k % 5) * 10 * (
                1 if side == BUY else -1), 100 + k, FAR))
        except E.EngineError:
            pass
    return seq


def test_recovery_falls_back_to_older_files_then_to_the_journal(tmp_path):
    path = tmp_path / "j.db"
    seq = _journaled(path)
    want, n = view(seq), seq.seq
    seq.journal.close()
    files = [p for _, p in Journal(path).snapshots.files()]
    assert len(files) == S.KEEP_SNAPSHOTS
    logs = []
    got = recover(path, tn.DOMAIN, 8, log=logs.append)
    assert got.journal.restored_from == int(files[-1].name[5:-5]) and not logs
    got.journal.close()
    # unknown version in the newest file: the older one
    data = files[-1].read_bytes()
    files[-1].write_bytes(data[:8] + struct.pack(">I", 99) + data[12:])
    got = recover(path, tn.DOMAIN, 8, log=logs.append)
    assert got.journal.restored_from == int(files[0].name[5:-5])
    assert view(got) == want and got.seq == n
    assert "format 99" in logs[0]
    got.journal.close()
    # and both unusable: the journal alone, nothing lost
    files[0].write_bytes(files[0].read_bytes()[:-1])
    logs.clear()
    got = recover(path, tn.DOMAIN, 8, log=logs.append)
    assert got.journal.restored_from is None and len(logs) == 2
    assert view(got) == want and got.state.root == seq.state.root
    got.journal.close()


def test_snapshot_of_another_journal_or_domain_is_not_used(tmp_path):
    path = tmp_path / "j.db"
    seq = _journaled(path, n=12, every=0)
    snapshot(seq)
    root = seq.state.root
    seq.journal.close()
    got = recover(path, tn.DOMAIN, 8)
    assert got.journal.restored_from == got.seq
    got.journal.close()
    other = Domain(tn.DOMAIN.chain_id + 1, tn.DOMAIN.rollup_address)
    logs = []
    got = recover(path, other, 8, log=logs.append)  # rows signed for DOMAIN: replayed anyway
    assert got.journal.restored_from is None and "another domain" in logs[0]
    got.journal.close()
    j = Journal(path)
    (body,) = j.db.execute("SELECT body FROM requests WHERE seq = ?", (seq.seq,)).fetchone()
    j.db.execute("UPDATE requests SET body = ? WHERE seq = ?", (" " + body, seq.seq))
    logs.clear()
    got = recover(j, tn.DOMAIN, 8, log=logs.append)
    assert got.journal.restored_from is None and "does not match the journal" in logs[0]
    assert got.state.root == root
    j.close()


def test_policy_every_n_and_at_a_clean_stop(tmp_path):
    p = S.SnapshotPolicy(every=5)
    assert not p.due(4) and p.due(5) and p.due(1, stopping=True)
    p.last = 5
    assert not p.due(5, stopping=True) and p.due(6, stopping=True) and not p.due(9)
    assert not S.SnapshotPolicy(every=0).due(10, stopping=True)
    path = tmp_path / "j.db"
    seq = _journaled(path, n=25, every=10)
    written = [s for s, _ in seq.journal.snapshots.files()]
    assert written and all(s % 10 == 0 for s in written) and seq.journal.policy.written >= 2
    # the interval is the journal's: stored with it
    seq.journal.close()
    for every, want in ((None, 10), (3, 3), (None, 3)):
        j = Journal(path, snapshot_every=every)
        assert j.snapshot_every == want
        j.close()


# --- fills --------------------------------------------------------------------------------------


def test_fills_are_journaled_with_their_requests(tmp_path):
    """Each accepted request's fills are in the journal's fills table, numbered 1, 2, ... in
    journal order, by the single path and the group path alike; recovery writes none again."""
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=4, journal=Journal(path))
    fills = []
    for r in (Order(1, PERP, SELL, 10, 60_000, 1, FAR), Order(2, PERP, BUY, 4, 60_000, 1, FAR)):
        rec = seq.apply_verified(r)
        fills += [(rec.seq, f) for f in rec.fills]
    group = [Order(3, PERP, BUY, 3, 60_000, 1, FAR), Order(4, PERP, SELL, 8, 60_100, 1, FAR),
             Order(2, PERP, BUY, 5, 60_100, 2, FAR), Order(2, PERP, BUY, 1, 60_100, 2, FAR)]
    for rec in seq.submit_many(group, verified=True):
        if not isinstance(rec, E.EngineError):
            fills += [(rec.seq, f) for f in rec.fills]
    assert len(fills) >= 4
    stored = seq.journal.fills_after(0, 100)
    assert [f.id for f in stored] == list(range(1, len(fills) + 1))
    assert [tuple(f)[1:] for f in stored] == [(n, *vars(f).values()) for n, f in fills]
    assert seq.journal.fills_after(1, 2) == stored[1:3]
    assert [f.id for f in seq.journal.fills_after(0, 100, account=3)] == [
        f.id for f in stored if 3 in (f.maker, f.taker)]
    seq.journal.close()
    got = recover(path, tn.DOMAIN, 8, use_snapshot=False)
    assert got.journal.fills_total == len(fills) == len(got.journal.fills_after(0, 100))
    got.journal.close()


def test_a_journal_from_before_the_fills_table_says_where_its_history_starts(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=2, journal=Journal(path))
    assert seq.journal.fills_from == 1
    seq.journal.db.execute("DROP TABLE fills")
    n = seq.seq
    seq.journal.close()
    for _ in range(2):  # recorded once, kept
        j = Journal(path)
        assert j.fills_from == n + 1 and j.fills_total == 0
        j.close()


# --- the golden file ----------------------------------------------------------------------------


def golden_engine() -> Sequencer:
    """The scripted stream of the golden file: four funded accounts, the assets' scenario rows
    (``tn.venue``), signed orders resting on both sides of the perpetual and on the call, a
    partial fill, funding, a withdrawal."""
    seq = tn.venue(n_accounts=4)
    seq.submit(tn.order(1, SELL, 10, 60_100, 1))
    seq.submit(tn.order(2, BUY, 5, 59_900, 1))
    seq.submit(tn.order(3, BUY, 4, 60_100, 1))  # takes 4 of account 1's ask
    seq.submit(tn.order(4, SELL, 3, 3_100, 1, asset=CALL))
    seq.submit(tn.oracle(FundingTick, PERP, 7, 2))
    seq.submit(Withdrawal(2, 1_000, 0xAB, 0, FAR).signed(tn.key(2), tn.DOMAIN))
    seq.submit(tn.order(2, BUY, 2, 59_800, 2))
    return seq


# what the committed file holds: account -> (collateral, nonce, perpetual balance)
GOLDEN_V1 = {
    "root": "0x03919b0297d343507567216deb7bf0332e0138cb5a46e90ec9755daabf9141fd",
    "seq": 37,
    "records": 33,
    "accounts": {0: (144, 0, 0), 1: (10_000_240_376, 0, -4), 2: (9_999_999_000, 1, 0),
                 3: (9_999_759_480, 0, 4), 4: (10_000_000_000, 0, 0)},
}


def test_golden_v1_file_still_loads():
    """The committed format-1 file: its header, root, balances, nonces and books, and the
    loaded engine trades against its resting orders."""
    data = GOLDEN.read_bytes()
    assert data.startswith(S.MAGIC) and struct.unpack(">I", data[8:12])[0] == 1
    seq = Sequencer.from_snapshot(S.decode(data), tn.DOMAIN, 8)
    assert f"0x{seq.state.root:064x}" == GOLDEN_V1["root"] and seq.seq == GOLDEN_V1["seq"]
    assert seq.state.root == seq.state.recompute_root()
    st = seq.state
    for i, (coll, nonce, perp) in GOLDEN_V1["accounts"].items():
        acc = st.accounts[i]
        assert (acc.collateral, acc.nonce, acc.balance(PERP)) == (coll, nonce, perp), i
    book = seq.books[PERP]
    assert [(o.account, o.order_id, o.price, o.remaining) for o in book.bids.iter_orders()] == [
        (2, 1, 59_900, 5), (2, 2, 59_800, 2)]
    assert [(o.account, o.order_id, o.price, o.remaining) for o in book.asks.iter_orders()] == [
        (1, 1, 60_100, 6)]
    assert [(o.account, o.order_id) for o in seq.books[CALL].asks.iter_orders()] == [(4, 1)]
    assert seq.resting[(1, 1)] == tn.order(1, SELL, 10, 60_100, 1)  # signature included
    assert (3, 1) in seq.seen_orders and len(seq.records) == GOLDEN_V1["records"]
    r = seq.submit(tn.order(4, SELL, 6, 59_800, 2))
    assert [(f.maker, f.maker_order, f.price, f.size) for f in r.fills] == [
        (2, 1, 59_900, 5), (2, 2, 59_800, 1)]


def test_golden_root_is_the_reference_trees_root():
    """The golden root, recomputed from the file's leaves with the clear trees of
    ``circuits.merkle`` (not the engine's tree code): H3(accounts, registry, global)."""
    st = Sequencer.from_snapshot(S.decode(GOLDEN.read_bytes())).state

    def ref_root(tree):
        ref = RefTree(tree.depth)
        for (level, i), v in tree.nodes.items():
            if level == 0:
                ref.set(i, v)
        return ref.root

    acc, reg, orc = (ref_root(t) for t in (st.account_tree, st.registry_tree, st.oracle_tree))
    for i, t in st.order_trees.items():
        assert ref_root(t) == t.root, i
    glob = poseidon([st.time, orc, *st.oracle_pk, poseidon(st.stage.fields())])
    assert f"0x{poseidon([acc, reg, glob]):064x}" == GOLDEN_V1["root"]


def test_a_state_of_binary_trees_is_refused():
    """Snapshots before the quaternary trees (no "trees" stamp) hold binary trees' nodes."""
    snap = golden_engine().to_snapshot()
    assert snap.meta["state"]["trees"] == "quaternary"
    del snap.meta["state"]["trees"]
    with pytest.raises(S.SnapshotError, match="binary Merkle trees; this build's are quaternary"):
        Sequencer.from_snapshot(snap, tn.DOMAIN)


def test_a_state_of_another_order_tree_depth_is_refused():
    """The order trees' nodes are stored as they are: a snapshot of other depth (or of before the
    depth was recorded: 8) is refused, never loaded with trees this build cannot read."""
    snap = golden_engine().to_snapshot()
    assert snap.meta["state"]["order_depth"] == 12
    for other in (8, None):
        if other is None:
            del snap.meta["state"]["order_depth"]
        else:
            snap.meta["state"]["order_depth"] = other
        with pytest.raises(S.SnapshotError, match="depth-8 order trees"):
            Sequencer.from_snapshot(snap, tn.DOMAIN)


def test_golden_stream_gives_the_golden_engine():
    """Today's engine, given the scripted stream, is what the golden file holds (if the engine's
    rules change on purpose, this test changes; the one above must not)."""
    got = Sequencer.from_snapshot(S.decode(GOLDEN.read_bytes()))
    assert view(got) == view(golden_engine())


# --- no pickle ----------------------------------------------------------------------------------


def test_no_pickle_in_rollup():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "rollup").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
            and b"pickle" in p.read_bytes().lower()]
    assert hits == []


def test_snapshot_arrays_are_plain_numbers():
    snap = golden_engine().to_snapshot()
    assert all(isinstance(a, np.ndarray) and a.dtype.kind in "iub" for a in snap.arrays.values())
    json.dumps(snap.meta)  # the rest is a JSON map


if __name__ == "__main__":
    seq = golden_engine()
    GOLDEN.write_bytes(S.encode(seq.to_snapshot()))
    st = seq.state
    print(json.dumps({"root": f"0x{st.root:064x}", "seq": seq.seq, "records": len(seq.records),
                      "accounts": {i: [a.collateral, a.nonce, a.balance(PERP)]
                                   for i, a in sorted(st.accounts.items())}}, indent=4))
