import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.state.journal import Journal, recover, snapshot
from rollup.transactions import SELL, Order, Withdrawal

CHILD = textwrap.dedent("""
    import random, sys
    from rollup.engine import testnet as tn
    from rollup.state.journal import Journal, snapshot
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
