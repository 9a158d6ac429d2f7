"""Durability: a SQLite (WAL) journal of accepted requests, file snapshots, and recovery.

Journal. A request is appended (and the SQLite transaction committed with ``synchronous=FULL``)
after it has been validated and before it is acknowledged, so every acknowledged request is on
disk. ``Sequencer.submit`` journals one request per transaction; ``Sequencer.submit_many``
journals a group of requests in one transaction (group commit: one fsync for the group) and
acknowledges none of them before that transaction is on disk. Journal rows are keyed by the
sequencer's sequence number (PRIMARY KEY): a request cannot be recorded twice, and recovery
applies each row exactly once, in order, after the snapshot it starts from.

Snapshots. The sequencer (state, trees, books, seen order ids) is pickled to
``<journal>.snapshots/snap-<seq>.pkl``: written to a temporary file in that directory, fsynced,
renamed over the final name (atomic on POSIX) and the directory fsynced. A crash while a snapshot
is written leaves at most a temporary file, which is ignored (and removed by the next snapshot),
so the previous snapshot and the journal still hold everything. Each file starts with a header
(magic, sequence number, state root, SHA-256 of the body): a file that does not check is skipped
for the next older one. Restart = newest good snapshot + the journal rows after it, which gives
the same root as the sequencer had (``recover``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import operator
import os
import pickle
import sqlite3
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rollup.errors import EngineError, JournalError
from rollup.transactions import T_ORDER, Order, Request, request_from_json

_MAGIC = b"zkderiv-snapshot-1\n"
_HEADER = struct.Struct(">Q32s32s")  # sequence number, state root, SHA-256 of the body
KEEP_SNAPSHOTS = 2  # the newest ones are kept; older files are removed after a new one lands


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
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.snapshot_dir = Path(self.path + ".snapshots")
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY, "
                        "body TEXT NOT NULL)")

    def append(self, seq: int, req: Request) -> None:
        """One request in its own transaction (durable when this returns)."""
        try:
            self.db.execute("INSERT INTO requests (seq, body) VALUES (?, ?)",
                            (seq, request_json(req)))
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

    def append_many(self, rows: Sequence[tuple[int, Request]]) -> None:
        """Several requests in one transaction: all of them are durable when this returns, or
        none is recorded (JournalError)."""
        if not rows:
            return
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO requests (seq, body) VALUES (?, ?)",
                               [(seq, request_json(req)) for seq, req in rows])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

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

    # --- snapshots ------------------------------------------------------------------------------

    def write_snapshot(self, seq: int, root: int, obj: object) -> Path:
        """Pickle ``obj`` as the snapshot at sequence number ``seq`` (temp file, fsync, rename,
        directory fsync); returns its path."""
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        header = _MAGIC + _HEADER.pack(seq, root.to_bytes(32, "big"),
                                       hashlib.sha256(body).digest())
        d = self.snapshot_dir
        d.mkdir(exist_ok=True)
        final = d / f"snap-{seq:012d}.pkl"
        tmp = d / f".snap-{seq:012d}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, header)
            _write_all(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        _fsync_dir(d)
        self._prune(seq)
        return final

    def _prune(self, newest: int) -> None:
        snaps = self._snapshot_files()
        for _, path in snaps[:-KEEP_SNAPSHOTS]:
            path.unlink(missing_ok=True)
        for path in self.snapshot_dir.glob(".snap-*.tmp"):
            if not path.name.startswith(f".snap-{newest:012d}."):
                path.unlink(missing_ok=True)

    def _snapshot_files(self) -> list[tuple[int, Path]]:
        """(seq, path) of the snapshot files, oldest first."""
        if not self.snapshot_dir.is_dir():
            return []
        out = []
        for path in self.snapshot_dir.glob("snap-*.pkl"):
            try:
                out.append((int(path.name[5:-4]), path))
            except ValueError:
                continue
        return sorted(out)

    def latest_snapshot(self, upto: int | None = None) -> tuple[int, int, object] | None:
        """(seq, root, object) of the newest snapshot that checks (at or before ``upto``)."""
        for seq, path in reversed(self._snapshot_files()):
            if upto is not None and seq > upto:
                continue
            got = _read_snapshot(path)
            if got is not None and got[0] == seq:
                return got
        return None

    def close(self) -> None:
        self.db.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view[: 1 << 22])
        view = view[n:]


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_snapshot(path: Path) -> tuple[int, int, object] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    n = len(_MAGIC) + _HEADER.size
    if len(data) < n or not data.startswith(_MAGIC):
        return None
    seq, root, digest = _HEADER.unpack(data[len(_MAGIC):n])
    body = data[n:]
    if hashlib.sha256(body).digest() != digest:
        return None
    try:
        obj = pickle.loads(body)  # our own file: trusted
    except Exception:  # written by an older version whose objects no longer load: not usable
        return None
    return seq, int.from_bytes(root, "big"), obj


def snapshot(sequencer) -> Path:
    """Write the sequencer's full state (trees, books, seen order ids) at its sequence number.
    Everything up to that number is in the journal already (requests are journaled before they
    are applied)."""
    journal = sequencer.journal
    if journal is None:
        raise JournalError("snapshot needs a journal")
    return journal.write_snapshot(sequencer.seq, sequencer.state.root, sequencer)


_REPLAY_GROUP = 4096


def _replay(seq, batch: list) -> None:
    """Apply journaled requests (each was accepted when it was journaled) in groups, so runs of
    orders go through the compiled core (``Sequencer.submit_many``)."""
    if not batch:
        return
    for req, res in zip(batch, seq.submit_many(batch, verified=True), strict=True):
        if isinstance(res, EngineError):
            raise JournalError(f"journaled request no longer applies ({res!r}): {req!r}")


def replay(path: str | Path, new_sequencer: Callable[[], object], *,
           use_snapshot: bool = True, upto: int | None = None):
    """A sequencer rebuilt from the newest good snapshot (else ``new_sequencer()``, an empty
    one) plus the journal rows after it, attached to the journal again (new requests continue
    its numbering). ``upto`` stops the replay at that sequence number (and leaves the journal
    detached): for audits and tests. The engine's ``rollup.engine.restart.recover`` passes the
    factory, so this module never imports the engine."""
    journal = Journal(path)
    snap = journal.latest_snapshot(upto) if use_snapshot else None
    if snap is None:
        seq = new_sequencer()
    else:
        seq = snap[2]
        if seq.seq != snap[0] or seq.state.root != snap[1]:
            raise JournalError("snapshot does not match its header")
    seq.journal = None
    with seq.deferred_roots():
        batch: list = []
        for n, req in journal.requests_after(seq.seq):
            if upto is not None and n > upto:
                break
            if n != seq.seq + len(batch) + 1:
                raise JournalError(f"journal gap: expected {seq.seq + len(batch) + 1}, "
                                   f"found {n}")
            batch.append(req)
            if len(batch) == _REPLAY_GROUP:
                _replay(seq, batch)
                batch = []
        _replay(seq, batch)
    seq.state.flush()
    if upto is None:
        seq.journal = journal
    else:
        journal.close()
    return seq
