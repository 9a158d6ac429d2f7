"""The relayer's durable store (SQLite, one file per rollup deployment): the proven batches to
submit with their status (pending -> sent -> finalized), the L1 priority-queue entries handed on
with the event cursor, and the deposit key directory.

Every write is one transaction (synchronous=FULL), so a crash leaves the old or the new record;
one process holds a store at a time (``lock``). A sent transaction's hash is stored before its
receipt, so a restart looks it up instead of sending again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from rollup.chain import layout
from rollup.chain.layout import QueueEntry
from rollup.settlement.errors import StoreError

PENDING, SENT, FINALIZED = "pending", "sent", "finalized"


def _root32(v: bytes | int) -> bytes:
    return v.to_bytes(32, "big") if isinstance(v, int) else layout._b32(v)


def _proof8(proof: Any) -> tuple[int, ...]:
    """A proof as the contract's uint256[8]: a list of 8 ints, a snarkjs Proof or a proof.json."""
    if isinstance(proof, list | tuple):
        out = tuple(int(x) for x in proof)
    else:
        # lazy: rollup.chain.verifier loads web3 and the proof formats; a store opens without them
        from rollup.chain.verifier import proof_evm

        out = tuple(proof_evm(proof))
    if len(out) != 8 or not all(0 <= x < 1 << 256 for x in out):
        raise ValueError("a proof is eight uint256 values")
    return out


@dataclass(frozen=True)
class StoredBatch:
    number: int
    old_root: bytes
    new_root: bytes
    queue_count_after: int
    public_data: bytes
    proof: tuple[int, ...]
    public_input: int | None = None
    # bookkeeping (not part of the submission)
    status: str = PENDING
    tx_hash: bytes | None = None
    gas_used: int | None = None
    error: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "old_root", _root32(self.old_root))
        object.__setattr__(self, "new_root", _root32(self.new_root))
        object.__setattr__(self, "public_data", bytes(self.public_data))
        object.__setattr__(self, "proof", _proof8(self.proof))
        if self.number < 1 or self.queue_count_after < 0:
            raise ValueError("batch numbers start at 1; queueCountAfter is >= 0")

    @classmethod
    def from_batch(cls, batch, proof, *, queue_count_before: int) -> StoredBatch:
        """From `rollup.settlement.batch.build_batch`'s Batch and its proof.
        `queue_count_before` is the number of queue entries consumed before this batch (the
        contract's `queueConsumed`)."""
        return cls(batch.batch_number, batch.old_root, batch.new_root,
                   queue_count_before + batch.queue_consumed, batch.public_data, proof,
                   batch.public_input)

    def submission(self) -> tuple:
        """The `submitBatch` arguments."""
        return (self.number, self.old_root, self.new_root, self.queue_count_after,
                self.public_data, list(self.proof))

    def same_content(self, other: StoredBatch) -> bool:
        return (self.submission(), self.public_input) == (other.submission(), other.public_input)

    def to_json(self) -> dict:
        return {"batchNumber": self.number, "oldRoot": "0x" + self.old_root.hex(),
                "newRoot": "0x" + self.new_root.hex(), "queueCountAfter": self.queue_count_after,
                "publicData": "0x" + self.public_data.hex(),
                "proof": [str(x) for x in self.proof],
                "publicInput": None if self.public_input is None else str(self.public_input)}

    @classmethod
    def from_json(cls, d: dict) -> StoredBatch:
        try:
            pi = d.get("publicInput")
            return cls(int(d["batchNumber"]), bytes.fromhex(d["oldRoot"].removeprefix("0x")),
                       bytes.fromhex(d["newRoot"].removeprefix("0x")), int(d["queueCountAfter"]),
                       bytes.fromhex(d["publicData"].removeprefix("0x")),
                       [int(x) for x in d["proof"]], None if pi is None else int(pi))
        except (KeyError, TypeError, ValueError) as e:
            raise StoreError(f"not a batch record: {e}") from None


@dataclass(frozen=True)
class PriorityItem:
    """One L1 priority-queue entry as the engine and the batch builder need it."""

    index: int
    entry: QueueEntry
    request: Any  # rollup.transactions.Deposit | ForcedWithdrawal | None (see `note`)
    queue_hash: bytes  # H_{index+1}
    deadline: int
    block_number: int
    tx_hash: bytes
    note: str = ""


@dataclass(frozen=True)
class Cursor:
    next_index: int  # the next queue index to hand on
    scan_from: int  # the first block not fully scanned
    queue_hash: bytes  # H_{next_index}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    number INTEGER PRIMARY KEY, old_root BLOB NOT NULL, new_root BLOB NOT NULL,
    queue_count_after INTEGER NOT NULL, public_data BLOB NOT NULL, proof TEXT NOT NULL,
    public_input TEXT, status TEXT NOT NULL, tx_hash BLOB, gas_used INTEGER, error TEXT,
    updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
    idx INTEGER PRIMARY KEY, kind INTEGER NOT NULL, asset INTEGER NOT NULL,
    account_id INTEGER NOT NULL, l1_address TEXT NOT NULL, amount TEXT NOT NULL,
    l2_key BLOB NOT NULL, queue_hash BLOB NOT NULL, deadline INTEGER NOT NULL,
    block INTEGER NOT NULL, tx_hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keys (l2_key BLOB PRIMARY KEY, account INTEGER NOT NULL UNIQUE);
"""


class BatchStore:
    """SQLite file: the batches to submit with their status, the priority-queue entries handed
    on so far with the event cursor, and the deposit key directory. Every write is one
    transaction (synchronous=FULL), so a crash leaves either the old or the new record."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: {e}") from None
        self._lock_fd: int | None = None

    def close(self) -> None:
        self.unlock()
        self.db.close()

    def __enter__(self) -> BatchStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- one process at a time ---------------------------------------------------------------
    def lock(self) -> None:
        """Take the store for this process (an advisory lock next to the file); StoreError if
        another relayer holds it. Released by `unlock`, `close` or the process's end."""
        if self._lock_fd is not None:
            return
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{self.path} is in use by another relayer") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- which rollup ------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def bind(self, chain_id: int, rollup: str) -> None:
        """Tie the store to one deployment; StoreError if it belongs to another."""
        want = f"{chain_id}:{to_checksum_address(rollup)}"
        with self._txn() as db:
            have = self.meta("rollup")
            if have is None:
                self._set_meta(db, "rollup", want)
            elif have != want:
                raise StoreError(f"{self.path} belongs to rollup {have}, not {want}")

    # --- batches -----------------------------------------------------------------------------
    def put(self, batch: StoredBatch) -> None:
        """Add a batch (pending). The same content again is a no-op; other content under a
        stored number is refused unless that batch is still pending (a re-proven batch)."""
        old = self.get(batch.number)
        if old is not None:
            if old.same_content(batch):
                return
            if old.status != PENDING:
                raise StoreError(f"batch {batch.number} is already {old.status} with other "
                                 "content")
        with self._txn() as db:
            db.execute("INSERT OR REPLACE INTO batches VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (
                batch.number, batch.old_root, batch.new_root, batch.queue_count_after,
                batch.public_data, json.dumps([str(x) for x in batch.proof]),
                None if batch.public_input is None else str(batch.public_input), PENDING, None,
                None, None, time.time()))

    @staticmethod
    def _row(r) -> StoredBatch:
        return StoredBatch(r[0], r[1], r[2], r[3], r[4], [int(x) for x in json.loads(r[5])],
                           None if r[6] is None else int(r[6]), r[7],
                           None if r[8] is None else bytes(r[8]), r[9], r[10])

    def get(self, number: int) -> StoredBatch | None:
        r = self.db.execute("SELECT * FROM batches WHERE number = ?", (number,)).fetchone()
        return None if r is None else self._row(r)

    def batches(self) -> list[StoredBatch]:
        return [self._row(r) for r in self.db.execute("SELECT * FROM batches ORDER BY number")]

    def _update(self, number: int, **cols) -> None:
        sets = ", ".join(f"{k} = ?" for k in cols)
        with self._txn() as db:
            db.execute(f"UPDATE batches SET {sets}, updated = ? WHERE number = ?",
                       (*cols.values(), time.time(), number))

    def mark_sent(self, number: int, tx_hash: bytes) -> None:
        self._update(number, status=SENT, tx_hash=bytes(tx_hash), error=None)

    def mark_pending(self, number: int, error: str | None) -> None:
        self._update(number, status=PENDING, tx_hash=None, error=error)

    def mark_finalized(self, number: int, tx_hash: bytes | None, gas_used: int | None) -> None:
        self._update(number, status=FINALIZED, tx_hash=tx_hash, gas_used=gas_used, error=None)

    def finalize_upto(self, number: int) -> list[int]:
        """Mark every stored batch <= number finalized (the chain says so); the numbers marked."""
        rows = self.db.execute("SELECT number FROM batches WHERE number <= ? AND status != ?",
                               (number, FINALIZED)).fetchall()
        if rows:
            with self._txn() as db:
                db.execute("UPDATE batches SET status = ?, error = NULL, updated = ? "
                           "WHERE number <= ? AND status != ?",
                           (FINALIZED, time.time(), number, FINALIZED))
        return [r[0] for r in rows]

    # --- the priority queue ------------------------------------------------------------------
    def cursor(self, from_block: int = 0) -> Cursor:
        nxt = self.meta("next_index")
        return Cursor(int(nxt or 0), int(self.meta("scan_from") or from_block),
                      bytes.fromhex(self.meta("queue_hash") or layout.ZERO32.hex()))

    def record_request(self, item: PriorityItem) -> None:
        """Log the entry and move the cursor past it, in one transaction."""
        e = item.entry
        with self._txn() as db:
            if int(self.meta("next_index") or 0) != item.index:
                raise StoreError(f"queue entry {item.index} is not the next one")
            db.execute("INSERT INTO queue VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                item.index, e.kind, e.asset, e.account_id, to_checksum_address(e.l1_address),
                str(e.amount), bytes(e.l2_key), item.queue_hash, item.deadline,
                item.block_number, item.tx_hash))
            self._set_meta(db, "next_index", str(item.index + 1))
            self._set_meta(db, "queue_hash", item.queue_hash.hex())

    def set_scan_from(self, block: int) -> None:
        with self._txn() as db:
            self._set_meta(db, "scan_from", str(block))

    def queue_entries(self, start: int = 0, stop: int | None = None) -> list[QueueEntry]:
        """Entries start..stop-1 as handed on (what `build_batch(queue=...)` consumes)."""
        rows = self.db.execute(
            "SELECT kind, asset, account_id, l1_address, amount, l2_key FROM queue "
            "WHERE idx >= ? AND idx < ? ORDER BY idx", (start, 2**62 if stop is None else stop))
        return [QueueEntry(k, a, i, addr, int(amt), bytes(key)) for k, a, i, addr, amt, key in rows]

    def queue_hash(self, index: int) -> bytes:
        """H_index over the entries handed on (H_0 = zero)."""
        if index == 0:
            return layout.ZERO32
        r = self.db.execute("SELECT queue_hash FROM queue WHERE idx = ?", (index - 1,)).fetchone()
        if r is None:
            raise StoreError(f"queue entry {index - 1} has not been read yet")
        return bytes(r[0])

    # --- deposit keys ------------------------------------------------------------------------
    def account_for_key(self, l2_key: bytes, first_account: int = 1) -> int:
        """The account id of a deposit key: the one it got before, else the next free id."""
        with self._txn() as db:
            r = db.execute("SELECT account FROM keys WHERE l2_key = ?", (bytes(l2_key),)).fetchone()
            if r is not None:
                return r[0]
            top = db.execute("SELECT MAX(account) FROM keys").fetchone()[0]
            acc = first_account if top is None else max(top + 1, first_account)
            db.execute("INSERT INTO keys VALUES (?, ?)", (bytes(l2_key), acc))
            return acc
