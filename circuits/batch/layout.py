"""The batch circuit's wire layout: the transaction-type numbers, field widths and the names
of every private input (``input_names``), shared with the witness builder
(``rollup.settlement.batch``), which fills the same names."""

from __future__ import annotations

from ..lc import R
from ..merkle import empty_root, sibling_count
from ..poseidon import poseidon as poseidon_native

# transaction types (rollup.transactions)
T_NOOP, T_DEPOSIT, T_WITHDRAWAL, T_TRANSFER, T_ORDER, T_TRADE = 0, 1, 2, 3, 4, 5
T_FUNDING, T_ORACLE, T_SETTLEMENT_PRICE, T_LIQUIDATION, T_EXPIRY_SETTLEMENT = 7, 8, 9, 10, 11
T_FORCED_WITHDRAWAL = 12
T_LIST_ASSET = 13
T_SET_ORACLE_KEY = 14
T_REFUND = 15
T_SCENARIO = 18
# scenario rows (rollup.transactions): 26 per asset, |dV| < 2**60, 5 per chunk, 6 chunks
SCENARIOS = 26
SCENARIO_CHUNK = 5
SCENARIO_UPDATE_CHUNKS = 6
DV_BITS = 61
DOMAIN_TAG = int.from_bytes(b"zkderiv/v1", "big")
MSG_FIELDS = 8  # every signed message is H(domain, type, f_1..f_8), zero-padded
ORDER_TREE_DEPTH = 12  # 4,096 order slots per account (docs/circuits.md: the cost per level)
ASSET_DEPTH = 8
ORDER_SIBLINGS = sibling_count(ORDER_TREE_DEPTH)  # a proof's siblings (circuits.merkle)
POSITION_SLOTS = 8
COLLATERAL_BITS = 96
BALANCE_BITS = 64
AMOUNT_BITS = 64
PRICE_BITS = 64
TIME_BITS = 64
NONCE_BITS = 32
ORDER_ID_BITS = 64
PPM_BITS = 32
RISK_SCALE = 10**6
# scenario margin (rollup.margin.scenario): maintenance = half the initial requirement; the
# window of the hinted maxima (the range clause of docs/margin.md)
MAINTENANCE_PPM = 500_000
SPREAD_BITS = 60
# |value| < 2**133 and risk < 2**162 (8 slots, |b| < 2**63, p < 2**64, factors < 2**32, two
# terms), so value * 10**6 - risk and the differences compared below stay inside 170 bits
CMP_BITS = 170
ASSET_TOKEN = 1
QUEUE_KIND_DEPOSIT = 1
L1_RECORD_BYTES = 41
# the largest record: a scenario chunk, 1 + 2 + 1 + 8 + 5 * 8 (a trade: 1 + 4 + 4 + 2 + 4 * 8 + 1,
# its fees not published: the taker flag, the notional and the listing's rates give them)
DIFF_BYTES = 52
HALF = (R - 1) // 2
FEE_ACCOUNT = 0
REDUCE_ONLY_BIT, POST_ONLY_BIT = 2, 0  # flag bit positions (POST_ONLY = 1, REDUCE_ONLY = 4)

# a position slot's word asset + 2**ASSET_BITS * balance (docs/state.md): one-to-one on asset in
# [0, 2**ASSET_BITS) and |balance| < 2**63, the ranges every opening proves
ASSET_BITS = ASSET_DEPTH
EMPTY_POSITIONS_ROOT = poseidon_native([0] * (2 * POSITION_SLOTS))
EMPTY_ORDERS_ROOT = empty_root(ORDER_TREE_DEPTH)

TYPES = ("dep", "wd", "tr", "trd", "orc", "fnd", "spx", "liq", "xps", "fwd", "rfd", "lst",
         "okey", "scn")
REGISTRY_FIELDS = ("kind", "underlying", "strike", "expiry", "risk_initial", "risk_maintenance",
                   "short_initial", "short_maintenance", "maker_fee", "taker_fee",
                   "liquidation_fee")
ORACLE_FIELDS = ("price", "funding", "settlement", "settled")
LEAF_FIELDS = ("pk_x", "pk_y", "nonce", "collateral", "orders")
SLOT_SCALARS = (*TYPES, "new", "asset", "amount", "famount", "to", "expiry", "depositor", "qty",
                "price",
                "index", "otime", "taker_buyer",
                "a_size", "a_price", "a_oid", "a_flags", "b_size", "b_price", "b_oid", "b_flags",
                "b_expiry", "sa_r8x", "sa_r8y", "sa_s", "sb_r8x", "sb_r8y", "sb_s", "a_id", "b_id",
                # the L1 queue entry: account, asset, packed key; refund reasons; absent account
                "eacc", "easset", "key_hi", "key_lo", "kx", "kw", "r_nc", "r_nr", "r_so",
                "absent",
                # a scenario chunk: its index and rows (docs/state.md)
                "chunk", *(f"dv{i}" for i in range(SCENARIO_CHUNK)))
HEADER_INPUTS = ("chain_id", "rollup", "batch_number", "time", "oracle_pk_x", "oracle_pk_y",
                 "accounts_root", "queue_before_hi", "queue_before_lo",
                 # the scenario update in progress (rollup.state.state.ScenarioStage)
                 "stage_asset", "stage_time", "stage_next",
                 *(f"stage_dv{s}" for s in range(SCENARIOS)))
FEE_FIELDS = ("pk_x", "pk_y", "nonce", "collateral", "positions", "orders")


def side_names(p: str, depth: int) -> list[str]:
    names = [p + f for f in LEAF_FIELDS]
    for j in range(POSITION_SLOTS):
        names += [f"{p}p{j}_asset", f"{p}p{j}_bal", f"{p}p{j}_snap"]
    names += [f"{p}sib{k}" for k in range(sibling_count(depth))]
    names += [p + "osid", p + "ofill"] + [f"{p}osib{k}" for k in range(ORDER_SIBLINGS)]
    return names


def input_names(slots: int, depth: int, assets: int = 8) -> list[str]:
    """Every private input of the batch circuit, in creation order."""
    names = list(HEADER_INPUTS)
    for k in range(1, assets):
        names += [f"reg{k}_listed", f"reg{k}_new"] + [f"reg{k}_{f}" for f in REGISTRY_FIELDS]
        names += [f"orc{k}_{f}" for f in ORACLE_FIELDS]
        names += [f"orc{k}_dv{s}" for s in range(SCENARIOS)]
    names += [f"fee_{f}" for f in FEE_FIELDS] + [f"fee_sib{k}" for k in range(sibling_count(depth))]
    for i in range(slots):
        p = f"s{i}_"
        names += [p + n for n in SLOT_SCALARS]
        names += side_names(p + "a_", depth) + side_names(p + "b_", depth)
    return names
