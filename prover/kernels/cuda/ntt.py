"""Radix-2 NTT over Fr on the device, in place on (n, 4) Montgomery arrays, plus the coset and
pointwise steps of the H computation, so the data stays on the device between them.

Same transform and conventions as `kernels/cpu/ntt.py`: A_j = sum_i a_i w^(ij), computed as a
bit-reversal permutation followed by log2(n) decimation-in-time stages; stage s joins blocks of
half-size m = 2^s with butterflies (u, v) -> (u + t v, u - t v), t = w^(pos * n/(2m)), read from
one device table of w^j (j < n/2). One kernel launch per stage, one thread per butterfly: each
stage reads and writes the whole array once (global memory bound).

A faster design keeps several stages in shared memory per launch (radix 2^k blocks of 2^10-2^12
elements, as the CPU's cache-local stages do), leaving about log2(n)/10 passes over global memory
instead of log2(n); not done here.
"""

from __future__ import annotations

import numpy as np
from numba import cuda, types

from prover.kernels.cpu import ntt as cpu_ntt
from prover.kernels.cpu.fr import fr_mul as cpu_fr_mul
from prover.kernels.cuda import field as f
from prover.kernels.cuda import memory as mem
from prover.kernels.cuda.compile import ARR_FR, kernel
from prover.kernels.cuda.fr import fr_add, fr_mul, fr_sub, mul_sub_kernel
from prover.ntt import twiddles

I64 = types.int64


@kernel("ntt_bit_reverse", types.void(ARR_FR, I64))
def bit_reverse_kernel(a, log_n):
    """Swap rows i and rev(i) (log_n-bit reversal); each pair is swapped by its smaller index,
    so threads never touch the same row."""
    i = cuda.grid(1)
    n = a.shape[0]
    if i < n:
        j = 0
        x = i
        for _ in range(log_n):
            j = (j << 1) | (x & 1)
            x >>= 1
        if i < j:
            u = f.load4(a, i)
            f.store4(a, i, f.load4(a, j))
            f.store4(a, j, u)


@kernel("ntt_stage", types.void(ARR_FR, ARR_FR, I64, I64))
def stage_kernel(a, tw, m, stride):
    """Butterfly j of the stage with half-block m: block j // m, position pos = j mod m,
    (a[i1], a[i2]) <- (u + t v, u - t v), t = tw[pos * stride] = w_(2m)^pos."""
    j = cuda.grid(1)
    if j < a.shape[0] // 2:
        block = j // m
        pos = j - block * m
        i1 = block * 2 * m + pos
        i2 = i1 + m
        t = fr_mul(f.load4(tw, pos * stride), f.load4(a, i2))
        u = f.load4(a, i1)
        f.store4(a, i1, fr_add(u, t))
        f.store4(a, i2, fr_sub(u, t))


@kernel("fr_scale", types.void(ARR_FR, ARR_FR))
def scale_kernel(a, s):
    """a_i <- a_i * s, s = s[0] (a (1, 4) array: one broadcast load per thread)."""
    i = cuda.grid(1)
    if i < a.shape[0]:
        f.store4(a, i, fr_mul(f.load4(a, i), f.load4(s, 0)))


@kernel("fr_scale_by_powers", types.void(ARR_FR, ARR_FR, ARR_FR, I64))
def scale_by_powers_kernel(a, lo, hi, h):
    """a_i <- a_i g^i with g^i = lo[i mod 2^h] * hi[i >> h], lo[j] = g^j, hi[j] = g^(j 2^h):
    two tables of about sqrt(n) entries instead of n, two products per element."""
    i = cuda.grid(1)
    if i < a.shape[0]:
        mask = (1 << h) - 1
        gi = fr_mul(f.load4(lo, i & mask), f.load4(hi, i >> h))
        f.store4(a, i, fr_mul(f.load4(a, i), gi))


# ---- host-side drivers on device arrays --------------------------------------------------------

_TWIDDLES: dict[tuple[int, bool], object] = {}


def device_twiddles(log_n: int, inverse: bool):
    """The table w^j, j < n/2 (w^-j for the inverse), uploaded once per size and direction."""
    key = (log_n, inverse)
    if key not in _TWIDDLES:
        _TWIDDLES[key] = mem.to_device(twiddles(log_n, inverse))
    return _TWIDDLES[key]


def bit_reverse(d_a) -> None:
    n = d_a.shape[0]
    blocks, tpb = mem.grid(n)
    bit_reverse_kernel[blocks, tpb](d_a, n.bit_length() - 1)


def ntt_in_place(d_a, d_tw) -> None:
    """d_a <- NTT(d_a) with twiddle table d_tw[j] = w^j, j < n/2 (w^-j for the inverse)."""
    n = d_a.shape[0]
    if n <= 1:
        return
    bit_reverse(d_a)
    blocks, tpb = mem.grid(n // 2)
    m = 1
    while m < n:
        stage_kernel[blocks, tpb](d_a, d_tw, m, n // (2 * m))
        m *= 2


def scale(d_a, s_mont: np.ndarray) -> None:
    """d_a <- d_a * s for one Montgomery element s (4 limbs)."""
    blocks, tpb = mem.grid(d_a.shape[0])
    scale_kernel[blocks, tpb](d_a, mem.to_device(np.asarray(s_mont, np.uint64).reshape(1, 4)))


def power_tables(g_mont: np.ndarray, log_n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(lo, hi, h): lo[j] = g^j for j < 2^h, hi[j] = g^(j 2^h) for j < 2^(log_n - h)."""
    h = (log_n + 1) // 2
    lo = np.empty((1 << h, 4), dtype=np.uint64)
    hi = np.empty((1 << (log_n - h), 4), dtype=np.uint64)
    g = tuple(np.uint64(x) for x in g_mont)
    cpu_ntt.powers(g, len(lo), lo)
    # g^(2^h) = lo[-1] * g
    gh = cpu_fr_mul(tuple(lo[-1]), g)  # (returned as Python ints: back to uint64 words)
    cpu_ntt.powers(tuple(np.uint64(x) for x in gh), len(hi), hi)
    return lo, hi, h


def scale_by_powers(d_a, g_mont: np.ndarray) -> None:
    """d_a[i] <- d_a[i] g^i (moves the evaluation domain to the coset g H)."""
    n = d_a.shape[0]
    lo, hi, h = power_tables(g_mont, max(n.bit_length() - 1, 0))
    blocks, tpb = mem.grid(n)
    scale_by_powers_kernel[blocks, tpb](d_a, mem.to_device(lo), mem.to_device(hi), h)


def mul_sub(d_a, d_b, d_c, d_out) -> None:
    """d_out <- d_a * d_b - d_c elementwise."""
    blocks, tpb = mem.grid(d_out.shape[0])
    mul_sub_kernel[blocks, tpb](d_a, d_b, d_c, d_out)
