"""The native kernel library against the Numba kernels it is compiled from, and against py_ecc
on edge inputs; the proof it makes; its fallbacks; a native proof never loads Numba."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import py_ecc.optimized_bn128 as ob
import pytest

from prover.backend import BackendUnavailable, CpuBackend
from prover.constants import R
from prover.curves import G1, G2
from prover.fields import Fr, ints_to_limbs
from prover.kernels import native
from prover.msm import (
    batch_size,
    beta,
    jit_kernels,
    mont_tuple,
    msm_jacobian,
    n_windows,
    workspace,
)
from prover.ntt import twiddles
from tests.support.pyecc_points import to_ints1, to_ints2
from tests.support.snark import tiny_key

GROUPS = [pytest.param(G1, id="G1"), pytest.param(G2, id="G2")]


@pytest.fixture(scope="module")
def nat():
    k = native.load()
    assert k is not None, native.unavailable_reason()
    return k


def test_each_kernel_matches_its_numba_twin(nat):
    jit = jit_kernels()
    rng = random.Random(21)
    n = 48
    ks = [0, 1, R - 1, R - 2] + [rng.randrange(R) for _ in range(n - 4)]
    k = Fr.from_ints(ks)
    c = 5
    nw, b = n_windows(c), batch_size(c)

    def both(run):
        return [run(kset) for kset in (nat, jit)]

    def digits(kset):
        d = np.zeros((nw, n), np.int32), np.zeros((nw, n), np.int32)
        kset.scalar_digits(k, True, True, c, *d)
        return np.concatenate(d)

    got, want = both(digits)
    assert np.array_equal(got, want)
    d0, d1 = np.zeros((nw, n), np.int32), np.zeros((nw, n), np.int32)
    jit.scalar_digits(k, True, True, c, d0, d1)
    for group in (G1, G2):
        P = group.random_points(n, seed=group.degree)
        P[3] = 0  # infinity among the bases
        P[7] = P[6]  # a repeated base

        def phi(kset, P=P, group=group):
            out = np.zeros_like(P[:, 0])
            kset.phi_points(P, beta(group.degree), out)
            return out

        got, want = both(phi)
        assert np.array_equal(got, want)

        def windows(kset, P=P, group=group, phi_p=want):
            out = group.empty_jacobian(nw)
            for w in range(nw):
                kset.window_task(P, phi_p, d0, d1, w, 0, n, c, b, out,
                                 *workspace(c, b, group.degree))
            summed = group.empty_jacobian(1)
            kset.combine_windows(out, c, summed)
            return np.concatenate([out, summed])

        got, want = both(windows)
        assert np.array_equal(got, want)

    x, y, z = (Fr.from_ints([rng.randrange(R) for _ in range(16)]) for _ in range(3))

    def h(kset):
        a, bb, cc = x.copy(), y.copy(), z.copy()
        kset.odd_points(a, twiddles(4, True), twiddles(4, False),
                        mont_tuple(pow(16, -1, R), R), mont_tuple(7, R))
        kset.mul_sub(a, bb, cc)
        prod = np.zeros_like(a)
        kset.mul_rows(x, y, prod, 2, 16)
        pw = np.zeros((9, 4), np.uint64)
        kset.powers(mont_tuple(5, R), 9, pw)
        return np.concatenate([a, prod, pw])

    got, want = both(h)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("group", GROUPS)
def test_native_msm_edges_against_py_ecc(nat, group):
    """Zero scalars, r - 1, repeated bases, a base and its negation, the point at infinity."""
    gen, to_ints = (ob.G1, to_ints1) if group is G1 else (ob.G2, to_ints2)
    zero = ob.Z1 if group is G1 else ob.Z2
    rng = random.Random(22)
    pts = [ob.multiply(gen, rng.randrange(1, R)) for _ in range(6)]
    pts += [pts[0], pts[0], ob.neg(pts[1]), None]
    ks = [0, R - 1, 1, R - 2, (R - 1) // 2, 1 << 253, 5, 5, rng.randrange(R), rng.randrange(R)]
    bases = group.from_ints([to_ints(p) if p is not None else None for p in pts])
    want = zero
    for p, k in zip(pts, ks, strict=True):
        if p is not None and k:
            want = ob.add(want, ob.multiply(p, k))
    for window, glv in ((None, True), (3, True), (None, False), (4, False)):
        got = msm_jacobian(group, bases, ints_to_limbs(ks), window=window, kernels=nat, glv=glv)
        assert group.to_ints(group.to_affine(got[None]))[0] == to_ints(want)


@pytest.fixture(scope="module")
def square(tmp_path_factory):
    """x * x = y, y public: a key from our development setup and the witness (1, 9, 3)."""
    from prover.formats.wtns import write_wtns

    d = tmp_path_factory.mktemp("square")
    write_wtns(d / "w.wtns", [1, 9, 3])
    return tiny_key(d / "k.zkey", 1), d / "w.wtns"


def test_native_proof_is_the_numba_proof(nat, square):
    from prover.groth16 import prove, verify
    from prover.groth16.keys import verification_key

    zkey, wtns = square
    by = {n: prove(zkey, wtns, r=11, s=13, kernels=True, native=n) for n in (True, False)}
    assert by[True].proof == by[False].proof
    assert by[True].device.startswith("CPU, native") and by[False].device.startswith("CPU, Numba")
    assert verify(verification_key(zkey), [9], by[True].proof)


def test_unavailable_library_falls_back_to_numba(tmp_path, monkeypatch):
    from prover.kernels.cpu import native_build

    def no_linker():
        raise RuntimeError("no linker (cc, gcc, clang or ld) on PATH")

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("ZKPROVE_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setattr(native_build, "_linker", no_linker)
    assert native.load() is None
    assert "no linker" in native.unavailable_reason()
    assert list(tmp_path.glob("*.failed"))  # remembered: later processes do not rebuild
    assert not CpuBackend().native
    with pytest.raises(BackendUnavailable, match="no linker"):
        CpuBackend(native=True)
    monkeypatch.setattr(native, "_state", {})  # a later process: the marker, not a new build
    monkeypatch.setattr(native_build, "build_library", None)
    assert native.load() is None
    assert "no linker" in native.unavailable_reason()
    assert "delete it to try again" in native.unavailable_reason()
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("ZKPROVE_NATIVE", "0")
    assert native.load() is None and native.unavailable_reason() == "ZKPROVE_NATIVE=0"


def test_a_native_proof_never_imports_numba(nat, square):
    """A fresh process proves on the CPU (native) and leaves Numba and llvmlite unloaded."""
    zkey, wtns = square
    script = (
        "import sys\n"
        "from prover.groth16 import prove\n"
        f"res = prove({str(zkey)!r}, {str(wtns)!r}, kernels=True)\n"
        "print(res.device, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numba', 'llvmlite')))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == f"CPU, native kernels ({CpuBackend().threads} threads) []"


def test_native_pairing_product_agrees_with_plain_ints(nat):
    from prover.pure.pairing import pairing_product_is_one

    a, b = 1234567, 7654321
    P, Qb = to_ints1(ob.multiply(ob.G1, a)), to_ints2(ob.multiply(ob.G2, b))
    minus_ab = to_ints1(ob.neg(ob.multiply(ob.G1, a * b)))
    for pairs in ([(P, Qb), (minus_ab, to_ints2(ob.G2))],  # e(aG, bH) e(-abG, H) = 1
                  [(P, Qb), (minus_ab, to_ints2(ob.G2)), (None, Qb)],  # infinity adds 1
                  [(P, Qb), (P, to_ints2(ob.G2))],  # != 1
                  []):
        assert nat.pairing_product_is_one(pairs) == pairing_product_is_one(pairs)
    assert nat.pairing_product_is_one([(P, Qb), (minus_ab, to_ints2(ob.G2))])


def test_small_proofs_move_to_the_native_library_once_it_is_built(nat, monkeypatch):
    """auto/cpu prove on ints up to SMALL_DOMAIN_NATIVE rows when the library loads, up to
    SMALL_DOMAIN when it does not (the Numba kernels cost ~1 s to load); never ints on CUDA."""
    from types import SimpleNamespace

    from prover.groth16.prove import uses_kernels
    from prover.groth16.prove_ints import SMALL_DOMAIN, SMALL_DOMAIN_NATIVE

    def key(n):
        return SimpleNamespace(domain_size=n)

    for name in ("cpu", "auto"):
        assert not uses_kernels(key(SMALL_DOMAIN_NATIVE), name)
        assert uses_kernels(key(2 * SMALL_DOMAIN_NATIVE), name)
    assert uses_kernels(key(8), "cuda") and not uses_kernels(key(1 << 12), "cpu", kernels=False)
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("ZKPROVE_NATIVE", "0")
    assert not uses_kernels(key(SMALL_DOMAIN), "auto")
    assert uses_kernels(key(2 * SMALL_DOMAIN), "auto")
