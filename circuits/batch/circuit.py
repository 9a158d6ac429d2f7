"""The batch circuit assembled (``build_batch_circuit``): header and tables, the slots chained
root to root, the fee account credited once after the last slot, and the SHA-256 public input
over the 188-byte header and the public data. ``batch_solver`` is the circuit's compiled witness
solver (``circuits.solver``), built once per shape and process."""

from __future__ import annotations

from collections.abc import Mapping

from ..cs import ConstraintSystem
from ..gadgets.bits import to_bits
from ..gadgets.merkle import merkle_update
from ..gadgets.poseidon import poseidon
from ..gadgets.sha256 import digest_to_field, sha256_bits
from ..lc import LC, as_lc
from ..merkle import sibling_count
from ..solver import Solver, compile_solver
from .gadgets import account_leaf, be, canonical_bits, const_bits, signed_bits
from .layout import (
    ASSET_DEPTH,
    COLLATERAL_BITS,
    DOMAIN_TAG,
    EMPTY_POSITIONS_ROOT,
    FEE_FIELDS,
    SCENARIOS,
    TIME_BITS,
    input_names,
)
from .slot import slot
from .tables import Tables, rows_hash


def build_batch_circuit(slots: int, depth: int, values: Mapping[str, int] | None = None, *,
                        l1_slots: int | None = None, assets: int = 8,
                        underlyings: int = 1) -> ConstraintSystem:
    """The batch circuit for `slots` slots over an accounts tree of `depth` (<= 32), the first
    `l1_slots` (default: all) able to consume the L1 queue and pay out on L1, with an asset
    table of `assets` (a power of two <= 256) entries of which at most `underlyings`
    perpetuals (each an underlying of the scenario rule). With `values` (a dict over
    `input_names`), the witness is computed while building."""
    l1_slots = slots if l1_slots is None else l1_slots
    if not 1 <= depth <= 32 or slots < 1 or not 0 <= l1_slots <= slots:
        raise ValueError("need 1 <= depth <= 32, at least one slot, 0 <= l1_slots <= slots")
    if assets < 2 or assets & (assets - 1) or assets > 1 << ASSET_DEPTH:
        raise ValueError("assets must be a power of two in 2..256")
    if not 1 <= underlyings < assets:
        raise ValueError("underlyings must be in 1..assets-1")
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
        tables = Tables(cs, v, assets, underlyings)
        opk = (v["oracle_pk_x"], v["oracle_pk_y"])
        stage = {"asset": v["stage_asset"], "time": v["stage_time"], "next": v["stage_next"],
                 "rows": [v[f"stage_dv{s}"] for s in range(SCENARIOS)]}
        glob = poseidon(cs, [v["time"], tables.oracle_root_before, *opk,
                             _stage_hash(cs, stage)])
        old_root = poseidon(cs, [v["accounts_root"], tables.registry_root_before, glob])

    st = {"root": v["accounts_root"], "time": v["time"], "queue": queue, "fees": as_lc(0),
          "opk": opk, "stage": stage}
    l1_bits: list[LC] = []
    diff_bits: list[LC] = []
    for i in range(slots):
        with cs.component(f"slot{i}"):
            slot(cs, v, f"s{i}_", depth, st, tables, domain, i < l1_slots, l1_bits,
                  diff_bits)

    with cs.component("fee_account"):
        f = {n: v["fee_" + n] for n in FEE_FIELDS}
        # the fee account holds no positions when its fees are credited (the module docstring)
        cs.assert_equal(f["positions"], EMPTY_POSITIONS_ROOT)
        pk = (f["pk_x"], f["pk_y"])
        old = account_leaf(cs, pk, f["nonce"], f["collateral"], f["positions"], f["orders"])
        coll = f["collateral"] + st["fees"]
        signed_bits(cs, coll, COLLATERAL_BITS)
        new = account_leaf(cs, pk, f["nonce"], coll, f["positions"], f["orders"])
        fee_sib = [v[f"fee_sib{k}"] for k in range(sibling_count(depth))]
        _, acc_root = merkle_update(cs, old, new, fee_sib, [cs.const(0)] * depth,
                                    old_root=st["root"], bits_checked=True)

    with cs.component("listings"):
        for k in range(1, assets):  # every new entry was listed by a slot
            cs.assert_equal(tables.avail[k], tables.listed[k])

    with cs.component("public_input"):
        glob_new = poseidon(cs, [st["time"], tables.oracle_root(cs), *st["opk"],
                                 _stage_hash(cs, st["stage"])])
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


def _stage_hash(cs: ConstraintSystem, stage: dict) -> LC:
    """H4(asset, time, next, rows hash): the scenario update in progress, in the global root."""
    return poseidon(cs, [stage["asset"], stage["time"], stage["next"],
                         rows_hash(cs, stage["rows"])])


_SOLVERS: dict[tuple, Solver] = {}
_KEEP = 4  # shapes kept: the batcher may close batches in each shape it has keys for


def batch_solver(slots: int, depth: int, *, l1_slots: int | None = None, assets: int = 8,
                 underlyings: int = 1, constraints: bool = False) -> Solver:
    """The compiled solver of ``build_batch_circuit(slots, depth, l1_slots=, assets=,
    underlyings=)``: its
    ``solve(values)`` is the witness the circuit built with ``values`` holds (tested so), in
    well under a second where building the circuit takes tens. The first call per shape
    builds the circuit once (seconds); ``constraints=True`` also compiles its constraints for
    ``Solver.check``."""
    l1_slots = slots if l1_slots is None else l1_slots
    key = (slots, depth, l1_slots, assets, underlyings)
    s = _SOLVERS.get(key)
    if s is None or (constraints and not s.has_constraints):
        cs = build_batch_circuit(slots, depth, l1_slots=l1_slots, assets=assets,
                                 underlyings=underlyings)
        s = compile_solver(cs, constraints=constraints)
        _SOLVERS.pop(key, None)
        while len(_SOLVERS) >= _KEEP:
            _SOLVERS.pop(next(iter(_SOLVERS)))
        _SOLVERS[key] = s
    return s
