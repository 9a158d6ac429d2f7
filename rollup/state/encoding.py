"""The committed state's constants: widths, tree depths, asset kinds, the ppm scale.

They fix the exact field encoding of every leaf and root, on which the engine, the batch and
exit circuits and ``rollup.state.rebuild`` must agree. All state quantities are integers at these
widths (no floats in the state); signed values enter the field as ``v mod r`` and are
range-checked at these widths (``circuits.gadgets.signed``: ``encode``, ``decode``, ``fits``).

    position word W_j = enc(asset_id + 2**ASSET_BITS * balance); empty slot = (0, 0, 0)
    positions root    = H16(W_0..W_7, enc(snapshot_0)..enc(snapshot_7))
    account leaf      = H6(pk_x, pk_y, nonce, enc(collateral), positions root, orders_root)
    oracle leaf       = H5(price, enc(funding), settlement, settled, H2(H13(enc dV[0..12]),
                                                                        H13(enc dV[13..25])))
    state root        = H3(accounts_root, registry_root, global_root)

Every leaf and root, the margin rule and the transition rules: docs/state.md.
"""

from __future__ import annotations

from circuits.gadgets.signed import decode, encode, fits
from rollup.transactions import DV_BITS, SCENARIO_CHUNK, SCENARIO_UPDATE_CHUNKS, SCENARIOS

__all__ = [
    "ASSET_BITS",
    "ASSET_DEPTH",
    "BALANCE_BITS",
    "COLLATERAL_BITS",
    "FUNDING_BITS",
    "KIND_CALL",
    "KIND_PERP",
    "KIND_PUT",
    "NONCE_BITS",
    "ORDER_ID_BITS",
    "ORDER_TREE_DEPTH",
    "POSITION_SLOTS",
    "PRICE_BITS",
    "RISK_SCALE",
    "SCENARIOS",
    "SCENARIO_CHUNK",
    "SCENARIO_UPDATE_CHUNKS",
    "DV_BITS",
    "TIME_BITS",
    "decode",
    "encode",
    "fits",
    "fits_unsigned",
    "position_word",
]

POSITION_SLOTS = 8
ORDER_TREE_DEPTH = 12  # = circuits.batch.ORDER_TREE_DEPTH
ASSET_DEPTH = 8
ASSET_BITS = ASSET_DEPTH  # asset ids < 2**8: the low bits of a position word
DEFAULT_ACCOUNT_DEPTH = 32

COLLATERAL_BITS = 96
BALANCE_BITS = 64
PRICE_BITS = 64
FUNDING_BITS = 64
AMOUNT_BITS = 64  # deposits, withdrawals, transfers (unsigned)
TIME_BITS = 64
NONCE_BITS = 32
ORDER_ID_BITS = 64
ADDRESS_BITS = 160

RISK_SCALE = 10**6

# scenario margin (docs/margin.md): the oracle's dV rows per asset, hashed into the oracle leaf
# as H2(H13(enc dV[0..12]), H13(enc dV[13..25])); the widths are the signed messages' and
# records' (rollup.transactions)

KIND_PERP = 1
KIND_CALL = 2
KIND_PUT = 3


def fits_unsigned(v: int, n: int) -> bool:
    return 0 <= v < (1 << n)


def position_word(asset: int, balance: int) -> int:
    """W = enc(asset + 2**ASSET_BITS * balance): one-to-one on asset in [0, 2**ASSET_BITS) and
    |balance| < 2**63, the ranges the circuits prove when they open a slot."""
    return encode(asset + (balance << ASSET_BITS))
