"""Groth16Verifier / Groth16VerifierN against snarkjs proofs, on py-evm and on Anvil."""

from __future__ import annotations

import time

import pytest

from prover.constants import Q, R
from prover.formats.snarkjs_json import load_public
from rollup.chain.contracts import call, transact
from rollup.chain.errors import ContractRevert
from rollup.chain.verifier import deploy_verifier, proof_evm
from tests.support.contracts import record_gas
from tests.support.snark import needs_node

X = 123456789


@pytest.fixture(scope="module")
def single(chain, standin):  # noqa: F811
    return deploy_verifier(chain, standin.vk)


@needs_node
def test_snarkjs_proof_verifies(chain, standin, single):  # noqa: F811
    proof, public = standin.prove({"x": X, "w": 3})
    assert load_public(public) == [X]
    p = proof_evm(proof)
    t = time.perf_counter()
    assert call(single.functions.verifyProof(p, X)) is True
    record_gas(chain.kind, "verify_call_seconds", round(time.perf_counter() - t, 3))
    assert call(single.functions.verifyProof(p, X + 1)) is False
    res = transact(chain, single.functions.verifyProof(p, X), gas=400_000)
    record_gas(chain.kind, "verify_tx_total", res.gas_used)
    record_gas(chain.kind, "verify_execution", res.execution_gas)
    # floor: ecMul + ecAdd + 4-pair pairing under EIP-1108
    floor = 6_000 + 150 + 45_000 + 4 * 34_000
    assert floor <= res.execution_gas <= floor * 1.10
    assert res.gas_used <= (floor + res.calldata_gas) * 1.10 + 21_000


@needs_node
def test_malformed_proofs_rejected(chain, standin, single):  # noqa: F811
    proof, _ = standin.prove({"x": X, "w": 3})
    p = proof_evm(proof)
    f = single.functions.verifyProof
    # a flipped bit in every element (low bit, and a high bit that keeps it below q)
    for i in range(8):
        for bit in (0, 200):
            bad = list(p)
            bad[i] ^= 1 << bit
            if bad[i] >= Q:
                continue
            assert call(f(bad, X)) is False, (i, bit)
    for bit in (0, 100, 252):
        assert call(f(p, X ^ (1 << bit))) is False
    # coordinates >= q are encoding errors
    for i in range(8):
        for v in (Q, p[i] + Q, 2**256 - 1):
            if v >= 2**256:
                continue
            bad = list(p)
            bad[i] = v
            with pytest.raises(ContractRevert) as ei:
                call(f(bad, X))
            assert ei.value.name == "ProofCoordinateNotInField" and ei.value.args_ == (i,)
    # public input >= r; X + r is the same field element, still refused
    for v in (R, X + R, 2**256 - 1):
        with pytest.raises(ContractRevert) as ei:
            call(f(p, v))
        assert ei.value.name == "PublicInputNotInField"
    # points off the curve (y + 1), infinity for A and C, G2 coordinates in snarkjs order
    for i in (1, 5, 7):
        bad = list(p)
        bad[i] = (bad[i] + 1) % Q
        assert call(f(bad, X)) is False
    assert call(f([0, 0] + p[2:], X)) is False
    assert call(f(p[:6] + [0, 0], X)) is False
    swapped = p[:2] + [p[3], p[2], p[5], p[4]] + p[6:]
    assert call(f(swapped, X)) is False
    # B replaced by a twist point outside the order-r subgroup is refused by the precompile
    assert call(f(p[:2] + _g2_not_in_subgroup() + p[6:], X)) is False


def _g2_not_in_subgroup() -> list[int]:
    """A point on the twist E'(Fq2): y^2 = x^3 + 3/(9+u), not in the order-r subgroup."""
    from py_ecc.optimized_bn128 import FQ2, b2, curve_order, is_on_curve, multiply

    x = FQ2([1, 0])
    while True:
        rhs = x ** 3 + b2
        # square root in Fq2 via exponent (q^2 + 7) / 16 fails in general; use py_ecc's field
        y = _fq2_sqrt(rhs)
        if y is not None:
            pt = (x, y, FQ2.one())
            assert is_on_curve(pt, b2)
            if multiply(pt, curve_order)[2] != FQ2.zero():
                (x0, x1), (y0, y1) = x.coeffs, y.coeffs
                return [int(x1), int(x0), int(y1), int(y0)]
        x = x + FQ2([1, 0])


def _fq2_sqrt(a):
    """Square root in Fq2 (q = 3 mod 4) by the complex method, or None."""
    from py_ecc.optimized_bn128 import FQ, FQ2

    a0, a1 = (int(c) for c in a.coeffs)
    q = Q
    norm = (a0 * a0 + a1 * a1) % q
    n = pow(norm, (q + 1) // 4, q)
    if n * n % q != norm:
        return None
    for s in (n, q - n):
        t = (a0 + s) * pow(2, q - 2, q) % q
        x0 = pow(t, (q + 1) // 4, q)
        if x0 * x0 % q == t and x0 != 0:
            x1 = a1 * pow(2 * x0, q - 2, q) % q
            y = FQ2([x0, x1])
            if y * y == a:
                return y
    del FQ
    return None


@needs_node
def test_verifier_n(chain, multi):  # noqa: F811
    vals = {"a": 5, "b": 7, "c": R - 11}
    proof, public = multi.prove({**vals, "w": 9})
    inputs = load_public(public)
    assert inputs == [vals["a"], vals["b"], vals["c"]]
    v = deploy_verifier(chain, multi.vk)
    p = proof_evm(proof)
    assert call(v.functions.verifyProof(p, inputs)) is True
    assert call(v.functions.NUM_INPUTS()) == 3
    for i in range(3):
        bad = list(inputs)
        bad[i] = (bad[i] + 1) % R
        assert call(v.functions.verifyProof(p, bad)) is False
    with pytest.raises(ContractRevert) as ei:
        call(v.functions.verifyProof(p, inputs[:2]))
    assert ei.value.name == "WrongNumberOfInputs"
    with pytest.raises(ContractRevert) as ei:
        call(v.functions.verifyProof(p, [inputs[0], R, inputs[2]]))
    assert ei.value.name == "PublicInputNotInField" and ei.value.args_ == (1,)
    res = transact(chain, v.functions.verifyProof(p, inputs), gas=600_000)
    record_gas(chain.kind, "verifyN3_execution", res.execution_gas)
    floor = 45_000 + 4 * 34_000 + 3 * 6_150
    assert floor <= res.execution_gas <= floor * 1.10


@needs_node
def test_general_verifier_one_input(chain, standin):  # noqa: F811
    proof, _ = standin.prove({"x": X, "w": 3})
    v = deploy_verifier(chain, standin.vk, general=True)
    assert call(v.functions.verifyProof(proof_evm(proof), [X])) is True
    assert call(v.functions.verifyProof(proof_evm(proof), [X + 1])) is False
    res = transact(chain, v.functions.verifyProof(proof_evm(proof), [X]), gas=400_000)
    record_gas(chain.kind, "verifyN1_execution", res.execution_gas)
