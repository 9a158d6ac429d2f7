"""`powersoftau prepare phase2`: the Lagrange bases of sections 2-5 (snarkjs's sections 12-15).

For every domain of n = 2^p points (p = 0..power, and power + 1 for tauG1, whose missing last
monomial counts as infinity as in snarkjs), with T_j the section's points [x tau^j] and
w_n = 5^((r - 1)/n) (ntt.root_of_unity):
    [x L_i(tau)] = (1/n) sum_j w_n^(-ij) T_j          (an inverse FFT in the exponent)
Bit-reversal, then decimation-in-time stages, radix-2 then radix-4, whose twiddle products go
through the curve endomorphisms (phi on G1, psi on G2: kernels.cpu.group_fft, prover.glv)
and run in affine coordinates, many at once sharing inversions. The 1/n costs
one scalar multiplication per point of the largest domain 2^K only: V = T / 2^K, and a smaller
domain's inputs T_j / 2^p are V_j doubled K - p times. The output equals snarkjs's byte for
byte (affine points are unique).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numba
import numpy as np

from prover.constants import R
from prover.curves import G1, G2, CurveGroup
from prover.fields import Fq, Fq2
from prover.formats.ptau import PREPARED_ORDER, Ptau, read_ptau, write_ptau
from prover.glv import BETA_G1, PSI_CX, PSI_CY, decomposition_table
from prover.kernels.cpu import group_fft as kf
from prover.kernels.cpu import points as kp
from prover.ntt import root_of_unity

Progress = Callable[[str], None]


def dims(group: CurveGroup) -> int:
    """Sub-scalars per scalar: 2 on G1 (phi), 4 on G2 (psi)."""
    return 2 if group is G1 else 4


@lru_cache(maxsize=4)
def twiddles(k: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Decomposed w^(-j), j < 2^(k-1), for w the 2^k-th root of unity (w^0 included)."""
    w_inv = pow(root_of_unity(k), -1, R)
    vals, t = [], 1
    for _ in range(max(1, 1 << (k - 1))):
        vals.append(t)
        t = t * w_inv % R
    tw, neg = decomposition_table(vals, d)
    tw.flags.writeable = neg.flags.writeable = False
    return tw, neg


def endo_consts(group: CurveGroup) -> np.ndarray:
    """The kernel's constants of the group's endomorphism, Montgomery: [beta] or [c_x, c_y]."""
    if group is G1:
        return Fq.from_ints([BETA_G1])
    return Fq2.from_ints([PSI_CX, PSI_CY])


def chunk_rows(n: int, most: int = 256) -> int:
    """Rows per parallel task: a few tasks per thread for balance, at most `most`, and at least
    32 (each task's products share one inversion per step: tiny tasks would pay for it)."""
    return int(max(1, min(n, max(32, min(most, n // (2 * numba.get_num_threads()))))))


def radix2_stages(p: int) -> int:
    """Radix-2 stages before the radix-4 ones: 1 or 2, so that the radix-4 stages start at
    half m >= 2 (at m = 1 a radix-4 stage would cost more than two radix-2 ones)."""
    return min(p, 2 - p % 2)


def lagrange_bases(group: CurveGroup, points: np.ndarray, k: int,
                   progress: Progress | None = None) -> np.ndarray:
    """The bases of the domains 2^p, p = 0..k, concatenated (2^(k+1) - 1 affine points): domain
    2^p at rows 2^p - 1 .. 2^(p+1) - 2. points: the section, at least 2^k - 1 rows; a missing
    row 2^k - 1 is infinity."""
    n_top = 1 << k
    if len(points) < n_top - 1:
        raise ValueError(f"{len(points)} points for a domain of 2^{k}")
    tw, tw_neg = twiddles(max(k, 1), dims(group))
    endo = endo_consts(group)
    v = group.empty_jacobian(n_top)
    m = min(len(points), n_top)
    kp.arr_aff_to_jac(np.ascontiguousarray(points[:m]), v[:m])  # rows past m: Z = 0, infinity
    inv_k, inv_neg = decomposition_table([pow(n_top, -1, R)], dims(group))
    kf.mul_each(v, inv_k, inv_neg, endo, chunk_rows(n_top))
    work = group.empty_jacobian(n_top)
    out = group.empty_affine(2 * n_top - 1)
    for p in range(k, -1, -1):
        n = 1 << p
        if progress:
            progress(f"{group.name} domain 2^{p}")
        w = work[:n]
        kf.bit_reverse_copy(v[:n], w, p)
        for s in range(1, radix2_stages(p) + 1):
            kf.fft_stage(w, s - 1, tw, tw_neg, max(k, 1) - s, endo, chunk_rows(n // 2))
        for s in range(radix2_stages(p), p, 2):  # stages s + 1 and s + 2
            kf.fft_stage4(w, s, tw, tw_neg, max(k, 1), endo, chunk_rows(n // 4, 128))
        kf.to_affine(w, out[n - 1 : 2 * n - 1], max(64, chunk_rows(n) * 16))
        if p:
            kp.arr_double(v[: n // 2], v[: n // 2])
    return out


def prepare_phase2(p: Ptau, progress: Progress | None = None) -> Ptau:
    """The prepared file of `snarkjs powersoftau prepare phase2` (its header's ceremony power is
    the power, as snarkjs writes it)."""
    bases = {}
    for name, group, pts, k in (("lagrange_tau_g1", G1, p.tau_g1, p.power + 1),
                                ("lagrange_tau_g2", G2, p.tau_g2, p.power),
                                ("lagrange_alpha_tau_g1", G1, p.alpha_tau_g1, p.power),
                                ("lagrange_beta_tau_g1", G1, p.beta_tau_g1, p.power)):
        if progress:
            progress(name.replace("lagrange_", ""))
        bases[name] = lagrange_bases(group, pts, k, progress)
    return replace(p, ceremony_power=p.power, section_order=PREPARED_ORDER, **bases)


def prepare_file(src: str | os.PathLike, dst: str | os.PathLike,
                 progress: Progress | None = None) -> None:
    write_ptau(prepare_phase2(read_ptau(src), progress), dst)
