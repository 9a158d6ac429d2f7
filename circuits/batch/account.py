"""One account opening of a slot (``Side``): the leaf with its position slots expanded, margin
before, the slot of the slot's asset, the order-tree update, and after ``finish`` the new leaf
and the margin after (the rule of ``rollup.margin.risk``)."""

from __future__ import annotations

from ..cs import ConstraintSystem
from ..gadgets.bits import to_bits
from ..gadgets.comparators import is_zero
from ..gadgets.merkle import merkle_update
from ..gadgets.poseidon import poseidon
from ..lc import LC, as_lc, lin, lsum
from .gadgets import account_leaf, is_negative, lookup, onehot, signed_bits
from .layout import (
    BALANCE_BITS,
    COLLATERAL_BITS,
    ORDER_ID_BITS,
    ORDER_TREE_DEPTH,
    POSITION_SLOTS,
    RISK_SCALE,
)


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
            self.old_leaf = account_leaf(cs, self.pk, self.nonce, self.coll,
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
            self.new_leaf = account_leaf(cs, self.pk, self.new_nonce, self.new_coll,
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
