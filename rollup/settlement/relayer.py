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
(`QueueMismatch`); the cursor moves only after the callback returns. The store and the
errors live in ``store`` and ``errors`` beside this module. See docs/settlement.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from eth_utils import to_checksum_address
from web3.exceptions import TransactionNotFound

from circuits.babyjubjub import unpack_point
from rollup.chain import layout
from rollup.chain.errors import ContractRevert
from rollup.chain.layout import KIND_DEPOSIT, KIND_FORCED_WITHDRAWAL, QueueEntry
from rollup.chain.rollup import RollupClient, RollupState
from rollup.settlement.errors import (
    BatchRejected,
    ExodusActive,
    PublicInputMismatch,
    QueueMismatch,
    RelayerError,
    RootMismatch,
    StoreError,
)
from rollup.settlement.store import (
    FINALIZED,
    PENDING,
    SENT,
    BatchStore,
    Cursor,
    PriorityItem,
    StoredBatch,
)
from rollup.transactions import Deposit, ForcedWithdrawal, Refund

__all__ = [  # the store and the errors too, for callers that import them from here
    "FINALIZED", "PENDING", "SENT", "BatchRejected", "BatchStore", "Cursor", "ExodusActive",
    "PassReport", "PriorityItem", "PublicInputMismatch", "QueueMismatch", "Relayer",
    "RelayerError", "RootMismatch", "StoreError", "StoredBatch", "Submitted", "accounts_by_key",
]


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
        to = int.from_bytes(layout._addr(e.l1_address), "big")
        if e.kind == KIND_FORCED_WITHDRAWAL:
            return ForcedWithdrawal(e.account_id, e.amount, to, e.asset,
                                    int.from_bytes(e.l2_key, "big")), ""
        if e.kind != KIND_DEPOSIT:
            return None, f"unknown queue entry kind {e.kind}"
        # lazy: circuits.batch hashes its empty roots with the Numba Poseidon on import
        from circuits.batch import key_unusable

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
