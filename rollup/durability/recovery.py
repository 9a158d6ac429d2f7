"""Recovery: an engine rebuilt from its journal, starting from the newest usable snapshot.

The engine is made by factories (``empty()``: a fresh engine; ``load(snapshot)``: one restored
from a snapshot, raising SnapshotError if it cannot), so this layer never imports the engine;
the engine only needs the ``Engine`` protocol. Snapshot files are tried newest first; one that
is damaged, of an unknown format, taken after another journal's row or refused by ``load`` is
logged and skipped, and with none left the journal is replayed from its first row: a snapshot
only saves time, the journal alone decides the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, TypeVar

from rollup.durability.journal import Journal
from rollup.durability.snapshot import Snapshot, SnapshotError
from rollup.errors import EngineError, JournalError


class Engine(Protocol):
    seq: int  # journal rows applied
    journal: Journal | None
    failed: str | None  # why it stopped (memory ahead of the journal): never snapshotted

    def deferred_roots(self) -> AbstractContextManager:
        """Roots hashed on demand within the block (a replay hashes once, at the end)."""

    def to_snapshot(self) -> Snapshot: ...

    def submit_many(self, reqs: Sequence, *, verified: bool) -> list: ...

    def flush(self) -> int: ...


E = TypeVar("E", bound=Engine)
REPLAY_GROUP = 4096  # journal rows per ``submit_many`` (runs of orders go to the compiled core)


def _apply(engine: Engine, batch: list) -> None:
    if not batch:
        return
    for req, res in zip(batch, engine.submit_many(batch, verified=True), strict=True):
        if isinstance(res, EngineError):
            raise JournalError(f"journaled request no longer applies ({res!r}): {req!r}")


def _start(journal: Journal, load: Callable[[Snapshot], E], upto: int | None,
           log: Callable[[str], None]) -> E | None:
    for got in journal.snapshots_newest_first(upto):
        if isinstance(got, Snapshot):
            try:
                return load(got)
            except SnapshotError as exc:
                got = SnapshotError(f"the snapshot at {got.seq} does not match: {exc.reason}")
        log(f"warning: skipping a snapshot ({got.reason}); trying an older one or the "
            "journal alone")
    return None


def recover(journal: Journal | str | Path, empty: Callable[[], E],
            load: Callable[[Snapshot], E], *, use_snapshot: bool = True,
            upto: int | None = None, log: Callable[[str], None] | None = None,
            formats: Mapping[str, tuple[str, str]] | None = None) -> E:
    """The engine after every journal row (after row ``upto`` only, if given), from the newest
    usable snapshot plus the rows after it. Attached to the journal again (new requests
    continue its numbering) unless ``upto`` is given: then the journal is left detached (and
    closed, if this opened it). ``journal.restored_from`` says which snapshot was used.
    ``formats``: key -> (value, legacy) the journal must have been written under
    (``Journal.require_format``), checked before any row or snapshot is read."""
    owned = not isinstance(journal, Journal)
    j = Journal(journal) if owned else journal
    try:
        for key, (value, legacy) in (formats or {}).items():
            j.require_format(key, value, legacy)
    except JournalError:
        if owned:
            j.close()
        raise
    log = log or j.log
    engine = _start(j, load, upto, log) if use_snapshot else None
    j.restored_from = None if engine is None else engine.seq
    if engine is None:
        engine = empty()
    else:
        j.policy.last = engine.seq
    engine.journal = None
    with engine.deferred_roots():
        batch: list = []
        for n, req in j.requests_after(engine.seq):
            if upto is not None and n > upto:
                break
            if n != engine.seq + len(batch) + 1:
                raise JournalError(f"journal gap: expected {engine.seq + len(batch) + 1}, "
                                   f"found {n}")
            batch.append(req)
            if len(batch) == REPLAY_GROUP:
                _apply(engine, batch)
                batch = []
        _apply(engine, batch)
    engine.flush()
    if upto is None:
        engine.journal = j
    elif owned:
        j.close()
    return engine
