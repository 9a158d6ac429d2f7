"""prover.pure (plain ints) against py_ecc and the Numba kernels: pairing products, curve
checks and MSMs, the NTT, and whole proofs against the kernel prover with fixed r and s."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from prover.constants import Q, R
from prover.errors import NonCanonicalError, NotInSubgroupError, NotOnCurveError
from prover.pure import curve as pc
from prover.pure import field as pf
from prover.pure import ntt as pn
from prover.pure.pairing import pairing_product_is_one
from tests.support.snark import ROOT, needs_node, snarkjs_verify, write_pair

rng = random.Random(20)


def g1(k):
    from py_ecc.optimized_bn128 import G1, multiply, normalize
    if k % R == 0:
        return None
    x, y = normalize(multiply(G1, k % R))
    return (int(x), int(y))


def g2(k):
    from py_ecc.optimized_bn128 import G2, multiply, normalize
    if k % R == 0:
        return None
    x, y = normalize(multiply(G2, k % R))
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def test_pairing_products_match_bilinearity_and_the_references():
    from prover.groth16.verify import pairing_product_is_one_reference
    from prover.pairing import pairing_product_is_one as kernel_product

    a, b, c = (rng.randrange(1, R) for _ in range(3))
    good = [(g1(a), g2(b)), (g1(c), g2(7)), (g1(1), g2(-a * b - 7 * c - 5)), (g1(5), g2(1))]
    assert pairing_product_is_one(good)
    bad = [*good[:3], (g1(6), g2(1))]
    assert not pairing_product_is_one(bad)
    assert not pairing_product_is_one([(g1(1), g2(1))])  # non-degenerate
    assert pairing_product_is_one([]) and pairing_product_is_one([(None, g2(3)), (g1(2), None)])
    for pairs in ([(g1(a), g2(b)), (g1(-a * b), g2(1))], [(g1(a), g2(b)), (g1(c), g2(b))]):
        want = pairing_product_is_one_reference(pairs)
        assert pairing_product_is_one(pairs) == want == kernel_product(pairs)


def test_frobenius_constants_are_the_powers_of_xi():
    """gamma_{n,k} = xi^(k (q^n - 1) / 6), stored as literals so that importing costs nothing."""
    for n in (1, 2, 3):
        assert pf._GAMMA[n] == tuple(pf.fq2_pow(pf._XI, k * (Q**n - 1) // 6) for k in range(6))


def test_frobenius_is_the_q_power():
    a = tuple(tuple((rng.randrange(Q), rng.randrange(Q)) for _ in range(3)) for _ in range(2))
    assert pf.fq12_frobenius(a, 1) == pf.fq12_pow(a, Q)
    assert pf.fq12_frobenius(a, 2) == pf.fq12_frobenius(pf.fq12_frobenius(a, 1), 1)
    assert pf.fq12_mul(a, pf.fq12_inv(a)) == pf.FQ12_ONE
    assert pf.fq12_sqr(a) == pf.fq12_mul(a, a)


@pytest.mark.parametrize("group", ["G1", "G2"])
def test_msm_matches_py_ecc(group):
    from py_ecc.optimized_bn128 import add, eq, multiply

    from tests.support.snark import pe_g1, pe_g2

    mk, pe, grp = (g1, pe_g1, pc.G1) if group == "G1" else (g2, pe_g2, pc.G2)
    pts = [mk(rng.randrange(1, R)) for _ in range(9)] + [None, mk(1)]
    ks = [rng.randrange(R) for _ in range(6)] + [0, 1, R - 1, 5, 2**255 - 19]
    want = None
    for p, k in zip(pts, ks, strict=True):
        if p is not None:
            t = multiply(pe(p), k)
            want = t if want is None else add(want, t)
    got = grp.to_affine(pc.msm(grp, pts, ks))
    assert eq(pe(got), want)
    assert grp.to_affine(pc.msm(grp, pts[:1], ks[:1])) == grp.to_affine(
        pc.mul(grp, grp.from_affine(pts[0]), ks[0]))
    assert pc.msm(grp, [], []) == grp.inf and pc.msm(grp, pts[:2], [0, 0]) == grp.inf
    # P + (-P) and P + P through the generic addition
    P = grp.from_affine(pts[0])
    assert grp.is_inf(grp.add(P, grp.neg(P)))
    assert grp.to_affine(grp.add(P, P)) == grp.to_affine(grp.double(P))


def test_validation_raises_typed_errors():
    from tests.prover.groth16.test_prove_verify import twist_point_outside_subgroup

    p, q2 = g1(3), g2(3)
    pc.validate_g1([p, None])
    pc.validate_g2([q2, None])
    with pytest.raises(NotOnCurveError):
        pc.validate_g1([(p[0], (p[1] + 1) % Q)])
    with pytest.raises(NonCanonicalError):
        pc.validate_g1([(p[0] + Q, p[1])])
    with pytest.raises(TypeError):
        pc.validate_g1([(str(p[0]), p[1])])
    with pytest.raises(NotOnCurveError):
        pc.validate_g2([(q2[0], (q2[1][0], (q2[1][1] + 1) % Q))])
    with pytest.raises(NonCanonicalError):
        pc.validate_g2([((q2[0][0], q2[0][1] + Q), q2[1])])
    with pytest.raises(NotInSubgroupError, match="#1"):
        pc.validate_g2([q2, twist_point_outside_subgroup()])


def test_ntt_matches_the_kernels():
    from prover.fields import Fr
    from prover.ntt import ntt, root_of_unity

    for log_n in (0, 1, 3, 6):
        vals = [rng.randrange(R) for _ in range(1 << log_n)] + [0] * 0
        vals[0] = R - 1
        arr = Fr.from_ints(vals)
        ntt(arr)
        assert pn.ntt(vals, pn.root_of_unity(log_n)) == Fr.to_ints(arr)
        assert pn.root_of_unity(log_n) == root_of_unity(log_n)
        assert pn.intt(pn.ntt(vals, pn.root_of_unity(log_n)), pn.root_of_unity(log_n)) == vals


@needs_node
def test_ints_and_kernel_proofs_are_the_same_points(snark, tmp_path):
    from prover.fields import limbs_to_ints
    from prover.formats.snarkjs_json import load_vk
    from prover.formats.wtns import read_wtns
    from prover.groth16 import prove, verify

    r, s = rng.randrange(R), rng.randrange(R)
    by_ints = prove(snark.zkey, snark.wtns, r=r, s=s, kernels=False)
    by_kernels = prove(snark.zkey, snark.wtns, r=r, s=s, kernels=True)
    assert by_ints.engine == "ints" and by_kernels.engine == "cpu"
    assert by_ints.proof == by_kernels.proof
    assert by_ints.public_signals == by_kernels.public_signals
    assert prove(snark.zkey, snark.wtns).engine == "ints"  # small: ints by default
    p, q = write_pair(tmp_path, "ints", by_ints.proof, by_ints.public_signals)
    assert snarkjs_verify(snark.vk, q, p, tmp_path)
    # edge blinding (r = s = 0) and an unsatisfying witness: still the same points both ways
    w = limbs_to_ints(read_wtns(snark.wtns))
    w[-1] = (w[-1] + 1) % R
    for rr, ss, wit in ((0, 0, snark.wtns), (1, R - 1, w)):
        a = prove(snark.zkey, wit, r=rr, s=ss, kernels=False)
        assert a.proof == prove(snark.zkey, wit, r=rr, s=ss, kernels=True).proof
    assert not verify(load_vk(snark.vk), a.public_signals, a.proof)


def test_verify_path_loads_neither_numpy_nor_numba():
    code = ("import sys, prover.cli, prover.groth16\n"
            "from prover.groth16 import verify\n"
            "from prover.formats.snarkjs_json import load_vk, load_proof, load_public\n"
            "print(sorted(m for m in ('numpy', 'numba', 'py_ecc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_compile_prints_one_line_on_stderr(capfd):
    from numba import njit

    import prover.kernels.cpu  # noqa: F401 - installs the notice

    @njit  # no cache: compiles on this call
    def fresh_kernel(x):
        return x * 3 + np.int64(1)

    assert fresh_kernel(np.int64(2)) == 7
    err = capfd.readouterr().err
    assert err.count("compiling") == 1 and "fresh_kernel" in err
    fresh_kernel(np.int64(3))  # compiled: silent
    assert "compiling" not in capfd.readouterr().err
