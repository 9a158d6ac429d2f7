"""The BLAKE2b compression function (RFC 7693, section 3.2) over 64-bit words, in Numba.

hashlib computes BLAKE2b digests; this kernel exists because a powers-of-tau contribution stores
the hash state itself (prover.powersoftau.transcript), so the state must be ours to run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

IV = np.array([
    0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
    0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
], dtype=np.uint64)
SIGMA = np.array([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
], dtype=np.int64)
_R32, _R24, _R16, _R63 = np.uint64(32), np.uint64(24), np.uint64(16), np.uint64(63)
_L32, _L40, _L48, _L1 = np.uint64(32), np.uint64(40), np.uint64(48), np.uint64(1)


@njit(cache=True, inline="always")
def _g(v, a, b, c, d, x, y):
    v[a] = v[a] + v[b] + x
    t = v[d] ^ v[a]
    v[d] = (t >> _R32) | (t << _L32)
    v[c] = v[c] + v[d]
    t = v[b] ^ v[c]
    v[b] = (t >> _R24) | (t << _L40)
    v[a] = v[a] + v[b] + y
    t = v[d] ^ v[a]
    v[d] = (t >> _R16) | (t << _L48)
    v[c] = v[c] + v[d]
    t = v[b] ^ v[c]
    v[b] = (t >> _R63) | (t << _L1)


@njit(cache=True)
def _compress(h, m, off, t, last, v):
    for i in range(8):
        v[i] = h[i]
        v[i + 8] = IV[i]
    v[12] ^= t
    if last:
        v[14] = ~v[14]
    for r in range(12):
        s = SIGMA[r % 10]
        _g(v, 0, 4, 8, 12, m[off + s[0]], m[off + s[1]])
        _g(v, 1, 5, 9, 13, m[off + s[2]], m[off + s[3]])
        _g(v, 2, 6, 10, 14, m[off + s[4]], m[off + s[5]])
        _g(v, 3, 7, 11, 15, m[off + s[6]], m[off + s[7]])
        _g(v, 0, 5, 10, 15, m[off + s[8]], m[off + s[9]])
        _g(v, 1, 6, 11, 12, m[off + s[10]], m[off + s[11]])
        _g(v, 2, 7, 8, 13, m[off + s[12]], m[off + s[13]])
        _g(v, 3, 4, 9, 14, m[off + s[14]], m[off + s[15]])
    for i in range(8):
        h[i] ^= v[i] ^ v[i + 8]


@njit(cache=True)
def compress_blocks(h, words, n_blocks, length):
    """Compress n_blocks blocks of 16 little-endian words into the state h, in place; block b is
    not final and counted at t = length + 128 (b + 1) bytes (length: bytes hashed before)."""
    v = np.empty(16, dtype=np.uint64)
    for b in range(n_blocks):
        _compress(h, words, 16 * b, np.uint64(length + 128 * (b + 1)), False, v)


@njit(cache=True)
def compress_last(h, words, length):
    """The final block (zero-padded by the caller) of a `length`-byte message, into h."""
    v = np.empty(16, dtype=np.uint64)
    _compress(h, words, 0, np.uint64(length), True, v)
