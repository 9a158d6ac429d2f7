"""The receipts table: the answer given to each request accepted through the API, kept in the
journal's database so that a retry of the same signed request gets the same answer again, also
after a restart (``rollup.api.service``: idempotent resubmission).

A row is (journal seq, request key, wall-clock receive time, engine time, encoded receipt). It
is written right after its request's journal commit without an fsync of its own
(``synchronous=NORMAL`` for that transaction: in WAL mode no fsync at commit, while a checkpoint
it triggers still syncs the WAL before copying it and the database after, which OFF would skip,
leaving journaled rows in an unsynced database file once the WAL restarts): the next commit's
fsync, or the clean stop's checkpoint, makes it durable. A crash can therefore lose the receipts
of the last group before it, never a request; the service rebuilds those from the journal on
start. The key is
``key_of`` the request's journal text (``rollup.durability.journal.request_json``), so the map
from keys to rows can be rebuilt from either table.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

SCHEMA = ("CREATE TABLE IF NOT EXISTS receipts (seq INTEGER PRIMARY KEY, key BLOB NOT NULL, "
          "received_us INTEGER, engine_time INTEGER, body BLOB NOT NULL)")


def key_of(request_text: str) -> bytes:
    """The idempotency key of a request: 16 bytes of SHA-256 of its journal text."""
    return hashlib.sha256(request_text.encode()).digest()[:16]


def store(db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Rows (seq, key, received_us, engine_time, body) in one transaction, not fsynced."""
    if not rows:
        return
    db.execute("PRAGMA synchronous=NORMAL")
    try:
        db.execute("BEGIN")
        try:
            db.executemany("INSERT OR REPLACE INTO receipts (seq, key, received_us, engine_time,"
                           " body) VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.execute("PRAGMA synchronous=FULL")


def body(db: sqlite3.Connection, seq: int) -> bytes | None:
    row = db.execute("SELECT body FROM receipts WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else bytes(row[0])


def last_seq(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COALESCE(MAX(seq), 0) FROM receipts").fetchone()[0]


def recent(db: sqlite3.Connection, n: int) -> list[tuple[int, bytes, bytes, str]]:
    """The newest ``n`` receipts, oldest first: (seq, key, body, the request's journal text)."""
    rows = db.execute("SELECT r.seq, r.key, r.body, q.body FROM receipts r JOIN requests q "
                      "ON q.seq = r.seq ORDER BY r.seq DESC LIMIT ?", (n,)).fetchall()
    return [(s, bytes(k), bytes(b), q) for s, k, b, q in reversed(rows)]


def times(db: sqlite3.Connection, seqs: Sequence[int]) -> dict[int, tuple[int, int]]:
    """seq -> (received_us, engine_time) for those of ``seqs`` that have a receipt."""
    out: dict[int, tuple[int, int]] = {}
    uniq = sorted(set(seqs))
    for i in range(0, len(uniq), 500):  # SQLite's bound-parameter limit
        part = uniq[i:i + 500]
        q = ",".join("?" * len(part))
        for s, r, t in db.execute(f"SELECT seq, received_us, engine_time FROM receipts WHERE "
                                  f"seq IN ({q})", part):
            out[s] = (r, t)
    return out
