"""The relayer: proven batches from a durable store onto Rollup.sol, in order, exactly once; and
the L1 priority queue (deposits, forced withdrawals) from the contract's events to the engine.

    store = BatchStore("relayer.db")                 # SQLite, one file per rollup deployment
    store.put(StoredBatch.from_batch(batch, proof, queue_count_before=q))
    relayer = Relayer(RollupClient(chain, address), store, on_request=feed_the_sequencer)
    relayer.run_once()                               # events, then every pending batch

The chain is the authority: each pass starts from the contract's `batchNumber` and `stateRoot`,
so a finalized batch is never resent, and a sent transaction's hash is stored at once, so a
restart waits for it instead of sending another. `RootMismatch` and `PublicInputMismatch` come
before any gas is spent; a revert raises `BatchRejected` (the custom error as `reason`) and
leaves the batch pending. Queue events are re-chained against their `queueHash`
(`QueueMismatch`); the cursor moves only after the callback returns. See docs/settlement.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from rollup.chain import layout
from rollup.chain.errors import ChainError, ContractRevert
from rollup.chain.layout import KIND_DEPOSIT, KIND_FORCED_WITHDRAWAL, QueueEntry
from rollup.chain.rollup import RollupClient, RollupState

# --- errors ------------------------------------------------------------------------------------


class RelayerError(ChainError):
    """The relayer refused to go on; the message says why in one line."""


class StoreError(RelayerError):
    """The store is unusable, locked by another process, or holds conflicting data."""


class RootMismatch(RelayerError):
    """The next stored batch does not start from the chain's state root (or the chain finalized
    a different batch under a number the store holds)."""

    def __init__(self, number: int, chain_root: bytes, stored_root: bytes, what: str = "old"):
        self.number, self.chain_root, self.stored_root = number, chain_root, stored_root
        super().__init__(f"batch {number}: chain root 0x{chain_root.hex()}, stored {what} root "
                         f"0x{stored_root.hex()}")


class PublicInputMismatch(RelayerError):
    """The chain would compute another public input than the stored batch was proven for."""


class ExodusActive(RelayerError):
    """The rollup is in exodus mode: no batch will ever be accepted again."""


class BatchRejected(RelayerError):
    """The contract reverted a stored batch. `reason` is the custom error's name."""

    def __init__(self, number: int, revert: ContractRevert):
        self.number = number
        self.revert = revert
        self.reason = revert.name or "revert"
        super().__init__(f"batch {number} rejected: {revert}")


class QueueMismatch(RelayerError):
    """The PriorityRequest events do not chain to the contract's queue hashes (an event missed,
    out of order, or decoded differently from the contract's encoding)."""


# --- stored batches ----------------------------------------------------------------------------

PENDING, SENT, FINALIZED = "pending", "sent", "finalized"


def _root32(v: bytes | int) -> bytes:
    return v.to_bytes(32, "big") if isinstance(v, int) else layout._b32(v)


def _proof8(proof: Any) -> tuple[int, ...]:
    """A proof as the contract's uint256[8]: a list of 8 ints, a snarkjs Proof or a proof.json."""
    if isinstance(proof, list | tuple):
        out = tuple(int(x) for x in proof)
    else:
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


def accounts_by_key(state) -> Callable[[tuple[int, int]], int]:
    """An `account_for_key` over an engine State: the account that holds the key, else the
    lowest id above every existing (or already handed out) account."""
    handed: dict[tuple[int, int], int] = {}

    def resolve(pk: tuple[int, int]) -> int:
        pk = tuple(pk)
        for i, acc in state.accounts.items():
            if tuple(acc.pk) == pk:
                return i
        if pk not in handed:
            used = set(state.accounts) | set(handed.values())
            handed[pk] = max(used, default=0) + 1
        return handed[pk]

    return resolve


# --- the relayer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    number: int
    tx_hash: bytes | None
    gas_used: int | None
    resumed: bool = False  # True: a transaction sent before a restart, found mined


@dataclass
class PassReport:
    requests: list[PriorityItem] = field(default_factory=list)
    submitted: list[Submitted] = field(default_factory=list)
    state: RollupState | None = None


DEFAULT_CONFIRMATIONS = 2
# local chains that mine on demand and never reorganise: Anvil/Hardhat (31337), the embedded one
DEV_CHAIN_IDS = (31337, 131277322940537)


class Relayer:
    """Submits stored batches to one Rollup contract and hands its priority requests on.

    sender: the operator account (unlocked on the node); gas: the submitBatch gas limit (sent
    without estimation: an estimate would run the pairing once more); confirmations: blocks an
    event must be buried under before it is handed on (default: DEFAULT_CONFIRMATIONS, so a
    reorganisation of the last two blocks never un-sends a request; 0 on a local development
    chain, which mines on demand and never reorganises); from_block: where a fresh
    store starts reading events (the deployment block, on a long chain).
    """

    def __init__(self, client: RollupClient, store: BatchStore, *, sender: str | None = None,
                 on_request: Callable[[PriorityItem], None] | None = None,
                 account_for_key: Callable[[tuple[int, int]], int] | None = None,
                 first_account: int = 1, gas: int = 2_000_000,
                 confirmations: int | None = None,
                 from_block: int = 0, log_chunk: int = 2_000,
                 log: Callable[[str], None] | None = None):
        self.client = client
        self.chain = client.chain
        self.store = store
        self.sender = sender or client.chain.accounts[0]
        self.on_request = on_request
        self.account_for_key = account_for_key
        self.first_account = first_account
        self.gas = gas
        if confirmations is None:
            dev = (client.chain.kind in ("py-evm", "anvil")
                   or client.chain.w3.eth.chain_id in DEV_CHAIN_IDS)
            confirmations = 0 if dev else DEFAULT_CONFIRMATIONS
        self.confirmations = confirmations
        self.from_block = from_block
        self.log_chunk = log_chunk
        self.log = log or (lambda msg: None)
        if not self.chain.w3.eth.get_code(client.address):
            raise RelayerError(f"no contract at {client.address} on this chain")
        store.bind(self.chain.w3.eth.chain_id, client.address)

    # --- batches -----------------------------------------------------------------------------
    def reconcile(self) -> tuple[RollupState, list[Submitted]]:
        """Read the chain and bring the store in line: a transaction sent before a restart is
        looked up (and waited for while the node holds it pending); every stored batch up to
        the chain's batch number is marked finalized. Returns the chain state and the sent
        transactions found mined."""
        sent = [b for b in self.store.batches() if b.status == SENT and b.tx_hash is not None]
        receipts = {b.number: self._receipt_of(b.tx_hash) for b in sent}
        st = self.client.state()
        resumed: list[Submitted] = []
        for b in sent:
            rc = receipts[b.number]
            if rc is not None and rc.status == 1 and b.number <= st.batch_number:
                self.store.mark_finalized(b.number, b.tx_hash, rc.gasUsed)
                resumed.append(Submitted(b.number, b.tx_hash, rc.gasUsed, True))
                self.log(f"batch {b.number}: transaction 0x{b.tx_hash.hex()}, sent before a "
                         "restart, is mined")
            elif b.number > st.batch_number:  # dropped, reverted or reorganised away: anew
                self.store.mark_pending(b.number, None if rc is None else (
                    f"transaction 0x{b.tx_hash.hex()} "
                    + ("reverted" if rc.status != 1 else "mined but the batch is not final")))
        for n in self.store.finalize_upto(st.batch_number):
            self.log(f"batch {n}: finalized on chain")
        last = self.store.get(st.batch_number)
        if last is not None and last.new_root != st.state_root:
            raise RootMismatch(st.batch_number, st.state_root, last.new_root, "new")
        return st, resumed

    def _receipt_of(self, tx_hash: bytes):
        """The receipt of a transaction sent before, waiting if the node still holds it
        pending; None if the node does not know it (dropped: send again)."""
        from web3.exceptions import TransactionNotFound

        w3 = self.chain.w3
        try:
            return w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            pass
        try:
            w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return None
        return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=300)

    def _submit(self, b: StoredBatch, st: RollupState) -> Submitted:
        if st.exodus:
            raise ExodusActive("the rollup is in exodus mode; batches are no longer accepted")
        if b.old_root != st.state_root:
            raise RootMismatch(b.number, st.state_root, b.old_root)
        if b.public_input is not None and b.queue_count_after <= st.queue_length:
            x = self.client.public_input(*b.submission()[:5])
            if x != b.public_input:
                raise PublicInputMismatch(
                    f"batch {b.number} was proven for public input {b.public_input:#x}; this "
                    f"chain and contract give {x:#x} (another chain id, rollup address or "
                    "queue)")
        self.log(f"batch {b.number}: submitting ({len(b.public_data)} bytes of public data)")
        try:
            res = self.client.submit_batch(*b.submission(), sender=self.sender, gas=self.gas,
                                           on_sent=lambda h: self.store.mark_sent(b.number, h))
        except ContractRevert as e:
            self.store.mark_pending(b.number, e.name or str(e))
            raise BatchRejected(b.number, e) from None
        tx = bytes(res.receipt.transactionHash)
        self.store.mark_finalized(b.number, tx, res.gas_used)
        self.log(f"batch {b.number}: finalized, gas {res.gas_used:,}, tx 0x{tx.hex()}")
        return Submitted(b.number, tx, res.gas_used)

    def submit_pending(self, max_batches: int | None = None) -> list[Submitted]:
        """Submit stored batches in order from the chain's next number until the store has no
        next one (or `max_batches` were sent). Finalized ones are skipped, never resent."""
        out: list[Submitted] = []
        st, resumed = self.reconcile()
        out += resumed
        while max_batches is None or len(out) < max_batches:
            b = self.store.get(st.batch_number + 1)
            if b is None:
                if st.exodus and any(x.status != FINALIZED for x in self.store.batches()):
                    raise ExodusActive("the rollup is in exodus mode; stored batches will never "
                                       "be accepted")
                break
            out.append(self._submit(b, st))
            st = self.client.state()
        return out

    def submit(self, number: int) -> Submitted:
        """Submit stored batch `number` only (it must be the chain's next). A batch the chain
        already finalized is not sent again: the result has resumed=True (and the transaction
        hash when this store sent it)."""
        st, resumed = self.reconcile()
        for r in resumed:
            if r.number == number:
                return r
        b = self.store.get(number)
        if b is None:
            raise StoreError(f"batch {number} is not in {self.store.path}")
        if number <= st.batch_number:
            return Submitted(number, b.tx_hash, b.gas_used, resumed=True)
        if number != st.batch_number + 1:
            raise RelayerError(f"batch {number} is not next: the chain has finalized "
                               f"{st.batch_number}, so batch {st.batch_number + 1} goes first")
        return self._submit(b, st)

    # --- priority requests ---------------------------------------------------------------------
    def _request(self, e: QueueEntry) -> tuple[Any, str]:
        from rollup.transactions import Deposit, ForcedWithdrawal

        to = int.from_bytes(layout._addr(e.l1_address), "big")
        if e.kind == KIND_FORCED_WITHDRAWAL:
            return ForcedWithdrawal(e.account_id, e.amount, to, e.asset,
                                    int.from_bytes(e.l2_key, "big")), ""
        if e.kind != KIND_DEPOSIT:
            return None, f"unknown queue entry kind {e.kind}"
        from circuits.babyjubjub import unpack_point
        from circuits.batch import key_unusable
        from rollup.transactions import Refund

        refund = Refund(e.account_id, e.asset, to, e.amount, int.from_bytes(e.l2_key, "big"))
        if e.asset != layout.ASSET_TOKEN:
            return refund, "the state holds the collateral token only: refunded on L1"
        if key_unusable(bytes(e.l2_key)) is not None:
            return refund, "l2Key is not a usable Baby Jubjub key: refunded on L1"
        pk = unpack_point(bytes(e.l2_key))
        # the contract assigned the account (a new key gets the next id): the entry names it
        return Deposit(e.account_id, pk, e.amount), ""

    def poll_events(self) -> list[PriorityItem]:
        """Hand every new PriorityRequest to `on_request`, in queue order; returns them."""
        w3 = self.chain.w3
        cur = self.store.cursor(self.from_block)
        head = w3.eth.block_number - self.confirmations
        event = self.client.contract.events.PriorityRequest()
        out: list[PriorityItem] = []
        lo = cur.scan_from
        while lo <= head:
            hi = min(lo + self.log_chunk - 1, head)
            logs = sorted(event.get_logs(from_block=lo, to_block=hi),
                          key=lambda lg: (lg["blockNumber"], lg["logIndex"]))
            for lg in logs:
                a = lg["args"]
                if a["index"] < cur.next_index:
                    continue  # handed on before a restart
                if a["index"] > cur.next_index:
                    raise QueueMismatch(f"queue entry {cur.next_index} was never seen; the "
                                        f"next event is entry {a['index']}")
                entry = QueueEntry(a["kind"], a["asset"], a["accountId"],
                                   to_checksum_address(a["l1Address"]), a["amount"],
                                   bytes(a["l2Key"]))
                h = layout.queue_next(cur.queue_hash, entry)
                if h != bytes(a["queueHash"]):
                    raise QueueMismatch(f"queue entry {a['index']}: the chained hash "
                                        f"0x{h.hex()} is not the contract's "
                                        f"0x{bytes(a['queueHash']).hex()}")
                request, note = self._request(entry)
                item = PriorityItem(a["index"], entry, request, h, a["deadline"],
                                    lg["blockNumber"], bytes(lg["transactionHash"]), note)
                if self.on_request is not None:
                    self.on_request(item)
                self.store.record_request(item)
                out.append(item)
                cur = replace(cur, next_index=item.index + 1, queue_hash=h)
                self.log(f"queue {item.index}: {_describe(item)}")
            self.store.set_scan_from(hi + 1)
            cur = replace(cur, scan_from=hi + 1)
            lo = hi + 1
        return out

    # --- the loop ------------------------------------------------------------------------------
    def run_once(self) -> PassReport:
        """One pass: priority requests first (the engine needs them for the next batches), then
        every stored batch the chain can take now."""
        rep = PassReport()
        rep.requests = self.poll_events()
        rep.submitted = self.submit_pending()
        rep.state = self.client.state()
        return rep

    def run(self, interval: float = 2.0, stop: Callable[[], bool] | None = None,
            on_pass: Callable[[PassReport], None] | None = None) -> None:
        """Passes every `interval` seconds until `stop()` is true (Ctrl-C ends it too)."""
        while True:
            rep = self.run_once()
            if on_pass is not None:
                on_pass(rep)
            if stop is not None and stop():
                return
            time.sleep(interval)


def _describe(item: PriorityItem) -> str:
    e = item.entry
    asset = {layout.ASSET_ETH: "ETH", layout.ASSET_TOKEN: "token"}.get(e.asset, f"asset {e.asset}")
    if e.kind == KIND_DEPOSIT:
        who = f"account {item.request.account}" if item.request is not None else item.note
        return f"deposit {e.amount} {asset} from {e.l1_address} to {who}"
    if e.kind == KIND_FORCED_WITHDRAWAL:
        amount = "everything" if e.amount == 0 else str(e.amount)
        return (f"forced withdrawal of {amount} {asset} from account {e.account_id} to "
                f"{e.l1_address}")
    return item.note
