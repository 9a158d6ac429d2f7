"""The books and the account mirror in arrays: what the matching kernel (``rollup.engine.kernel``)
reads and writes, and the compiled book operations that ``OrderBook`` (a view of one asset) and
the kernel share.

Books: an order is a handle into the pool arrays (``oi`` int64 columns, ``ou`` uint64 columns).
Each (asset, side) has its price levels in a row of ``lp`` (price), ``lh`` / ``lt`` (head and
tail handles of the level's FIFO, doubly linked through O_NEXT / O_PREV), sorted worst first so
the best level is last (emptying it is O(1)). A removed order's handle goes to ``pend`` and is
reused only after ``release`` (the start of the next run or request), so handles named in the
outputs of a run stay readable until the caller has read them.
Accounts: row r mirrors an account (collateral, the 8 position slots, its resting totals per
asset in ``rt``), loaded from the state and reloaded once the state changes the account
(``State.accounts`` records changed ids); the kernel's writes go back to the state once per run.
The asset table's first columns are the margin rule's (``rollup.margin.compiled``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rollup.margin.compiled import (  # noqa: F401 (the asset table's columns, re-exported)
    BOUND,
    N_RULE,
    S_DV,
    S_FUND,
    S_HAS,
    S_KIND,
    S_OK,
    S_PRICE,
    S_UNDER,
)
from rollup.state.state import FEE_ACCOUNT, ZERO_ROWS

# order pool, int64 columns
O_ACCT, O_ROW, O_SIDE, O_SIZE, O_REM, O_FLAGS, O_SEQ, O_NEXT, O_PREV, O_ASSET, O_LIVE, O_GEN = \
    range(12)
N_OI = 12
# order pool, uint64 columns
U_OID, U_PRICE, U_EXP = range(3)
N_OU = 3
# meta: pool high-water mark, free handles, pending handles, last sequence number
M_USED, M_NFREE, M_NPEND, M_SEQ, M_STAMP = range(5)
N_META = 5
# account rows
A_ID, A_COLL, A_FLAG, A_TOUCH = range(4)
N_AI = 4
F_LOADED, F_WIDE, F_RTWIDE = 1, 2, 4
SLOTS = 8
# assets: the margin rule's columns, then the engine's (int64; expiry in ``asu``)
S_LISTED, S_MF, S_TF = range(N_RULE, N_RULE + 3)
N_AS = N_RULE + 3
# globals: fee account row (-1: none), run stamp; time is ``gu[0]``
G_FEE_ROW, G_RUN = 0, 1

KIND_PERP = 1
BUY, SELL = 0, 1
POST_ONLY, IOC, REDUCE_ONLY, MARKET = 1, 2, 4, 8
LIMIT = (1 << 31)  # the kernel's range for factors (amounts: ``BOUND``)


# --- books ---------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _find_level(lp, ln, r, price, bid):
    """(index, found) of ``price`` in level row r (sorted worst first: bids ascending, asks
    descending); index is where it would be inserted when not found."""
    lo, hi = 0, ln[r]
    while lo < hi:
        mid = (lo + hi) >> 1
        p = lp[r, mid]
        if p == price:
            return mid, True
        if (p < price) == bid:
            lo = mid + 1
        else:
            hi = mid
    return lo, False


@njit(cache=True, inline="always")
def _new_order(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, oid, price, size,
               rem, expiry, flags, stamp):
    """A handle holding the order's fields, and the index of its price level (created if new);
    the order is not linked into the level yet."""
    if meta[M_NFREE] > 0:
        meta[M_NFREE] -= 1
        h = free[meta[M_NFREE]]
    else:
        h = meta[M_USED]
        meta[M_USED] += 1
    oi[h, O_ACCT] = acct
    oi[h, O_ROW] = row
    oi[h, O_SIDE] = side
    oi[h, O_SIZE] = size
    oi[h, O_REM] = rem
    oi[h, O_FLAGS] = flags
    oi[h, O_SEQ] = stamp
    oi[h, O_ASSET] = asset
    oi[h, O_LIVE] = 1
    oi[h, O_GEN] += 1
    ou[h, U_OID] = oid
    ou[h, U_PRICE] = price
    ou[h, U_EXP] = expiry
    r = asset * 2 + side
    i, found = _find_level(lp, ln, r, price, side == BUY)
    if not found:
        n = ln[r]
        for k in range(n, i, -1):
            lp[r, k] = lp[r, k - 1]
            lh[r, k] = lh[r, k - 1]
            lt[r, k] = lt[r, k - 1]
        lp[r, i] = price
        lh[r, i] = -1
        lt[r, i] = -1
        ln[r] = n + 1
    return h, i


@njit(cache=True)
def book_add(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, oid, price, size, rem,
             expiry, flags):
    """Rest an order at the back of its level; its handle. The caller ensured capacity."""
    meta[M_SEQ] += 1
    h, i = _new_order(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, oid, price,
                      size, rem, expiry, flags, meta[M_SEQ])
    r = asset * 2 + side
    tail = lt[r, i]
    oi[h, O_PREV] = tail
    oi[h, O_NEXT] = -1
    if tail >= 0:
        oi[tail, O_NEXT] = h
    else:
        lh[r, i] = h
    lt[r, i] = h
    return h


@njit(cache=True)
def book_insert(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, oid, price, size,
                rem, expiry, flags, stamp, before):
    """Put a removed order back where its priority stamp places it in its level (undoing a
    removal: the level's FIFO is in stamp order); its handle. ``before``: the handle of the
    order that followed it when it was removed, -1 if it was the level's tail (undoing in
    exact reverse order, the level is as the removal left it: O(1)); -2: unknown, found by
    walking back from the tail. The caller ensured capacity."""
    h, i = _new_order(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, oid, price,
                      size, rem, expiry, flags, stamp)
    r = asset * 2 + side
    if before == -2:
        prev = lt[r, i]
        while prev >= 0 and oi[prev, O_SEQ] > stamp:
            prev = oi[prev, O_PREV]
    elif before == -1:
        prev = lt[r, i]
    else:
        prev = oi[before, O_PREV]
    nxt = oi[prev, O_NEXT] if prev >= 0 else lh[r, i]
    oi[h, O_PREV] = prev
    oi[h, O_NEXT] = nxt
    if prev >= 0:
        oi[prev, O_NEXT] = h
    else:
        lh[r, i] = h
    if nxt >= 0:
        oi[nxt, O_PREV] = h
    else:
        lt[r, i] = h
    return h


@njit(cache=True)
def book_remove(oi, ou, pend, meta, lp, lh, lt, ln, h):
    """Take a live order out of its level (dropping an emptied level); its handle waits in
    ``pend`` until ``release``."""
    side = oi[h, O_SIDE]
    r = oi[h, O_ASSET] * 2 + side
    i, found = _find_level(lp, ln, r, ou[h, U_PRICE], side == BUY)
    prev, nxt = oi[h, O_PREV], oi[h, O_NEXT]
    if prev >= 0:
        oi[prev, O_NEXT] = nxt
    else:
        lh[r, i] = nxt
    if nxt >= 0:
        oi[nxt, O_PREV] = prev
    else:
        lt[r, i] = prev
    if lh[r, i] < 0:
        n = ln[r] - 1
        for k in range(i, n):
            lp[r, k] = lp[r, k + 1]
            lh[r, k] = lh[r, k + 1]
            lt[r, k] = lt[r, k + 1]
        ln[r] = n
    oi[h, O_LIVE] = 0
    pend[meta[M_NPEND]] = h
    meta[M_NPEND] += 1


@njit(cache=True)
def release(free, pend, meta):
    """Make the handles removed since the last release reusable."""
    for k in range(meta[M_NPEND]):
        free[meta[M_NFREE]] = pend[k]
        meta[M_NFREE] += 1
    meta[M_NPEND] = 0


@njit(cache=True)
def side_handles(oi, lh, ln, r, out):
    """The live handles of level row r in priority order (best level first, FIFO within a
    level) into ``out``; their number."""
    k = 0
    for i in range(ln[r] - 1, -1, -1):
        h = lh[r, i]
        while h >= 0:
            out[k] = h
            k += 1
            h = oi[h, O_NEXT]
    return k


# --- the arrays and their upkeep (Python) --------------------------------------------------------

def _grow(a: np.ndarray, n: int, axis: int = 0, fill: int = 0) -> np.ndarray:
    """``a`` with axis ``axis`` grown to n (new entries ``fill``)."""
    shape = list(a.shape)
    shape[axis] = n
    out = np.full(shape, fill, a.dtype)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


class Core:
    """The books and the account mirror as arrays (see the module docstring), with the upkeep
    the kernels leave to Python: capacity, loading account rows from the state, the asset table.
    One per sequencer; ``OrderBook`` objects are views of one asset of it."""

    def __init__(self) -> None:
        self.oi = np.zeros((1024, N_OI), np.int64)
        self.ou = np.zeros((1024, N_OU), np.uint64)
        self.free = np.zeros(1024, np.int64)
        self.pend = np.zeros(1024, np.int64)
        self.meta = np.zeros(N_META, np.int64)
        self.n_assets = 8
        self.lp = np.zeros((16, 16), np.uint64)
        self.lh = np.full((16, 16), -1, np.int64)
        self.lt = np.full((16, 16), -1, np.int64)
        self.ln = np.zeros(16, np.int64)
        self.ai = np.zeros((256, N_AI), np.int64)
        self.pa = np.zeros((256, SLOTS), np.int64)
        self.pb = np.zeros((256, SLOTS), np.int64)
        self.ps = np.zeros((256, SLOTS), np.int64)
        self.rt = np.zeros((256, 8, 4), np.int64)
        self.rw_stamp = np.zeros(256, np.int64)
        self.rw_idx = np.zeros(256, np.int64)
        self.asi = np.zeros((8, N_AS), np.int64)
        self.asu = np.zeros(8, np.uint64)
        self.g = np.array([-1, 0], np.int64)
        self.gu = np.zeros(1, np.uint64)
        self.index: dict[int, int] = {}  # account id -> row
        # while a list: the inverses of the books' changes (``OrderBook``), for a group rollback
        self.undo: list | None = None
        self._reset_mirror()

    def _reset_mirror(self) -> None:
        self.stale: set[int] = set(self.index.values())  # rows to reload before the next run
        self._accounts = None  # the state's accounts table the rows were loaded from
        self._versions = None  # (oracle, registry) versions the asset table was loaded at

    # --- capacity ---

    def reserve(self, orders: int, row: int | None = None) -> None:
        """Room for ``orders`` more resting orders and price levels on any side (on level row
        ``row`` only, if given)."""
        need = int(self.meta[M_USED]) + orders
        if need > self.oi.shape[0] and int(self.meta[M_NFREE]) < orders:
            n = max(2 * self.oi.shape[0], need)
            self.oi = _grow(self.oi, n)
            self.ou = _grow(self.ou, n)
            self.free = _grow(self.free, n)
            self.pend = _grow(self.pend, n)
        need = int(self.ln.max() if row is None else self.ln[row]) + orders
        if need > self.lp.shape[1]:
            n = max(2 * self.lp.shape[1], need)
            self.lp = _grow(self.lp, n, 1)
            self.lh = _grow(self.lh, n, 1, -1)
            self.lt = _grow(self.lt, n, 1, -1)

    def ensure_asset(self, asset: int) -> None:
        if asset < self.n_assets:
            return
        n = max(2 * self.n_assets, asset + 1)
        self.lp = _grow(self.lp, 2 * n)
        self.lh = _grow(self.lh, 2 * n, 0, -1)
        self.lt = _grow(self.lt, 2 * n, 0, -1)
        self.ln = _grow(self.ln, 2 * n)
        self.rt = _grow(self.rt, n, 1)
        self.asi = _grow(self.asi, n)
        self.asu = _grow(self.asu, n)
        self.n_assets = n
        self._versions = None

    def _grow_rows(self, n: int) -> None:
        for name in ("ai", "pa", "pb", "ps", "rt", "rw_stamp", "rw_idx"):
            setattr(self, name, _grow(getattr(self, name), n))

    # --- the account mirror ---

    def row(self, i: int) -> int:
        """Account i's row (allocated empty and stale if new)."""
        r = self.index.get(i)
        if r is None:
            r = len(self.index)
            if r >= self.ai.shape[0]:
                self._grow_rows(2 * self.ai.shape[0])
            self.index[i] = r
            self.ai[r, A_ID] = i
            self.ai[r, A_FLAG] = 0
            self.stale.add(r)
        return r

    def _load_row(self, r: int, acc) -> None:
        keep = int(self.ai[r, A_FLAG]) & F_RTWIDE
        if acc is None:  # the account is gone: nothing may trade on this row
            self.ai[r, A_FLAG] = keep
            return
        c = acc.collateral
        # trade records carry account ids in 32 bits: a fill with a larger id is left to Python
        wide = not -BOUND < c < BOUND or not 0 <= int(self.ai[r, A_ID]) < 1 << 32
        self.ai[r, A_COLL] = 0 if wide else c
        self.ai[r, A_FLAG] = keep | F_LOADED | (F_WIDE if wide else 0)
        for j, (a, b, s) in enumerate(acc.positions):
            self.pa[r, j], self.pb[r, j], self.ps[r, j] = a, b, s

    def sync(self, state) -> None:
        """Bring the mirror up to date with ``state`` before a run: rows of changed accounts
        reloaded, the asset table, the time and the fee account's row."""
        accounts = state.accounts
        index = self.index
        if accounts is not self._accounts or not hasattr(accounts, "changed"):
            self.stale.update(index.values())
            self._accounts = accounts
            if hasattr(accounts, "changed"):
                accounts.changed.clear()
        else:
            changed = accounts.changed
            if changed:
                for i in changed:
                    r = index.get(i)
                    if r is not None:
                        self.stale.add(r)
                changed.clear()
        if self.stale:
            get = accounts.get
            ai = self.ai
            for r in self.stale:
                self._load_row(r, get(int(ai[r, A_ID])))
            self.stale.clear()
        versions = (state.oracle.version, state.assets.version)
        if versions != self._versions:
            self._load_assets(state)
            self._versions = versions
        t = state.time
        self.gu[0] = t if t < 1 << 64 else (1 << 64) - 1
        self.g[G_FEE_ROW] = self.row_loaded(FEE_ACCOUNT, accounts) if FEE_ACCOUNT in accounts \
            else -1

    def row_loaded(self, i: int, accounts) -> int:
        """Account i's row, loaded now if it is new."""
        r = self.index.get(i)
        if r is None:
            r = self.row(i)
            self.stale.discard(r)
            self._load_row(r, accounts.get(i))
        return r

    def _load_assets(self, state) -> None:
        top = max(list(state.assets) + list(state.oracle) + [0])
        self.ensure_asset(top)
        self.asi[:] = 0
        self.asu[:] = 0
        for a, asset in state.assets.items():
            o = state.oracle.get(a)
            price = o.price if o is not None else 0
            fund = o.funding_index if o is not None else 0
            s = self.asi[a]
            s[S_LISTED] = 1
            s[S_KIND] = asset.kind
            s[S_UNDER] = asset.underlying if 0 <= asset.underlying < self.n_assets else 0
            factors = (asset.maker_fee, asset.taker_fee)
            rows = o.rows if o is not None else ZERO_ROWS
            ok = (all(0 <= x < LIMIT for x in factors) and 0 <= price < BOUND
                  and -BOUND < fund < BOUND and 0 <= asset.underlying < self.n_assets)
            s[S_OK] = 1 if ok else 0
            if ok:
                s[S_MF], s[S_TF] = factors
                s[S_PRICE], s[S_FUND] = price, fund
                s[S_HAS] = 1 if rows != ZERO_ROWS else 0
                s[S_DV:S_DV + len(rows)] = rows
            self.asu[a] = asset.expiry if 0 <= asset.expiry < 1 << 64 else 0
        # an option whose underlying's entry is out of range cannot be margined here
        for a in state.assets:
            if self.asi[a, S_KIND] != KIND_PERP and not self.asi[self.asi[a, S_UNDER], S_OK]:
                self.asi[a, S_OK] = 0

    def committed(self, ids: list[int], accounts: dict) -> None:
        """The kernel's rows were written back to the state (which recorded their ids as
        changed): they mirror what was written and need no reload."""
        changed = getattr(accounts, "changed", None)
        if changed is not None:
            changed.difference_update(ids)

    # --- resting totals written by the Python path ---

    def rt_add(self, account: int, asset: int, side: int, price: int, qty: int,
               accounts) -> bool:
        """Add qty (at this price) to the account's resting totals; False, changing nothing but
        marking the row, when a total would leave the kernel's range (the caller keeps that
        account's totals exactly from then on; the kernel hands its resting-order rule back)."""
        r = self.row_loaded(account, accounts)
        self.ensure_asset(asset)
        c = 0 if side == BUY else 2
        q = int(self.rt[r, asset, c]) + qty
        n = int(self.rt[r, asset, c + 1]) + qty * price
        if self.ai[r, A_FLAG] & F_RTWIDE or not (-BOUND < q < BOUND and -BOUND < n < BOUND):
            self.ai[r, A_FLAG] |= F_RTWIDE
            return False
        self.rt[r, asset, c] = q
        self.rt[r, asset, c + 1] = n
        return True

    def totals_of(self, account: int) -> dict[int, list[int]]:
        """asset -> [bid size, bid notional, ask size, ask notional] of the account's resting
        orders, from the arrays (exact unless the row is marked wide)."""
        r = self.index.get(account)
        if r is None:
            return {}
        return {a: t for a, t in enumerate(self.rt[r].tolist()) if t[0] or t[2]}

    def all_totals(self) -> dict[int, dict[int, list[int]]]:
        """``totals_of`` for every account with resting orders, wide rows aside."""
        out = {}
        for i, r in self.index.items():
            if not self.ai[r, A_FLAG] & F_RTWIDE and (self.rt[r, :, 0].any()
                                                       or self.rt[r, :, 2].any()):
                out[i] = self.totals_of(i)
        return out
