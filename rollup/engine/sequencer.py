"""The sequencer: the single writer that validates requests, matches orders and updates the state.

Every request is verified against the key committed in the state, validated and built on working
copies by its handler (``HANDLERS``), journaled, then applied (state commit, book changes). A
typed error before the journal write rolls back: a rejected request leaves the root, every
balance and every book exactly as they were. A journaled request is acknowledged, and replaying
the journal through ``apply_verified`` reproduces the same state (each step is a deterministic
function of the state and the request). Fixed at construction: the matcher (``CompiledMatcher``
by default), ``defer_root`` (commits only queue leaves; ``deferred_roots()`` does so for a
block) and ``snapshot_every`` (the journal's policy, ``rollup.durability``, checked after each
request or group; ``to_snapshot`` / ``from_snapshot``: ``rollup.engine.snapshot``). Unsigned
types (L1 queue, expiry settlements, listings, DropOrders) come from the queue reader and the
operator only: ``public=True`` (a public endpoint) refuses all but ``PUBLIC_TYPES``.
``submit_group``: one account's cancels and orders all-or-nothing (``groups``). Readers use
``account_view``, ``open_orders``, ``book_levels``, ``status`` (``views``); design: docs/engine.md.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext

from rollup import errors as E
from rollup.durability.snapshot import Snapshot
from rollup.engine import funds, groups, liquidate, oracle, orders, snapshot, views
from rollup.engine.checks import check
from rollup.engine.core import M_NPEND, Core, release
from rollup.engine.orderbook import OrderBook
from rollup.engine.orders import Matcher
from rollup.engine.receipts import Receipt
from rollup.engine.runs import CompiledMatcher
from rollup.margin import resting as R
from rollup.state.encoding import ORDER_TREE_DEPTH
from rollup.state.snapshot import MARGIN_RULE, TREE_LAYOUT
from rollup.state.state import State
from rollup.transactions import (
    PUBLIC_TYPES,
    Cancel,
    CancelAll,
    Deposit,
    Domain,
    DropOrders,
    ExpirySettlement,
    ForcedWithdrawal,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Order,
    Refund,
    Request,
    ScenarioChunk,
    SetOracleKey,
    SettlementPrice,
    Transfer,
    Withdrawal,
    verify_requests,
)

# request type -> handler(sequencer, request) -> (receipt, book changes to run after the commit)
HANDLERS = {
    Deposit: funds.deposit, Withdrawal: funds.withdrawal,
    ForcedWithdrawal: funds.forced_withdrawal, Refund: funds.refund, Transfer: funds.transfer,
    Order: orders.place, Cancel: orders.cancel, CancelAll: orders.cancel_all,
    DropOrders: orders.drop_orders,
    OracleUpdate: oracle.oracle_update, FundingTick: oracle.funding_tick,
    SettlementPrice: oracle.settlement_price, ExpirySettlement: oracle.expiry_settlement,
    ListAsset: oracle.list_asset, SetOracleKey: oracle.set_oracle_key,
    ScenarioChunk: oracle.scenario_chunk,
    Liquidation: liquidate.liquidation,
}


def _verify_signature(req: Request, pk: tuple[int, int], domain: Domain) -> bool:
    """The default verifier (``submit_many`` checks a group's signatures with it in one batch:
    ``rollup.transactions.verify_requests``)."""
    return req.verify(pk, domain)


def tune_gc() -> None:
    """Collector settings for a long-running sequencer process: what is alive now (the state,
    loaded or rebuilt) is frozen out of the full collections, which would otherwise walk every
    account and order on each pass though the state holds no reference cycles; and the young
    generation is collected every 50,000 allocations instead of 700 (a receipt's objects are
    mostly freed by reference counting long before). Measured on the engine benchmark: 54k ->
    62k orders/s for the freeze, 62k -> 72k for the threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def journal_formats() -> dict[str, tuple[str, str]]:
    """What this build's journal rows assume (key -> (value, the value of unstamped journals)):
    the order trees' depth decides which slot an order id takes, so rows written at another
    depth would replay into another state, rows of the linear margin rule (no scenario rows in
    the oracle leaves) into another root, and rows of the binary trees under other roots than
    the ones L1 holds (``Journal.require_format`` refuses them)."""
    return {"order_depth": (str(ORDER_TREE_DEPTH), "8"), "margin": (MARGIN_RULE, "linear"),
            "trees": (TREE_LAYOUT, "binary")}


class Sequencer:
    def __init__(self, state: State, domain: Domain, journal=None,
                 verify: Callable[[Request, tuple[int, int], Domain], bool] | None = None, *,
                 matcher: Matcher | None = None, defer_root: bool = False,
                 snapshot_every: int | None = None) -> None:
        self.state = state
        self.domain = domain
        self.journal = journal
        for key, (value, legacy) in journal_formats().items() if journal is not None else ():
            journal.require_format(key, value, legacy)
        self._verify = verify or _verify_signature
        self.matcher = matcher if matcher is not None else CompiledMatcher()
        self.core = Core()  # the books' arrays and the compiled matcher's account mirror
        self.books: dict[int, OrderBook] = {}
        self.live = orders.LiveOrders()  # (account, slot) -> (asset, id) of resting orders
        self.seen_orders: set[tuple[int, int]] = set()
        # cancel-alls applied and not yet expired: (account, asset, up_to_order_id, expiry)
        self.cancel_alls: dict[tuple[int, int, int, int], None] = {}
        self._cancel_alls_prune_at = 1024
        # scenario chunks applied at the state's time: a replay of one is refused (oracle
        # messages carry no nonce; a replayed chunk 0 would reset the stage in progress)
        self.chunks_seen: dict[tuple, None] = {}
        # the signed orders resting in the books: a fill's batch slot proves both signatures
        self.resting: dict[tuple[int, int], Order] = {}
        self.seq = 0
        self.records: list[bytes] = []  # public data of the applied, not yet batched txs
        self._defer_root = defer_root
        # resting-order totals live in the core's arrays; these are the exact ones of accounts
        # whose totals left the arrays' range (``rollup.margin.resting``)
        self._wide_totals: dict[int, dict[int, list[int]]] = {}
        if snapshot_every is not None:  # the journal's policy: one for every writer
            if journal is None:
                raise ValueError("snapshot_every needs a journal")
            journal.snapshot_every = snapshot_every
        self._group: list[tuple] | None = None  # rows of a group commit: (seq, request, fills)
        self._sums: dict[int, tuple] = {}  # account -> margin summary (a cache)
        self._undo: groups.Undo | None = None  # an atomic group's rollback, while one runs
        self.failed: str | None = None  # why the sequencer stopped (journal behind memory)
        self.exodus: str | None = None  # set once L1 is in exodus: every request is refused

    # --- snapshots (the tables: ``rollup.engine.snapshot``; the file and the policy:
    # ``rollup.durability``) ---------------------------------------------------------------------

    def to_snapshot(self) -> Snapshot:
        """What the journal rows up to ``seq`` determine (state, books, order ids, records)."""
        return snapshot.export(self)

    @classmethod
    def from_snapshot(cls, snap: Snapshot, domain: Domain | None = None,
                      account_depth: int | None = None, journal=None,
                      verify: Callable[[Request, tuple[int, int], Domain], bool] | None = None,
                      **options) -> Sequencer:
        """The sequencer of ``snap`` (``options``: the constructor's); SnapshotError if it
        cannot be used (or, when given, is of another domain or tree depth)."""
        return snapshot.restore(
            lambda st, d: cls(st, d, journal=journal, verify=verify, **options), snap,
            domain=domain, account_depth=account_depth)

    def clone(self) -> Sequencer:
        """An independent copy (no journal; a copy of the matcher, the same ``defer_root``)."""
        matcher = copy.copy(self.matcher)
        matcher.stats = dict(self.matcher.stats)
        return snapshot.clone(self, lambda st, d: type(self)(
            st, d, verify=self._verify, matcher=matcher, defer_root=self._defer_root))

    @property
    def snapshot_every(self) -> int | None:
        """The journal's snapshot interval (its ``SnapshotPolicy``); None without a journal."""
        return self.journal.snapshot_every if self.journal is not None else None

    @property
    def snapshot_error(self) -> str | None:
        """Why the last snapshot failed (None after a success)."""
        return self.journal.policy.error if self.journal is not None else None

    # --- modes ----------------------------------------------------------------------------------

    @property
    def defer_root(self) -> bool:
        """Whether commits only queue the changed leaves (the root is hashed on demand)."""
        return self._defer_root

    @contextmanager
    def deferred_roots(self) -> Iterator[Sequencer]:
        """Within the block, roots are deferred as with ``defer_root`` (receipts carry no root;
        ``flush`` or ``state.root`` hashes the queued leaves); the mode is restored after."""
        mode = self._defer_root
        self._defer_root = True
        try:
            yield self
        finally:
            self._defer_root = mode

    @property
    def core_stats(self) -> dict[str, int]:
        """Orders the compiled kernel applied (``matched``) and handed back to Python."""
        return self.matcher.stats

    # --- entry points ---------------------------------------------------------------------------

    def submit(self, req: Request, pre: tuple[tuple[int, int], bool] | None = None, *,
               public: bool = False) -> Receipt:
        """Verify, validate, journal and apply one request (or raise a typed error, unchanged).
        ``pre``: ``preverify``'s answer for it, used if the signer key is still the one it was
        checked against (else the signature is verified now). ``public``: it came through a
        public endpoint, which may pass in ``PUBLIC_TYPES`` only."""
        if public:
            self.check_public(req)
        if self._needs_signature(req):
            pk = self._signer_key(req)
            good = pre[1] if pre is not None and pre[0] == pk else self._verify(req, pk,
                                                                                 self.domain)
            check(good, E.BadSignature, f"{type(req).__name__} signature does not verify")
        return self.apply_verified(req)

    def preverify(self, reqs: Sequence[Request]) -> list[tuple[tuple[int, int], bool] | None]:
        """Per request, (its signer key as of now, whether its signature verifies under it), all
        from one batch (``verify_requests``: the same answers as ``Request.verify``), or None
        where the answer is left to ``submit`` (unsigned, a key not known yet, a malformed
        signature, a verifier other than the default). ``submit`` / ``submit_many`` use an
        answer only while the signer key is the one it was checked against (a deposit or a key
        change in between can change it). Reads only account keys and the oracle key, which no
        request edits in place, so a thread other than the writer may call it ahead of the
        apply (the compiled kernels release the GIL)."""
        out: list[tuple[tuple[int, int], bool] | None] = [None] * len(reqs)
        if self._verify is not _verify_signature:
            return out
        idx, keys = [], []
        for i, req in enumerate(reqs):
            if self._needs_signature(req):
                try:
                    keys.append(self._signer_key(req))
                except Exception:  # raised again by ``submit`` at the request's turn
                    continue
                idx.append(i)
        try:
            ok = verify_requests([reqs[i] for i in idx], keys, self.domain)
        except (TypeError, ValueError):  # ``submit`` raises it at the request's turn
            return out
        for i, pk, v in zip(idx, keys, ok, strict=True):
            out[i] = (pk, v)
        return out

    def submit_many(self, reqs: Sequence[Request], *, verified: bool = False,
                    group_root: bool = False,
                    pre: Sequence[tuple[tuple[int, int], bool] | None] | None = None,
                    public: bool = False) -> list[Receipt | E.EngineError]:
        """``submit`` for several requests in order, journaled together (group commit): one
        SQLite transaction, one fsync for the group, and the results are returned (the requests
        acknowledged) only once it is on disk. Each result is the request's receipt, or the
        typed error that rejected it (a rejected request changes nothing, as with ``submit``).
        ``verified``: the signatures were checked already (``apply_verified`` for each).
        ``group_root``: the tree is hashed once for the group (the changed leaves batched, a node
        shared by several requests hashed once) and every receipt of the group carries the root
        after the group, instead of a root after each request. With deferred roots, runs of
        consecutive orders go to the matcher's ``run`` (the compiled kernel by default).
        Signatures (unless ``verified``): ``pre`` (``preverify``'s answers, e.g. computed by
        another thread) or else one ``preverify`` of the group, each answer used at the
        request's turn only if its signer key is still the one it was checked against.
        ``public``: as for ``submit`` (a type outside ``PUBLIC_TYPES`` gets OperatorOnly).

        If the group's journal write fails, JournalError is raised and the sequencer refuses
        further requests: its memory holds requests the journal does not, so it must be rebuilt
        with ``recover`` (which gives the state as of the last durable group)."""
        self._check_usable()
        out: list[Receipt | E.EngineError] = []
        reqs = list(reqs)
        if verified:
            pre = [None] * len(reqs)
        elif pre is None:
            pre = self.preverify(reqs)
        elif len(pre) != len(reqs):
            raise ValueError("submit_many: one preverify answer per request")

        self._group = []
        deferred = self._defer_root
        hashed = group_root and not deferred  # the root after the group, for every receipt
        applied = False
        try:
            with self.deferred_roots() if group_root else nullcontext():
                run = self.matcher.run if self._defer_root else None
                i, n = 0, len(reqs)
                while i < n:
                    if run is not None and type(reqs[i]) is Order:
                        j = run(self, reqs, pre, i, out, verified)
                        if j > i:
                            i = j
                            continue
                    req, p = reqs[i], pre[i]
                    i += 1
                    try:
                        if public:
                            self.check_public(req)
                        out.append(self.apply_verified(req) if verified
                                   else self.submit(req, p))
                    except E.EngineError as exc:
                        out.append(exc)
            applied = True
        finally:
            rows, self._group = self._group, None
            # the group's tree hashing runs during its commit's fsync (``Pending.commit``)
            flush = self.state.flush if applied and hashed else None
            root = None
            if rows:
                try:
                    root = self.journal.append_many(rows, beside=flush)
                except E.JournalError as exc:
                    self.failed = f"group journal write failed: {exc.reason}"
                    raise
            elif flush is not None:
                root = flush()
        if hashed:
            for r in out:
                if isinstance(r, Receipt):
                    r.root = root
        self._maybe_snapshot()
        return out

    def submit_group(self, reqs: Sequence[Request], *, verified: bool = False,
                     public: bool = False,
                     pre: Sequence[tuple[tuple[int, int], bool] | None] | None = None
                     ) -> list[Receipt]:
        """Apply signed ``Cancel`` / ``CancelAll`` / ``Order`` requests of one account in order,
        all or nothing (an amend, a mass quote): their receipts, journaled together (one row per
        request, one transaction), each receipt's root the root after the group. If an item is
        rejected, GroupRejected (``index``: the item, ``error``: its typed error) and the state,
        the books and the journal are as before the call. ``verified``: signatures checked
        already; ``pre``: ``preverify``'s answers (used where the signer key is still the one
        checked); ``public``: as for ``submit``. Details: ``rollup.engine.groups``."""
        self._check_usable()
        if public:
            for i, req in enumerate(reqs):
                try:
                    self.check_public(req)
                except E.OperatorOnly as exc:
                    raise E.GroupRejected(i, exc) from None
        return groups.apply_group(self, reqs, verified, pre)

    def apply_verified(self, req: Request) -> Receipt:
        """``submit`` without the signature check: for journal replay, and for callers that
        verified the signature already (e.g. a verifier pool in front of the sequencer)."""
        if self.failed or self.exodus:
            self._check_usable()
        handler = HANDLERS[type(req)]
        state = self.state
        core = self.core
        if core.meta[M_NPEND]:  # handles freed by earlier requests become reusable
            release(core.free, core.pend, core.meta)
        state.begin()
        pending = None
        try:
            receipt, book_ops = handler(self, req)
            if self.journal is not None:
                if self._group is not None:
                    self._group.append((self.seq + 1, req, receipt.fills))
                else:
                    pending = self.journal.write([(self.seq + 1, req, receipt.fills)])
                    if self._defer_root or not state.to_hash:
                        pending.commit()  # nothing to hash during the fsync: no hand-off
                        pending = None
        except BaseException:
            state.rollback()
            raise
        self.seq += 1
        receipt.seq = self.seq
        receipt.root = (state.commit(defer=self._defer_root) if pending is None
                        else self._commit_beside(pending))
        for op in book_ops:
            op()
        self.records.extend(receipt.records)
        if self.snapshot_every and self._group is None:
            self._maybe_snapshot()
        return receipt

    def _commit_beside(self, pending) -> int | None:
        """A lone request's journal commit with the state's commit (its hashing) running
        during the fsync. A journal commit that fails then finds the state moved on: the
        sequencer stops (JournalError), as after a failed group write."""
        try:
            return pending.commit(beside=lambda: self.state.commit(defer=self._defer_root))
        except E.JournalError as exc:
            self.failed = f"journal commit failed after request {self.seq}: {exc.reason}"
            raise

    def enter_exodus(self, why: str) -> None:
        """L1 switched to exodus: from now on every request is refused with ExodusActive (the
        state stays readable; traders leave with exit proofs against the last finalized root)."""
        self.exodus = why

    @staticmethod
    def check_public(req: Request) -> None:
        """OperatorOnly unless a public endpoint may pass ``req`` in (``PUBLIC_TYPES``)."""
        check(type(req) in PUBLIC_TYPES, E.OperatorOnly,
              f"{type(req).__name__} is not taken from a public endpoint: it comes from the "
              "operator or the L1 queue")

    def _check_usable(self) -> None:
        if self.exodus:
            raise E.ExodusActive(f"the rollup is in exodus ({self.exodus}): no request is "
                                 "taken; exit with a proof against the last finalized root")
        if self.failed:
            raise E.JournalError(f"sequencer stopped ({self.failed}); recover it from its "
                                 "journal")

    def _maybe_snapshot(self) -> None:
        """A snapshot if the journal's policy says one is due (``Journal.maybe_snapshot``)."""
        if self.journal is not None:
            self.journal.maybe_snapshot(self)

    def flush(self) -> int:
        return self.state.flush()

    def _needs_signature(self, req: Request) -> bool:
        """Signed types need a signature; an oracle-key change does too unless no key is
        registered yet (the first key, at genesis)."""
        if type(req) is SetOracleKey:
            return self.state.oracle_pk != (0, 0)
        return req.SIGNED

    def _signer_key(self, req: Request) -> tuple[int, int]:
        if isinstance(req, OracleUpdate | FundingTick | SettlementPrice | SetOracleKey
                      | ScenarioChunk):
            check(self.state.oracle_pk != (0, 0), E.BadOracle, "no oracle key registered")
            return self.state.oracle_pk
        who = {Transfer: "sender", Liquidation: "liquidator"}.get(type(req), "account")
        return self.state.account(getattr(req, who)).pk

    # --- reads ----------------------------------------------------------------------------------

    def account_view(self, account: int) -> views.AccountView:
        return views.account_view(self, account)

    def open_orders(self, account: int) -> list[views.OpenOrder]:
        return views.open_orders(self, account)

    def book_levels(self, asset: int, depth: int) -> views.BookView:
        return views.book_levels(self, asset, depth)

    def status(self) -> views.StatusView:
        return views.status_view(self)

    @property
    def resting_totals(self) -> dict[int, dict[int, list[int]]]:
        """account -> asset -> [bid size, bid notional, ask size, ask notional] of its resting
        orders (reduce-only ones aside), for accounts with any."""
        return R.all_totals(self.core, self._wide_totals)
