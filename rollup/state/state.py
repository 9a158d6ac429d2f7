"""Accounts, the asset registry and the global (oracle) state, with their trees and one root.

Leaf encodings are in ``rollup.state.encoding``. Updates go through a transaction: ``begin()``,
then ``edit_account`` / ``set_oracle`` / ... on working copies, then ``commit()`` or
``rollback()`` (old objects restored; the trees were never touched). Until commit, no tree node
changes, so a rejected request cannot leave a partial root. A ``savepoint`` spans deferred
commits; ``restore_savepoint`` puts back every object they replaced (an atomic group).

``commit()`` hashes the changed leaves and returns the new root; ``commit(defer=True)`` only
marks them dirty, and ``flush()`` (or ``root``) later hashes every dirty leaf at once: each kind
of hash batched across accounts in one Numba call (``circuits.poseidon_batch``), the tree levels
of all changed leaves in one more, a node shared by several dirty leaves hashed once. Leaves are
rehashed incrementally: an account whose fields are what they were at the last flush is skipped,
a positions root (H16) is reused while its 8 slots are unchanged, so a collateral or nonce change
costs one H6 and the path.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

from circuits.poseidon import poseidon
from rollup.errors import UnknownAccount
from rollup.state.encoding import (
    ASSET_DEPTH,
    DEFAULT_ACCOUNT_DEPTH,
    KIND_CALL,
    KIND_PERP,
    KIND_PUT,
    ORDER_TREE_DEPTH,
    POSITION_SLOTS,
    SCENARIOS,
    encode,
    position_word,
)
from rollup.state.tree import (
    DEFAULT_HASHER,
    Hasher,
    SparseMerkleTree,
    default_nodes,
    update_trees,
)

EMPTY_SLOT = (0, 0, 0)


def positions_fields(positions) -> list[int]:
    """The 16 inputs of the positions root: the slots' words, then their snapshots."""
    return [position_word(a, b) for a, b, _ in positions] + [encode(s) for _, _, s in positions]

FEE_ACCOUNT = 0  # collects trading fees; registered at genesis with the operator's key


class Versioned(dict):
    """A dict whose ``version`` changes on every write, so that values derived from it (an
    account's value and risk at the current oracle prices) can be cached and checked in O(1)."""

    version = 0  # the last version given out (class attribute); instances hold their own

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self._bump()

    def _bump(self) -> None:
        Versioned.version += 1  # one counter for all: a version is never reused
        self.version = Versioned.version

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self._bump()

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self._bump()

    def pop(self, *args):
        self._bump()
        return super().pop(*args)

    def setdefault(self, key, default=None):
        self._bump()
        return super().setdefault(key, default)

    def update(self, *args, **kw) -> None:
        super().update(*args, **kw)
        self._bump()

    def clear(self) -> None:
        super().clear()
        self._bump()

    def popitem(self):
        self._bump()
        return super().popitem()

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        return (Versioned, (dict(self),))


class Tracked(dict):
    """The accounts table: a dict that records which keys were written (``changed``), so that a
    mirror of some accounts (the compiled matching core's) knows which rows to reload."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.changed: set = set(self)

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self.changed.add(key)

    def pop(self, key, *default):
        self.changed.add(key)
        return super().pop(key, *default)

    def setdefault(self, key, default=None):
        self.changed.add(key)
        return super().setdefault(key, default)

    def update(self, *args, **kw) -> None:
        other = dict(*args, **kw)
        super().update(other)
        self.changed.update(other)

    def clear(self) -> None:
        self.changed.update(self)
        super().clear()

    def popitem(self):
        k, v = super().popitem()
        self.changed.add(k)
        return k, v

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        return (Tracked, (dict(self),))


@dataclass
class Account:
    pk: tuple[int, int]
    nonce: int = 0
    collateral: int = 0
    # (asset_id, balance, funding_snapshot) per slot; asset 0 = empty
    positions: list[tuple[int, int, int]] = field(
        default_factory=lambda: [EMPTY_SLOT] * POSITION_SLOTS
    )
    # order slot (order_id mod 2**ORDER_TREE_DEPTH) -> (order_id, filled)
    orders: dict[int, tuple[int, int]] = field(default_factory=dict)

    def copy(self) -> Account:
        return Account(self.pk, self.nonce, self.collateral, list(self.positions),
                       dict(self.orders))

    def slot_of(self, asset: int) -> int | None:
        for j, (a, _, _) in enumerate(self.positions):
            if a == asset:
                return j
        return None

    def balance(self, asset: int) -> int:
        j = self.slot_of(asset)
        return 0 if j is None else self.positions[j][1]


@dataclass(frozen=True)
class Asset:
    """A registry entry: a perpetual market or a European option series."""

    asset_id: int
    kind: int
    risk_initial: int  # ppm of |balance| * price
    risk_maintenance: int
    underlying: int = 0
    strike: int = 0
    expiry: int = 0
    short_initial: int = 0  # ppm of |balance| * underlying price, short options only
    short_maintenance: int = 0
    maker_fee: int = 0  # ppm of notional
    taker_fee: int = 0
    liquidation_fee: int = 0
    name: str = ""  # off-chain label, not committed

    @property
    def is_option(self) -> bool:
        return self.kind in (KIND_CALL, KIND_PUT)

    def fields(self) -> list[int]:
        return [self.kind, self.underlying, self.strike, self.expiry, self.risk_initial,
                self.risk_maintenance, self.short_initial, self.short_maintenance,
                self.maker_fee, self.taker_fee, self.liquidation_fee]


ZERO_ROWS = (0,) * SCENARIOS


@functools.lru_cache(maxsize=4096)
def rows_hash(rows: tuple[int, ...]) -> int:
    """H2(H13(enc dV[0..12]), H13(enc dV[13..25])): the scenario rows in the oracle leaf."""
    half = SCENARIOS // 2
    enc = [encode(x) for x in rows]
    return poseidon([poseidon(enc[:half]), poseidon(enc[half:])])


@dataclass(frozen=True)
class OracleEntry:
    """An asset's oracle leaf: price, funding index, settlement, and the scenario rows dV (the
    P&L of one unit in each scenario of docs/margin.md, all 0 until the oracle publishes)."""

    price: int = 0
    funding_index: int = 0
    settlement_price: int = 0
    settled: int = 0
    rows: tuple[int, ...] = ZERO_ROWS

    def fields(self) -> list[int]:
        return [self.price, encode(self.funding_index), self.settlement_price, self.settled,
                rows_hash(self.rows)]


@dataclass(frozen=True)
class ScenarioStage:
    """A scenario update in progress (docs/state.md): the asset and time of its chunk 0, the
    next chunk expected (0: none in progress) and the rows received; the rows of an earlier
    update stay until overwritten (no chunk reads them before its own update wrote them)."""

    asset: int = 0
    time: int = 0
    next: int = 0
    rows: tuple[int, ...] = ZERO_ROWS

    def fields(self) -> list[int]:
        return [self.asset, self.time, self.next, rows_hash(self.rows)]


class State:
    def __init__(self, account_depth: int = DEFAULT_ACCOUNT_DEPTH,
                 hasher: Hasher = DEFAULT_HASHER) -> None:
        self.hasher = hasher
        self.account_depth = account_depth
        self.accounts: dict[int, Account] = Tracked()
        self.account_tree = SparseMerkleTree(account_depth, hasher)
        self.order_trees: dict[int, SparseMerkleTree] = {}
        self.assets: dict[int, Asset] = Versioned()
        self.registry_tree = SparseMerkleTree(ASSET_DEPTH, hasher)
        self.oracle: dict[int, OracleEntry] = Versioned()
        self.oracle_tree = SparseMerkleTree(ASSET_DEPTH, hasher)
        self.time = 0
        self.oracle_pk: tuple[int, int] = (0, 0)
        self.stage = ScenarioStage()
        self._proots: dict[int, int] = {}  # account -> positions root as of the last flush
        self._root: int | None = None
        self._txn: dict | None = None
        self._pending_accounts: dict[int, Account | None] = {}
        self._pending_assets: dict[int, Asset | None] = {}
        self._pending_oracle: dict[int, OracleEntry | None] = {}
        self._saved: dict | None = None  # an open savepoint: table -> key -> object before it
        self.recompute_root()

    def clone(self) -> State:
        """An independent copy, between transactions (pending leaves and caches included):
        every table, account and tree copied; the shared objects (assets, oracle entries,
        hashes) are immutable."""
        if self._txn is not None:
            raise RuntimeError("clone inside a transaction")
        new = State.__new__(State)
        new.hasher, new.account_depth = self.hasher, self.account_depth
        new.accounts = Tracked({i: a.copy() for i, a in self.accounts.items()})
        new.account_tree = self.account_tree.copy()
        new.order_trees = {i: t.copy() for i, t in self.order_trees.items()}
        new.assets, new.registry_tree = Versioned(self.assets), self.registry_tree.copy()
        new.oracle, new.oracle_tree = Versioned(self.oracle), self.oracle_tree.copy()
        new.time, new.oracle_pk, new.stage = self.time, self.oracle_pk, self.stage
        new._proots, new._root, new._txn = dict(self._proots), self._root, None
        new._pending_accounts = dict(self._pending_accounts)
        new._pending_assets = dict(self._pending_assets)
        new._pending_oracle = dict(self._pending_oracle)
        new._saved = None
        if "_global" in self.__dict__:
            new._global = self._global
        return new

    # --- transactions ---------------------------------------------------------------------------

    def begin(self) -> None:
        if self._txn is not None:
            raise RuntimeError("a state transaction is already open")
        self._txn = {}  # account id -> its object (or None) before the transaction
        self._txn_tables: dict[str, dict] | None = None  # "assets"/"oracle" -> same, if touched
        self._txn_globals = (self.time, self.oracle_pk, self.stage)

    @property
    def in_txn(self) -> bool:
        return self._txn is not None

    @property
    def to_hash(self) -> bool:
        """Whether committing the open transaction (and flushing) would hash anything: a leaf
        or table changed in it, or changes queued by deferred commits."""
        return bool(self._txn or self._txn_tables or self._pending_accounts
                    or self._pending_assets or self._pending_oracle)

    def rollback(self) -> None:
        txn, self._txn = self._txn, None
        if txn is None:
            return
        saved_tables = [(self.accounts, txn)]
        if self._txn_tables:
            saved_tables += [(getattr(self, name), saved)
                             for name, saved in self._txn_tables.items()]
        for table, saved in saved_tables:
            for key, old in saved.items():
                if old is None:
                    table.pop(key, None)
                else:
                    table[key] = old
        self.time, self.oracle_pk, self.stage = self._txn_globals

    def commit(self, defer: bool = False) -> int | None:
        """Close the transaction: rehash the changed leaves and return the new root; with
        ``defer``, only queue the leaves (``flush`` hashes all queued ones in one pass)."""
        txn, self._txn = self._txn, None
        if txn is None:
            raise RuntimeError("commit without begin")
        pending = self._pending_accounts
        for i, old in txn.items():
            if i not in pending:
                pending[i] = old
        tables = self._txn_tables
        if tables:
            self._pending_assets.update(tables.get("assets", {}))
            self._pending_oracle.update(tables.get("oracle", {}))
        saved = self._saved
        if saved is not None:
            if not defer:
                raise RuntimeError("a savepoint needs deferred commits")
            for name, olds in (("accounts", txn), *(tables or {}).items()):
                into = saved[name]
                for key, old in olds.items():
                    into.setdefault(key, old)
        if txn or tables or self._txn_globals != (self.time, self.oracle_pk, self.stage):
            self._root = None
        return None if defer else self.flush()

    # --- savepoints -----------------------------------------------------------------------------

    def savepoint(self) -> None:
        """Remember, from now on, every object the transactions replace (between transactions;
        until released, commits must defer and nothing flushes)."""
        if self._txn is not None or self._saved is not None:
            raise RuntimeError("a savepoint starts between transactions, one at a time")
        self._saved = {"accounts": {}, "assets": {}, "oracle": {},
                       "globals": (self.time, self.oracle_pk, self.stage, self._root)}

    def restore_savepoint(self) -> None:
        """Put back what the transactions since ``savepoint`` replaced, and close it. The queued
        leaves stay queued: a flush finds them as they were (and rehashes nothing changed)."""
        saved, self._saved = self._saved, None
        if saved is None or self._txn is not None:
            raise RuntimeError("restore_savepoint needs an open savepoint, between transactions")
        for name in ("accounts", "assets", "oracle"):
            table = getattr(self, name)
            for key, old in saved[name].items():
                if old is None:
                    table.pop(key, None)
                else:
                    table[key] = old
        # the tables are as they were and no tree moved: so is the root
        self.time, self.oracle_pk, self.stage, self._root = saved["globals"]

    def release_savepoint(self) -> None:
        """Keep what the transactions since ``savepoint`` did, and close it."""
        self._saved = None

    def flush(self) -> int:
        """Hash every queued change into the trees; returns the state root."""
        if self._txn is not None or self._saved is not None:
            raise RuntimeError("flush inside a transaction or a savepoint")
        if self._root is not None:
            return self._root
        if self._pending_accounts:
            self._flush_accounts()
        if self._pending_assets:
            self.registry_tree.update({a: self.hasher.hash(self.assets[a].fields())
                                       for a in self._pending_assets})
        if self._pending_oracle:
            self.oracle_tree.update({a: self.hasher.hash(self.oracle[a].fields())
                                     for a in self._pending_oracle})
        self._pending_accounts, self._pending_assets, self._pending_oracle = {}, {}, {}
        return self._hash_root()

    def _touch(self, table: str, key: int, current: object) -> None:
        if self._txn is None:
            raise RuntimeError("state changes need begin()")
        if table == "accounts":
            saved = self._txn
        else:
            if self._txn_tables is None:
                self._txn_tables = {}
            saved = self._txn_tables.setdefault(table, {})
        if key not in saved:
            saved[key] = current

    # --- accounts -------------------------------------------------------------------------------

    def account(self, i: int) -> Account:
        acc = self.accounts.get(i)
        if acc is None:
            raise UnknownAccount(f"account {i} does not exist")
        return acc

    def edit_account(self, i: int) -> Account:
        """The account's working copy for this transaction (copied on first edit)."""
        acc = self.account(i)
        if self._txn is None:
            raise RuntimeError("state changes need begin()")
        if i not in self._txn:
            self._txn[i] = acc
            acc = acc.copy()
            self.accounts[i] = acc
        return acc

    def put_account(self, i: int, acc: Account) -> None:
        """Replace account i by ``acc`` (a new object: the old one is kept for rollback)."""
        txn = self._txn
        if txn is None:
            raise RuntimeError("state changes need begin()")
        if i not in txn:
            txn[i] = self.accounts.get(i)
        self.accounts[i] = acc

    def create_account(self, i: int, pk: tuple[int, int]) -> Account:
        if not 0 <= i < (1 << self.account_depth):
            raise UnknownAccount(f"account id {i} outside a depth-{self.account_depth} tree")
        self._touch("accounts", i, self.accounts.get(i))
        acc = Account(pk)
        self.accounts[i] = acc
        return acc

    # --- registry and oracle --------------------------------------------------------------------

    def add_asset(self, asset: Asset) -> None:
        if not 1 <= asset.asset_id < (1 << ASSET_DEPTH):
            raise ValueError(f"asset id must be in 1..{(1 << ASSET_DEPTH) - 1}")
        if asset.kind not in (KIND_PERP, KIND_CALL, KIND_PUT):
            raise ValueError(f"unknown asset kind {asset.kind}")
        self._touch("assets", asset.asset_id, self.assets.get(asset.asset_id))
        self.assets[asset.asset_id] = asset
        self._touch("oracle", asset.asset_id, self.oracle.get(asset.asset_id))
        self.oracle.setdefault(asset.asset_id, OracleEntry())

    def set_oracle(self, asset_id: int, entry: OracleEntry) -> None:
        self._touch("oracle", asset_id, self.oracle.get(asset_id))
        self.oracle[asset_id] = entry

    def set_time(self, t: int) -> None:
        self._touch_globals()
        self.time = t

    def set_oracle_key(self, pk: tuple[int, int]) -> None:
        self._touch_globals()
        self.oracle_pk = pk

    def set_stage(self, stage: ScenarioStage) -> None:
        self._touch_globals()
        self.stage = stage

    def _touch_globals(self) -> None:
        if self._txn is None:
            raise RuntimeError("state changes need begin()")

    def price(self, asset_id: int) -> int:
        return self.oracle[asset_id].price

    # --- hashing --------------------------------------------------------------------------------

    def positions_root(self, acc: Account) -> int:
        return self.hasher.hash(positions_fields(acc.positions))

    def orders_root(self, i: int) -> int:
        tree = self.order_trees.get(i)
        return tree.root if tree is not None else self._empty_orders_root()

    def _empty_orders_root(self) -> int:
        return default_nodes(ORDER_TREE_DEPTH, self.hasher)[-1]

    def _flush_accounts(self) -> None:
        """All queued account leaves, each kind of hash batched across accounts: order leaves
        (H2), order-tree levels, positions roots (H16), leaves (H6), then
        the accounts tree level by level (a node shared by several dirty leaves is hashed once).

        Incremental: a leaf whose fields all equal those it had at the last flush is not
        rehashed; a positions root is reused while the 8 slots are unchanged, so a
        collateral-only change costs one H6 plus the path."""
        h = self.hasher
        accounts, proots = self.accounts, self._proots
        jobs, order_flat = [], []
        dirty: list[tuple[int, Account]] = []  # leaves to rehash
        need_proot: list[tuple[int, Account]] = []
        leaves: dict[int, int] = {}
        for i, old in self._pending_accounts.items():
            acc = accounts.get(i)
            if acc is None:
                leaves[i] = 0
                proots.pop(i, None)
                continue
            if old is None:
                old_orders: dict = {}
                same_pos = False
            else:
                old_orders = old.orders
                same_pos = old.positions == acc.positions and i in proots
                if (same_pos and old.collateral == acc.collateral and old.nonce == acc.nonce
                        and old_orders == acc.orders and old.pk == acc.pk):
                    continue  # the leaf is what it was
            if not same_pos:
                need_proot.append((i, acc))
            dirty.append((i, acc))
            orders = acc.orders
            if orders != old_orders:
                changed = {k: v for k, v in orders.items() if old_orders.get(k) != v}
                for k in old_orders:
                    if k not in orders:
                        changed[k] = (0, 0)
                tree = self.order_trees.get(i)
                if tree is None:
                    tree = self.order_trees[i] = SparseMerkleTree(ORDER_TREE_DEPTH, h)
                jobs.append((tree, changed))
                for v in changed.values():
                    if v != (0, 0):
                        order_flat.extend(v)
        if order_flat:
            hashed = iter(h.hash_flat(order_flat, 2))
            update_trees([(t, {k: (next(hashed) if v != (0, 0) else 0) for k, v in ch.items()})
                          for t, ch in jobs])
        if need_proot:
            flat = [x for _, acc in need_proot for x in positions_fields(acc.positions)]
            proots.update(zip([i for i, _ in need_proot],
                              h.hash_flat(flat, 2 * POSITION_SLOTS), strict=True))
        if dirty:
            flat = []
            for i, acc in dirty:
                tree = self.order_trees.get(i)
                flat += (acc.pk[0], acc.pk[1], acc.nonce, encode(acc.collateral), proots[i],
                         tree.root if tree is not None else self._empty_orders_root())
            leaves.update(zip([i for i, _ in dirty], h.hash_flat(flat, 6), strict=True))
        if leaves:
            self.account_tree.update(leaves)

    def account_leaf(self, i: int, acc: Account) -> int:
        return self.hasher.hash([acc.pk[0], acc.pk[1], acc.nonce, encode(acc.collateral),
                                 self.positions_root(acc), self.orders_root(i)])

    def global_root(self) -> int:
        """H5(time, oracle_root, oracle_pk_x, oracle_pk_y, H4(stage))."""
        key = (self.time, self.oracle_tree.root, *self.oracle_pk, self.stage)
        cached = self.__dict__.get("_global")
        if cached is None or cached[0] != key:
            stage = self.hasher.hash(self.stage.fields())
            cached = self._global = (key, self.hasher.hash([*key[:4], stage]))
        return cached[1]

    def _hash_root(self) -> int:
        self._root = self.hasher.hash([self.account_tree.root, self.registry_tree.root,
                                       self.global_root()])
        return self._root

    @property
    def root(self) -> int:
        if self._txn is not None:
            raise RuntimeError("root is defined between transactions only")
        return self.flush()

    def recompute_root(self) -> int:
        """Rebuild every tree from the plain tables (for checks and after loading)."""
        self._pending_accounts, self._pending_assets, self._pending_oracle = {}, {}, {}
        self.account_tree = SparseMerkleTree(self.account_depth, self.hasher)
        self.order_trees = {}
        self._proots = {}
        self._pending_accounts = dict.fromkeys(self.accounts)
        self._flush_accounts()
        self._pending_accounts = {}
        self.registry_tree = SparseMerkleTree(ASSET_DEPTH, self.hasher)
        self.registry_tree.update({a: self.hasher.hash(x.fields()) for a, x in self.assets.items()})
        self.oracle_tree = SparseMerkleTree(ASSET_DEPTH, self.hasher)
        self.oracle_tree.update({a: self.hasher.hash(x.fields()) for a, x in self.oracle.items()})
        return self._hash_root()

    def account_proof(self, i: int) -> tuple[int, list[int]]:
        """(leaf, siblings) of account i against ``account_tree.root``."""
        return self.account_tree.leaf(i), self.account_tree.proof(i)

    def iter_accounts(self) -> Iterator[tuple[int, Account]]:
        return iter(self.accounts.items())


def settle_funding(state: State, acc: Account) -> None:
    """Move unsettled funding into collateral and reset the snapshots (acc is a working copy):
    the state transition every request that touches an account applies first."""
    for j, (a, b, snap) in enumerate(acc.positions):
        if a and state.assets[a].kind == KIND_PERP:
            f = state.oracle[a].funding_index
            if f != snap:
                acc.collateral -= b * (f - snap)
                acc.positions[j] = (a, b, f)
