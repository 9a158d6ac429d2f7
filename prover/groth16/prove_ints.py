"""The Groth16 prover of `prove.py` on plain ints (`prover.pure`), for small circuits.

Below SMALL_DOMAIN constraints (SMALL_DOMAIN_NATIVE when the native library is built),
loading the compiled kernels costs more than the whole proof in Python ints; `prove` takes this
path there on the CPU backend. Same steps, same formulas, same blinding; tests compare the two
paths point for point with fixed r and s.
"""

from __future__ import annotations

from prover.constants import R
from prover.formats._limbs import g1_from_mont, g2_from_mont
from prover.formats.snarkjs_json import Proof
from prover.formats.zkey import Zkey
from prover.pure import curve as pc
from prover.pure.ntt import to_odd_points

# Largest domain proven on ints by default, measured whole-process (benchmarks/prove.py
# --startup): with the Numba kernels (about a second to load) ints win up to 2^8 rows; with
# the native library (milliseconds to load) only up to ~2^5 (8 rows: ints 0.35 s, native
# 0.43 s; 256 rows: ints 1.73 s, native 0.65 s).
SMALL_DOMAIN = 1 << 8
SMALL_DOMAIN_NATIVE = 1 << 5


def evaluate_abc(zkey: Zkey, w: list[int]) -> tuple[list[int], list[int], list[int]]:
    """(A.w, B.w, C.w) on the domain, canonical ints (section-4 values hold c R^2: c from
    `coeff_values`)."""
    n = zkey.domain_size
    a, b = [0] * n, [0] * n
    rec = zkey.coeffs
    for m, row, sig, c in zip(rec["matrix"].tolist(), rec["constraint"].tolist(),
                              rec["signal"].tolist(), zkey.coeff_values(), strict=True):
        if m == 0:
            a[row] = (a[row] + c * w[sig]) % R
        else:
            b[row] = (b[row] + c * w[sig]) % R
    return a, b, [x * y % R for x, y in zip(a, b, strict=True)]


def prove_ints(zkey: Zkey, w: list[int], r: int, s: int) -> Proof:
    """The proof for witness w (canonical ints, checked by the caller) with blinding r, s."""
    a, b, c = evaluate_abc(zkey, w)
    h = [(x * y - z) % R for x, y, z in
         zip(to_odd_points(a), to_odd_points(b), to_odd_points(c), strict=True)]
    q = zkey.q
    G1, G2 = pc.G1, pc.G2

    def g1(arr):
        return g1_from_mont(arr, q)

    A = pc.msm(G1, g1(zkey.a), w)
    B1 = pc.msm(G1, g1(zkey.b1), w)
    B2 = pc.msm(G2, g2_from_mont(zkey.b2, q), w)
    C = pc.msm(G1, g1(zkey.c), w[zkey.n_public + 1:])
    H = pc.msm(G1, g1(zkey.h), h)
    alpha1, beta1, delta1 = (G1.from_affine(g1(x)[0]) for x in
                             (zkey.alpha1, zkey.beta1, zkey.delta1))
    beta2, delta2 = (G2.from_affine(g2_from_mont(x, q)[0]) for x in (zkey.beta2, zkey.delta2))
    # pi_a = A + alpha1 + r delta1, pi_b = B2 + beta2 + s delta2,
    # pi_c = C + H + s pi_a + r (B1 + beta1 + s delta1) - r s delta1
    pa = G1.add(G1.add(A, alpha1), pc.mul(G1, delta1, r))
    pb = G2.add(G2.add(B2, beta2), pc.mul(G2, delta2, s))
    b1 = G1.add(G1.add(B1, beta1), pc.mul(G1, delta1, s))
    pc_ = G1.add(C, H)
    pc_ = G1.add(pc_, pc.mul(G1, pa, s))
    pc_ = G1.add(pc_, pc.mul(G1, b1, r))
    pc_ = G1.add(pc_, pc.mul(G1, G1.neg(delta1), r * s % R))
    return Proof(G1.to_affine(pa), G2.to_affine(pb), G1.to_affine(pc_))


