"""The batch circuit: N transaction slots chained root to root, one SHA-256 public input.

Every slot is the same "universal" slot: two account openings A and B (all 8 position slots
expanded, so margin covers every position), one order-tree opening per account, two
EdDSA-Poseidon signatures, and one-hot type flags (``rollup.transactions`` numbering) selecting
the rules; a slot with no flag is a no-op. Only slots ``0 .. l1_slots-1`` hash the L1 queue chain
and publish a 41-byte L1 record.

Invariants: each slot's transition is the one its published record states (the fee account
aside: a batch's fees reach account 0 once, after the last slot, and it must then hold no
positions); the registry and oracle trees are opened as tables of the first ``assets`` ids, so no
other asset id exists in an accepted state; every L1 queue entry can be consumed; the public
input is sha256(188-byte header | public data) mod 2**253, the bytes the contract hashes.
Rules per type, tables, fees, refunds, the oracle key: docs/circuits.md. Modules, bottom up:
layout, gadgets, tables and account (one opening), slot, circuit (the assembly).
"""

from __future__ import annotations

from .account import Side
from .circuit import batch_solver, build_batch_circuit
from .gadgets import (
    be,
    canonical_bits,
    const_bits,
    floor_div_ppm,
    is_negative,
    lookup,
    onehot,
    signed_bits,
)
from .layout import (
    AMOUNT_BITS,
    ASSET_DEPTH,
    ASSET_TOKEN,
    BALANCE_BITS,
    CMP_BITS,
    COLLATERAL_BITS,
    DIFF_BYTES,
    DOMAIN_TAG,
    EMPTY_ORDERS_ROOT,
    EMPTY_POSITIONS_ROOT,
    EMPTY_SLOT_HASH,
    FEE_ACCOUNT,
    FEE_FIELDS,
    HALF,
    HEADER_INPUTS,
    L1_RECORD_BYTES,
    LEAF_FIELDS,
    MSG_FIELDS,
    NONCE_BITS,
    ORACLE_FIELDS,
    ORDER_ID_BITS,
    ORDER_TREE_DEPTH,
    POSITION_SLOTS,
    POST_ONLY_BIT,
    PPM_BITS,
    PRICE_BITS,
    QUEUE_KIND_DEPOSIT,
    REDUCE_ONLY_BIT,
    REGISTRY_FIELDS,
    RISK_SCALE,
    SLOT_SCALARS,
    T_DEPOSIT,
    T_EXPIRY_SETTLEMENT,
    T_FORCED_WITHDRAWAL,
    T_FUNDING,
    T_LIQUIDATION,
    T_LIST_ASSET,
    T_NOOP,
    T_ORACLE,
    T_ORDER,
    T_REFUND,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    T_TRADE,
    T_TRANSFER,
    T_WITHDRAWAL,
    TIME_BITS,
    TYPES,
    input_names,
    side_names,
)
from .slot import key_unusable
from .tables import Tables

__all__ = [
    "AMOUNT_BITS",
    "ASSET_DEPTH",
    "ASSET_TOKEN",
    "BALANCE_BITS",
    "CMP_BITS",
    "COLLATERAL_BITS",
    "DIFF_BYTES",
    "DOMAIN_TAG",
    "EMPTY_ORDERS_ROOT",
    "EMPTY_POSITIONS_ROOT",
    "EMPTY_SLOT_HASH",
    "FEE_ACCOUNT",
    "FEE_FIELDS",
    "HALF",
    "HEADER_INPUTS",
    "L1_RECORD_BYTES",
    "LEAF_FIELDS",
    "MSG_FIELDS",
    "NONCE_BITS",
    "ORACLE_FIELDS",
    "ORDER_ID_BITS",
    "ORDER_TREE_DEPTH",
    "POSITION_SLOTS",
    "POST_ONLY_BIT",
    "PPM_BITS",
    "PRICE_BITS",
    "QUEUE_KIND_DEPOSIT",
    "REDUCE_ONLY_BIT",
    "REGISTRY_FIELDS",
    "RISK_SCALE",
    "SLOT_SCALARS",
    "Side",
    "TIME_BITS",
    "TYPES",
    "T_DEPOSIT",
    "T_EXPIRY_SETTLEMENT",
    "T_FORCED_WITHDRAWAL",
    "T_FUNDING",
    "T_LIQUIDATION",
    "T_LIST_ASSET",
    "T_NOOP",
    "T_ORACLE",
    "T_ORDER",
    "T_REFUND",
    "T_SETTLEMENT_PRICE",
    "T_SET_ORACLE_KEY",
    "T_TRADE",
    "T_TRANSFER",
    "T_WITHDRAWAL",
    "Tables",
    "batch_solver",
    "be",
    "build_batch_circuit",
    "canonical_bits",
    "const_bits",
    "floor_div_ppm",
    "input_names",
    "is_negative",
    "key_unusable",
    "lookup",
    "onehot",
    "side_names",
    "signed_bits",
]
