"""One account opening of a slot (``Side``): the leaf with its position slots expanded, its value,
the slot of the slot's asset, the scenario requirement (``scenario``: docs/margin.md, "In the
circuit"), the order-tree update, and after ``finish`` the new leaf and the margin after (the
rule of ``rollup.margin.risk``).

Requirement bounds: per underlying group g, the losses after L'_g(s) = -sum_k B'_k G[g, k] dV[k, s]
(B' the balance per table asset) and a hinted m_g with 0 <= m_g - L'_g(s) < 2**SPREAD_BITS and
0 <= m_g < 2**SPREAD_BITS when ``enabled`` (so R_up = sum m_g >= R after); before, the loss at a
hinted row s0_g or 0 (R_lo <= R before). Every rule is then stricter than with the exact R."""

from __future__ import annotations

from ..cs import ConstraintSystem
from ..gadgets.bits import to_bits
from ..gadgets.comparators import is_zero
from ..gadgets.merkle import merkle_update
from ..gadgets.poseidon import poseidon
from ..lc import LC, R, as_lc, lin, lsum
from .gadgets import account_leaf, is_negative, lookup, onehot, signed_bits
from .layout import (
    ASSET_BITS,
    BALANCE_BITS,
    COLLATERAL_BITS,
    HALF,
    MAINTENANCE_PPM,
    ORDER_ID_BITS,
    ORDER_SIBLINGS,
    ORDER_TREE_DEPTH,
    POSITION_SLOTS,
    RISK_SCALE,
    SCENARIOS,
    SPREAD_BITS,
)


def _signed(v: int) -> int:
    """A field element as the signed integer it encodes."""
    return v - R if v > HALF else v


def _row_max(*losses) -> int:
    return max(0, *(_signed(x) for x in losses))


def _argmax_before(*args) -> list[int]:
    """One-hot over the rows and "0" (last) of the worst loss before: L(s) + d_bal gx dV_x(s)."""
    n = SCENARIOS
    after, xrow, (d_bal, gx) = args[:n], args[n:2 * n], args[2 * n:]
    q = _signed(d_bal) * gx
    before = [_signed(a) + q * _signed(x) for a, x in zip(after, xrow, strict=True)]
    top = max(before)
    k = before.index(top) if top > 0 else n
    return [int(i == k) for i in range(n + 1)]


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
            self.price, self.fund, neg, absb, sels = [], [], [], [], []
            value = as_lc(self.coll)
            due = 0
            found_terms, ff, pre = [], [], as_lc(1)
            for j in range(POSITION_SLOTS):
                sel = onehot(cs, self.asset[j], m)
                sels.append(sel)
                pj, fj = lookup(cs, sel, d["price"]), lookup(cs, sel, d["funding"])
                self.price.append(pj)
                self.fund.append(fj)
                _, nj = signed_bits(cs, self.bal[j], BALANCE_BITS)
                aj = cs.mul(self.bal[j], 1 - 2 * nj)
                neg.append(nj)
                absb.append(aj)
                value = value + cs.mul(self.bal[j], pj - fj + self.snap[j])
                due = due + cs.mul(self.bal[j], fj - self.snap[j])
                # the slot of X: where X sits, else the first free slot
                found_terms.append(is_zero(cs, self.asset[j] - x))
                ffj = cs.mul(pre, sel[0])
                ff.append(ffj)
                pre = pre - ffj
            found = lsum(found_terms, cs)
            with cs.component("one_slot"):
                # X in at most one slot (pos * found * (found - 1) = 0): with X twice, a tau of
                # (1, 1, -1) would sum to pos and write (-X, -nb) to the free slot, a word equal
                # to the in-range (2^8 - X, -nb - 1) of the packed positions hash
                cs.constrain(cs.mul(pos, found), found - 1, 0)
            self.tau = [cs.mul(pos, found_terms[j] + cs.mul(1 - found, ff[j]))
                        for j in range(POSITION_SLOTS)]
            cs.assert_equal(lsum(self.tau, cs), pos)  # a position type finds its slot
            self.b_t = lsum([cs.mul(t, b) for t, b in zip(self.tau, self.bal, strict=True)], cs)
            self.abs_t = lsum([cs.mul(t, a) for t, a in zip(self.tau, absb, strict=True)], cs)
            self.neg_t = lsum([cs.mul(t, n) for t, n in zip(self.tau, neg, strict=True)], cs)
            # the balance per table asset: B_k = sum_j [a_j = k] b_j
            self.bk = [as_lc(0)] + [lsum([cs.mul(sels[j][k], self.bal[j])
                                          for j in range(POSITION_SLOTS)], cs)
                                    for k in range(1, m)]
        self.value, self.due = value, due
        self.x = x
        with cs.component("leaf_old"):
            self.old_leaf = account_leaf(cs, self.pk, self.nonce, self.coll,
                                  self._positions_root(self.asset, self.bal, self.snap),
                                  self.orders)

    def scenario(self, tables, sel_x: list, d_bal: LC, enabled: LC, xrow: list,
                 gx: list) -> None:
        """The requirement bounds R_up (after the balance of X moves by d_bal) and R_lo
        (before), and the excesses before (module docstring). ``xrow``: X's rows; ``gx[g]``:
        [X is in group g]."""
        cs, m = self.cs, len(sel_x)
        with cs.component("scenario"):
            after = [self.bk[k] + cs.mul(sel_x[k], d_bal) for k in range(1, m)]
            r_up, r_lo = as_lc(0), as_lc(0)
            for g in range(tables.n_u):
                c = [cs.mul(after[k - 1], tables.grp[k][g]) for k in range(1, m)]
                loss = [-lsum([cs.mul(c[k - 1], tables.rows[k][s]) for k in range(1, m)], cs)
                        for s in range(SCENARIOS)]
                top = cs.hint(_row_max, *loss)
                for s in range(SCENARIOS):
                    to_bits(cs, cs.mul(enabled, top - loss[s]), SPREAD_BITS)
                to_bits(cs, cs.mul(enabled, top), SPREAD_BITS)
                e = cs.hint(_argmax_before, *loss, *xrow, d_bal, gx[g], n_out=SCENARIOS + 1)
                for b in e:
                    cs.assert_bool(b)
                cs.assert_equal(lsum(e, cs), 1)
                at = lsum([cs.mul(e[s], loss[s]) for s in range(SCENARIOS)], cs)
                xat = lsum([cs.mul(e[s], xrow[s]) for s in range(SCENARIOS)], cs)
                # L_g(s0) = L'_g(s0) + d_bal [X in g] dV_X(s0)
                r_lo = r_lo + at + cs.mul(cs.mul(d_bal, gx[g]), xat)
                r_up = r_up + top
            self.r_up, self.r_lo = r_up, r_lo
            self.ri, self.rm = r_lo * RISK_SCALE, r_lo * MAINTENANCE_PPM
            self.exi_before = self.value * RISK_SCALE - self.ri
            self.exm_before = self.value * RISK_SCALE - self.rm

    def _positions_root(self, asset, bal, snap) -> LC:
        """H16(word_0..word_7, snap_0..snap_7), word_j = asset_j + 2**ASSET_BITS * bal_j: one
        hash, and the words are linear. The opening proves asset_j < m <= 2**ASSET_BITS (its
        one-hot) and |bal_j| < 2**63 (``signed_bits``), so a word names one (asset, balance)."""
        words = [as_lc(a) + as_lc(b).scale(1 << ASSET_BITS) for a, b in zip(asset, bal,
                                                                           strict=True)]
        return poseidon(self.cs, [*words, *snap])

    def finish(self, *, d_bal: LC, d_coll: LC, settle: LC, nonce_inc: LC, xl: dict,
               new_orders: LC) -> None:
        """Apply: funding settled when `settle`, balance of X += d_bal, collateral += d_coll."""
        cs = self.cs
        with cs.component("apply"):
            nb = self.b_t + d_bal
            bits, self.neg_nb = signed_bits(cs, nb, BALANCE_BITS)
            del bits
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
            self.new_leaf = account_leaf(cs, self.pk, self.new_nonce, self.new_coll,
                                  self._positions_root(asset, bal, snap), new_orders)
        with cs.component("margin"):
            # funding settlement moves value between terms without changing it
            self.value_after = self.value + d_coll + cs.mul(d_bal, xl["price"])
            self.ri_after = self.r_up * RISK_SCALE
            self.rm_after = self.r_up * MAINTENANCE_PPM
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
                cs, old, new, [v[f"{p}osib{k}"] for k in range(ORDER_SIBLINGS)],
                oid_bits[:ORDER_TREE_DEPTH], bits_checked=True)
            cs.constrain(enabled, old_root - self.orders, 0)
            return self.orders + cs.mul(enabled, new_root - self.orders)
