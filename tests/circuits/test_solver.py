"""The compiled solver against `ConstraintSystem.solve`, `witness` and `check` (the reference):
every native step kind (products, copies, bit splits, SHA-256 parity and majority, division,
inverse-or-zero, is-zero) and the Python fallback, on random inputs and edge values."""

from __future__ import annotations

import random

import numpy as np
import pytest

from circuits.cs import ConstraintSystem
from circuits.gadgets.babyjubjub import _quotient
from circuits.gadgets.bits import to_bits
from circuits.gadgets.comparators import is_zero
from circuits.gadgets.poseidon import poseidon
from circuits.gadgets.sha256 import sha256_bits
from circuits.lc import R
from circuits.solver import (
    BITS,
    COPY,
    DIV,
    INV0,
    ISZERO,
    MAJORITY,
    MUL,
    PARITY,
    PYTHON,
    compile_solver,
)
from prover.fields import limbs_to_ints

NAMES = ("x", "y", "z")


def _system() -> ConstraintSystem:
    cs = ConstraintSystem(compute_witness=False)
    x, y, z = (cs.private_input(n) for n in NAMES)
    xb = to_bits(cs, x, 64)
    cs.public_output("h", poseidon(cs, [x, y * 3 + 7]))
    cs.constrain(_quotient(cs, x + 1, y), y, x + 1)  # y != 0 in every input below
    is_zero(cs, z)
    # a hint the solver does not know: runs in Python, two outputs
    lo, hi = cs.hint(lambda v: (v & 0xFFFF, v >> 16), z, n_out=2)
    cs.assert_equal(lo + hi * (1 << 16), z)
    sha256_bits(cs, xb[:8])
    return cs


@pytest.fixture(scope="module")
def system():
    cs = _system()
    return cs, compile_solver(cs, constraints=True)


def test_every_step_kind_is_exercised(system):
    kinds = set(system[1].kind.tolist())
    assert {MUL, COPY, PARITY, MAJORITY, BITS, DIV, INV0, ISZERO, PYTHON} <= kinds


@pytest.mark.parametrize("seed", range(4))
def test_solve_and_witness_equal_the_reference(system, seed):
    cs, solver = system
    rng = random.Random(seed)
    inputs = {"x": rng.randrange(1 << 64), "y": rng.randrange(1, R), "z": rng.randrange(1 << 32)}
    if seed == 0:
        inputs["z"] = 0  # is-zero's 1 and the inverse's 0
    if seed == 1:
        inputs["y"] = R + 5  # inputs are reduced mod R, as cs.solve does
    ref = cs.solve(inputs)
    values = solver.solve(inputs)
    assert limbs_to_ints(values) == ref
    assert limbs_to_ints(solver.witness(values)) == cs.witness(ref)
    assert solver.check(values) == cs.check(values=ref) == []


def test_check_reports_what_the_reference_reports(system):
    cs, solver = system
    inputs = {"x": 12345, "y": 678, "z": 0x123456}
    ref = cs.solve(inputs)
    values = solver.solve(inputs)
    for i in (cs.names["h"], len(ref) - 1, len(ref) // 2):  # an output, a SHA wire, a middle one
        bad_ref = list(ref)
        bad_ref[i] = (bad_ref[i] + 1) % R
        bad = values.copy()
        bad[i] = np.frombuffer(bad_ref[i].to_bytes(32, "little"), dtype="<u8")
        got = solver.check(bad)
        assert got and got == cs.check(values=bad_ref)
        assert solver.check(bad, limit=1) == cs.check(values=bad_ref, limit=1)


def test_missing_input_and_no_constraints():
    cs = _system()
    solver = compile_solver(cs)
    with pytest.raises(KeyError, match="missing input"):
        solver.solve({"x": 1, "y": 2})
    with pytest.raises(ValueError, match="without constraints"):
        solver.check(solver.solve({"x": 1, "y": 2, "z": 3}))
