"""Groth16 verification: input checks, then one pairing-product check.

A proof (pi_a, pi_b, pi_c) for public signals x_1..x_l is valid when

    e(-pi_a, pi_b) * e(alpha1, beta2) * e(vk_x, gamma2) * e(pi_c, delta2) == 1,
    vk_x = IC_0 + sum_i x_i IC_i,

the check `snarkjs groth16 verify` and the EVM verifier make, on plain ints (`prover.pure`: no
numpy or Numba to load, ~0.1 s; `pairing_product_is_one_reference` is the py_ecc cross-check for
tests). Malformed input raises
a ProverInputError subclass before any pairing (NonCanonicalError, NotOnCurveError,
NotInSubgroupError, PublicInputError); a well-formed proof that fails the equation makes
verify() return False.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from prover.constants import Q, R
from prover.errors import NonCanonicalError, PublicInputError
from prover.formats.snarkjs_json import Proof, VerificationKey
from prover.pure import curve as pc
from prover.pure.pairing import pairing_product_is_one

log = logging.getLogger(__name__)


def _check_g1(points, what: str) -> None:
    try:
        pc.validate_g1(points)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{what}: {e}") from None


def _check_g2(points, what: str) -> None:
    try:
        pc.validate_g2(points, subgroup=True)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{what}: {e}") from None


def check_proof(proof: Proof) -> None:
    """Proof points canonical, on the curve, and (G2) in the order-r subgroup."""
    _check_g1([proof.pi_a], "pi_a")
    _check_g2([proof.pi_b], "pi_b")
    _check_g1([proof.pi_c], "pi_c")


def check_vk(vk: VerificationKey) -> None:
    _check_g1([vk.alpha1], "vk_alpha_1")
    _check_g2([vk.beta2, vk.gamma2, vk.delta2], "vk_beta_2/vk_gamma_2/vk_delta_2")
    _check_g1(list(vk.ic), "IC")
    if len(vk.ic) != vk.n_public + 1:
        raise PublicInputError(f"verification key has {len(vk.ic)} IC points for "
                               f"nPublic = {vk.n_public}")


def check_public(vk: VerificationKey, public: Sequence[int]) -> list[int]:
    if len(public) != vk.n_public:
        raise PublicInputError(f"{len(public)} public signals, the verification key expects "
                               f"{vk.n_public}")
    out = []
    for i, x in enumerate(public):
        if isinstance(x, bool) or not isinstance(x, int):
            raise PublicInputError(f"public signal #{i} is not an integer: {x!r}")
        if not 0 <= x < R:
            raise NonCanonicalError(f"public signal #{i} is not in [0, r): {x}")
        out.append(x)
    return out


def vk_x(vk: VerificationKey, public: Sequence[int]):
    """IC_0 + sum_i x_i IC_i as a Python-int affine point (None = infinity)."""
    acc = pc.msm(pc.G1, vk.ic[1:], list(public))
    return pc.g1_to_affine(pc.g1_add(pc.g1_from_affine(vk.ic[0]), acc))


# --- pairing product with py_ecc ------------------------------------------------------------

def _pe_g1(p):
    from py_ecc.optimized_bn128 import FQ
    return None if p is None else (FQ(p[0]), FQ(p[1]), FQ.one())


def _pe_g2(p):
    from py_ecc.optimized_bn128 import FQ2
    return None if p is None else (FQ2(list(p[0])), FQ2(list(p[1])), FQ2.one())


def final_exponentiation(f):
    """f^((q^12 - 1)/r), split as (q^6 - 1)(q^2 + 1) * (q^4 - q^2 + 1)/r.

    f^(q^6) is the conjugate over Fq6: py_ecc's Fq12 = Fq[w]/(w^12 - 18 w^6 + 82) has
    w^2 in Fq6, so the q^6-power Frobenius maps w to -w and negates the odd coefficients.
    The easy part costs one inversion and a 508-bit power instead of a 2,800-bit one.
    """
    from py_ecc.optimized_bn128 import FQ12

    conj = FQ12([c if i % 2 == 0 else -c for i, c in enumerate(f.coeffs)])
    g = conj / f  # f^(q^6 - 1)
    g = g ** (Q * Q) * g  # ^(q^2 + 1)
    return g ** ((Q**4 - Q**2 + 1) // R)


def pairing_product_is_one_reference(pairs) -> bool:
    """prod e(P_i, Q_i) == 1 for (G1, G2) Python-int points, one final exponentiation."""
    from py_ecc.optimized_bn128 import FQ12
    from py_ecc.optimized_bn128.optimized_pairing import cast_point_to_fq12, miller_loop, twist

    f = FQ12.one()
    for p, q in pairs:
        if p is None or q is None:
            continue  # e(O, Q) = e(P, O) = 1
        f = f * miller_loop(twist(_pe_g2(q)), cast_point_to_fq12(_pe_g1(p)),
                            final_exponentiate=False)
    return final_exponentiation(f) == FQ12.one()


def _neg_g1(p):
    return None if p is None else (p[0], (Q - p[1]) % Q)


def verify(vk: VerificationKey, public: Sequence[int], proof: Proof) -> bool:
    """True for a valid proof, False for a well-formed invalid one; typed error if malformed."""
    t0 = time.perf_counter()
    check_vk(vk)
    pub = check_public(vk, public)
    check_proof(proof)
    ok = pairing_equation(vk, pub, proof)
    log.debug("verify: %.3f s", time.perf_counter() - t0)
    return ok


def pairing_equation(vk: VerificationKey, public: Sequence[int], proof: Proof,
                     product=pairing_product_is_one) -> bool:
    """The equation of `verify` alone, with no check of the points: for a proof this process
    has just made from a key it read (the prover's check that the witness satisfied the
    circuit). `product`: a pairing-product check of prover.pure.pairing's signature."""
    return product([
        (_neg_g1(proof.pi_a), proof.pi_b),
        (vk.alpha1, vk.beta2),
        (vk_x(vk, public), vk.gamma2),
        (proof.pi_c, vk.delta2),
    ])
