"""Batch Poseidon: many hashes of one width per call, and whole sparse-Merkle level passes.

Same function as ``circuits.poseidon.poseidon`` (circomlib parameters, the sparse schedule of
``circuits.poseidon_fast``): the state layer's throughput path. Only the field arithmetic
differs: lazy reduction (values kept in [0, 2p) inside a permutation, canonical once at the end),
wide dot products (a matrix row accumulated in 512 bits and reduced once; rows longer than 11
terms in chunks, so the sum cannot overflow), dedicated squaring, every helper inlined.

Entry points take and return plain canonical limbs (not Montgomery): inputs are checked (< p)
and converted inside the kernel. Bounds and costs: docs/circuits.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from circuits.poseidon_constants import MAX_WIDTH, PoseidonInputError, R
from circuits.poseidon_fast import _partial_rounds_of, tables
from prover.kernels.cpu.arith import adc, mac, sbb
from prover.kernels.cpu.fr import FR

__all__ = ["BINARY", "hash_ints", "hash_limbs", "hash_node_refs", "ints_to_plain",
           "plain_to_ints"]

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_S63 = np.uint64(63)
_PINV = FR.pinv
_P0, _P1, _P2, _P3 = (np.uint64(x) for x in FR.p)
_2P = [np.uint64(((2 * R) >> (64 * i)) & 0xFFFFFFFFFFFFFFFF) for i in range(4)]
_4P = [np.uint64(((4 * R) >> (64 * i)) & 0xFFFFFFFFFFFFFFFF) for i in range(4)]
_Q0, _Q1, _Q2, _Q3 = _2P
_F0, _F1, _F2, _F3 = _4P
_R2 = FR.r2  # Montgomery form of 2^256: multiplying by it enters Montgomery form
_ONE_PLAIN = (_U1, _U0, _U0, _U0)  # multiplying by plain 1 leaves Montgomery form
BINARY = -(1 << 62)  # hash_node_refs: a row of two nodes (its third reference)
_CHUNK = 11  # longest row summed wide before a reduction (see the module docstring)


# ---------------------------------------------------------------------------------------------
# Field arithmetic on UniTuple(uint64, 4), values in [0, 2p)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _row(t0_, t1_, t2_, t3_, ai, b0, b1, b2, b3):
    """One CIOS row (no-carry variant): t <- (t + ai*b + m*p) / 2^64."""
    t0, a = mac(ai, b0, t0_, _U0)
    m = t0 * _PINV
    _, c = mac(m, _P0, t0, _U0)
    t1, a = mac(ai, b1, t1_, a)
    t0, c = mac(m, _P1, t1, c)
    t2, a = mac(ai, b2, t2_, a)
    t1, c = mac(m, _P2, t2, c)
    t3, a = mac(ai, b3, t3_, a)
    t2, c = mac(m, _P3, t3, c)
    return t0, t1, t2, c + a


@njit(cache=True, inline="always")
def _mul(a, b):
    """a*b/2^256 mod p for a, b < 2p; the result is below 2p (not reduced further)."""
    b0, b1, b2, b3 = b
    t0, t1, t2, t3 = _row(_U0, _U0, _U0, _U0, a[0], b0, b1, b2, b3)
    t0, t1, t2, t3 = _row(t0, t1, t2, t3, a[1], b0, b1, b2, b3)
    t0, t1, t2, t3 = _row(t0, t1, t2, t3, a[2], b0, b1, b2, b3)
    return _row(t0, t1, t2, t3, a[3], b0, b1, b2, b3)


@njit(cache=True, inline="always")
def _csub(a, m0, m1, m2, m3):
    """a - m if a >= m else a (branch-free)."""
    d0, br = sbb(a[0], m0, _U0)
    d1, br = sbb(a[1], m1, br)
    d2, br = sbb(a[2], m2, br)
    d3, br = sbb(a[3], m3, br)
    keep = _U0 - br  # all ones: a < m
    take = ~keep
    return ((a[0] & keep) | (d0 & take), (a[1] & keep) | (d1 & take),
            (a[2] & keep) | (d2 & take), (a[3] & keep) | (d3 & take))


@njit(cache=True, inline="always")
def _add(a, b):
    """a + b brought below 2p (a, b < 2p: the sum is below 4p < 2^256)."""
    s0, c = adc(a[0], b[0], _U0)
    s1, c = adc(a[1], b[1], c)
    s2, c = adc(a[2], b[2], c)
    s3, _ = adc(a[3], b[3], c)
    return _csub((s0, s1, s2, s3), _Q0, _Q1, _Q2, _Q3)


@njit(cache=True, inline="always")
def _canon(a):
    """[0, 2p) -> [0, p)."""
    return _csub(a, _P0, _P1, _P2, _P3)


@njit(cache=True, inline="always")
def _wmul(a, b):
    """The 512-bit product a*b as 8 words (schoolbook, 16 word products)."""
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b
    r0, c = mac(a0, b0, _U0, _U0)
    r1, c = mac(a0, b1, _U0, c)
    r2, c = mac(a0, b2, _U0, c)
    r3, r4 = mac(a0, b3, _U0, c)
    r1, c = mac(a1, b0, r1, _U0)
    r2, c = mac(a1, b1, r2, c)
    r3, c = mac(a1, b2, r3, c)
    r4, r5 = mac(a1, b3, r4, c)
    r2, c = mac(a2, b0, r2, _U0)
    r3, c = mac(a2, b1, r3, c)
    r4, c = mac(a2, b2, r4, c)
    r5, r6 = mac(a2, b3, r5, c)
    r3, c = mac(a3, b0, r3, _U0)
    r4, c = mac(a3, b1, r4, c)
    r5, c = mac(a3, b2, r5, c)
    r6, r7 = mac(a3, b3, r6, c)
    return r0, r1, r2, r3, r4, r5, r6, r7


@njit(cache=True, inline="always")
def _wsqr(a):
    """The 512-bit square of a (10 word products: cross terms once, doubled)."""
    a0, a1, a2, a3 = a
    r1, c = mac(a0, a1, _U0, _U0)
    r2, c = mac(a0, a2, _U0, c)
    r3, r4 = mac(a0, a3, _U0, c)
    r3, c = mac(a1, a2, r3, _U0)
    r4, r5 = mac(a1, a3, r4, c)
    r5, r6 = mac(a2, a3, r5, _U0)
    r7 = r6 >> _S63
    r6 = (r6 << _U1) | (r5 >> _S63)
    r5 = (r5 << _U1) | (r4 >> _S63)
    r4 = (r4 << _U1) | (r3 >> _S63)
    r3 = (r3 << _U1) | (r2 >> _S63)
    r2 = (r2 << _U1) | (r1 >> _S63)
    r1 = r1 << _U1
    r0, c = mac(a0, a0, _U0, _U0)
    r1, c = adc(r1, c, _U0)
    lo, hi = mac(a1, a1, _U0, _U0)
    r2, k = adc(r2, lo, c)
    r3, k = adc(r3, hi, k)
    lo, hi = mac(a2, a2, _U0, _U0)
    r4, k = adc(r4, lo, k)
    r5, k = adc(r5, hi, k)
    lo, hi = mac(a3, a3, _U0, _U0)
    r6, k = adc(r6, lo, k)
    r7, _ = adc(r7, hi, k)
    return r0, r1, r2, r3, r4, r5, r6, r7


@njit(cache=True, inline="always")
def _wadd(x, y):
    r0, c = adc(x[0], y[0], _U0)
    r1, c = adc(x[1], y[1], c)
    r2, c = adc(x[2], y[2], c)
    r3, c = adc(x[3], y[3], c)
    r4, c = adc(x[4], y[4], c)
    r5, c = adc(x[5], y[5], c)
    r6, c = adc(x[6], y[6], c)
    r7, _ = adc(x[7], y[7], c)
    return r0, r1, r2, r3, r4, r5, r6, r7


@njit(cache=True, inline="always")
def _redc(w):
    """Montgomery reduction of a 512-bit T < R^2 - R p: T / 2^256 mod p, below T/2^256 + p."""
    t0, t1, t2, t3, t4, t5, t6, t7 = w
    m = t0 * _PINV
    _, c = mac(m, _P0, t0, _U0)
    t1, c = mac(m, _P1, t1, c)
    t2, c = mac(m, _P2, t2, c)
    t3, c = mac(m, _P3, t3, c)
    t4, k = adc(t4, c, _U0)
    m = t1 * _PINV
    _, c = mac(m, _P0, t1, _U0)
    t2, c = mac(m, _P1, t2, c)
    t3, c = mac(m, _P2, t3, c)
    t4, c = mac(m, _P3, t4, c)
    t5, k = adc(t5, c, k)
    m = t2 * _PINV
    _, c = mac(m, _P0, t2, _U0)
    t3, c = mac(m, _P1, t3, c)
    t4, c = mac(m, _P2, t4, c)
    t5, c = mac(m, _P3, t5, c)
    t6, k = adc(t6, c, k)
    m = t3 * _PINV
    _, c = mac(m, _P0, t3, _U0)
    t4, c = mac(m, _P1, t4, c)
    t5, c = mac(m, _P2, t5, c)
    t6, c = mac(m, _P3, t6, c)
    t7, _ = adc(t7, c, k)
    return t4, t5, t6, t7


@njit(cache=True, inline="always")
def _sqr(a):
    return _redc(_wsqr(a))


@njit(cache=True, inline="always")
def _sbox(x):
    x2 = _sqr(x)
    return _redc(_wmul(_sqr(x2), x))


@njit(cache=True, inline="always")
def _ld(tab, i):
    return (tab[i, 0], tab[i, 1], tab[i, 2], tab[i, 3])


@njit(cache=True, inline="always")
def _st(x, i, v):
    x[i, 0] = v[0]
    x[i, 1] = v[1]
    x[i, 2] = v[2]
    x[i, 3] = v[3]


@njit(cache=True, inline="always")
def _dot2(tab, i, a, b):
    """tab[i]*a + tab[i+1]*b, one reduction (< (4*0.189 + 1) p < 2p: no subtraction)."""
    return _redc(_wadd(_wmul(_ld(tab, i), a), _wmul(_ld(tab, i + 1), b)))


@njit(cache=True, inline="always")
def _dot3(tab, i, a, b, c):
    """tab[i..i+2] . (a, b, c), one reduction: below 2.14p, one subtraction of 2p."""
    w = _wadd(_wadd(_wmul(_ld(tab, i), a), _wmul(_ld(tab, i + 1), b)),
              _wmul(_ld(tab, i + 2), c))
    return _csub(_redc(w), _Q0, _Q1, _Q2, _Q3)


@njit(cache=True, inline="always")
def _dot(tab, off, x, j0, n):
    """sum_{j<n} tab[off + j] * x[j0 + j] below 2p, summed wide in chunks of <= _CHUNK terms."""
    acc = (_U0, _U0, _U0, _U0)
    start = 0
    while start < n:
        stop = min(n, start + _CHUNK)
        w = _wmul(_ld(tab, off + start), _ld(x, j0 + start))
        for j in range(start + 1, stop):
            w = _wadd(w, _wmul(_ld(tab, off + j), _ld(x, j0 + j)))
        v = _redc(w)
        if stop - start > 5:
            v = _csub(v, _F0, _F1, _F2, _F3)
        acc = _add(acc, _csub(v, _Q0, _Q1, _Q2, _Q3))
        start = stop
    return acc


# ---------------------------------------------------------------------------------------------
# Permutations
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _full3(tab, off, s0, s1, s2):
    a = _sbox(_add(s0, _ld(tab, off)))
    b = _sbox(_add(s1, _ld(tab, off + 1)))
    c = _sbox(_add(s2, _ld(tab, off + 2)))
    return _dot3(tab, 0, a, b, c), _dot3(tab, 3, a, b, c), _dot3(tab, 6, a, b, c)


@njit(cache=True)
def _permute3(s1, s2, tab):
    """state[0] of the width-3 permutation of (0, s1, s2) (Montgomery, canonical in and out);
    table layout as ``poseidon_fast._table_array``."""
    rp = _partial_rounds_of(3, tab.shape[0])
    s0 = (_U0, _U0, _U0, _U0)
    off = 9
    for _ in range(4):
        s0, s1, s2 = _full3(tab, off, s0, s1, s2)
        off += 3
    for _ in range(rp):
        x = _sbox(_add(s0, _ld(tab, off)))
        s0 = _add(x, _dot2(tab, off + 1, s1, s2))
        s1 = _add(s1, _mul(_ld(tab, off + 3), x))
        s2 = _add(s2, _mul(_ld(tab, off + 4), x))
        off += 5
    s0 = _mul(s0, _ld(tab, off))
    off += 1
    s1, s2 = _dot2(tab, off, s1, s2), _dot2(tab, off + 2, s1, s2)
    off += 4
    for _ in range(4):
        s0, s1, s2 = _full3(tab, off, s0, s1, s2)
        off += 3
    return _canon(s0)


@njit(cache=True, inline="always")
def _dot4(tab, i, a, b, c, d):
    """tab[i..i+3] . (a, b, c, d), summed wide, one reduction and one subtraction of 2p (as
    ``_dot`` for <= 5 terms)."""
    w = _wadd(_wadd(_wmul(_ld(tab, i), a), _wmul(_ld(tab, i + 1), b)),
              _wadd(_wmul(_ld(tab, i + 2), c), _wmul(_ld(tab, i + 3), d)))
    return _csub(_redc(w), _Q0, _Q1, _Q2, _Q3)


@njit(cache=True, inline="always")
def _dot5(tab, i, a, b, c, d, e):
    w = _wadd(_wadd(_wadd(_wmul(_ld(tab, i), a), _wmul(_ld(tab, i + 1), b)),
                    _wadd(_wmul(_ld(tab, i + 2), c), _wmul(_ld(tab, i + 3), d))),
              _wmul(_ld(tab, i + 4), e))
    return _csub(_redc(w), _Q0, _Q1, _Q2, _Q3)


@njit(cache=True, inline="always")
def _full5(tab, off, s0, s1, s2, s3, s4):
    a = _sbox(_add(s0, _ld(tab, off)))
    b = _sbox(_add(s1, _ld(tab, off + 1)))
    c = _sbox(_add(s2, _ld(tab, off + 2)))
    d = _sbox(_add(s3, _ld(tab, off + 3)))
    e = _sbox(_add(s4, _ld(tab, off + 4)))
    return (_dot5(tab, 0, a, b, c, d, e), _dot5(tab, 5, a, b, c, d, e),
            _dot5(tab, 10, a, b, c, d, e), _dot5(tab, 15, a, b, c, d, e),
            _dot5(tab, 20, a, b, c, d, e))


@njit(cache=True)
def _permute5(s1, s2, s3, s4, tab):
    """state[0] of the width-5 permutation of (0, s1..s4), the schedule of ``_permute`` with
    the state in scalars (Montgomery, canonical in and out)."""
    rp = _partial_rounds_of(5, tab.shape[0])
    s0 = (_U0, _U0, _U0, _U0)
    off = 25
    for _ in range(4):
        s0, s1, s2, s3, s4 = _full5(tab, off, s0, s1, s2, s3, s4)
        off += 5
    for _ in range(rp):
        x = _sbox(_add(s0, _ld(tab, off)))
        s0 = _add(x, _dot4(tab, off + 1, s1, s2, s3, s4))
        s1 = _add(s1, _mul(_ld(tab, off + 5), x))
        s2 = _add(s2, _mul(_ld(tab, off + 6), x))
        s3 = _add(s3, _mul(_ld(tab, off + 7), x))
        s4 = _add(s4, _mul(_ld(tab, off + 8), x))
        off += 9
    s0 = _mul(s0, _ld(tab, off))
    off += 1
    s1, s2, s3, s4 = (_dot4(tab, off, s1, s2, s3, s4), _dot4(tab, off + 4, s1, s2, s3, s4),
                      _dot4(tab, off + 8, s1, s2, s3, s4), _dot4(tab, off + 12, s1, s2, s3, s4))
    off += 16
    for _ in range(4):
        s0, s1, s2, s3, s4 = _full5(tab, off, s0, s1, s2, s3, s4)
        off += 5
    return _canon(s0)


@njit(cache=True, inline="always")
def _full(s, tmp, tab, t, off):
    for i in range(t):
        _st(tmp, i, _sbox(_add(_ld(s, i), _ld(tab, off + i))))
    for i in range(t):
        _st(s, i, _dot(tab, i * t, tmp, 0, t))


@njit(cache=True)
def _permute(s, tmp, tab):
    """Width-t permutation of the rows s (t, 4) in place (Montgomery; out: s[0] canonical)."""
    t = s.shape[0]
    rp = _partial_rounds_of(t, tab.shape[0])
    off = t * t
    for _ in range(4):
        _full(s, tmp, tab, t, off)
        off += t
    for _ in range(rp):
        x = _sbox(_add(_ld(s, 0), _ld(tab, off)))
        y = _add(x, _dot(tab, off + 1, s, 1, t - 1))
        for j in range(1, t):
            _st(s, j, _add(_ld(s, j), _mul(_ld(tab, off + t - 1 + j), x)))
        _st(s, 0, y)
        off += 2 * t - 1
    _st(s, 0, _mul(_ld(s, 0), _ld(tab, off)))
    off += 1
    for i in range(1, t):
        _st(tmp, i, _ld(s, i))
    for i in range(t - 1):
        _st(s, i + 1, _dot(tab, off + i * (t - 1), tmp, 1, t - 1))
    off += (t - 1) * (t - 1)
    for _ in range(4):
        _full(s, tmp, tab, t, off)
        off += t
    _st(s, 0, _canon(_ld(s, 0)))


@njit(cache=True, inline="always")
def _lt_p(a):
    _, br = sbb(a[0], _P0, _U0)
    _, br = sbb(a[1], _P1, br)
    _, br = sbb(a[2], _P2, br)
    _, br = sbb(a[3], _P3, br)
    return br == _U1


@njit(cache=True, inline="always")
def _enter(a):
    """Plain canonical -> Montgomery (canonical)."""
    return _canon(_mul(a, _R2))


@njit(cache=True, inline="always")
def _leave(a):
    """Montgomery -> plain canonical."""
    return _canon(_mul(a, _ONE_PLAIN))


@njit(cache=True, nogil=True)  # releases the GIL: callers on other threads run beside it
def _hash_plain_rows(x, out, tab):
    """out[i] = Poseidon(x[i, :]) over plain limbs x (m, k, 4); returns the first row holding an
    element >= p (nothing is hashed then), or -1."""
    m, k = x.shape[0], x.shape[1]
    for i in range(m):
        for j in range(k):
            if not _lt_p((x[i, j, 0], x[i, j, 1], x[i, j, 2], x[i, j, 3])):
                return i
    if k == 2:
        for i in range(m):
            a = _enter((x[i, 0, 0], x[i, 0, 1], x[i, 0, 2], x[i, 0, 3]))
            b = _enter((x[i, 1, 0], x[i, 1, 1], x[i, 1, 2], x[i, 1, 3]))
            _st(out, i, _leave(_permute3(a, b, tab)))
        return -1
    s = np.empty((k + 1, 4), dtype=np.uint64)
    tmp = np.empty((k + 1, 4), dtype=np.uint64)
    for i in range(m):
        _st(s, 0, (_U0, _U0, _U0, _U0))
        for j in range(k):
            _st(s, j + 1, _enter((x[i, j, 0], x[i, j, 1], x[i, j, 2], x[i, j, 3])))
        _permute(s, tmp, tab)
        _st(out, i, _leave(_ld(s, 0)))
    return -1


@njit(cache=True, nogil=True)
def _hash_node_refs(static, refs, out, tab3, tab5):
    """out[j] = Poseidon of row j's nodes in order: four (refs[j, 0..3]) or two when
    refs[j, 2] == BINARY; node(r) is static[r] for r >= 0 and out[-r - 1] for r < 0 (an earlier
    output); plain limbs in and out. Returns the first static row >= p (nothing hashed), or -1."""
    n = static.shape[0]
    for i in range(n):
        if not _lt_p(_ld(static, i)):
            return i
    mont = np.empty((n, 4), dtype=np.uint64)
    for i in range(n):
        _st(mont, i, _enter(_ld(static, i)))
    m = refs.shape[0]
    done = np.empty((m, 4), dtype=np.uint64)
    for j in range(m):
        a, b = refs[j, 0], refs[j, 1]
        x = _ld(mont, a) if a >= 0 else _ld(done, -a - 1)
        y = _ld(mont, b) if b >= 0 else _ld(done, -b - 1)
        if refs[j, 2] == BINARY:
            h = _permute3(x, y, tab3)
        else:
            c, d = refs[j, 2], refs[j, 3]
            z = _ld(mont, c) if c >= 0 else _ld(done, -c - 1)
            w = _ld(mont, d) if d >= 0 else _ld(done, -d - 1)
            h = _permute5(x, y, z, w, tab5)
        _st(done, j, h)
        _st(out, j, _leave(h))
    return -1


# ---------------------------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------------------------


def ints_to_plain(values: Sequence[int]) -> np.ndarray:
    """Plain little-endian limbs (n, 4) of non-negative ints below 2^256 (TypeError for a
    non-int, PoseidonInputError for a negative or too large one)."""
    try:
        raw = b"".join([v.to_bytes(32, "little") for v in values])
    except OverflowError:
        raise PoseidonInputError("poseidon input out of range [0, r)") from None
    except AttributeError:
        bad = next(v for v in values if not isinstance(v, int))
        raise TypeError(f"field elements must be int, got {type(bad).__name__}") from None
    return np.frombuffer(raw, dtype="<u8").reshape(-1, 4)


def plain_to_ints(limbs: np.ndarray) -> list[int]:
    raw = limbs.tobytes()
    frm = int.from_bytes
    return [frm(raw[i:i + 32], "little") for i in range(0, len(raw), 32)]


def hash_limbs(x: np.ndarray) -> np.ndarray:
    """Poseidon of each row of plain canonical limbs x (m, k, 4) -> plain limbs (m, 4)."""
    if x.ndim != 3 or x.shape[2] != 4:
        raise ValueError(f"hash_limbs takes an (m, k, 4) array, got shape {x.shape}")
    m, k = x.shape[0], x.shape[1]
    if not (1 <= k <= MAX_WIDTH - 1):
        raise PoseidonInputError(f"poseidon takes 1..{MAX_WIDTH - 1} inputs, got {k}")
    out = np.empty((m, 4), dtype=np.uint64)
    if m and _hash_plain_rows(np.ascontiguousarray(x, dtype=np.uint64), out, tables(k + 1)) >= 0:
        raise PoseidonInputError("poseidon input out of range [0, r)")
    return out


def hash_ints(rows: Sequence[Sequence[int]]) -> list[int]:
    """Poseidon of each row of ints (all rows of one length 1..16), as ints: one kernel call.

    Same results and errors as ``circuits.poseidon.poseidon`` row by row (bool is refused)."""
    if not rows:
        return []
    k = len(rows[0])
    flat = [v for r in rows for v in r]
    if len(flat) != k * len(rows):
        raise PoseidonInputError("hash_ints: all rows must have the same number of inputs")
    if any(type(v) is bool for v in flat):
        raise TypeError("field elements must be int, got bool")
    return plain_to_ints(hash_limbs(ints_to_plain(flat).reshape(len(rows), k, 4)))


def hash_node_refs(static: Sequence[int], refs: Sequence[Sequence[int]]) -> list[int]:
    """Poseidon of a chain of rows in one call: row j is four references (a Poseidon(4)), or
    two followed by ``BINARY, BINARY`` (a Poseidon(2)); a reference r >= 0 names static[r] and
    r < 0 the result of row -r - 1 (which must come earlier). This is a whole multi-level update
    of a quaternary Merkle tree (its binary top included): the leaves and untouched siblings are
    the statics, every recomputed node one row. Returns the m results as ints."""
    m = len(refs)
    if not m:
        return []
    r = np.array(refs, dtype=np.int64)
    if r.shape != (m, 4):
        raise ValueError("hash_node_refs: each row holds four references")
    binary = r[:, 2] == BINARY
    if (binary & (r[:, 3] != BINARY)).any():
        raise ValueError("hash_node_refs: a binary row ends in BINARY, BINARY")
    used = np.where(binary[:, None], r[:, :2].repeat(2, axis=1), r)
    if ((used >= len(static)) | (used < -np.arange(m)[:, None])).any():
        raise ValueError("hash_node_refs: a reference to a missing static or a later row")
    out = np.empty((m, 4), dtype=np.uint64)
    x = ints_to_plain(static) if static else np.zeros((0, 4), dtype=np.uint64)
    if _hash_node_refs(x, r, out, tables(3), tables(5)) >= 0:
        raise PoseidonInputError("poseidon input out of range [0, r)")
    return plain_to_ints(out)
