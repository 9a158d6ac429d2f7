"""Multi-scalar multiplication sum_i k_i P_i over G1 or G2 (affine bases), on the CPU.

Scalars come in one of three explicit forms, because the prover meets all of them: Python ints
(reduced mod r), an Fr limb array in standard form (a .wtns witness), or an Fr limb array in
Montgomery form (our own field arrays; zkey coefficient sections). Standard-form limb arrays must be
canonical (< r), else NonCanonicalError.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Literal

import numba
import numpy as np

from prover.constants import R
from prover.curves import G1, G2, CurveGroup
from prover.fields import Fr, ints_to_limbs
from prover.kernels.cpu import msm as kmsm

ScalarForm = Literal["standard", "montgomery"]

SCALAR_BITS = R.bit_length()  # 254


# Cost model of one window, in ns measured on this code (2-core EPYC): a batch-affine bucket
# addition, one field inversion shared by a batch, and the two Jacobian additions per bucket of
# the window sum.
_ADD_NS, _INV_NS, _BUCKET_NS = 250.0, 13_000.0, 1_000.0


# Buckets of one window should stay in a core's L2 (512 KiB here): at 2^20 points, c = 16 with
# 2 MiB of G1 buckets measured 7.6 s against 4.1 s for c = 14.
_BUCKET_BYTES_MAX = 512 * 1024


def choose_window(n: int, point_bytes: int = 64) -> int:
    """Window size c minimizing W(c) * (n * (add + inv / B(c)) + 2^(c-1) * bucket),
    with W = ceil(255 / c) windows and B(c) the batch size, among the c whose 2^(c-1) affine
    buckets of `point_bytes` each fit in L2."""
    if n <= 1:
        return 2
    best, best_c = math.inf, 2
    for cb in range(2, 21):
        if (1 << (cb - 1)) * point_bytes > _BUCKET_BYTES_MAX:
            break
        per_point = _ADD_NS + _INV_NS / batch_size(cb)
        cost = math.ceil((SCALAR_BITS + 1) / cb) * (n * per_point + (1 << (cb - 1)) * _BUCKET_NS)
        if cost < best:
            best, best_c = cost, cb
    return best_c


def signed_digits_reference(k: int, c_bits: int, n_windows: int) -> list[int]:
    """The clear version of the kernel's signed-digit recoding (for tests)."""
    out, carry, half = [], 0, 1 << (c_bits - 1)
    for w in range(n_windows):
        d = ((k >> (c_bits * w)) & ((1 << c_bits) - 1)) + carry
        carry = int(d > half)
        out.append(d - (carry << c_bits))
    return out


def batch_size(c_bits: int) -> int:
    """Additions sharing one inversion. An inversion (~380 products) costs I/B per addition; a
    point whose bucket is already in the batch (probability ~B/(2 nb)) pays a mixed Jacobian
    addition instead (~5 products more). The sum is smallest near B = sqrt(150 nb)."""
    nb = 1 << (c_bits - 1)
    return int(min(2048, max(16, math.isqrt(150 * nb))))


def plain_scalars(scalars, scalar_form: ScalarForm = "standard") -> np.ndarray:
    """Scalars as canonical plain (non-Montgomery) uint64 limbs, shape (n, 4)."""
    if isinstance(scalars, np.ndarray):
        k = np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4)
        if scalar_form == "montgomery":
            return Fr.from_montgomery(k)
        if scalar_form != "standard":
            raise ValueError("scalar_form must be 'standard' or 'montgomery'")
        Fr.check_canonical(k)
        return k
    return ints_to_limbs([int(s) % R for s in scalars])


@contextmanager
def _threads(n: int | None):
    if n is None:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def msm_jacobian(
    group: CurveGroup,
    bases: np.ndarray,
    scalars: np.ndarray | Sequence[int],
    *,
    scalar_form: ScalarForm = "standard",
    window: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """sum_i k_i P_i as one Jacobian point, shape (3, 4) for G1 or (3, 2, 4) for G2."""
    pts = group._rows(bases, 2)
    k = plain_scalars(scalars, scalar_form)
    if len(k) != len(pts):
        raise ValueError(f"{len(pts)} bases but {len(k)} scalars")
    out = group.empty_jacobian(1)
    if len(pts) == 0:
        return out[0]  # Z = 0: infinity
    c_bits = window or choose_window(len(pts), pts[0].nbytes if len(pts) else 64)
    if not 2 <= c_bits <= 24:
        raise ValueError("window size must be in 2..24")
    n_windows = math.ceil((SCALAR_BITS + 1) / c_bits)
    with _threads(threads):
        digits = kmsm.signed_digits(k, c_bits, n_windows)
        windows = group.empty_jacobian(n_windows)
        kmsm.msm_windows(pts, digits, c_bits, batch_size(c_bits), windows)
    kmsm.combine_windows(windows, c_bits, out)
    return out[0]


def msm(group: CurveGroup, bases, scalars, **kw) -> np.ndarray:
    """sum_i k_i P_i as an affine point ((2, 4) for G1, (2, 2, 4) for G2; (0, 0) = infinity)."""
    return group.to_affine(msm_jacobian(group, bases, scalars, **kw)[None])[0]


def msm_g1(bases, scalars, **kw) -> np.ndarray:
    return msm(G1, bases, scalars, **kw)


def msm_g2(bases, scalars, **kw) -> np.ndarray:
    return msm(G2, bases, scalars, **kw)
