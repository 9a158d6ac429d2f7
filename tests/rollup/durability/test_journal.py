import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollup import errors as E
from rollup.durability import journal as jr
from rollup.durability.journal import Journal, request_json, snapshot
from rollup.engine import testnet as tn
from rollup.engine.restart import recover
from rollup.transactions import BUY, SELL, Deposit, OracleUpdate, Order, Withdrawal
from tests.support.journal_faults import CommitGate

CHILD = textwrap.dedent("""
    import random, sys
    from rollup.engine import testnet as tn
    from rollup.durability.journal import Journal, snapshot
    from rollup.transactions import Order
    from rollup.errors import EngineError

    seq = tn.venue(n_accounts=4, journal=Journal(sys.argv[1]))
    rng = random.Random(5)
    oid = {i: 0 for i in range(1, 5)}
    while True:
        acc = rng.randrange(1, 5)
        oid[acc] += 1
        req = Order(acc, tn.PERP, rng.randrange(2), rng.randrange(1, 1000),
                    60_000 + rng.randrange(-5, 6) * 10, oid[acc], 10**9)
        try:
            r = seq.apply_verified(req)
        except EngineError:
            continue
        print("ACK", r.seq, r.root, flush=True)
        if r.seq == 30:
            snapshot(seq)
""")


def test_recover_same_root(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=3, journal=Journal(path))
    seq.submit(Order(1, tn.PERP, SELL, 10, 60_000, 1, 10**9).signed(tn.key(1), tn.DOMAIN))
    snapshot(seq)
    seq.submit(Withdrawal(2, 5, 0xAB, 0, 10**9).signed(tn.key(2), tn.DOMAIN))
    root, n = seq.state.root, seq.seq
    with pytest.raises(E.StaleNonce):  # rejected: not journaled
        seq.submit(Withdrawal(2, 5, 0xAB, 0, 10**9).signed(tn.key(2), tn.DOMAIN))
    assert seq.journal.last_seq() == n
    seq.journal.close()
    again = recover(path, tn.DOMAIN, account_depth=8)
    assert (again.state.root, again.seq) == (root, n)
    assert again.books[tn.PERP].get(1, 1).remaining == 10
    full = recover(path, tn.DOMAIN, account_depth=8, use_snapshot=False)
    assert full.state.root == root
    # the recovered sequencer keeps journaling with the next numbers
    again.submit(Withdrawal(2, 5, 0xAB, 1, 10**9).signed(tn.key(2), tn.DOMAIN))
    assert again.journal.last_seq() == n + 1


def test_journal_refuses_duplicates(tmp_path):
    j = Journal(tmp_path / "j.db")
    w = Withdrawal(2, 5, 0xAB, 0, 10**9)
    j.append(1, w)
    with pytest.raises(E.JournalError):
        j.append(1, w)
    assert [r for _, r in j.requests_after(0)] == [w]


def test_sigkill_mid_stream(tmp_path):
    path = tmp_path / "j.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acks = {}
    try:
        for line in proc.stdout:
            _, n, root = line.split()
            acks[int(n)] = int(root)
            if len(acks) >= 60:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    last = max(acks)
    got = recover(path, tn.DOMAIN, account_depth=8)  # snapshot at 30 plus the journal
    assert got.seq >= last  # nothing acknowledged is lost
    seqs = [n for n, _ in Journal(path).requests_after(0)]
    assert seqs == list(range(1, got.seq + 1))  # each request once, in order
    at_last_ack = recover(path, tn.DOMAIN, account_depth=8, upto=last, use_snapshot=False)
    assert at_last_ack.state.root == acks[last]
    for n in (31, last - 1):
        assert recover(path, tn.DOMAIN, account_depth=8, upto=n).state.root == acks[n]


# --- group commit -----------------------------------------------------------------------------


def test_request_json_is_to_json():
    for req in (Order(1, tn.PERP, SELL, 10, 60_000, 1, 10**9).signed(tn.key(1), tn.DOMAIN),
                Withdrawal(2, 5, 0xAB, 0, 10**9), Deposit(3, tn.public_key(tn.key(3)), 7),
                OracleUpdate(tn.PERP, 61_000, 5).signed(tn.ORACLE_KEY, tn.DOMAIN)):
        assert request_json(req) == json.dumps(req.to_json())


ints = st.one_of(st.integers(-2**70, 2**70), st.integers(0, 2**64), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.tuples(*[ints] * 8), st.one_of(st.none(), st.tuples(st.tuples(ints, ints), ints)))
def test_order_rows_are_json_dumps(fields, sig):
    """Orders are formatted directly (the journal's hot path): the same text as json.dumps for
    any field values, plain integers or not."""
    req = Order(*fields, sig=sig)
    assert request_json(req) == json.dumps(req.to_json())


def _orders(n, seed=1):
    rng = random.Random(seed)
    oid = dict.fromkeys(range(1, 5), 0)
    out = []
    for _ in range(n):
        acc = rng.randrange(1, 5)
        oid[acc] += 1 if rng.random() < 0.9 else 0  # some reuse an id: rejected
        out.append(Order(acc, tn.PERP, rng.randrange(2), rng.randrange(1, 1000),
                         60_000 + rng.randrange(-5, 6) * 10, max(1, oid[acc]), 10**9))
    return out


def test_submit_many_equals_one_by_one_and_recovers(tmp_path):
    reqs = _orders(60)
    one = tn.venue(n_accounts=4)
    singles = []
    for r in reqs:
        try:
            singles.append(one.apply_verified(r).fills)
        except E.EngineError as exc:
            singles.append(type(exc))
    path = tmp_path / "j.db"
    grouped = tn.venue(n_accounts=4, journal=Journal(path), defer_root=True)
    got = []
    for k in range(0, len(reqs), 16):
        for res in grouped.submit_many(reqs[k:k + 16], verified=True):
            got.append(type(res) if isinstance(res, E.EngineError) else res.fills)
    assert got == singles and E.OrderIdReused in got
    assert grouped.state.root == one.state.root and grouped.seq == one.seq
    assert [n for n, _ in grouped.journal.requests_after(0)] == list(range(1, grouped.seq + 1))
    grouped.journal.close()
    assert recover(path, tn.DOMAIN, account_depth=8).state.root == one.state.root


def test_submit_many_group_root_hashes_once_per_group(tmp_path):
    """``group_root``: the same results and final root as one by one with a root after each;
    every receipt of a group carries the root after the group; ``defer_root`` is left as it
    was."""
    reqs = _orders(40, seed=3)
    one = tn.venue(n_accounts=4)
    after = []
    for r in reqs:
        try:
            after.append(one.apply_verified(r).root)
        except E.EngineError:
            after.append(None)
    grouped = tn.venue(n_accounts=4, journal=Journal(tmp_path / "j.db"))
    assert not grouped.defer_root
    for k in range(0, len(reqs), 16):
        res = grouped.submit_many(reqs[k:k + 16], verified=True, group_root=True)
        ok = [r for r in res if not isinstance(r, E.EngineError)]
        assert ok and {r.root for r in ok} == {grouped.state.root}
        # the root after the group is the one-by-one root after its last accepted request
        assert grouped.state.root == [x for x in after[k:k + 16] if x is not None][-1]
        assert not grouped.defer_root
    assert grouped.state.root == one.state.root == grouped.state.recompute_root()
    grouped.journal.close()


def test_submit_many_checks_signatures(tmp_path):
    seq = tn.venue(n_accounts=3, journal=Journal(tmp_path / "j.db"))
    good = Order(1, tn.PERP, SELL, 10, 60_000, 1, 10**9).signed(tn.key(1), tn.DOMAIN)
    forged = Order(2, tn.PERP, SELL, 10, 60_000, 1, 10**9).signed(tn.key(1), tn.DOMAIN)
    res = seq.submit_many([good, forged])
    assert res[0].resting == 10 and isinstance(res[1], E.BadSignature)
    assert seq.journal.last_seq() == seq.seq


def test_commit_runs_beside_on_another_thread_and_waits_for_it(tmp_path):
    j = Journal(tmp_path / "j.db")
    w = Withdrawal(2, 5, 0xAB, 0, 10**9)
    where: list[str] = []

    def beside():
        where.append(threading.current_thread().name)
        return 7

    assert j.append_many([(1, w)], beside=beside) == 7
    assert where and where[0] != threading.current_thread().name
    assert [r for _, r in j.requests_after(0)] == [w]
    # a failed commit records nothing, and ``beside`` has finished when the error comes
    j.db = gate = CommitGate(j.db)
    gate.fail_next = True
    done = threading.Event()

    def slow():
        time.sleep(0.05)
        done.set()

    with pytest.raises(E.JournalError):
        j.append_many([(2, w)], beside=slow)
    assert done.is_set()
    assert [n for n, _ in j.requests_after(0)] == [1]
    j.append_many([(2, w)])  # the journal goes on
    assert [n for n, _ in j.requests_after(0)] == [1, 2]


def test_a_lone_commit_failing_after_the_state_moved_stops_the_sequencer(tmp_path):
    """A lone request's tree hashing runs during its commit: if that commit fails, the state is
    past the journal, so the sequencer stops (as after a failed group write) and a recovery
    gives the state before the request. With nothing to hash, a failed commit is rolled back
    and the sequencer goes on."""
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=4, journal=Journal(path))
    seq.journal.db = gate = CommitGate(seq.journal.db)
    rest = Order(1, tn.PERP, SELL, 10, 60_000, 1, 10**9)
    assert seq.apply_verified(rest).resting == 10
    root, n = seq.state.root, seq.seq
    # a resting order changes no account leaf before its commit: nothing runs beside it
    gate.fail_next = True
    with pytest.raises(E.JournalError):
        seq.apply_verified(Order(2, tn.PERP, SELL, 5, 60_010, 1, 10**9))
    assert (seq.state.root, seq.seq, seq.failed) == (root, n, None)
    # a fill moves two accounts: hashed during the commit, which then fails
    gate.fail_next = True
    with pytest.raises(E.JournalError):
        seq.apply_verified(Order(3, tn.PERP, BUY, 4, 60_000, 1, 10**9))
    assert seq.failed and "journal commit failed" in seq.failed
    with pytest.raises(E.JournalError, match="stopped"):
        seq.apply_verified(Order(4, tn.PERP, BUY, 1, 59_000, 1, 10**9))
    assert seq.journal.last_seq() == n
    seq.journal.close()
    again = recover(path, tn.DOMAIN, account_depth=8)
    assert (again.state.root, again.seq) == (root, n)
    assert again.books[tn.PERP].get(1, 1).remaining == 10


def test_failed_group_write_stops_the_sequencer(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=4, journal=Journal(path))
    root, n = seq.state.root, seq.seq
    # a row already holding the group's second number: the group's transaction must fail
    seq.journal.db.execute("INSERT INTO requests (seq, body) VALUES (?, ?)",
                           (n + 2, '{"type": 0}'))
    with pytest.raises(E.JournalError):
        seq.submit_many(_orders(3), verified=True)
    assert seq.journal.last_seq() == n + 2  # nothing of the group was recorded
    with pytest.raises(E.JournalError):
        seq.apply_verified(_orders(1)[0])
    seq.journal.db.execute("DELETE FROM requests WHERE seq = ?", (n + 2,))
    seq.journal.close()
    again = recover(path, tn.DOMAIN, account_depth=8)
    assert (again.state.root, again.seq) == (root, n)


# --- snapshots --------------------------------------------------------------------------------


def test_periodic_snapshots_restart_from_newest_good_one(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=4, journal=Journal(path), snapshot_every=10)
    for r in _orders(45):
        try:
            seq.apply_verified(r)
        except E.EngineError:
            pass
    root, n = seq.state.root, seq.seq
    files = sorted(seq.journal.snapshot_dir.glob("snap-*.snap"))
    assert len(files) == jr.KEEP_SNAPSHOTS  # older ones pruned
    seq.journal.close()
    got = recover(path, tn.DOMAIN, account_depth=8)
    assert (got.state.root, got.seq) == (root, n)
    assert got.snapshot_every == 10
    got.journal.close()
    newest = Journal(path).latest_snapshot()[0]
    # a damaged newest snapshot is skipped for the older one; a stray temporary file is ignored
    data = bytearray(files[-1].read_bytes())
    data[-5] ^= 1
    files[-1].write_bytes(bytes(data))
    (seq.journal.snapshot_dir / f".snap-{n + 1:012d}.999.tmp").write_bytes(b"partial")
    older = Journal(path).latest_snapshot()
    assert older is not None and older[0] < newest
    again = recover(path, tn.DOMAIN, account_depth=8)
    assert (again.state.root, again.seq) == (root, n)
    assert recover(path, tn.DOMAIN, account_depth=8, use_snapshot=False).state.root == root


def test_failed_snapshot_does_not_fail_the_request(tmp_path):
    path = tmp_path / "j.db"
    (tmp_path / "j.db.snapshots").write_text("not a directory")
    seq = tn.venue(n_accounts=2, journal=Journal(path), snapshot_every=1)
    r = seq.apply_verified(Order(1, tn.PERP, SELL, 10, 60_000, 1, 10**9))
    assert r.resting == 10 and seq.snapshot_error is not None
    assert seq.journal.last_seq() == seq.seq


SNAP_CHILD = textwrap.dedent("""
    import random, sys, time
    from rollup.engine import testnet as tn
    from rollup.durability import journal as jr
    from rollup.durability import snapshot as sn
    from rollup.transactions import Order
    from rollup.errors import EngineError

    write_all = sn._write_all
    written = []  # the first periodic snapshot falls within the venue's set-up

    def slow_write(fd, data):
        if len(data) < 1000:  # the header
            return write_all(fd, data)
        written.append(len(data))
        if len(written) == 2:  # the second periodic snapshot: stop half-way through the file
            write_all(fd, data[: len(data) // 2])
            print("SNAPWRITE", seq.seq, flush=True)
            time.sleep(60)
        write_all(fd, data)

    sn._write_all = slow_write
    seq = tn.venue(n_accounts=4, journal=jr.Journal(sys.argv[1]), snapshot_every=20)
    rng = random.Random(7)
    oid = {i: 0 for i in range(1, 5)}
    while True:
        acc = rng.randrange(1, 5)
        oid[acc] += 1
        req = Order(acc, tn.PERP, rng.randrange(2), rng.randrange(1, 1000),
                    60_000 + rng.randrange(-5, 6) * 10, oid[acc], 10**9)
        try:
            r = seq.apply_verified(req)
        except EngineError:
            continue
        print("ACK", r.seq, r.root, flush=True)
""")


def test_sigkill_mid_snapshot_loses_nothing(tmp_path):
    path = tmp_path / "j.db"
    proc = subprocess.Popen([sys.executable, "-c", SNAP_CHILD, str(path)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acks, writing = {}, None
    try:
        for line in proc.stdout:
            parts = line.split()
            if parts[0] == "SNAPWRITE":
                writing = int(parts[1])
                break
            acks[int(parts[1])] = int(parts[2])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert writing is not None and proc.returncode == -signal.SIGKILL
    snaps = path.parent / (path.name + ".snapshots")
    assert list(snaps.glob(".snap-*.tmp"))  # the half-written file is there...
    j = Journal(path)
    assert j.latest_snapshot()[0] < writing  # ...and not taken for a snapshot
    j.close()
    got = recover(path, tn.DOMAIN, account_depth=8)
    last = max(acks)
    assert got.seq >= writing > last - 1  # the request being snapshotted was journaled too
    assert recover(path, tn.DOMAIN, account_depth=8, upto=last).state.root == acks[last]
    assert got.state.root == recover(path, tn.DOMAIN, account_depth=8,
                                     use_snapshot=False).state.root
