"""The write-ahead journal: accepted requests (and their fills) in SQLite, snapshots beside it.

A request is appended (the SQLite transaction committed with ``synchronous=FULL``) after it
has been validated and before it is acknowledged, so every acknowledged request is on disk;
``append_many`` journals a group in one transaction (group commit: one fsync for the group).
``write`` + ``Pending.commit(beside=fn)`` splits it: the rows are inserted (a failure there
records nothing), then the commit's fsync runs on this thread while ``fn`` (the state's hashing)
runs on the journal's helper thread; both are done when it returns.
Rows are keyed by the sequencer's sequence number (PRIMARY KEY): a request cannot be recorded
twice, and recovery (``rollup.durability.recovery``) applies each row once, in order, after the
snapshot it starts from. A request's fills go into the ``fills`` table in the same transaction
(``rollup.durability.fills``). Snapshots (``rollup.durability.snapshot``) live in
``<journal>.snapshots/``, written by ``maybe_snapshot`` under the journal's one
``SnapshotPolicy`` (its interval is stored in the database); each records the digest of the
journal row it was taken after, and one that does not match this journal is not used.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import operator
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from rollup.durability import fills as F
from rollup.durability import receipts as R
from rollup.durability.snapshot import (
    KEEP_SNAPSHOTS,
    Snapshot,
    SnapshotError,
    SnapshotPolicy,
    SnapshotStore,
)
from rollup.errors import JournalError
from rollup.transactions import T_ORDER, Order, Request, request_from_json

__all__ = ["KEEP_SNAPSHOTS", "Journal", "Pending", "request_json", "snapshot"]


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


_ORDER_INTS = operator.attrgetter("account", "asset", "side", "size", "price", "order_id",
                                  "expiry", "flags")


def _order_json(req: Order) -> str | None:
    """``request_json`` of an order whose fields are plain integers, formatted directly (the
    same text as ``json.dumps``; a quarter of its time); None for anything else."""
    v = _ORDER_INTS(req)
    sig = req.sig
    if sig is None:
        s = "null"
    else:
        try:
            (rx, ry), sv = sig
        except (TypeError, ValueError):
            return None
        if not (type(rx) is int and type(ry) is int and type(sv) is int):
            return None
        s = f"[[{rx}, {ry}], {sv}]"
    if {type(x) for x in v} != {int}:
        return None
    a, asset, side, size, price, oid, expiry, flags = v
    return (f'{{"account": {a}, "asset": {asset}, "side": {side}, "size": {size}, '
            f'"price": {price}, "order_id": {oid}, "expiry": {expiry}, "flags": {flags}, '
            f'"sig": {s}, "type": {T_ORDER}}}')


def request_json(req: Request) -> str:
    """The journal row of a request: ``json.dumps(req.to_json())`` (same text, built without
    ``dataclasses.asdict``'s deep copy)."""
    if type(req) is Order:
        text = _order_json(req)
        if text is not None:
            return text
    d = {name: getattr(req, name) for name in _field_names(type(req))}
    d["type"] = req.TYPE
    return json.dumps(d)



class Journal:
    """One journal database. ``snapshot_every``: the snapshot interval to store (None: keep the
    stored one, 0 by default); ``log``: where snapshot messages go."""

    def __init__(self, path: str | Path, *, snapshot_every: int | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.path = str(path)
        self.snapshot_dir = Path(self.path + ".snapshots")
        self.snapshots = SnapshotStore(self.snapshot_dir)
        self.log = log or (lambda _m: None)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY, "
                        "body TEXT NOT NULL)")
        had_fills = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'fills'"
                                    ).fetchone() is not None
        self.db.execute(F.SCHEMA)
        self.db.execute(R.SCHEMA)
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                        "value TEXT NOT NULL)")
        if not had_fills and self.last_seq():  # a journal from before fills were journaled
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('fills_from', ?)",
                            (str(self.last_seq() + 1),))
        got = self._meta("fills_from")
        self.fills_from = int(got) if got is not None else 1  # the first row with its fills
        self.fills_total = F.total(self.db)  # fill ids given out so far
        stored = self._meta("snapshot_every")
        self.policy = SnapshotPolicy(int(stored) if stored is not None else 0)
        if snapshot_every is not None:
            self.snapshot_every = snapshot_every
        self.restored_from: int | None = None  # the snapshot the last recovery started from
        self._helper: ThreadPoolExecutor | None = None  # runs ``beside`` during a commit

    # --- requests and their fills ---------------------------------------------------------------

    def append(self, seq: int, req: Request, fills: Sequence = ()) -> None:
        """One request (and its fills) in its own transaction, durable when this returns."""
        if fills:
            self.append_many([(seq, req, fills)])
            return
        try:
            self.db.execute("INSERT INTO requests (seq, body) VALUES (?, ?)",
                            (seq, request_json(req)))
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

    def append_many(self, rows: Sequence[tuple], beside: Callable[[], object] | None = None):
        """Several requests, each ``(seq, request)`` or ``(seq, request, fills)``, in one
        transaction: all of them are durable when this returns, or none is recorded
        (JournalError). ``beside``: see ``Pending.commit`` (its result is returned)."""
        if not rows:
            return beside() if beside is not None else None
        return self.write(rows).commit(beside)

    def write(self, rows: Sequence[tuple]) -> Pending:
        """``append_many``'s first half: the rows inserted in an open transaction (nothing
        durable yet; nothing else may use the journal until ``commit`` or ``abort``), or
        JournalError with nothing recorded."""
        db = self.db
        n = self.fills_total
        fill_rows: list[tuple] = []
        for row in rows:
            if len(row) > 2 and row[2]:
                fill_rows += F.rows(n + 1, row[0], row[2])
                n += len(row[2])
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO requests (seq, body) VALUES (?, ?)",
                               [(row[0], request_json(row[1])) for row in rows])
                if fill_rows:
                    db.executemany("INSERT INTO fills (id, seq, maker, taker, body) "
                                   "VALUES (?, ?, ?, ?, ?)", fill_rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None
        return Pending(self, n)

    def _beside(self) -> ThreadPoolExecutor:
        if self._helper is None:
            self._helper = ThreadPoolExecutor(1, thread_name_prefix="journal-beside")
        return self._helper

    def requests_after(self, seq: int) -> Iterator[tuple[int, Request]]:
        cur = self.db.execute("SELECT seq, body FROM requests WHERE seq > ? ORDER BY seq", (seq,))
        for s, body in cur:
            yield s, request_from_json(json.loads(body))

    def row_digest(self, seq: int) -> bytes | None:
        """sha256 of row ``seq``'s stored text (None if there is no such row): ties a snapshot to
        the journal it was taken from."""
        row = self.db.execute("SELECT body FROM requests WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else hashlib.sha256(row[0].encode()).digest()

    def last_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]

    def fills_after(self, since: int, limit: int,
                    account: int | None = None) -> list[F.StoredFill]:
        """A page of the fill history (``rollup.durability.fills.page``)."""
        return F.page(self.db, since, limit, account)

    # --- the API's receipts (``rollup.durability.receipts``) -------------------------------------

    def store_receipts(self, rows: Sequence[tuple]) -> None:
        """(seq, key, received_us, engine_time, body) rows, durable with the next commit."""
        try:
            R.store(self.db, rows)
        except sqlite3.Error as exc:
            raise JournalError(f"receipt write failed: {exc}") from None

    def receipt(self, seq: int) -> bytes | None:
        return R.body(self.db, seq)

    def recent_receipts(self, n: int) -> list[tuple[int, bytes, bytes, str]]:
        return R.recent(self.db, n)

    def last_receipt_seq(self) -> int:
        return R.last_seq(self.db)

    def receipt_times(self, seqs: Sequence[int]) -> dict[int, tuple[int, int]]:
        return R.times(self.db, seqs)

    def request_texts(self, first: int, last: int) -> list[tuple[int, str]]:
        """(seq, journal text) of rows first..last."""
        return self.db.execute("SELECT seq, body FROM requests WHERE seq BETWEEN ? AND ? "
                               "ORDER BY seq", (first, last)).fetchall()

    def fill_ids(self, first: int, last: int) -> dict[int, int]:
        """seq -> its first fill id, for the rows first..last that made fills."""
        return dict(self.db.execute("SELECT seq, MIN(id) FROM fills WHERE seq BETWEEN ? AND ? "
                                    "GROUP BY seq", (first, last)).fetchall())

    # --- snapshots ------------------------------------------------------------------------------

    @property
    def snapshot_every(self) -> int:
        return self.policy.every

    @snapshot_every.setter
    def snapshot_every(self, n: int) -> None:
        if n < 0:
            raise ValueError("snapshot_every must be >= 0")
        if self._meta("snapshot_every") != str(n):
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES "
                            "('snapshot_every', ?)", (str(n),))
        self.policy.every = n

    def require_format(self, key: str, value: str, legacy: str) -> None:
        """Stamp the journal with the state format its rows assume (``key`` = ``value``) or
        refuse it: JournalError if it was written under another value (a journal with rows and
        no stamp was written under ``legacy``). Replaying rows under another format would not
        fail loudly: it would rebuild another state (a hard fork, docs/state.md)."""
        got = self._meta(key)
        if got is None:
            if self.last_seq():
                got = legacy
            else:
                try:
                    self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
                except sqlite3.Error as exc:
                    raise JournalError(f"journal stamp not written: {exc}") from exc
                return
        if got != value:
            raise JournalError(f"the journal {self.path} was written with {key} = {got}; this "
                               f"build uses {value}: its rows do not replay here (a state-format "
                               "change: finish its batches with the build that wrote it)")

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def write_snapshot(self, engine) -> Path:
        """Write ``engine.to_snapshot()`` now, tied to this journal's row at its number; the
        policy counts from it."""
        snap = engine.to_snapshot()
        digest = self.row_digest(snap.seq)
        snap.meta["journal_row_sha256"] = digest.hex() if digest is not None else None
        path = self.snapshots.write(snap)
        self.policy.last = snap.seq
        return path

    def maybe_snapshot(self, engine, stopping: bool = False) -> Path | None:
        """A snapshot if the policy says one is due (``stopping``: a clean stop) and the engine
        is sound. The requests are durable already: a snapshot that cannot be written is logged
        and recorded in ``policy.error``, and tried again one interval later."""
        pol = self.policy
        if not pol.due(engine.seq, stopping) or engine.failed:
            return None
        pol.last = engine.seq
        t = time.perf_counter()
        try:
            path = self.write_snapshot(engine)
        except Exception as exc:  # disk full, permissions...: the journal still has everything
            pol.error = f"snapshot at {engine.seq} failed: {exc}"
            self.log(f"warning: {pol.error}")
            return None
        pol.error = None
        pol.written += 1
        self.log(f"snapshot at {engine.seq} in {time.perf_counter() - t:.1f} s")
        return path

    def snapshots_newest_first(self, upto: int | None = None
                               ) -> Iterator[Snapshot | SnapshotError]:
        """The snapshot files (at or before ``upto``), newest first, each as its snapshot or the
        SnapshotError that rules it out (unreadable, or taken after another journal's row)."""
        for got in self.snapshots.newest_first(upto):
            if isinstance(got, Snapshot):
                digest = self.row_digest(got.seq)
                want = digest.hex() if digest is not None else None
                if got.meta.get("journal_row_sha256", "") != want:
                    got = SnapshotError(f"the snapshot at {got.seq} does not match the "
                                        f"journal's row {got.seq}")
            yield got

    def latest_snapshot(self, upto: int | None = None) -> Snapshot | None:
        """The newest usable snapshot file (at or before ``upto``), or None."""
        return next((s for s in self.snapshots_newest_first(upto) if isinstance(s, Snapshot)),
                    None)

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown()
        self.db.close()


class Pending:
    """Rows of ``Journal.write`` in an open transaction: ``commit`` or ``abort`` it."""

    __slots__ = ("journal", "fills_total")

    def __init__(self, journal: Journal, fills_total: int) -> None:
        self.journal, self.fills_total = journal, fills_total

    def commit(self, beside: Callable[[], object] | None = None):
        """Commit (the fsync, ``synchronous=FULL``) and return ``beside()``'s result, run on the
        journal's helper thread meanwhile: the fsync releases the interpreter lock, so work the
        caller needs anyway (hashing the state) costs no time beyond the fsync. Both are done
        when this returns. JournalError if the commit failed (nothing recorded; ``beside`` has
        run all the same); ``beside``'s own exception if it raised (the rows are durable)."""
        db = self.journal.db
        fut = self.journal._beside().submit(beside) if beside is not None else None
        err = None
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            err = JournalError(f"journal write failed: {exc}")
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolled back itself
        else:
            self.journal.fills_total = self.fills_total
        if fut is not None:
            wait([fut])  # ``beside`` touches the caller's state: never left running
        if err is not None:
            raise err
        return fut.result() if fut is not None else None

    def abort(self) -> None:
        self.journal.db.execute("ROLLBACK")


def snapshot(engine) -> Path:
    """Write the engine's snapshot at its sequence number now (everything up to it is in the
    journal already: requests are journaled before they are applied)."""
    journal = engine.journal
    if journal is None:
        raise JournalError("snapshot needs a journal")
    return journal.write_snapshot(engine)
