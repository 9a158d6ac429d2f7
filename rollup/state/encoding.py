"""The committed state: exact field encoding of every leaf and root (what the batch circuit opens).

Numbers
-------
All state quantities are integers; there are no floats in the state.

* collateral: signed, ``COLLATERAL_BITS`` = 96, in collateral base units (e.g. 10**-6 USDC).
  It goes negative when a perpetual long is bought on credit (the quote leg of a position).
* balance: signed, ``BALANCE_BITS`` = 64, in the asset's base unit (its "resolution": a market is
  listed with a base unit small enough that one unit times a price is a meaningful amount).
  Long > 0, short < 0. Options: one unit is the right on one base unit of the underlying.
* price: unsigned, ``PRICE_BITS`` = 64, in collateral base units per asset base unit, so
  ``balance * price`` is an exact amount of collateral base units (no division anywhere).
  A strike and a settlement price are in the underlying's price units.
* funding index: signed, ``FUNDING_BITS`` = 64, cumulative funding per base unit of a perpetual
  in collateral base units; a position's payment is ``-balance * (index_now - snapshot)``.
* risk factors and fees: unsigned parts per million (``RISK_SCALE`` = 10**6).
* time: unsigned seconds (64 bits); nonces 32 bits; order ids 64 bits (>= 1).

Signed values map to field elements as in ``circuits.gadgets.signed``: v -> v mod r (so -1 is
r - 1), proven in range by bit-decomposing v + 2**(n-1) at the widths above.

Leaves (H = circomlib Poseidon; Hk = Poseidon with k inputs)
-------------------------------------------------------------
position slot   S_j  = H3(asset_id, enc(balance), enc(funding_snapshot)); an empty slot is
                       (0, 0, 0) and is hashed like any other (no special case in the circuit)
positions root  P    = H8(S_0, ..., S_7)                    (``POSITION_SLOTS`` = 8, fixed)
order slot      O_k  = H2(order_id, filled) in a sparse tree of depth ``ORDER_TREE_DEPTH`` = 8,
                       slot k = order_id mod 256; empty slot = 0
account leaf    A_i  = H6(pk_x, pk_y, nonce, enc(collateral), P, orders_root); empty account = 0
accounts root        = sparse Merkle tree of depth D (default 32), node = H2(left, right)

asset (registry) G_a = H11(kind, underlying_id, strike, expiry, risk_initial, risk_maintenance,
                           short_initial, short_maintenance, maker_fee, taker_fee, liquidation_fee)
                       kind: 1 perpetual, 2 call, 3 put; a perpetual has underlying = strike =
                       expiry = short_* = 0. Asset ids 1..255 (0 marks an empty position slot).
registry root        = sparse tree of depth ``ASSET_DEPTH`` = 8 over G_a
oracle leaf     Q_a  = H4(price, enc(funding_index), settlement_price, settled)
global root          = H4(time, oracle_root, oracle_pk_x, oracle_pk_y), oracle_root = depth-8 tree
state root           = H3(accounts_root, registry_root, global_root)

Why fixed slots: a trade or withdrawal must check margin over *all* of an account's positions, so
the circuit opens every slot anyway; 8 slot hashes plus one H8 is cheaper than a positions
subtree (which would need 8 leaf hashes plus 7 internal nodes). Order fills need no such scan, so
they live in a small per-account tree (Loopring-style storage): a fill proves one 8-level path.

Margin (integer; the rules the circuit states)
----------------------------------------------
    value = collateral + sum_j balance_j * price_j - sum_perp balance_j * (F_j - snapshot_j)
    risk_f = sum_j |balance_j| * price_j * risk_f_j
           + sum_{short options j} |balance_j| * price_underlying_j * short_f_j       (ppm units)
    healthy  (initial):  value * 10**6 >= risk_initial
    liquidatable:        value * 10**6 <  risk_maintenance
The short-option term is the conservative rule: a short option holds its mark plus a fixed
fraction of the underlying's notional, linear in prices, so no Black-Scholes in the circuit.

Transition rules (each an equality or a comparison on the integers above):
* funding is settled on every account a transaction touches, deposits excepted:
  collateral -= b * (F - snapshot), snapshot = F, for every perpetual slot;
* trade of q at price p (the maker's): buyer b += q, collateral -= q*p + fee_b; seller
  b -= q, collateral += q*p - fee_s; fee = floor(q*p*fee_ppm / 10**6) (taker_fee for the taker,
  maker_fee for the maker), credited to account 0 (which holds no positions: it never trades
  or liquidates); order slot := (id, filled + q) with filled
  reset to 0 when the slot held an older id; filled <= order size; the order's limit respected;
* a trade is allowed for an account if afterwards value*10**6 >= risk_initial, or if it lowers
  risk_initial without lowering value*10**6 - risk_initial;
* withdrawal / transfer: amount <= value, then healthy (initial); nonce == account nonce, +1;
* liquidation of d (same sign as the position, |d| <= |b|) at the oracle price p: only if the
  account is liquidatable before, and value*10**6 - risk_maintenance strictly increases;
  penalty = floor(|d|*p*liquidation_fee / 10**6) goes to the liquidator, who must be allowed
  the trade (initial rule) and whose nonce increments;
* expiry settlement: after the settlement price S is fixed, collateral += b * max(S-K, 0)
  (call) or b * max(K-S, 0) (put), slot emptied.
A position slot whose balance reaches 0 becomes (0, 0, 0); a new asset takes the first free slot.
"""

from __future__ import annotations

from circuits.gadgets.signed import decode, encode, fits

__all__ = [
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
    "TIME_BITS",
    "decode",
    "encode",
    "fits",
    "fits_unsigned",
]

POSITION_SLOTS = 8
ORDER_TREE_DEPTH = 8
ASSET_DEPTH = 8
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

KIND_PERP = 1
KIND_CALL = 2
KIND_PUT = 3


def fits_unsigned(v: int, n: int) -> bool:
    return 0 <= v < (1 << n)
