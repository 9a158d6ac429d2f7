"""The registry and the oracle state of a batch as ``m``-entry tables (``Tables``), opened once
in the header against the old roots and rehashed for the new root after the last slot; with
them the scenario rows' groups (one per underlying, at most ``underlyings``) and their
"published" flags (docs/margin.md, "In the circuit")."""

from __future__ import annotations

from collections.abc import Mapping

from ..cs import ConstraintSystem
from ..gadgets.bits import to_bits
from ..gadgets.comparators import is_zero
from ..gadgets.poseidon import poseidon
from ..lc import LC, lsum
from .gadgets import onehot, tree_root
from .layout import ASSET_DEPTH, ORACLE_FIELDS, PPM_BITS, REGISTRY_FIELDS, SCENARIOS


def rows_hash(cs: ConstraintSystem, rows: list) -> LC:
    """H2(H13(dV[0..12]), H13(dV[13..25])): the scenario rows in the oracle leaf and stage."""
    half = SCENARIOS // 2
    return poseidon(cs, [poseidon(cs, rows[:half]), poseidon(cs, rows[half:])])


class Tables:
    """The registry and the oracle state as M-entry tables: the registry as it is after the
    batch's listings (``listed``; ``new`` marks the entries listed by this batch, whose old leaves
    are empty and whose oracle entries start at zero), the oracle state running."""

    def __init__(self, cs: ConstraintSystem, v: Mapping[str, LC], m: int, underlyings: int = 1):
        self.m, self.n_u = m, underlyings
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
            self.registry_root = tree_root(cs, leaves, ASSET_DEPTH)
            self.registry_root_before = tree_root(cs, old_leaves, ASSET_DEPTH)
        self.reg = reg
        # avail[k]: asset k is listed at this point of the batch (before it, or by an earlier
        # listing slot); every slot naming an asset needs it, and at the end avail == listed
        self.avail = list(self.old)
        self.orc = {f: [zero] + [v[f"orc{k}_{f}"] for k in range(1, m)] for f in ORACLE_FIELDS}
        # rows[k][s]: dV of asset k in scenario s, running (written by scenario updates)
        self.rows = [[zero] * SCENARIOS] + [[v[f"orc{k}_dv{s}"] for s in range(SCENARIOS)]
                                            for k in range(1, m)]
        with cs.component("oracle_open"):
            for k in range(1, m):  # an unlisted asset has no oracle entry; a new one starts at 0
                for x in [self.orc[f][k] for f in ORACLE_FIELDS] + self.rows[k]:
                    cs.constrain(1 - self.old[k], x, 0)
            self.oracle_root_before = self.oracle_root(cs, self.old)
            # has[k]: asset k's rows are published (not all zero), running
            self.has = [zero] + [published(cs, self.rows[k]) for k in range(1, m)]
        with cs.component("groups"):
            self.grp = self._groups(cs)

    def _groups(self, cs: ConstraintSystem) -> list[list]:
        """grp[k][g] = [asset k's underlying is group g]: each listed perpetual gets a group of
        its own (hinted; at most one perpetual per group, so no two underlyings' losses net),
        an option its underlying's."""
        m, n = self.m, self.n_u

        def assign(*perp):
            out, g = [], 0
            for f in perp:
                out += [int(f == 1 and i == min(g, n - 1)) for i in range(n)]
                g += f == 1
            return out

        flat = cs.hint(assign, *self.perp[1:], n_out=(m - 1) * n)
        pg = [[cs.const(0)] * n] + [flat[(k - 1) * n:k * n] for k in range(1, m)]
        for k in range(1, m):
            for b in pg[k]:
                cs.assert_bool(b)
            cs.assert_equal(lsum(pg[k], cs), self.perp[k])
        for g in range(n):
            cs.assert_bool(lsum([pg[k][g] for k in range(1, m)], cs))
        return [[cs.const(0)] * n] + [
            [pg[k][g] + lsum([cs.mul(self.under[k][j], pg[j][g]) for j in range(1, m)], cs)
             for g in range(n)] for k in range(1, m)]

    def oracle_root(self, cs: ConstraintSystem, present: list | None = None) -> LC:
        present = self.listed if present is None else present
        leaves = [0] + [cs.mul(present[k], poseidon(
            cs, [*(self.orc[f][k] for f in ORACLE_FIELDS), rows_hash(cs, self.rows[k])]))
                        for k in range(1, self.m)]
        return tree_root(cs, leaves, ASSET_DEPTH)

    def derived(self, cs: ConstraintSystem) -> dict[str, list]:
        """Per-asset price and funding index at the current oracle state."""
        return {"price": self.orc["price"], "funding": self.orc["funding"]}


def published(cs: ConstraintSystem, rows: list) -> LC:
    """[some row != 0] for rows |dV| < 2**60 (in range by every write): sum dV^2 < 2**125 is
    then 0 in the field only when every row is."""
    return 1 - is_zero(cs, lsum([cs.mul(x, x) for x in rows], cs))
