"""Radix-2 number-theoretic transform over Fr, in place, on (n, 4) Montgomery arrays.

Forward transform: A_j = sum_i a_i w^(ij) for w a primitive n-th root of unity, computed as
bit-reversal permutation followed by log2(n) Cooley-Tukey (decimation-in-time) stages; stage s
joins blocks of half-size m = 2^s with butterflies (u, v) -> (u + t v, u - t v), t = w_(2m)^pos,
read from one table of w^j (j < n/2) at stride n/(2m). The first stages run block-local
(cache-resident, blocks in parallel); each later stage is parallel over its n/2 butterflies.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from prover.kernels.cpu import fr as k
from prover.kernels.cpu.field import load, store


@njit(cache=True)
def bit_reverse(a):
    n = a.shape[0]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            for c in range(4):
                t = a[i, c]
                a[i, c] = a[j, c]
                a[j, c] = t


@njit(cache=True, parallel=True)
def _stage(a, tw, m, stride):
    half = a.shape[0] >> 1
    for j in prange(half):
        block = j // m
        pos = j - block * m
        i1 = block * 2 * m + pos
        i2 = i1 + m
        t = k.fr_mul(load(tw, pos * stride), load(a, i2))
        u = load(a, i1)
        store(a, i1, k.fr_add(u, t))
        store(a, i2, k.fr_sub(u, t))


@njit(cache=True, parallel=True)
def _local_stages(a, tw, log_b):
    """The first log_b stages touch only aligned blocks of 2^log_b elements: each block is done
    by one thread while it sits in cache, blocks in parallel."""
    n = a.shape[0]
    bsize = 1 << log_b
    for blk in prange(n // bsize):
        base = blk * bsize
        m = 1
        while m < bsize:
            stride = n // (2 * m)
            for start in range(base, base + bsize, 2 * m):
                for pos in range(m):
                    i1 = start + pos
                    i2 = i1 + m
                    t = k.fr_mul(load(tw, pos * stride), load(a, i2))
                    u = load(a, i1)
                    store(a, i1, k.fr_add(u, t))
                    store(a, i2, k.fr_sub(u, t))
            m *= 2


LOG_BLOCK = 12  # 2^12 elements x 32 bytes = 128 KiB: fits in L2


@njit(cache=True)
def _stages_serial(a, tw, base, size, m, m_end):
    """Stages of half-size m .. m_end/2 over the aligned block [base, base + size)."""
    n = a.shape[0]
    while m < m_end:
        stride = n // (2 * m)
        for start in range(base, base + size, 2 * m):
            for pos in range(m):
                i1 = start + pos
                i2 = i1 + m
                t = k.fr_mul(load(tw, pos * stride), load(a, i2))
                u = load(a, i1)
                store(a, i1, k.fr_add(u, t))
                store(a, i2, k.fr_sub(u, t))
        m *= 2


@njit(cache=True)
def transform_serial(a, tw):
    """`ntt_in_place` on the calling thread only (for a pool task): the first LOG_BLOCK stages
    block by block while each block sits in cache, then the rest."""
    n = a.shape[0]
    if n <= 1:
        return
    bit_reverse(a)
    bsize = min(n, 1 << LOG_BLOCK)
    for blk in range(n // bsize):
        _stages_serial(a, tw, blk * bsize, bsize, 1, bsize)
    _stages_serial(a, tw, 0, n, bsize, n)


def ntt_in_place(a: np.ndarray, tw: np.ndarray) -> None:
    """a <- NTT(a) with twiddle table tw[j] = w^j, j < n/2 (w^-j for the inverse)."""
    n = a.shape[0]
    if n <= 1:
        return
    bit_reverse(a)
    log_n = n.bit_length() - 1
    log_b = min(log_n, LOG_BLOCK)
    _local_stages(a, tw, log_b)
    m = 1 << log_b
    while m < n:
        _stage(a, tw, m, n // (2 * m))
        m *= 2


@njit(cache=True)
def powers(g, n, out):
    """out[i] = g^i for i < n (Montgomery)."""
    acc = k.FR_ONE
    for i in range(n):
        store(out, i, acc)
        acc = k.fr_mul(acc, g)


@njit(cache=True, parallel=True)
def scale_by_powers(a, g, chunk):
    """a_i <- a_i g^i, in parallel chunks each starting from g^(start) by exponentiation."""
    n = a.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        start = c * chunk
        e = np.uint64(start)
        acc = k.fr_pow(g, (e, np.uint64(0), np.uint64(0), np.uint64(0)))
        for i in range(start, min(start + chunk, n)):
            store(a, i, k.fr_mul(load(a, i), acc))
            acc = k.fr_mul(acc, g)


@njit(cache=True, parallel=True)
def scale(a, s):
    for i in prange(a.shape[0]):
        store(a, i, k.fr_mul(load(a, i), s))
