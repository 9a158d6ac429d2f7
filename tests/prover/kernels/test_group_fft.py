"""The GLV decomposition, the group FFT kernels and the BLAKE2b kernel, each against a clear
reference (double-and-add, the Lagrange polynomials evaluated in Fr, hashlib)."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prover.constants import Q, R
from prover.curves import G1, G2
from prover.glv import (
    BETA_G1,
    BETA_G2,
    GLV_A,
    GLV_B,
    LAMBDA,
    MU,
    PSI_CX,
    PSI_CY,
    decompose,
    decompose4,
    decomposition_table,
)
from prover.kernels.cpu import group_fft as kf
from prover.ntt import root_of_unity
from prover.powersoftau.lagrange import dims, endo_consts, lagrange_bases
from prover.powersoftau.transcript import NobleBlake2b
from prover.pure import curve as pure

GROUPS = [pytest.param(G1, id="G1"), pytest.param(G2, id="G2")]


def test_cube_roots_pair_with_lambda():
    assert (LAMBDA * LAMBDA + LAMBDA + 1) % R == 0
    assert pow(BETA_G1, 3, Q) == pow(BETA_G2, 3, Q) == 1 != BETA_G1 != BETA_G2
    (x, y), = G1.to_ints(G1.random_points(1, seed=5))
    assert G1.to_ints(G1.to_affine(G1.mul(G1.from_ints([(x, y)]), [LAMBDA]))) == [
        (x * BETA_G1 % Q, y)]
    ((x0, x1), y2), = G2.to_ints(G2.random_points(1, seed=5))
    assert G2.to_ints(G2.to_affine(G2.mul(G2.from_ints([((x0, x1), y2)]), [LAMBDA]))) == [
        ((x0 * BETA_G2 % Q, x1 * BETA_G2 % Q), y2)]


def test_psi_is_mu_on_g2():
    """psi(x, y) = (conj(x) c_x, conj(y) c_y) is multiplication by MU = q mod r on G2."""
    assert MU == Q % R and (MU**4 - MU**2 + 1) % R == 0

    def mul(a, b):
        return ((a[0] * b[0] - a[1] * b[1]) % Q, (a[0] * b[1] + a[1] * b[0]) % Q)

    ((x0, x1), (y0, y1)), = G2.to_ints(G2.random_points(1, seed=9))
    psi = (mul((x0, Q - x1), PSI_CX), mul((y0, Q - y1), PSI_CY))
    P = G2.from_ints([((x0, x1), (y0, y1))])
    assert G2.to_ints(G2.to_affine(G2.mul(P, [MU]))) == [psi]


@given(st.integers(min_value=0, max_value=2 * R))
def test_decompositions_are_short_and_exact(k):
    k1, k2 = decompose(k)
    assert (k1 + k2 * LAMBDA - k) % R == 0
    assert abs(k1) < 1 << 127 and abs(k2) < 1 << 127
    parts = decompose4(k)
    assert sum(v * pow(MU, d, R) for d, v in enumerate(parts)) % R == k % R
    assert max(abs(v) for v in parts) < 1 << 66


@pytest.mark.parametrize("group", GROUPS)
def test_mul_each_matches_double_and_add(group):
    rng = random.Random(7)
    scalars = [0, 1, 2, R - 1, LAMBDA, (R - 1) // 2, *(rng.randrange(R) for _ in range(9))]
    pts = group.random_points(len(scalars), seed=11)
    pts[3] = 0  # the point at infinity
    k, neg = decomposition_table(scalars, dims(group))
    jac = group.to_jacobian(pts)
    kf.mul_each(jac, k, neg, endo_consts(group), 4)
    assert np.array_equal(group.to_affine(jac), group.to_affine(group.mul(pts, scalars)))
    jac = group.to_jacobian(pts)  # one constant for every row
    kf.mul_each(jac, k[-1:], neg[-1:], endo_consts(group), 3)
    assert np.array_equal(group.to_affine(jac),
                          group.to_affine(group.mul(pts, [scalars[-1]] * len(scalars))))


@pytest.mark.adversarial
def test_products_meeting_a_table_point_take_the_jacobian_path():
    """k0 + k1 LAMBDA = 0 with k0, k1 odd (a lattice vector): the last addition of the affine
    run adds -acc (x_T = x, 2 delta = 0); with k1 - 6 it adds acc itself (delta = -3, the
    last NAF digit). Both must come out as the group computes them, like every delta near."""
    x, y = GLV_A[1], GLV_B[1]  # the second row of the lattice basis
    assert (x + y * LAMBDA) % R == 0 and x & y & 1
    rows = [(x, y + 2 * delta) for delta in range(-8, 9)]
    k = np.array([[a & (2**64 - 1), a >> 64, b & (2**64 - 1), b >> 64] for a, b in rows],
                 dtype=np.uint64)
    neg = np.zeros((len(rows), 2), dtype=np.uint8)
    pts = np.repeat(G1.random_points(1, seed=13), len(rows), 0)
    jac = G1.to_jacobian(pts)
    kf.mul_each(jac, k, neg, endo_consts(G1), 8)
    want = G1.mul(pts, [(a + b * LAMBDA) % R for a, b in rows])
    assert np.array_equal(G1.to_affine(jac), G1.to_affine(want))
    assert G1.to_ints(G1.to_affine(jac))[8] is None  # delta = 0: the point at infinity


def lagrange_at(tau: int, n: int) -> list[int]:
    """L_i(tau) over the n-th roots of unity: w^i (tau^n - 1) / (n (tau - w^i))."""
    w = root_of_unity(n.bit_length() - 1)
    c = (pow(tau, n, R) - 1) * pow(n, -1, R) % R
    return [pow(w, i, R) * c * pow(tau - pow(w, i, R), -1, R) % R for i in range(n)]


@pytest.mark.parametrize("group, k", [pytest.param(G1, 4, id="G1"), pytest.param(G2, 3, id="G2")])
def test_lagrange_bases_are_the_polynomials_at_tau(group, k):
    """[x tau^j] in, [x L_i(tau)] out for every domain 2^0 .. 2^k."""
    tau, x = 0x1234567890ABCDEF1234567890ABCDEF, 987654321
    n = 1 << k
    base = group.to_affine(group.mul(group.generator()[None], [x]))
    powers = group.to_affine(group.mul(np.repeat(base, n, 0), [pow(tau, j, R) for j in range(n)]))
    out = lagrange_bases(group, powers, k)
    for p in range(k + 1):
        want = group.mul(np.repeat(base, 1 << p, 0), lagrange_at(tau, 1 << p))
        assert np.array_equal(out[(1 << p) - 1 : (2 << p) - 1], group.to_affine(want)), p


def test_lagrange_bases_without_the_last_power():
    """tauG1's largest domain: 2^k - 1 powers in the file, the last counts as infinity."""
    k, n, tau = 3, 8, 77
    g = G1.generator()[None]
    powers = G1.to_affine(G1.mul(np.repeat(g, n - 1, 0), [pow(tau, j, R) for j in range(n - 1)]))
    out = lagrange_bases(G1, powers, k)[n - 1 :]
    w_inv = pow(root_of_unity(k), -1, R)
    coeffs = [sum(pow(w_inv, i * j, R) * pow(tau, j, R) for j in range(n - 1)) * pow(n, -1, R)
              for i in range(n)]
    assert np.array_equal(out, G1.to_affine(G1.mul(np.repeat(g, n, 0), coeffs)))


@pytest.mark.adversarial
@pytest.mark.parametrize("group, k", [pytest.param(G1, 5, id="G1"), pytest.param(G2, 4, id="G2")])
def test_lagrange_bases_with_points_at_infinity(group, k):
    """Rows at infinity in a section (degenerate input) through the radix-2 and radix-4
    stages, odd and even domains: domain 2^p is (1/n) sum_j w^(-ij) P_j by plain-int MSMs."""
    n = 1 << k
    pts = group.random_points(n, seed=21)
    for j in (0, 3, 6, 7, 12):
        pts[j] = 0
    out = lagrange_bases(group, pts, k)
    ints = group.to_ints(pts)
    pg = pure.G1 if group is G1 else pure.G2
    for p in range(k + 1):
        m = 1 << p
        w_inv, inv_m = pow(root_of_unity(p), -1, R), pow(m, -1, R)
        want = [pg.to_affine(pure.msm(pg, ints[:m], [pow(w_inv, i * j, R) * inv_m % R
                                                      for j in range(m)]))
                for i in range(m)]
        assert group.to_ints(out[m - 1 : 2 * m - 1]) == want, p


@pytest.mark.parametrize("sizes", [[0], [1], [127], [128], [129], [64, 64, 128, 32],
                                   [200, 56, 1000, 128, 256, 3]])
def test_blake2b_state_digests_like_hashlib(sizes):
    rng = random.Random(sum(sizes))
    h, ref = NobleBlake2b(), hashlib.blake2b(digest_size=64)
    for s in sizes:
        data = bytes(rng.randrange(256) for _ in range(s))
        h.update(data)
        ref.update(data)
    assert h.digest() == ref.digest()
    resumed = NobleBlake2b.from_partial(h.partial())
    assert resumed.digest() == ref.digest()
    tail = b"after the partial hash"
    ref.update(tail)
    assert resumed.update(tail).digest() == ref.digest()


def test_cached_signatures_counts_compiled_code(tmp_path, monkeypatch):
    """What the first-use notice reads: 0 before the first call of a fresh kernel, then 1."""
    import importlib

    from prover.kernels.cpu.cache import cached_signatures, needs_compiling

    (tmp_path / "fresh_kernel.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("fresh_kernel")
    assert cached_signatures(mod.double) == 0 and needs_compiling([(mod.double, 1)])
    assert mod.double(21) == 42
    assert cached_signatures(mod.double) == 1 and not needs_compiling([(mod.double, 1)])
