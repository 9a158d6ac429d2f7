"""Pippenger MSM against a naive sum with py_ecc, and against itself across windows and threads;
the GLV split, digits and endomorphism of its kernels against their clear versions."""

import random

import numpy as np
import py_ecc.optimized_bn128 as ob
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prover.constants import R
from prover.curves import G1, G2
from prover.errors import NonCanonicalError
from prover.fields import Fr, ints_to_limbs
from prover.glv import GLV_A, GLV_B, LAMBDA, split_floor
from prover.kernels.cpu import msm as kmsm
from prover.msm import (
    Scalars,
    add_msm,
    beta,
    choose_window,
    jit_kernels,
    msm_g1,
    msm_g2,
    msm_jacobian,
    n_windows,
    signed_digits_reference,
)
from prover.tasks import TaskGraph
from tests.support.pyecc_points import to_ints1, to_ints2


def naive(points, ks, zero):
    acc = zero
    for p, k in zip(points, ks, strict=True):
        if p is not None and k % R:
            acc = ob.add(acc, ob.multiply(p, k % R))
    return acc


def ref_points(gen, ks):
    return [ob.multiply(gen, k) if k % R else None for k in ks]


EDGE_SCALARS = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 1 << 253, (1 << 128) + 1]


@pytest.mark.parametrize("window", [None, 2, 3, 4, 7, 10])
def test_g1_edges_against_py_ecc(window):
    rng = random.Random(11)
    pts = ref_points(ob.G1, [rng.randrange(1, R) for _ in range(6)])
    # repeated bases, a point and its negation, the point at infinity as a base
    pts = pts + [pts[0], pts[0], ob.neg(pts[1]), None]
    ks = [rng.randrange(R) for _ in pts]
    ks[: len(EDGE_SCALARS)] = EDGE_SCALARS[: len(ks)]
    ks[6], ks[7] = ks[0], ks[0]
    A = G1.from_ints([to_ints1(p) if p is not None else None for p in pts])
    got = G1.to_ints(msm_g1(A, ks, window=window)[None])[0]
    want = to_ints1(naive(pts, ks, ob.Z1))
    assert got == want


def test_g1_cancellation_and_trivial_sizes():
    P = to_ints1(ob.multiply(ob.G1, 12345))
    A = G1.from_ints([P, P])
    # k P + (r - k) P = infinity
    assert G1.to_ints(msm_g1(A, [7, R - 7])[None]) == [None]
    assert G1.to_ints(msm_g1(A, [0, 0])[None]) == [None]
    assert G1.to_ints(msm_g1(G1.empty_affine(0), [])[None]) == [None]
    assert G1.to_ints(msm_g1(A[:1], [R - 1])[None]) == [to_ints1(ob.multiply(ob.G1, R - 12345))]
    assert G1.to_ints(msm_g1(A[:1], [1])[None]) == [P]


def test_repeated_base_many_times():
    """All points equal with equal digits: every addition hits the same bucket (the overflow
    accumulator and the doubling branch of the batch-affine addition)."""
    n = 300
    A = np.repeat(G1.generator()[None], n, axis=0)
    for ks in ([5] * n, [R - 1] * n, list(range(n))):
        got = G1.to_ints(msm_g1(A, ks, window=4)[None])[0]
        assert got == to_ints1(ob.multiply(ob.G1, sum(ks) % R))


@given(
    ks=st.lists(st.integers(0, R - 1), min_size=1, max_size=12),
    window=st.sampled_from([None, 2, 5, 9]),
)
def test_property_g1(ks, window):
    rng = random.Random(len(ks))
    pts = ref_points(ob.G1, [rng.randrange(1, R) for _ in ks])
    A = G1.from_ints([to_ints1(p) for p in pts])
    got = G1.to_ints(msm_g1(A, ks, window=window)[None])[0]
    assert got == to_ints1(naive(pts, ks, ob.Z1))


def test_g2_against_py_ecc():
    rng = random.Random(12)
    pts = ref_points(ob.G2, [rng.randrange(1, R) for _ in range(5)])
    pts = pts + [pts[0], ob.neg(pts[1]), None]
    ks = [rng.randrange(R) for _ in pts]
    ks[0], ks[1], ks[2] = 0, R - 1, 1
    A = G2.from_ints([to_ints2(p) if p is not None else None for p in pts])
    for window in (None, 3, 6):
        got = G2.to_ints(msm_g2(A, ks, window=window)[None])[0]
        assert got == to_ints2(naive(pts, ks, ob.Z2))


def test_scalar_forms_agree():
    rng = random.Random(13)
    n = 64
    A = G1.random_points(n, seed=3)
    ks = [rng.randrange(R) for _ in range(n)]
    from_ints = msm_g1(A, ks)
    std = msm_g1(A, ints_to_limbs(ks), scalar_form="standard")
    mont = msm_g1(A, Fr.from_ints(ks), scalar_form="montgomery")
    assert np.array_equal(from_ints, std) and np.array_equal(std, mont)
    with pytest.raises(NonCanonicalError):
        msm_g1(A[:1], ints_to_limbs([R]), scalar_form="standard")
    with pytest.raises(ValueError):
        msm_g1(A, ks[:-1])


def test_larger_n_consistent_across_windows_and_threads():
    n = 3000
    A = G1.random_points(n, seed=4)
    rng = np.random.default_rng(5)
    k = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)
    k[:, 3] &= np.uint64((1 << 61) - 1)  # < 2^253 < r
    base = msm_g1(A, k, window=choose_window(n))
    for window, threads in ((6, 1), (9, 2), (13, 1), (16, 2)):
        assert np.array_equal(msm_g1(A, k, window=window, threads=threads), base)
    # and against an independent route: sum of scalar multiplications with the curve kernels
    part = slice(0, 40)
    ints = [int.from_bytes(k[i].tobytes(), "little") for i in range(40)]
    direct = G1.to_affine(G1.mul(A[part], ints))
    acc = G1.to_jacobian(direct[:1])
    for i in range(1, 40):
        acc = G1.add_mixed(acc, direct[i : i + 1])
    assert np.array_equal(G1.to_affine(acc)[0], msm_g1(A[part], k[part]))


@given(k=st.integers(0, (1 << 254) - 1), c=st.integers(2, 20))
def test_signed_digits_recompose(k, c):
    from math import ceil

    from prover.kernels.cpu.msm import signed_digits

    nw = ceil(255 / c)
    d = signed_digits(ints_to_limbs([k]), c, nw)[:, 0]
    assert sum(int(x) << (c * w) for w, x in enumerate(d)) == k
    half = 1 << (c - 1)
    assert all(-half < int(x) <= half for x in d)
    assert list(d) == signed_digits_reference(k, c, nw)


# --- the GLV split, digits and phi of the kernels -----------------------------------------------

GLV_EDGES = [0, 1, 2, R - 1, R - 2, LAMBDA, R - LAMBDA, LAMBDA + 1, (R - 1) // 2, 1 << 253,
             (1 << 127) - 1, 1 << 127, (1 << 128) + 1, GLV_B[0], GLV_A[1]]


@given(k=st.one_of(st.sampled_from(GLV_EDGES), st.integers(0, R - 1)))
def test_glv_split_kernel_is_the_clear_split(k):
    (m0, s0), (m1, s1) = kmsm.glv_split(tuple(np.uint64(x) for x in ints_to_limbs([k])[0]))
    k0 = s0 * int.from_bytes(np.array(m0, dtype=np.uint64).tobytes(), "little")
    k1 = s1 * int.from_bytes(np.array(m1, dtype=np.uint64).tobytes(), "little")
    assert (k0, k1) == split_floor(k)
    assert (k0 + k1 * LAMBDA - k) % R == 0
    assert abs(k0) < 1 << 128 and abs(k1) < 1 << 128


@pytest.mark.parametrize("c_bits", [2, 5, 13, 16])
def test_scalar_digits_recompose_in_both_forms(c_bits):
    """GLV digits: sum d0 2^(cw) + LAMBDA sum d1 2^(cw) = k; without the split, the digits of
    the kernel's signed recoding (signed_digits_reference). Plain and Montgomery scalars."""
    rng = random.Random(c_bits)
    ks = GLV_EDGES + [rng.randrange(R) for _ in range(20)]
    half = 1 << (c_bits - 1)
    for k, mont in ((ints_to_limbs(ks), False), (Fr.from_ints(ks), True)):
        nw = n_windows(c_bits)
        d0 = np.empty((nw, len(ks)), dtype=np.int32)
        d1 = np.empty_like(d0)
        kmsm.scalar_digits(k, mont, True, c_bits, d0, d1)
        assert np.all(np.abs(d0) <= half) and np.all(np.abs(d1) <= half)
        for i, want in enumerate(ks):
            k0 = sum(int(d0[w, i]) << (c_bits * w) for w in range(nw))
            k1 = sum(int(d1[w, i]) << (c_bits * w) for w in range(nw))
            assert (k0 + k1 * LAMBDA - want) % R == 0
        nw = n_windows(c_bits, glv=False)
        d = np.empty((nw, len(ks)), dtype=np.int32)
        kmsm.scalar_digits(k, mont, False, c_bits, d, d)
        for i, want in enumerate(ks):
            assert list(d[:, i]) == signed_digits_reference(want, c_bits, nw)


@pytest.mark.parametrize("group", [G1, G2], ids=["G1", "G2"])
def test_with_and_without_the_glv_split(group):
    """Both digit paths on edge scalars (0, 1, r - 1, LAMBDA, ...), repeated and infinite
    bases, against one another and against the clear sum of scalar multiples."""
    rng = random.Random(16)
    n = 24
    P = group.random_points(n, seed=7)
    P[4] = 0
    P[5] = P[6]
    ks = (GLV_EDGES + [rng.randrange(R) for _ in range(n)])[:n]
    want = group.to_affine(group.mul(P, ks))
    acc = group.to_jacobian(want[:1])
    for i in range(1, n):
        acc = group.add_mixed(acc, want[i : i + 1])
    want = group.to_affine(acc)[0]
    for glv in (True, False):
        for window in (None, 3, 7):
            got = msm_jacobian(group, P, ks, glv=glv, window=window)
            assert np.array_equal(group.to_affine(got[None])[0], want), (glv, window)


@pytest.mark.parametrize("group", [G1, G2], ids=["G1", "G2"])
def test_phi_is_lambda(group):
    P = group.random_points(5, seed=9)
    P[2] = 0  # the point at infinity stays itself
    x = np.empty_like(P[:, 0])  # phi_points gives the x of phi(P); its y is P's
    kmsm.phi_points(P, beta(group.degree), x)
    want = group.to_affine(group.mul(P, [LAMBDA] * 5))
    assert np.array_equal(x, want[:, 0]) and np.array_equal(P[:, 1], want[:, 1])


def test_montgomery_scalars_with_an_offset_share_digits():
    """Two MSMs on one graph, one over a suffix of the scalars (as C over the witness), against
    separate MSMs with plain scalars."""
    rng = random.Random(14)
    n, first = 40, 7
    P, Q = G1.random_points(n, seed=1), G2.random_points(n - first, seed=2)
    ks = [rng.randrange(R) for _ in range(n)]
    ks[3], ks[9], ks[10] = 0, R - 1, ks[11]
    shared = Scalars(Fr.from_ints(ks), montgomery=True)
    graph = TaskGraph()
    k = jit_kernels()
    whole = add_msm(graph, k, 1, P, shared, window=5)
    tail = add_msm(graph, k, 2, Q, shared, first, window=5)
    graph.run(2)
    assert sum(t.label == "msm digits" for t in graph.tasks) == 1
    assert np.array_equal(G1.to_affine(whole()[None])[0], msm_g1(P, ks))
    assert np.array_equal(G2.to_affine(tail()[None])[0], msm_g2(Q, ks[first:]))
    with pytest.raises(ValueError):
        add_msm(TaskGraph(), k, 1, P[:5], shared)


def test_cpu_overlapped_h_and_msms_match_one_after_another():
    """CpuBackend runs H and the five MSMs as one task graph; the base class runs them in
    sequence; both against H from plain ints (prover.pure) and MSMs taken one by one."""
    from prover.backend import Backend, CpuBackend
    from prover.groth16.prove import odd_shift
    from prover.msm import MsmJob
    from prover.pure.ntt import to_odd_points

    rng = random.Random(15)
    n, first = 16, 3
    a, b, c = ([rng.randrange(R) for _ in range(n)] for _ in range(3))
    w = [1] + [rng.randrange(R) for _ in range(n - 1)]
    w[5] = R - 1
    wl = ints_to_limbs(w)
    jobs = {"A": MsmJob(1, G1.random_points(n, seed=3), wl),
            "B2": MsmJob(2, G2.random_points(n, seed=4), wl),
            "C": MsmJob(1, G1.random_points(n - first, seed=5), wl, first)}
    hb = G1.random_points(n, seed=6)
    p = [(x * y - z) % R for x, y, z in zip(*(to_odd_points(v) for v in (a, b, c)), strict=True)]
    want = {"A": msm_g1(jobs["A"].bases, w), "B2": msm_g2(jobs["B2"].bases, w),
            "C": msm_g1(jobs["C"].bases, w[first:]), "H": msm_g1(hb, p)}
    be = CpuBackend()
    for run in (be.h_and_msms, lambda *args: Backend.h_and_msms(be, *args)):
        arrays = [Fr.from_ints(v) for v in (a, b, c)]
        got, work = run(jobs, *arrays, odd_shift(n), hb)
        assert Fr.to_ints(arrays[0]) == p  # A*B - C left in a
        for name, pt in want.items():
            group = G2 if name == "B2" else G1
            assert np.array_equal(group.to_affine(got[name][None])[0], pt), name
        assert {"H (NTTs)", "MSM A (G1)", "MSM B2 (G2)", "MSM C (G1)", "MSM H (G1)"} <= set(work)
