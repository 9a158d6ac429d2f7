"""Review of the quaternary trees (rev22): a snapshot written by the binary-tree build (main's
committed golden file) is refused with a clear error; a journal written by the binary-tree
build must be refused too, as one of the linear margin rule is (``journal_formats``): its rows
replay here into another state root, silently (a hard fork against the roots on L1)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from rollup import errors as E
from rollup.durability import snapshot as S
from rollup.durability.journal import Journal
from rollup.engine import testnet as tn
from rollup.engine.restart import recover
from rollup.engine.sequencer import Sequencer
from rollup.engine.testnet import DOMAIN
from rollup.transactions import SELL

ROOT = Path(__file__).resolve().parents[3]
BINARY_BASE = "8ad7b23937fffc8220da26902b17c1f2e219ce5f"  # merge base of quad22 with main


@pytest.mark.adversarial
def test_binary_build_snapshot_file_is_refused_clearly():
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "show",
                               f"{BINARY_BASE}:tests/vectors/snapshot-v1.snap"],
                              capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("binary-build golden file not reachable")
    snap = S.decode(data)  # a whole, current-version file: only its state layout differs
    assert "trees" not in snap.meta["state"]
    with pytest.raises(S.SnapshotError, match="binary Merkle trees"):
        Sequencer.from_snapshot(snap, tn.DOMAIN)


@pytest.mark.adversarial
def test_binary_build_journal_is_refused(tmp_path):
    """A journal with rows and no tree-layout stamp was written by the binary build: replaying
    it rebuilds the same leaves under other roots, while L1 holds the binary roots."""
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=2, journal=Journal(path))
    seq.submit(tn.order(1, SELL, 10, 60_100, 1))
    seq.journal.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM meta WHERE key = 'trees'")  # as the binary build wrote it
    db.close()
    with pytest.raises(E.JournalError):
        recover(path, DOMAIN, account_depth=8, use_snapshot=False)
