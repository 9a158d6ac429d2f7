"""The state as plain tables and back: numpy arrays for the bulk, a JSON-able map for the rest.

``state_tables(state)`` -> (meta, arrays) and ``state_from_tables(meta, arrays)`` -> State are
exact inverses: every account (key, nonce, collateral, the 8 position slots, the order slots in
their order), every tree node, the cached positions roots, the asset registry, the oracle
table (scenario rows included), the time, the oracle key and the scenario stage. Integers of
any size go through ``int_column`` (int64 or uint64 when they all fit, else 256-bit two's
complement rows); tree nodes and keys are always such rows. The loaded state's root is
recomputed from its tree roots (two hashes), so a table that does not match its trees' top is
caught; the leaves are trusted to the file's hash. A state of another order-tree depth
(``meta["order_depth"]``, 8 when absent), margin rule (``meta["margin"]``, "linear" when
absent: other oracle leaves) positions-root layout (``meta["positions"]``, "h3" when absent) or tree
layout (``meta["trees"]``, "binary" when absent: quaternary since then) is refused.
Malformed tables raise ValueError (``rollup.durability.snapshot`` turns it into SnapshotError).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rollup.state.encoding import ORDER_TREE_DEPTH, POSITION_SLOTS
from rollup.state.state import (
    Account,
    Asset,
    OracleEntry,
    ScenarioStage,
    State,
    Tracked,
    Versioned,
)
from rollup.state.tree import SparseMerkleTree

WIDE = 32  # bytes of a wide integer: 256-bit two's complement, big-endian
# the columns of meta["assets"] and (after the asset id) of meta["oracle"]
ASSET_FIELDS = ("asset_id", "kind", "risk_initial", "risk_maintenance", "underlying", "strike",
                "expiry", "short_initial", "short_maintenance", "maker_fee", "taker_fee",
                "liquidation_fee", "name")
ORACLE_FIELDS = ("price", "funding_index", "settlement_price", "settled", "rows")
MARGIN_RULE = "scenario"  # the margin rule the committed state is laid out for
POSITIONS_ROOT = "h16"  # the positions root's layout: H16 over packed words (docs/state.md)
TREE_LAYOUT = "quaternary"  # every tree: H4 levels, a binary top for an odd depth (docs/state.md)


def int_column(values: Sequence[int]) -> np.ndarray:
    """Exact integers as an array: int64 if all fit, else uint64, else (n, 32) uint8 rows
    (``wide_column``)."""
    for dt in (np.int64, np.uint64):
        try:
            return np.array(values, dtype=dt).reshape(len(values))
        except OverflowError:
            continue
    return wide_column(values)


def wide_column(values: Sequence[int]) -> np.ndarray:
    """(n, 32) uint8: each value as 256-bit two's complement, big-endian."""
    try:
        raw = b"".join([v.to_bytes(WIDE, "big", signed=True) for v in values])
    except OverflowError:
        raise ValueError("an integer beyond 256 bits has no place in a snapshot") from None
    return np.frombuffer(raw, np.uint8).reshape(len(values), WIDE)


def column_ints(a: np.ndarray) -> list[int]:
    """The integers of an ``int_column`` / ``wide_column`` array."""
    if a.ndim == 1 and a.dtype in (np.int64, np.uint64, np.int32, np.uint32, np.uint8):
        return a.tolist()
    if a.ndim == 2 and a.dtype == np.uint8 and a.shape[1] == WIDE:
        raw, frm = a.tobytes(), int.from_bytes
        return [frm(raw[i:i + WIDE], "big", signed=True) for i in range(0, len(raw), WIDE)]
    raise ValueError(f"not an integer column: dtype {a.dtype}, shape {a.shape}")


def _nodes_tables(prefix: str, nodes: dict, out: dict) -> None:
    keys = list(nodes)
    hi = np.array(keys, dtype=np.uint64).reshape(len(keys), 2)
    out[prefix + ".height"] = hi[:, 0].astype(np.int64)
    out[prefix + ".index"] = hi[:, 1].copy()
    out[prefix + ".value"] = wide_column(list(nodes.values()))


def _nodes(prefix: str, arrays: dict) -> dict[tuple[int, int], int]:
    h, i = arrays[prefix + ".height"].tolist(), arrays[prefix + ".index"].tolist()
    v = column_ints(arrays[prefix + ".value"])
    return dict(zip(zip(h, i, strict=True), v, strict=True))


def state_tables(state: State) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of ``state`` (flushed first: nothing may be pending)."""
    state.flush()
    ids = list(state.accounts)
    accs = list(state.accounts.values())
    a: dict[str, np.ndarray] = {}
    a["accounts.id"] = int_column(ids)
    a["accounts.pk_x"] = wide_column([x.pk[0] for x in accs])
    a["accounts.pk_y"] = wide_column([x.pk[1] for x in accs])
    a["accounts.nonce"] = int_column([x.nonce for x in accs])
    a["accounts.collateral"] = int_column([x.collateral for x in accs])
    slots = [s for x in accs for s in x.positions]
    if len(slots) != POSITION_SLOTS * len(accs):
        raise ValueError(f"an account without {POSITION_SLOTS} position slots")
    a["positions.asset"] = int_column([s[0] for s in slots])
    a["positions.balance"] = int_column([s[1] for s in slots])
    a["positions.snapshot"] = int_column([s[2] for s in slots])
    orders = [(k, v) for x in accs for k, v in x.orders.items()]
    a["orders.count"] = np.array([len(x.orders) for x in accs], np.int64)
    a["orders.slot"] = int_column([k for k, _ in orders])
    a["orders.order_id"] = int_column([v[0] for _, v in orders])
    a["orders.filled"] = int_column([v[1] for _, v in orders])
    _nodes_tables("tree.accounts", state.account_tree.nodes, a)
    _nodes_tables("tree.registry", state.registry_tree.nodes, a)
    _nodes_tables("tree.oracle", state.oracle_tree.nodes, a)
    trees = state.order_trees
    a["tree.orders.account"] = int_column(list(trees))
    a["tree.orders.count"] = np.array([len(t.nodes) for t in trees.values()], np.int64)
    keys = np.array([k for t in trees.values() for k in t.nodes], np.uint64).reshape(-1, 2)
    a["tree.orders.height"] = keys[:, 0].astype(np.int64)
    a["tree.orders.index"] = keys[:, 1].copy()
    a["tree.orders.value"] = wide_column([v for t in trees.values() for v in t.nodes.values()])
    a["proots.account"] = int_column(list(state._proots))
    a["proots.value"] = wide_column(list(state._proots.values()))
    meta = {
        "account_depth": state.account_depth, "order_depth": ORDER_TREE_DEPTH,
        "time": state.time,
        "oracle_pk": list(state.oracle_pk),
        "margin": MARGIN_RULE,
        "positions": POSITIONS_ROOT,
        "trees": TREE_LAYOUT,
        "stage": [state.stage.asset, state.stage.time, state.stage.next, list(state.stage.rows)],
        "assets": [[getattr(x, f) for f in ASSET_FIELDS] for x in state.assets.values()],
        "oracle": [[k, o.price, o.funding_index, o.settlement_price, o.settled, list(o.rows)]
                   for k, o in state.oracle.items()],
    }
    return meta, a


def _split(counts: list[int], rows: list) -> list[list]:
    out, k = [], 0
    for c in counts:
        out.append(rows[k:k + c])
        k += c
    if k != len(rows):
        raise ValueError("row counts do not add up")
    return out


def state_from_tables(meta: dict, a: dict[str, np.ndarray]) -> State:
    """The State of ``state_tables``; its root recomputed from the trees' roots."""
    # the order trees' nodes are stored as they are: they must be of this build's depth (files
    # written before the depth was recorded hold depth-8 trees)
    got = meta.get("order_depth", 8)
    if got != ORDER_TREE_DEPTH:
        raise ValueError(f"a state of depth-{got} order trees; this build's are {ORDER_TREE_DEPTH}")
    # the oracle leaves and the global root commit the scenario rows since the scenario rule
    # (files written before hold the linear rule's leaves: no root of theirs is this build's)
    rule = meta.get("margin", "linear")
    if rule != MARGIN_RULE:
        raise ValueError(f"a state of the {rule} margin rule; this build's is {MARGIN_RULE}")
    # the leaves and the cached positions roots hash the slots as H16 over packed words since
    # that layout (files written before hold H8-over-H3 leaves)
    layout = meta.get("positions", "h3")
    if layout != POSITIONS_ROOT:
        raise ValueError(f"a state of {layout} positions roots; this build's are {POSITIONS_ROOT}")
    # every tree node is keyed (level, index) of the quaternary layout since that layout
    # (files written before hold binary trees' nodes: no root of theirs is this build's)
    trees = meta.get("trees", "binary")
    if trees != TREE_LAYOUT:
        raise ValueError(f"a state of {trees} Merkle trees; this build's are {TREE_LAYOUT}")
    st = State(int(meta["account_depth"]))
    ids = column_ints(a["accounts.id"])
    xs, ys = column_ints(a["accounts.pk_x"]), column_ints(a["accounts.pk_y"])
    nonces, colls = column_ints(a["accounts.nonce"]), column_ints(a["accounts.collateral"])
    slots = list(zip(column_ints(a["positions.asset"]), column_ints(a["positions.balance"]),
                     column_ints(a["positions.snapshot"]), strict=True))
    order_rows = _split(a["orders.count"].tolist(),
                        list(zip(column_ints(a["orders.slot"]),
                                 zip(column_ints(a["orders.order_id"]),
                                     column_ints(a["orders.filled"]), strict=True),
                                 strict=True)))
    if len(slots) != POSITION_SLOTS * len(ids):
        raise ValueError("position slots do not match the accounts")
    p = POSITION_SLOTS
    st.accounts = Tracked(
        (i, Account((x, y), n, c, slots[k * p:(k + 1) * p], dict(o)))
        for k, (i, x, y, n, c, o) in enumerate(zip(ids, xs, ys, nonces, colls, order_rows,
                                                    strict=True)))
    st.account_tree.nodes = _nodes("tree.accounts", a)
    st.registry_tree.nodes = _nodes("tree.registry", a)
    st.oracle_tree.nodes = _nodes("tree.oracle", a)
    owners = column_ints(a["tree.orders.account"])
    flat = list(zip(zip(a["tree.orders.height"].tolist(), a["tree.orders.index"].tolist(),
                        strict=True), column_ints(a["tree.orders.value"]), strict=True))
    st.order_trees = {}
    for i, part in zip(owners, _split(a["tree.orders.count"].tolist(), flat), strict=True):
        tree = st.order_trees[i] = SparseMerkleTree(ORDER_TREE_DEPTH, st.hasher)
        tree.nodes = dict(part)
    st._proots = dict(zip(column_ints(a["proots.account"]), column_ints(a["proots.value"]),
                          strict=True))
    st.assets = Versioned((r[0], Asset(**dict(zip(ASSET_FIELDS, r, strict=True))))
                          for r in meta["assets"])
    st.oracle = Versioned((r[0], OracleEntry(*r[1:5], tuple(r[5])))
                          for r in meta["oracle"])
    st.time = meta["time"]
    st.oracle_pk = tuple(meta["oracle_pk"])
    a_, t_, n_, rows_ = meta["stage"]
    st.stage = ScenarioStage(a_, t_, n_, tuple(rows_))
    st._hash_root()
    return st

