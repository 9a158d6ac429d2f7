"""Durability: a SQLite (WAL) journal of accepted requests, snapshots, and recovery.

A request is appended (and the SQLite transaction committed with ``synchronous=FULL``) after it
has been validated and before the sequencer applies it and acknowledges it, so every
acknowledged request is on disk. Journal rows are keyed by the sequencer's sequence number
(PRIMARY KEY): a request cannot be recorded twice, and recovery applies each row exactly once,
in order, on top of the newest snapshot whose sequence number precedes it.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from rollup.errors import JournalError
from rollup.transactions import Domain, Request, request_from_json


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY, "
                        "body TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, "
                        "root TEXT NOT NULL, blob BLOB NOT NULL)")

    def append(self, seq: int, req: Request) -> None:
        try:
            self.db.execute("INSERT INTO requests (seq, body) VALUES (?, ?)",
                            (seq, json.dumps(req.to_json())))
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

    def requests_after(self, seq: int) -> Iterator[tuple[int, Request]]:
        cur = self.db.execute("SELECT seq, body FROM requests WHERE seq > ? ORDER BY seq", (seq,))
        for s, body in cur:
            yield s, request_from_json(json.loads(body))

    def last_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]

    def write_snapshot(self, seq: int, root: int, obj: object) -> None:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.db.execute("INSERT OR REPLACE INTO snapshots (seq, root, blob) VALUES (?, ?, ?)",
                        (seq, str(root), blob))

    def latest_snapshot(self) -> tuple[int, int, object] | None:
        row = self.db.execute("SELECT seq, root, blob FROM snapshots ORDER BY seq DESC LIMIT 1"
                              ).fetchone()
        if row is None:
            return None
        return row[0], int(row[1]), pickle.loads(row[2])  # our own file: trusted

    def close(self) -> None:
        self.db.close()


def snapshot(sequencer) -> None:
    """Write the sequencer's full state (trees, books, seen order ids) at its sequence number."""
    journal = sequencer.journal
    journal.write_snapshot(sequencer.seq, sequencer.state.root, sequencer)


def recover(path: str | Path, domain: Domain, account_depth: int = 32, *,
            use_snapshot: bool = True, upto: int | None = None):
    """A sequencer rebuilt from the newest snapshot plus the journal rows after it, attached to
    the journal again (new requests continue its numbering). ``upto`` stops the replay at that
    sequence number (and leaves the journal detached): for audits and tests."""
    from rollup.engine.sequencer import Sequencer
    from rollup.state.state import State

    journal = Journal(path)
    snap = journal.latest_snapshot() if use_snapshot else None
    if snap is not None and upto is not None and snap[0] > upto:
        snap = None
    if snap is None:
        seq = Sequencer(State(account_depth), domain)
    else:
        seq = snap[2]
        if seq.state.root != snap[1]:
            raise JournalError("snapshot root does not match its recorded root")
    seq.journal = None
    seq.defer_root = True
    for n, req in journal.requests_after(seq.seq):
        if upto is not None and n > upto:
            break
        seq.apply_verified(req)
        if seq.seq != n:
            raise JournalError(f"journal gap: expected {seq.seq}, found {n}")
    seq.defer_root = False
    seq.state.flush()
    if upto is None:
        seq.journal = journal
    return seq
