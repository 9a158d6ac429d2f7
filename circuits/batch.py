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
Rules per type, tables, fees, refunds, the oracle key: docs/circuits.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from .cs import ConstraintSystem
from .gadgets import babyjubjub as g
from .gadgets import signed
from .gadgets.bits import to_bits
from .gadgets.comparators import is_zero
from .gadgets.eddsa import eddsa_poseidon_verify
from .gadgets.merkle import merkle_update
from .gadgets.poseidon import poseidon
from .gadgets.sha256 import digest_to_field, sha256_bits
from .lc import LC, R, as_lc, lin, lsum
from .merkle import zero_hashes
from .poseidon import poseidon as poseidon_native

# transaction types (rollup.transactions)
T_NOOP, T_DEPOSIT, T_WITHDRAWAL, T_TRANSFER, T_ORDER, T_TRADE = 0, 1, 2, 3, 4, 5
T_FUNDING, T_ORACLE, T_SETTLEMENT_PRICE, T_LIQUIDATION, T_EXPIRY_SETTLEMENT = 7, 8, 9, 10, 11
T_FORCED_WITHDRAWAL = 12
T_LIST_ASSET = 13
T_SET_ORACLE_KEY = 14
T_REFUND = 15
DOMAIN_TAG = int.from_bytes(b"zkderiv/v1", "big")
MSG_FIELDS = 8  # every signed message is H(domain, type, f_1..f_8), zero-padded
ORDER_TREE_DEPTH = 12  # 4,096 order slots per account (docs/circuits.md: the cost per level)
ASSET_DEPTH = 8
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
# |value| < 2**133 and risk < 2**162 (8 slots, |b| < 2**63, p < 2**64, factors < 2**32, two
# terms), so value * 10**6 - risk and the differences compared below stay inside 170 bits
CMP_BITS = 170
ASSET_TOKEN = 1
QUEUE_KIND_DEPOSIT = 1
L1_RECORD_BYTES = 41
DIFF_BYTES = 59  # the largest record: trade, 1 + 4 + 4 + 2 + 6 * 8
HALF = (R - 1) // 2
FEE_ACCOUNT = 0
REDUCE_ONLY_BIT, POST_ONLY_BIT = 2, 0  # flag bit positions (POST_ONLY = 1, REDUCE_ONLY = 4)

EMPTY_SLOT_HASH = poseidon_native([0, 0, 0])
EMPTY_POSITIONS_ROOT = poseidon_native([EMPTY_SLOT_HASH] * POSITION_SLOTS)
EMPTY_ORDERS_ROOT = zero_hashes(ORDER_TREE_DEPTH)[ORDER_TREE_DEPTH]

TYPES = ("dep", "wd", "tr", "trd", "orc", "fnd", "spx", "liq", "xps", "fwd", "rfd", "lst",
         "okey")
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
                "absent")
HEADER_INPUTS = ("chain_id", "rollup", "batch_number", "time", "oracle_pk_x", "oracle_pk_y",
                 "accounts_root", "queue_before_hi", "queue_before_lo")
FEE_FIELDS = ("pk_x", "pk_y", "nonce", "collateral", "positions", "orders")


def side_names(p: str, depth: int) -> list[str]:
    names = [p + f for f in LEAF_FIELDS]
    for j in range(POSITION_SLOTS):
        names += [f"{p}p{j}_asset", f"{p}p{j}_bal", f"{p}p{j}_snap"]
    names += [f"{p}sib{k}" for k in range(depth)]
    names += [p + "osid", p + "ofill"] + [f"{p}osib{k}" for k in range(ORDER_TREE_DEPTH)]
    return names


def input_names(slots: int, depth: int, assets: int = 8) -> list[str]:
    """Every private input of the batch circuit, in creation order."""
    names = list(HEADER_INPUTS)
    for k in range(1, assets):
        names += [f"reg{k}_listed", f"reg{k}_new"] + [f"reg{k}_{f}" for f in REGISTRY_FIELDS]
        names += [f"orc{k}_{f}" for f in ORACLE_FIELDS]
    names += [f"fee_{f}" for f in FEE_FIELDS] + [f"fee_sib{k}" for k in range(depth)]
    for i in range(slots):
        p = f"s{i}_"
        names += [p + n for n in SLOT_SCALARS]
        names += side_names(p + "a_", depth) + side_names(p + "b_", depth)
    return names


# -- small helpers ----------------------------------------------------------------------------


def _bits254(x: int) -> list[int]:
    return [(x >> i) & 1 for i in range(254)]


def canonical_bits(cs: ConstraintSystem, x: LC | int) -> list[LC]:
    """254 little-endian bits of a field element, proven to be its canonical value (<= r - 1)."""
    with cs.component("num2bits254"):
        bits = cs.hint(_bits254, x, n_out=254)
        for b in bits:
            cs.assert_bool(b)
        cs.assert_equal(lin(((1 << i, b) for i, b in enumerate(bits)), cs), x)
        g.assert_bits_le(cs, bits, R - 1)
    return bits


def be(bits_le: list, width: int, cs: ConstraintSystem) -> list[LC]:
    """Little-endian bits (an integer < 2**len) as `width` big-endian bits (zero-extended)."""
    if len(bits_le) > width:
        raise ValueError("value wider than its field")
    return [cs.const(0)] * (width - len(bits_le)) + [as_lc(b) for b in reversed(bits_le)]


def const_bits(cs: ConstraintSystem, v: int, width: int) -> list[LC]:
    return [cs.const((v >> (width - 1 - k)) & 1) for k in range(width)]


def _gate(cs: ConstraintSystem, flag: LC, bits: list) -> list[LC]:
    """flag * bit for each bit (1 constraint per non-constant bit)."""
    return [cs.mul(flag, b) for b in bits]


def _sum_bits(cs: ConstraintSystem, *gated: list) -> list[LC]:
    n = max(len(x) for x in gated)
    return [lin([(1, x[k]) for x in gated if k < len(x)], cs) for k in range(n)]


def signed_bits(cs: ConstraintSystem, x: LC | int, n: int) -> tuple[list[LC], LC]:
    """(two's complement bits at width n, little-endian; negativity flag) of a signed value,
    proving -2**(n-1) <= v < 2**(n-1): the bits of v + 2**(n-1) with the top bit flipped."""
    bits = to_bits(cs, as_lc(x) + (1 << (n - 1)), n)
    neg = 1 - bits[n - 1]
    return bits[:-1] + [neg], neg


def is_negative(cs: ConstraintSystem, x: LC | int, n: int = CMP_BITS) -> LC:
    """[v < 0] for a value known to satisfy |v| < 2**(n-1): the signed gadget at the width
    the margin comparisons need by default."""
    return signed.is_negative(cs, x, n)


def onehot(cs: ConstraintSystem, x: LC, m: int) -> list[LC]:
    """m booleans, exactly one set, at position x (so x is proven < m): m + 0 constraints
    beyond the booleanity (the two sums are linear)."""
    sel = cs.hint(lambda v: [int(v == k) for k in range(m)], x, n_out=m)
    for s in sel:
        cs.assert_bool(s)
    cs.assert_equal(lsum(sel, cs), 1)
    cs.assert_equal(lin(((k, s) for k, s in enumerate(sel)), cs), x)
    return sel


def lookup(cs: ConstraintSystem, sel: list[LC], table: list) -> LC:
    """sum_k sel_k * table_k (entry 0 is the constant 0: the empty asset)."""
    return lsum([cs.mul(s, t) for s, t in zip(sel[1:], table[1:], strict=True)], cs)


def floor_div_ppm(cs: ConstraintSystem, num: LC, out_bits: int) -> LC:
    """floor(num / 10**6) for 0 <= num < 2**(out_bits + 20), the quotient proven < 2**out_bits."""
    q = cs.hint(lambda v: v // RISK_SCALE, num)
    rem = as_lc(num) - q * RISK_SCALE
    to_bits(cs, q, out_bits)
    to_bits(cs, rem, 20)
    to_bits(cs, RISK_SCALE - 1 - rem, 20)
    return q


def _leaf(cs: ConstraintSystem, pk, nonce, collateral, positions, orders) -> LC:
    return poseidon(cs, [pk[0], pk[1], nonce, collateral, positions, orders])


def _small_order_free(cs: ConstraintSystem, pk, enabled: LC) -> None:
    """(pk on the curve and 8 * pk != identity) when `enabled`: x(4A) invertible iff 8A != O."""
    g.on_curve(cs, pk, enabled)
    a = g.select_point(cs, enabled, g.bj.BASE8, g.point(pk))
    a4 = g.double(cs, g.double(cs, a))
    inv = cs.hint(lambda x, e: pow(x, -1, R) if (x and e) else 0, a4[0], enabled)
    cs.constrain(a4[0], inv, enabled)


def _sign_bit(cs: ConstraintSystem, x_bits: list[LC]) -> LC:
    """[x > (p-1)/2] for canonical bits of x: a hinted bit s with x <= HALF when s = 0 and
    x >= HALF + 1 when s = 1 (two gated constant comparisons)."""
    s = cs.hint(lambda *b: 1 if sum(v << i for i, v in enumerate(b)) > HALF else 0, *x_bits)
    cs.assert_bool(s)
    g.assert_bits_le(cs, x_bits, HALF, 1 - s)
    g.assert_bits_ge(cs, x_bits, HALF + 1, s)
    return s


def _tree_root(cs: ConstraintSystem, leaves: list, depth: int) -> LC:
    """Root of a depth-`depth` sparse tree whose first len(leaves) (a power of two) leaves are
    given and all others are empty."""
    level = list(leaves)
    zeros = zero_hashes(depth)
    h = 0
    while len(level) > 1:
        level = [poseidon(cs, [level[i], level[i + 1]]) for i in range(0, len(level), 2)]
        h += 1
    node = level[0]
    for k in range(h, depth):
        node = poseidon(cs, [node, zeros[k]])
    return node


# -- tables -----------------------------------------------------------------------------------


class Tables:
    """The registry and the oracle state as M-entry tables: the registry as it is after the
    batch's listings (``listed``; ``new`` marks the entries listed by this batch, whose old leaves
    are empty and whose oracle entries start at zero), the oracle state running."""

    def __init__(self, cs: ConstraintSystem, v: Mapping[str, LC], m: int):
        self.m = m
        zero = cs.const(0)
        reg = {f: [zero] for f in REGISTRY_FIELDS}
        self.listed, self.perp, self.call, self.put = [zero], [zero], [zero], [zero]
        self.new, self.old = [zero], [zero]  # listed by this batch / before it
        self.under = [[zero] * m]  # under[k][j] = [underlying of k == j]
        leaves, old_leaves = [0], [0]
        with cs.component("registry"):
            for k in range(1, m):
                listed, new = v[f"reg{k}_listed"], v[f"reg{k}_new"]
                cs.assert_bool(listed)
                cs.assert_bool(new)
                cs.constrain(new, 1 - listed, 0)  # a new entry is listed
                old = listed - new
                f = {n: v[f"reg{k}_{n}"] for n in REGISTRY_FIELDS}
                # kind = perp + 2 call + 3 put with exactly one of them when listed
                flags = cs.hint(lambda kd: [int(kd == 1), int(kd == 2), int(kd == 3)],
                                f["kind"], n_out=3)
                for b in flags:
                    cs.assert_bool(b)
                cs.assert_equal(lsum(flags, cs), listed)
                cs.assert_equal(flags[0] + 2 * flags[1] + 3 * flags[2], f["kind"])
                for n in ("strike", "expiry"):
                    to_bits(cs, f[n], 64)
                for n in REGISTRY_FIELDS[4:]:
                    to_bits(cs, f[n], PPM_BITS)
                u = onehot(cs, f["underlying"], m)
                # an option's underlying is a listed perpetual; a perpetual has none
                cs.assert_equal(lsum(u[1:], cs), flags[1] + flags[2])
                self.under.append([zero] + u[1:])
                for n in REGISTRY_FIELDS:  # an unlisted entry is all zero
                    cs.constrain(1 - listed, f[n], 0)
                    reg[n].append(f[n])
                # a listing's rules (the engine's): maintenance factors <= initial ones
                to_bits(cs, cs.mul(new, f["risk_initial"] - f["risk_maintenance"]), PPM_BITS)
                to_bits(cs, cs.mul(new, f["short_initial"] - f["short_maintenance"]), PPM_BITS)
                self.listed.append(listed)
                self.new.append(new)
                self.old.append(old)
                self.perp.append(flags[0])
                self.call.append(flags[1])
                self.put.append(flags[2])
                h = poseidon(cs, [f[n] for n in REGISTRY_FIELDS])
                leaves.append(cs.mul(listed, h))
                old_leaves.append(cs.mul(old, h))
            # the underlying of an option must be a perpetual (checked now that all are known)
            for k in range(1, m):
                for j in range(1, m):
                    cs.constrain(self.under[k][j], 1 - self.perp[j], 0)
            self.registry_root = _tree_root(cs, leaves, ASSET_DEPTH)
            self.registry_root_before = _tree_root(cs, old_leaves, ASSET_DEPTH)
        self.reg = reg
        # avail[k]: asset k is listed at this point of the batch (before it, or by an earlier
        # listing slot); every slot naming an asset needs it, and at the end avail == listed
        self.avail = list(self.old)
        self.orc = {f: [zero] + [v[f"orc{k}_{f}"] for k in range(1, m)] for f in ORACLE_FIELDS}
        with cs.component("oracle_open"):
            for k in range(1, m):  # an unlisted asset has no oracle entry; a new one starts at 0
                for f in ORACLE_FIELDS:
                    cs.constrain(1 - self.old[k], self.orc[f][k], 0)
            self.oracle_root_before = self.oracle_root(cs, self.old)

    def oracle_root(self, cs: ConstraintSystem, present: list | None = None) -> LC:
        present = self.listed if present is None else present
        leaves = [0] + [cs.mul(present[k], poseidon(cs, [self.orc[f][k]
                                                          for f in ORACLE_FIELDS]))
                        for k in range(1, self.m)]
        return _tree_root(cs, leaves, ASSET_DEPTH)

    def derived(self, cs: ConstraintSystem) -> dict[str, list]:
        """Per-asset risk prices at the current oracle state: RI/RM = price * risk factor,
        SI/SM = underlying price * short factor (0 for perpetuals)."""
        m, price = self.m, self.orc["price"]
        under_price = [0] + [lsum([cs.mul(self.under[k][j], price[j]) for j in range(1, m)], cs)
                             for k in range(1, m)]
        out = {"price": price, "funding": self.orc["funding"]}
        for name, f, base in (("RI", "risk_initial", price), ("RM", "risk_maintenance", price),
                              ("SI", "short_initial", under_price),
                              ("SM", "short_maintenance", under_price)):
            out[name] = [0] + [cs.mul(base[k], self.reg[f][k]) for k in range(1, m)]
        return out


# -- one account opening ----------------------------------------------------------------------


class Side:
    """An account opened with its positions expanded: margin before, the slot of asset X,
    then (``finish``) the new leaf and the margin after."""

    def __init__(self, cs: ConstraintSystem, v, p: str, depth: int, d: dict, sel_x: list,
                 x: LC, pos: LC):
        self.cs, self.v, self.p, self.depth = cs, v, p, depth
        self.pk = (v[p + "pk_x"], v[p + "pk_y"])
        self.nonce, self.coll, self.orders = v[p + "nonce"], v[p + "collateral"], v[p + "orders"]
        self.asset = [v[f"{p}p{j}_asset"] for j in range(POSITION_SLOTS)]
        self.bal = [v[f"{p}p{j}_bal"] for j in range(POSITION_SLOTS)]
        self.snap = [v[f"{p}p{j}_snap"] for j in range(POSITION_SLOTS)]
        m = len(sel_x)
        with cs.component("positions"):
            self.price, self.fund, neg, absb = [], [], [], []
            ri = rm = 0
            value = as_lc(self.coll)
            due = 0
            found_terms, ff, pre = [], [], as_lc(1)
            for j in range(POSITION_SLOTS):
                sel = onehot(cs, self.asset[j], m)
                pj, fj = lookup(cs, sel, d["price"]), lookup(cs, sel, d["funding"])
                self.price.append(pj)
                self.fund.append(fj)
                _, nj = signed_bits(cs, self.bal[j], BALANCE_BITS)
                aj = cs.mul(self.bal[j], 1 - 2 * nj)
                neg.append(nj)
                absb.append(aj)
                value = value + cs.mul(self.bal[j], pj - fj + self.snap[j])
                due = due + cs.mul(self.bal[j], fj - self.snap[j])
                for key, short in (("RI", "SI"), ("RM", "SM")):
                    term = cs.mul(aj, lookup(cs, sel, d[key])
                                  + cs.mul(nj, lookup(cs, sel, d[short])))
                    if key == "RI":
                        ri = ri + term
                    else:
                        rm = rm + term
                # the slot of X: where X sits, else the first free slot
                found_terms.append(is_zero(cs, self.asset[j] - x))
                ffj = cs.mul(pre, sel[0])
                ff.append(ffj)
                pre = pre - ffj
            found = lsum(found_terms, cs)
            self.tau = [cs.mul(pos, found_terms[j] + cs.mul(1 - found, ff[j]))
                        for j in range(POSITION_SLOTS)]
            cs.assert_equal(lsum(self.tau, cs), pos)  # a position type finds its slot
            self.b_t = lsum([cs.mul(t, b) for t, b in zip(self.tau, self.bal, strict=True)], cs)
            self.abs_t = lsum([cs.mul(t, a) for t, a in zip(self.tau, absb, strict=True)], cs)
            self.neg_t = lsum([cs.mul(t, n) for t, n in zip(self.tau, neg, strict=True)], cs)
        self.value, self.due, self.ri, self.rm = value, due, ri, rm
        self.exi_before = value * RISK_SCALE - ri
        self.exm_before = value * RISK_SCALE - rm
        self.x = x
        with cs.component("leaf_old"):
            self.old_leaf = _leaf(cs, self.pk, self.nonce, self.coll,
                                  self._positions_root(self.asset, self.bal, self.snap),
                                  self.orders)

    def _positions_root(self, asset, bal, snap) -> LC:
        cs = self.cs
        return poseidon(cs, [poseidon(cs, [asset[j], bal[j], snap[j]])
                             for j in range(POSITION_SLOTS)])

    def finish(self, *, d_bal: LC, d_coll: LC, settle: LC, nonce_inc: LC, xl: dict,
               new_orders: LC) -> None:
        """Apply: funding settled when `settle`, balance of X += d_bal, collateral += d_coll."""
        cs = self.cs
        with cs.component("apply"):
            nb = self.b_t + d_bal
            bits, self.neg_nb = signed_bits(cs, nb, BALANCE_BITS)
            del bits
            self.abs_nb = cs.mul(nb, 1 - 2 * self.neg_nb)
            self.nz = 1 - is_zero(cs, nb)
            new_asset = cs.mul(self.nz, self.x)
            new_snap = cs.mul(self.nz, xl["funding"])
            asset, bal, snap = [], [], []
            for j in range(POSITION_SLOTS):
                t = self.tau[j]
                base = self.snap[j] + cs.mul(settle, self.fund[j] - self.snap[j])
                asset.append(self.asset[j] + cs.mul(t, new_asset - self.asset[j]))
                bal.append(self.bal[j] + cs.mul(t, nb - self.bal[j]))
                snap.append(base + cs.mul(t, new_snap - base))
            self.new_coll = self.coll - cs.mul(settle, self.due) + d_coll
            signed_bits(cs, self.new_coll, COLLATERAL_BITS)
            self.new_nonce = self.nonce + nonce_inc
        with cs.component("leaf_new"):
            self.new_leaf = _leaf(cs, self.pk, self.new_nonce, self.new_coll,
                                  self._positions_root(asset, bal, snap), new_orders)
        with cs.component("margin"):
            # funding settlement moves value between terms without changing it
            self.value_after = self.value + d_coll + cs.mul(d_bal, xl["price"])
            ri_t_old = cs.mul(self.abs_t, xl["RI"] + cs.mul(self.neg_t, xl["SI"]))
            rm_t_old = cs.mul(self.abs_t, xl["RM"] + cs.mul(self.neg_t, xl["SM"]))
            ri_t_new = cs.mul(self.abs_nb, xl["RI"] + cs.mul(self.neg_nb, xl["SI"]))
            rm_t_new = cs.mul(self.abs_nb, xl["RM"] + cs.mul(self.neg_nb, xl["SM"]))
            self.ri_after = self.ri - ri_t_old + ri_t_new
            self.rm_after = self.rm - rm_t_old + rm_t_new
            self.exi_after = self.value_after * RISK_SCALE - self.ri_after
            self.exm_after = self.value_after * RISK_SCALE - self.rm_after

    def healthy_after(self) -> LC:
        if not hasattr(self, "_healthy"):
            self._healthy = 1 - is_negative(self.cs, self.exi_after)
        return self._healthy

    def trade_allowed(self) -> LC:
        """healthy after, or (risk strictly lower and excess no lower): rollup.margin.risk."""
        cs = self.cs
        with cs.component("trade_allowed"):
            h = self.healthy_after()
            r = is_negative(cs, self.ri_after - self.ri)
            e = 1 - is_negative(cs, self.exi_after - self.exi_before)
            return h + cs.mul(1 - h, cs.mul(r, e))

    def order_update(self, oid_bits: list, enabled: LC, qty: LC, size: LC) -> LC:
        """The order slot oid mod 2**ORDER_TREE_DEPTH takes (oid, filled') when `enabled`;
        returns the new orders root (unchanged otherwise). filled' = (same id ? filled : 0) +
        qty <= size, and a stored id may not be newer than oid."""
        cs, v, p = self.cs, self.v, self.p
        with cs.component("order_tree"):
            sid, fill = v[p + "osid"], v[p + "ofill"]
            oid = lin(((1 << i, b) for i, b in enumerate(oid_bits)), cs)
            same = is_zero(cs, sid - oid)
            old = cs.mul(1 - is_zero(cs, sid), poseidon(cs, [sid, fill]))
            nfill = cs.mul(same, fill) + qty
            new = poseidon(cs, [oid, nfill])
            to_bits(cs, cs.mul(enabled, oid - sid), ORDER_ID_BITS)  # sid <= oid
            to_bits(cs, cs.mul(enabled, size - nfill), ORDER_ID_BITS)  # filled' <= size
            old_root, new_root = merkle_update(
                cs, old, new, [v[f"{p}osib{k}"] for k in range(ORDER_TREE_DEPTH)],
                oid_bits[:ORDER_TREE_DEPTH], bits_checked=True)
            cs.constrain(enabled, old_root - self.orders, 0)
            return self.orders + cs.mul(enabled, new_root - self.orders)


# -- the circuit ------------------------------------------------------------------------------


def build_batch_circuit(slots: int, depth: int, values: Mapping[str, int] | None = None, *,
                        l1_slots: int | None = None, assets: int = 8) -> ConstraintSystem:
    """The batch circuit for `slots` slots over an accounts tree of `depth` (<= 32), the first
    `l1_slots` (default: all) able to consume the L1 queue and pay out on L1, with an asset
    table of `assets` (a power of two <= 256) entries. With `values` (a dict over
    `input_names`), the witness is computed while building."""
    l1_slots = slots if l1_slots is None else l1_slots
    if not 1 <= depth <= 32 or slots < 1 or not 0 <= l1_slots <= slots:
        raise ValueError("need 1 <= depth <= 32, at least one slot, 0 <= l1_slots <= slots")
    if assets < 2 or assets & (assets - 1) or assets > 1 << ASSET_DEPTH:
        raise ValueError("assets must be a power of two in 2..256")
    cs = ConstraintSystem(compute_witness=values is not None)
    v = {n: cs.private_input(n, None if values is None else values[n])
         for n in input_names(slots, depth, assets)}

    with cs.component("header"):
        chain_bits = to_bits(cs, v["chain_id"], 64)
        rollup_bits = to_bits(cs, v["rollup"], 160)
        number_bits = to_bits(cs, v["batch_number"], 64)
        to_bits(cs, v["time"], TIME_BITS)
        domain = poseidon(cs, [DOMAIN_TAG, v["chain_id"], v["rollup"]])
        q_hi = to_bits(cs, v["queue_before_hi"], 128)
        q_lo = to_bits(cs, v["queue_before_lo"], 128)
        queue = be(q_hi, 128, cs) + be(q_lo, 128, cs)  # big-endian digest bits
        tables = Tables(cs, v, assets)
        opk = (v["oracle_pk_x"], v["oracle_pk_y"])
        glob = poseidon(cs, [v["time"], tables.oracle_root_before, *opk])
        old_root = poseidon(cs, [v["accounts_root"], tables.registry_root_before, glob])

    st = {"root": v["accounts_root"], "time": v["time"], "queue": queue, "fees": as_lc(0),
          "opk": opk}
    l1_bits: list[LC] = []
    diff_bits: list[LC] = []
    for i in range(slots):
        with cs.component(f"slot{i}"):
            _slot(cs, v, f"s{i}_", depth, st, tables, domain, i < l1_slots, l1_bits,
                  diff_bits)

    with cs.component("fee_account"):
        f = {n: v["fee_" + n] for n in FEE_FIELDS}
        # the fee account holds no positions when its fees are credited (the module docstring)
        cs.assert_equal(f["positions"], EMPTY_POSITIONS_ROOT)
        pk = (f["pk_x"], f["pk_y"])
        old = _leaf(cs, pk, f["nonce"], f["collateral"], f["positions"], f["orders"])
        coll = f["collateral"] + st["fees"]
        signed_bits(cs, coll, COLLATERAL_BITS)
        new = _leaf(cs, pk, f["nonce"], coll, f["positions"], f["orders"])
        _, acc_root = merkle_update(cs, old, new, [v[f"fee_sib{k}"] for k in range(depth)],
                                    [cs.const(0)] * depth, old_root=st["root"],
                                    bits_checked=True)

    with cs.component("listings"):
        for k in range(1, assets):  # every new entry was listed by a slot
            cs.assert_equal(tables.avail[k], tables.listed[k])

    with cs.component("public_input"):
        glob_new = poseidon(cs, [st["time"], tables.oracle_root(cs), *st["opk"]])
        new_root = poseidon(cs, [acc_root, tables.registry_root, glob_new])
        pre = be(chain_bits, 256, cs) + be(rollup_bits, 160, cs) + be(number_bits, 64, cs)
        pre += be(canonical_bits(cs, old_root), 256, cs)
        pre += be(canonical_bits(cs, new_root), 256, cs)
        pre += be(q_hi, 128, cs) + be(q_lo, 128, cs) + st["queue"]
        pre += const_bits(cs, l1_slots, 32)
        pre += l1_bits + diff_bits
        digest = sha256_bits(cs, pre)
        cs.public_output("input", digest_to_field(digest, cs))
    return cs


def _message(cs, domain, mtype, fields) -> LC:
    fields = list(fields) + [0] * (MSG_FIELDS - len(fields))
    return poseidon(cs, [domain, mtype, *fields])


def _mux(cs, pairs) -> LC:
    """sum flag * value over (flag, value) pairs of one-hot flags."""
    return lsum([cs.mul(f, x) for f, x in pairs], cs)


def _slot(cs, v, p, depth, st, tables: Tables, domain, l1: bool, l1_bits, diff_bits):
    fl = {t: v[p + t] for t in TYPES}
    dep, wd, tr, trd, orc, fnd, spx, liq, xps, fwd, rfd, lst, okey = (fl[t] for t in TYPES)
    opk = st["opk"]  # the oracle key as of this slot
    absent, easset = v[p + "absent"], v[p + "easset"]
    new, x = v[p + "new"], v[p + "asset"]
    amount, to, expiry, qty, price = (v[p + n] for n in ("amount", "to", "expiry", "qty",
                                                          "price"))
    index, otime, taker_buyer = v[p + "index"], v[p + "otime"], v[p + "taker_buyer"]
    time = st["time"]
    m = tables.m
    with cs.component("type"):
        for t in (*fl.values(), new, taker_buyer):
            cs.assert_bool(t)
        cs.assert_bool(lsum(list(fl.values()), cs))  # at most one type; none = no-op
        cs.constrain(new, 1 - dep, 0)  # only a deposit creates an account
        if not l1:
            cs.assert_zero(dep)
            cs.assert_zero(wd)
            cs.assert_zero(fwd)
            cs.assert_zero(rfd)
            cs.assert_zero(lst)
            cs.assert_zero(okey)
            cs.assert_zero(new)
            cs.assert_zero(absent)
        cs.assert_bool(absent)
        cs.constrain(absent, 1 - fwd, 0)  # only a forced withdrawal may name a missing account
        oracle_t = orc + fnd + spx
        user_a = wd + tr + trd + liq  # A signs
        settle_a = wd + tr + trd + liq + xps
        two = tr + trd + liq  # B is another account
        pos_a = trd + liq + xps
        pos_b = trd + liq
    with cs.component("ranges"):
        amount_bits = to_bits(cs, amount, AMOUNT_BITS)
        to_bits_ = to_bits(cs, to, 160)
        qty_bits = to_bits(cs, qty, 64)
        price_bits = to_bits(cs, price, PRICE_BITS)
        otime_bits = to_bits(cs, otime, TIME_BITS)
        index_bits, _ = signed_bits(cs, index, 64)
        a_id_bits = to_bits(cs, v[p + "a_id"], depth)
        b_id_bits = to_bits(cs, v[p + "b_id"], depth)
        a_oid_bits = to_bits(cs, v[p + "a_oid"], ORDER_ID_BITS)
        b_oid_bits = to_bits(cs, v[p + "b_oid"], ORDER_ID_BITS)
        a_flag_bits = to_bits(cs, v[p + "a_flags"], 4)
        b_flag_bits = to_bits(cs, v[p + "b_flags"], 4)
        for n in ("a_size", "a_price", "b_size", "b_price", "expiry", "b_expiry"):
            to_bits(cs, v[p + n], 64)
        sel_x = onehot(cs, x, m)
        x_bits = to_bits(cs, x, max(1, (m - 1).bit_length()))
    with cs.component("asset"):
        d = tables.derived(cs)
        xl = {n: lookup(cs, sel_x, d[n]) for n in ("price", "funding", "RI", "RM", "SI", "SM")}
        for n in ("perp", "call", "put"):
            xl[n] = lookup(cs, sel_x, getattr(tables, n))
        xl["listed"] = lookup(cs, sel_x, tables.avail)  # listed by now
        for n in ("strike", "expiry", "maker_fee", "taker_fee", "liquidation_fee"):
            xl[n] = lookup(cs, sel_x, tables.reg[n])
        for n in ("settlement", "settled"):
            xl[n] = lookup(cs, sel_x, tables.orc[n])
        # every type naming an asset names a listed one
        cs.constrain(pos_a + oracle_t, 1 - xl["listed"], 0)
    if l1:
        with cs.component("listing"):
            # a listing (operator action, L1 slots only) names an asset not listed before this
            # point and listed after the batch; an option's underlying is listed by now and its
            # expiry is in the future (the engine's rules)
            cs.constrain(lst, xl["listed"], 0)
            cs.constrain(lst, 1 - lookup(cs, sel_x, tables.listed), 0)
            option_x = cs.mul(lst, xl["call"] + xl["put"])
            under_avail = lsum([cs.mul(lookup(cs, sel_x, [row[j] for row in tables.under]),
                                       tables.avail[j]) for j in range(1, m)], cs)
            cs.constrain(option_x, 1 - under_avail, 0)
            to_bits(cs, cs.mul(option_x, xl["expiry"] - time - 1), TIME_BITS)
            for k in range(1, m):
                tables.avail[k] = tables.avail[k] + cs.mul(lst, sel_x[k])

    # -- accounts: open ------------------------------------------------------------------------
    with cs.component("account_a"):
        a = Side(cs, v, p + "a_", depth, d, sel_x, x, pos_a)
        for f_, empty in ((a.nonce, 0), (a.coll, 0), (a.orders, EMPTY_ORDERS_ROOT),
                          *((a.asset[j], 0) for j in range(POSITION_SLOTS)),
                          *((a.bal[j], 0) for j in range(POSITION_SLOTS)),
                          *((a.snap[j], 0) for j in range(POSITION_SLOTS))):
            cs.constrain(new, f_ - empty, 0)  # a created account starts empty
    with cs.component("account_b"):
        b = Side(cs, v, p + "b_", depth, d, sel_x, x, pos_b)

    # -- type rules -------------------------------------------------------------------------------
    with cs.component("rules"):
        # expiries of user requests and orders
        to_bits(cs, cs.mul(user_a, v[p + "expiry"] - time), TIME_BITS)
        to_bits(cs, cs.mul(trd, v[p + "b_expiry"] - time), TIME_BITS)
        # amounts and sizes are positive
        cs.constrain(wd + tr, is_zero(cs, amount), 0)
        cs.constrain(trd + liq, is_zero(cs, qty), 0)
        same = is_zero(cs, v[p + "a_id"] - v[p + "b_id"])
        cs.constrain(two, same, 0)  # two distinct accounts
        cs.constrain(dep + wd + xps + fwd - absent, 1 - same, 0)  # single-account types
        # forced withdrawal (the contract checked a signature by the key the entry names over
        # the payee and amount): pays the requested amount to the entry's address when that key
        # is A's, the amount is in 1..2**64-1 and the account stays healthy after paying it (the
        # engine's debit rule), else pays 0 and changes nothing
        pay = paid = as_lc(0)
        if l1:
            # the entry's packed key (circomlib packPoint: y little-endian, bit 255 = sign of x)
            # as the integer K = key_hi * 2**128 + key_lo of its 32 bytes read big-endian
            kb = to_bits(cs, v[p + "key_lo"], 128) + to_bits(cs, v[p + "key_hi"], 128)
            y_bits = [kb[8 * (31 - (i >> 3)) + (i & 7)] for i in range(255)]
            sign = kb[7]
            yv = lin(((1 << i, b) for i, b in enumerate(y_bits)), cs)
            xk = canonical_bits(cs, a.pk[0])
            a_sign = _sign_bit(cs, xk)
            # y is canonical for a forced withdrawal (asserted in "key"), so the entry names A's
            # key iff y and the sign of x agree: (y, sign) determines a point of the curve
            same_sign = 1 - sign - a_sign + 2 * cs.mul(sign, a_sign)
            key_is_a = cs.mul(is_zero(cs, yv - a.pk[1]), same_sign)
            fam_bits = to_bits(cs, v[p + "famount"], 128)
            fam_lo = lin(((1 << i, b) for i, b in enumerate(fam_bits[:64])), cs)
            fam_small = is_zero(cs, lin(((1 << i, b) for i, b in enumerate(fam_bits[64:])), cs))
            fam_pos = 1 - is_zero(cs, v[p + "famount"])
            healthy_paid = 1 - is_negative(cs, a.exi_before - fam_lo * RISK_SCALE)
            cs.assert_bool(easset)
            ok = cs.mul(cs.mul(fam_small, fam_pos), cs.mul(healthy_paid, easset))
            # nothing from a missing account, in ETH, or when another key signed
            pay = cs.mul(cs.mul(fwd - absent, ok), key_is_a)
            paid = cs.mul(pay, fam_lo)
            requested = fam_lo + cs.mul(1 - fam_small, (1 << 64) - 1 - fam_lo)
            cs.constrain(dep + rfd, v[p + "famount"] - amount, 0)  # one amount in the entry
            cs.constrain(fwd + rfd, v[p + "to"] - v[p + "depositor"], 0)  # one address too
            cs.constrain(dep + fwd + wd, v[p + "eacc"] - v[p + "a_id"], 0)  # the account
            cs.constrain(dep, 1 - easset, 0)  # the state holds the collateral token only
        # trade: price within both limits and equal to the maker's (the engine trades at the
        # resting order's price: the seller's when the buyer takes, else the buyer's), ids >= 1,
        # option alive, fees
        to_bits(cs, cs.mul(trd, v[p + "a_price"] - price), PRICE_BITS)
        to_bits(cs, cs.mul(trd, price - v[p + "b_price"]), PRICE_BITS)
        maker_price = v[p + "a_price"] + cs.mul(taker_buyer, v[p + "b_price"] - v[p + "a_price"])
        cs.constrain(trd, price - maker_price, 0)
        cs.constrain(trd, is_zero(cs, v[p + "a_oid"]), 0)
        cs.constrain(trd, is_zero(cs, v[p + "b_oid"]), 0)
        option = xl["call"] + xl["put"]
        to_bits(cs, cs.mul(cs.mul(trd, option), xl["expiry"] - time - 1), TIME_BITS)
        notional = cs.mul(qty, price)
        rate_a = xl["maker_fee"] + cs.mul(taker_buyer, xl["taker_fee"] - xl["maker_fee"])
        rate_b = xl["taker_fee"] + xl["maker_fee"] - rate_a
        fee_a = floor_div_ppm(cs, cs.mul(cs.mul(trd, notional), rate_a), 64)
        fee_b = floor_div_ppm(cs, cs.mul(cs.mul(trd, notional), rate_b), 64)
        st["fees"] = st["fees"] + fee_a + fee_b
        # post-only orders never take; the taker is the buyer iff taker_buyer
        taker_post = a_flag_bits[POST_ONLY_BIT] + cs.mul(
            1 - taker_buyer, b_flag_bits[POST_ONLY_BIT] - a_flag_bits[POST_ONLY_BIT])
        cs.constrain(trd, taker_post, 0)
        cs.constrain(1 - trd, taker_buyer, 0)
        # liquidation: size <= |position| at the oracle price, delta takes the position's sign
        cs.constrain(liq, price - xl["price"], 0)
        to_bits(cs, cs.mul(liq, b.abs_t - qty), 64)
        delta = cs.mul(qty, 1 - 2 * b.neg_t)
        penalty = floor_div_ppm(cs, cs.mul(cs.mul(liq, qty), cs.mul(price, xl["liquidation_fee"])),
                                64)
        # expiry settlement: a settled option held by A
        cs.constrain(xps, 1 - option, 0)
        cs.constrain(xps, 1 - xl["settled"], 0)
        cs.constrain(xps, is_zero(cs, a.b_t), 0)
        intrinsic_call = cs.mul(xl["settlement"] - xl["strike"],
                                1 - is_negative(cs, xl["settlement"] - xl["strike"], 66))
        intrinsic_put = cs.mul(xl["strike"] - xl["settlement"],
                               1 - is_negative(cs, xl["strike"] - xl["settlement"], 66))
        intrinsic = cs.mul(xl["call"], intrinsic_call) + cs.mul(xl["put"], intrinsic_put)
        payout = cs.mul(cs.mul(xps, a.b_t), intrinsic)
        payout_bits, _ = signed_bits(cs, payout, 96)
        # oracle messages: time monotonic; prices positive; funding for perps; settlement once,
        # after expiry
        to_bits(cs, cs.mul(oracle_t, otime - time), TIME_BITS)
        cs.constrain(orc, is_zero(cs, price), 0)
        cs.constrain(fnd, 1 - xl["perp"], 0)
        cs.constrain(spx, 1 - option, 0)
        cs.constrain(spx, xl["settled"], 0)
        to_bits(cs, cs.mul(spx, otime - xl["expiry"]), TIME_BITS)
        st["time"] = time + cs.mul(oracle_t, otime - time)

    # -- order trees, balances, collateral ------------------------------------------------------
    with cs.component("account_a"):
        a_orders = a.order_update(a_oid_bits, trd, qty, v[p + "a_size"])
        d_bal_a = cs.mul(trd, qty) + cs.mul(liq, delta) - cs.mul(xps, a.b_t)
        d_coll_a = (dep - wd - tr) * amount - paid - cs.mul(trd, notional) - fee_a \
            - cs.mul(liq, cs.mul(delta, price)) + penalty + payout
        a.finish(d_bal=d_bal_a, d_coll=d_coll_a, settle=settle_a + pay, nonce_inc=wd + tr + liq,
                 xl=xl, new_orders=a_orders)
        # a created account's old leaf is 0; a missing one stays 0
        old_leaf = cs.mul(1 - new - absent, a.old_leaf)
        new_leaf = cs.mul(1 - absent, a.new_leaf)
        _, st["root"] = merkle_update(cs, old_leaf, new_leaf,
                                      [v[f"{p}a_sib{k}"] for k in range(depth)], a_id_bits,
                                      old_root=st["root"], bits_checked=True)
    with cs.component("account_b"):
        b_orders = b.order_update(b_oid_bits, trd, qty, v[p + "b_size"])
        d_bal_b = -cs.mul(trd, qty) - cs.mul(liq, delta)
        d_coll_b = tr * amount + cs.mul(trd, notional) - fee_b \
            + cs.mul(liq, cs.mul(delta, price)) - penalty
        b.finish(d_bal=d_bal_b, d_coll=d_coll_b, settle=two, nonce_inc=0, xl=xl,
                 new_orders=b_orders)
        _, st["root"] = merkle_update(cs, b.old_leaf, b.new_leaf,
                                      [v[f"{p}b_sib{k}"] for k in range(depth)], b_id_bits,
                                      old_root=st["root"], bits_checked=True)

    # -- margin -----------------------------------------------------------------------------------
    with cs.component("margin"):
        cs.constrain(wd + tr, 1 - a.healthy_after(), 0)
        cs.constrain(trd + liq, 1 - a.trade_allowed(), 0)
        cs.constrain(trd, 1 - b.trade_allowed(), 0)
        cs.constrain(liq, 1 - is_negative(cs, b.exm_before), 0)  # below maintenance before
        cs.constrain(liq, is_negative(cs, b.exm_after - b.exm_before - 1), 0)  # improved
        # reduce-only: the buyer ends at <= 0, the seller at >= 0 (so each reduced)
        cs.constrain(cs.mul(trd, a_flag_bits[REDUCE_ONLY_BIT]), cs.mul(1 - a.neg_nb, a.nz), 0)
        cs.constrain(cs.mul(trd, b_flag_bits[REDUCE_ONLY_BIT]), b.neg_nb, 0)

    # -- oracle table -----------------------------------------------------------------------------
    with cs.component("oracle"):
        o = tables.orc
        for k in range(1, m):
            hit = sel_x[k]
            o["price"][k] = o["price"][k] + cs.mul(cs.mul(hit, orc), price - o["price"][k])
            # a funding tick sets the index; a settlement price zeroes it and settles
            o["funding"][k] = o["funding"][k] + cs.mul(cs.mul(hit, fnd), index - o["funding"][k]) \
                - cs.mul(cs.mul(hit, spx), o["funding"][k])
            o["settlement"][k] = o["settlement"][k] + cs.mul(
                cs.mul(hit, spx), price - o["settlement"][k]) - cs.mul(
                cs.mul(hit, fnd), o["settlement"][k])
            o["settled"][k] = o["settled"][k] + cs.mul(cs.mul(hit, spx), 1 - o["settled"][k]) \
                - cs.mul(cs.mul(hit, fnd), o["settled"][k])

    # -- L1: queue and payout record --------------------------------------------------------------
    id32 = be(a_id_bits, 32, cs)
    bid32 = be(b_id_bits, 32, cs)
    l2key = None
    if l1:
        with cs.component("key"):
            # the entry's packed key, decomposed in "rules"
            l2key = be(kb, 256, cs)
            reasons = [v[p + "r_nc"], v[p + "r_nr"], v[p + "r_so"]]
            for r_ in reasons:
                cs.assert_bool(r_)
            r_any = lsum(reasons, cs)
            cs.constrain(r_any, 1 - rfd, 0)  # reasons only for a refund, and at most one
            cs.constrain(cs.mul(rfd, easset), 1 - r_any, 0)  # a token refund needs one
            # y canonical for a deposit, a forced withdrawal (the contract packs a checked key),
            # a new oracle key and the two reasons about the point
            g.assert_bits_le(cs, y_bits, R - 1, dep + fwd + okey + reasons[1] + reasons[2])
            g.assert_bits_ge(cs, y_bits, R, reasons[0])  # reason 1: y >= p
            y2 = cs.mul(yv, yv)
            num, den = 1 - y2, g.bj.A - g.bj.D * y2  # x^2 = num / den; den != 0 (a/d non-square)
            # reason 2: num/den is not a square: 5 (a non-square) * num / den is one
            kw = v[p + "kw"]
            cs.constrain(reasons[1], cs.mul(cs.mul(kw, kw), den) - 5 * num, 0)
            # reason 3: (x, y) on the curve and 8 (x, y) = identity (small order)
            kx = v[p + "kx"]
            cs.constrain(reasons[2], cs.mul(cs.mul(kx, kx), den) - num, 0)
            pt = g.select_point(cs, reasons[2], g.bj.BASE8, (kx, yv))
            p8 = g.double(cs, g.double(cs, g.double(cs, pt)))
            cs.constrain(reasons[2], p8[0], 0)
            cs.constrain(reasons[2], p8[1] - 1, 0)
            # a deposit's key is the credited account's: y and the sign of x
            _small_order_free(cs, a.pk, new)
            cs.constrain(dep, yv - a.pk[1], 0)
            cs.constrain(dep, sign - a_sign, 0)
            # a new oracle key (kx, y): on the curve, not of small order, x's sign as packed
            _small_order_free(cs, (kx, yv), okey)
            cs.constrain(okey, sign - _sign_bit(cs, canonical_bits(cs, kx)), 0)
            st["opk"] = (opk[0] + cs.mul(okey, kx - opk[0]), opk[1] + cs.mul(okey, yv - opk[1]))

    # -- signatures -------------------------------------------------------------------------------
    with cs.component("signature"):
        a_id, b_id = v[p + "a_id"], v[p + "b_id"]
        mtype = wd * T_WITHDRAWAL + tr * T_TRANSFER + trd * T_ORDER + liq * T_LIQUIDATION \
            + orc * T_ORACLE + fnd * T_FUNDING + spx * T_SETTLEMENT_PRICE
        exp_a, nonce = v[p + "expiry"], a.nonce
        # an oracle-key change (L1 slots) is signed by the oracle key it replaces, over the new
        # key (x, y); only the first key (none registered: opk = (0, 0), x = 0 for no safe key)
        # goes unsigned
        okey_x, okey_y, okey_signed = [], [], 0
        if l1:
            mtype = mtype + okey * T_SET_ORACLE_KEY
            okey_x, okey_y = [(okey, kx)], [(okey, yv)]
            okey_signed = cs.mul(okey, 1 - is_zero(cs, opk[0]))
        fa = [
            _mux(cs, [(user_a, a_id), (oracle_t, x), *okey_x]),
            _mux(cs, [(wd, amount), (tr + liq, b_id), (trd, x), (orc + spx, price),
                      (fnd, index), *okey_y]),
            _mux(cs, [(wd, to), (tr, amount), (liq, x), (oracle_t, otime)]),
            _mux(cs, [(wd + tr, nonce), (trd, v[p + "a_size"]), (liq, qty)]),
            _mux(cs, [(wd + tr, exp_a), (trd, v[p + "a_price"]), (liq, nonce)]),
            _mux(cs, [(trd, v[p + "a_oid"]), (liq, exp_a)]),
            cs.mul(trd, exp_a),
            cs.mul(trd, v[p + "a_flags"]),
        ]
        msg_a = _message(cs, domain, mtype, fa)
        oracle_k = oracle_t + (okey if l1 else 0)  # signed by the running oracle key
        key_a = (a.pk[0] + cs.mul(oracle_k, opk[0] - a.pk[0]),
                 a.pk[1] + cs.mul(oracle_k, opk[1] - a.pk[1]))
        eddsa_poseidon_verify(cs, key_a, msg_a, ((v[p + "sa_r8x"], v[p + "sa_r8y"]),
                                                 v[p + "sa_s"]), user_a + oracle_t + okey_signed)
        fb = [b_id, x, 1, v[p + "b_size"], v[p + "b_price"], v[p + "b_oid"], v[p + "b_expiry"],
              v[p + "b_flags"]]
        msg_b = _message(cs, domain, T_ORDER, fb)
        eddsa_poseidon_verify(cs, b.pk, msg_b, ((v[p + "sb_r8x"], v[p + "sb_r8y"]),
                                                v[p + "sb_s"]), trd)

    if l1:
        with cs.component("queue"):
            dep_bits = to_bits(cs, v[p + "depositor"], 160)
            eacc_bits = to_bits(cs, v[p + "eacc"], 32)
            # kind 1 (deposit or refunded deposit) or 2 (forced withdrawal) | asset | account id
            # (assigned by the contract) | depositor or payee | amount u128 | key
            entry = [cs.const(0)] * 6 + [as_lc(fwd), dep + rfd]
            entry += [cs.const(0)] * 7 + [as_lc(easset)]
            entry += be(eacc_bits, 32, cs) + be(dep_bits, 160, cs) + be(fam_bits, 128, cs)
            entry += [cs.mul(dep + rfd + fwd, b) for b in l2key]
            nxt = sha256_bits(cs, list(st["queue"]) + entry)
            st["queue"] = [q + cs.mul(dep + fwd + rfd, n - q)
                           for q, n in zip(st["queue"], nxt, strict=True)]
        with cs.component("l1_record"):
            out_bits = to_bits(cs, (wd + rfd) * amount + paid, 64)
            asset_bit = wd + pay + cs.mul(rfd, easset)
            rec = be(eacc_bits, 32, cs) + [cs.const(0)] * 7 + [asset_bit] \
                + be(to_bits_, 160, cs) + be(out_bits, 128, cs)
            l1_bits += _gate(cs, wd + pay + rfd, rec)

    # -- public data ------------------------------------------------------------------------------
    with cs.component("public_data"):
        u64 = lambda bits: be(bits, 64, cs)  # noqa: E731
        x16 = be(x_bits, 16, cs)
        nonce32 = be(to_bits(cs, a.nonce, NONCE_BITS), 32, cs)
        records = [
            (wd, const_bits(cs, T_WITHDRAWAL, 8) + id32 + u64(amount_bits) + be(to_bits_, 160, cs)
             + nonce32),
            (tr, const_bits(cs, T_TRANSFER, 8) + id32 + bid32 + u64(amount_bits) + nonce32),
            (trd, const_bits(cs, T_TRADE, 8) + id32 + bid32 + x16 + u64(qty_bits)
             + u64(price_bits) + u64(a_oid_bits) + u64(b_oid_bits)
             + u64(to_bits(cs, fee_a, 64)) + u64(to_bits(cs, fee_b, 64))),
            (fnd, const_bits(cs, T_FUNDING, 8) + x16 + u64(index_bits) + u64(otime_bits)),
            (orc, const_bits(cs, T_ORACLE, 8) + x16 + u64(price_bits) + u64(otime_bits)),
            (spx, const_bits(cs, T_SETTLEMENT_PRICE, 8) + x16 + u64(price_bits)
             + u64(otime_bits)),
            (liq, const_bits(cs, T_LIQUIDATION, 8) + id32 + bid32 + x16
             + u64(signed_bits(cs, delta, 64)[0]) + u64(price_bits)
             + u64(to_bits(cs, penalty, 64)) + nonce32),
            (xps, const_bits(cs, T_EXPIRY_SETTLEMENT, 8) + id32 + x16 + be(payout_bits, 96, cs)),
        ]
        if l1:
            records.append((fwd, const_bits(cs, T_FORCED_WITHDRAWAL, 8) + id32
                            + u64(to_bits(cs, requested, 64)) + u64(to_bits(cs, paid, 64))
                            + be(to_bits_, 160, cs)))
            records.append((dep, const_bits(cs, T_DEPOSIT, 8) + id32 + l2key
                            + u64(amount_bits)))
            records.append((rfd, const_bits(cs, T_REFUND, 8) + be(eacc_bits, 32, cs)
                            + [cs.const(0)] * 7 + [as_lc(easset)] + be(to_bits_, 160, cs)
                            + u64(amount_bits)))
            # a listing publishes the registry entry it adds (the engine's T_LIST_ASSET record)
            # the asset component looked up some of the fields already
            entry = {n: xl[n] if n in xl else lookup(cs, sel_x, tables.reg[n])
                     for n in REGISTRY_FIELDS}
            listing = const_bits(cs, T_LIST_ASSET, 8) + x16 \
                + be(to_bits(cs, entry["kind"], 8), 8, cs) \
                + be(to_bits(cs, entry["underlying"], 16), 16, cs) \
                + u64(to_bits(cs, entry["strike"], 64)) + u64(to_bits(cs, entry["expiry"], 64))
            for n in REGISTRY_FIELDS[4:]:
                listing += be(to_bits(cs, entry[n], PPM_BITS), 32, cs)
            records.append((lst, listing))
            records.append((okey, const_bits(cs, T_SET_ORACLE_KEY, 8) + l2key))
        diff = _sum_bits(cs, *[_gate(cs, f_, bits) for f_, bits in records])
        diff += [cs.const(0)] * (8 * DIFF_BYTES - len(diff))
        diff_bits += diff


def key_unusable(key: bytes) -> tuple[str, int] | None:
    """Why a packed key cannot hold an account, with the circuit's witness for it, or None for a
    usable key: ("r_nc", 0) y >= p; ("r_nr", w) x^2 = num/den has no root (w^2 = 5 num/den);
    ("r_so", x) the point has small order."""
    from .babyjubjub import A, D, P, _sqrt, mul

    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= P:
        return "r_nc", 0
    u = (1 - y * y) * pow(A - D * y * y, -1, P) % P
    x = _sqrt(u)
    if x is None:
        return "r_nr", _sqrt(5 * u % P)
    if mul((x, y), 8) == (0, 1):
        return "r_so", x
    return None
