"""Atomic groups: signed cancels, cancel-alls and orders of one account applied all-or-nothing
(amend = [Cancel(old), Order(new)]; mass quote = [CancelAll(account, asset, up_to), Order...]).

Each item goes through ``Sequencer.apply_verified`` in turn (the same handlers, so each order
sees the book its predecessors left), with deferred roots, its journal row held back. If an item
is rejected, ``Undo.rollback`` puts back everything the earlier items changed (the state through
a savepoint, the books through the inverses ``OrderBook`` logs, the bookkeeping through what
``rollup.engine.orders`` noted before each change) and ``GroupRejected`` names the item; the
journal never sees the group. Accepted, the group's rows (one per request, as if submitted one
by one) go to the journal in one transaction: a restart, a snapshot or the batch builder sees
ordinary requests, and replaying them gives the same result because each was applied in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from rollup import errors as E
from rollup.engine import core as C
from rollup.engine.orders import ORDER_SLOTS
from rollup.engine.receipts import Receipt
from rollup.transactions import Cancel, CancelAll, Order, Request

GROUP_TYPES = (Cancel, CancelAll, Order)
MAX_GROUP = 1024  # items in one group (a mass quote of 1,000 orders and its cancel-all)


class Undo:
    """What an atomic group changed, to be put back (``rollback``) or kept (``release``)."""

    def __init__(self, seq) -> None:
        self.seq = seq
        core = seq.core
        self.n, self.n_records = seq.seq, len(seq.records)
        self.stamp = int(core.meta[C.M_SEQ])
        self.books = set(seq.books)
        self.live: dict[tuple[int, int], tuple | None] = {}  # (account, slot) -> before
        self.resting: dict[tuple[int, int], Order | None] = {}  # (account, id) -> before
        self.seen: dict[tuple[int, int], bool] = {}
        self.wide: dict[int, tuple] = {}  # account -> (row, rt row, wide flag, wide totals)
        self.spent: list[tuple] = []  # cancel-alls the group remembered
        seq.state.savepoint()
        core.undo = []
        seq._undo = self

    def order(self, account: int, order_id: int) -> None:
        """Note order (account, order_id)'s entries in ``live``, ``resting`` and
        ``seen_orders`` before they change."""
        seq = self.seq
        key = (account, order_id)
        if key not in self.resting:
            self.resting[key] = seq.resting.get(key)
            self.seen[key] = key in seq.seen_orders
        slot = (account, order_id % ORDER_SLOTS)
        if slot not in self.live:
            self.live[slot] = seq.live.get(slot)

    def totals(self, account: int) -> None:
        """Note the account's resting totals before they change."""
        if account in self.wide:
            return
        core, wide = self.seq.core, self.seq._wide_totals
        row = core.index.get(account)
        per = wide.get(account)
        self.wide[account] = (
            row, None if row is None else core.rt[row].copy(),
            0 if row is None else int(core.ai[row, C.A_FLAG]) & C.F_RTWIDE,
            None if per is None else {a: list(t) for a, t in per.items()})

    def release(self) -> None:
        self.seq.state.release_savepoint()
        self._close()

    def rollback(self) -> None:
        seq = self.seq
        core = seq.core
        log, core.undo = core.undo, None  # the inverses must not log themselves
        for fn, args in reversed(log):
            fn(*args)
        for table, saved in ((seq.live, self.live), (seq.resting, self.resting)):
            for k, v in saved.items():
                if v is None:
                    table.pop(k, None)
                else:
                    table[k] = v
        for k, was in self.seen.items():
            if not was:
                seq.seen_orders.discard(k)
        for k in self.spent:
            seq.cancel_alls.pop(k, None)
        for account, (row, rt, flag, per) in self.wide.items():
            r = core.index.get(account) if row is None else row
            if r is not None:  # (a row the group gave the account starts from zero totals)
                core.rt[r] = 0
                if rt is not None:
                    core.rt[r, :rt.shape[0]] = rt
                core.ai[r, C.A_FLAG] = (int(core.ai[r, C.A_FLAG]) & ~C.F_RTWIDE) | flag
            if per is None:
                seq._wide_totals.pop(account, None)
            else:
                seq._wide_totals[account] = per
        for asset in set(seq.books) - self.books:  # registered by the group: empty again
            del seq.books[asset]
        del seq.records[self.n_records:]
        seq.seq = self.n
        core.meta[C.M_SEQ] = self.stamp
        seq.state.restore_savepoint()
        self._close()

    def _close(self) -> None:
        self.seq.core.undo = None
        self.seq._undo = None


def check_shape(reqs: Sequence[Request]) -> None:
    """GroupRejected unless ``reqs`` is 1..MAX_GROUP cancels, cancel-alls and orders of one
    account."""
    if not reqs:
        raise E.GroupRejected(0, E.InvalidRequest("an empty group"))
    if len(reqs) > MAX_GROUP:
        raise E.GroupRejected(MAX_GROUP, E.InvalidRequest(
            f"a group holds at most {MAX_GROUP} requests"))
    account = getattr(reqs[0], "account", None)
    for i, r in enumerate(reqs):
        if type(r) not in GROUP_TYPES:
            raise E.GroupRejected(i, E.InvalidRequest(
                f"{type(r).__name__} cannot be grouped: only Cancel, CancelAll and Order"))
        if r.account != account:
            raise E.GroupRejected(i, E.InvalidRequest(
                f"a group is of one account ({account}), not {r.account}"))


def apply_group(seq, reqs: Sequence[Request], verified: bool,
                pre: Sequence | None = None) -> list[Receipt]:
    """``Sequencer.submit_group``'s work, the sequencer usable (module docstring)."""
    reqs = list(reqs)
    check_shape(reqs)
    if not verified:  # one batch (no request of a group can change the account's key)
        try:
            pk = seq._signer_key(reqs[0])
        except E.EngineError as exc:
            raise E.GroupRejected(0, exc) from None
        if pre is None or len(pre) != len(reqs):
            pre = seq.preverify(reqs)
        for i, (req, p) in enumerate(zip(reqs, pre, strict=True)):
            good = p[1] if p is not None and p[0] == pk else seq._verify(req, pk, seq.domain)
            if not good:
                raise E.GroupRejected(i, E.BadSignature(
                    f"{type(req).__name__} signature does not verify"))
    undo = Undo(seq)
    seq._group = []
    out: list[Receipt] = []
    try:
        with seq.deferred_roots():
            for i, req in enumerate(reqs):
                try:
                    out.append(seq.apply_verified(req))
                except E.EngineError as exc:
                    undo.rollback()
                    raise E.GroupRejected(i, exc) from None
        undo.release()
        rows = seq._group
    except BaseException:
        if seq._undo is undo:  # an untyped failure: put back what the group did all the same
            undo.rollback()
        raise
    finally:
        seq._group = None
    # the tree hashing runs during the commit's fsync (``Pending.commit``)
    flush = None if seq.defer_root else seq.state.flush
    try:
        root = seq.journal.append_many(rows, beside=flush) if rows else None
    except E.JournalError as exc:
        seq.failed = f"group journal write failed: {exc.reason}"
        raise
    if flush is not None:
        root = root if rows else flush()
        for r in out:
            r.root = root
    seq._maybe_snapshot()
    return out
