"""Batch EdDSA-Poseidon verification: ``eddsa_verify`` for many signatures in one compiled pass.

``verify_many(public_keys, messages, signatures)`` returns, as a list of bools, exactly what
``circuits.eddsa.eddsa_verify`` returns for each triple, and raises the TypeError it would raise
for the first triple holding a wrong Python type. Stages: a Python pre-screen with eddsa_verify's
own helpers, in its order; hm = Poseidon(R8x, R8y, Ax, Ay, M) for the survivors in one
``hash_ints`` call; one Numba kernel that checks R8 and A on the curve and
S * base8 == R8 + (hm mod l) * (8A) (fixed-base table; wNAF, or a per-key table for keys that
sign often: ``KeyTables``), compared projectively.

The first call builds the base8 table (about 0.2 s); with a cold Numba cache the kernels compile
(about 8 s, 85 s with the Poseidon and Fr kernels too). Derivation: docs/circuits.md.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from numba import njit

from circuits import babyjubjub as bj
from circuits.eddsa import _parse
from circuits.poseidon_batch import hash_ints
from prover.kernels.cpu.field import eq
from prover.kernels.cpu.fr import FR, FR_ONE, fr_add, fr_inv, fr_mul, fr_neg, fr_sqr, fr_sub
from prover.kernels.cpu.params import int_to_limbs

__all__ = ["KEY_TABLES", "KeyTables", "verify_many"]

_P = bj.P
_L = bj.SUBGROUP_ORDER
_MONT = 1 << 256


def _mont(x: int) -> tuple:
    """Montgomery-form limbs of x mod p (x * 2^256 mod p)."""
    return int_to_limbs(x * _MONT % _P)


_U0 = np.uint64(0)
_U1 = np.uint64(1)
_ZERO = (_U0, _U0, _U0, _U0)
_CA = _mont(bj.A)
_CD = _mont(bj.D)
_R2 = FR.r2  # fr_mul(x, R2) = x * 2^256 mod p: plain -> Montgomery
_W = 5  # wNAF width: digits odd, |d| <= 15
_NAF_LEN = 256  # digit positions; e < 2^251 leaves room for the last carry
_KEY_ROWS = 63  # 4-bit windows of e < l < 2^251 in a key's table


# ---------------------------------------------------------------------------------------------
# Curve arithmetic in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, T = XY/Z
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _on_curve(x, y):
    """a x^2 + y^2 == 1 + d x^2 y^2 (Montgomery inputs)."""
    x2 = fr_sqr(x)
    y2 = fr_sqr(y)
    lhs = fr_add(fr_mul(_CA, x2), y2)
    rhs = fr_add(FR_ONE, fr_mul(fr_mul(_CD, x2), y2))
    return eq(lhs, rhs)


@njit(cache=True, inline="always")
def _dbl(x1, y1, z1, with_t):
    """dbl-2008-hwcd: A=X^2, B=Y^2, C=2Z^2, D=aA, E=(X+Y)^2-A-B, G=D+B, F=G-C, H=D-B;
    X3=EF, Y3=GH, Z3=FG, T3=EH. T1 is not read; T3 is computed only when asked (an addition
    reads it, a doubling does not)."""
    a = fr_sqr(x1)
    b = fr_sqr(y1)
    zz = fr_sqr(z1)
    c = fr_add(zz, zz)
    d = fr_mul(_CA, a)
    e = fr_sub(fr_sub(fr_sqr(fr_add(x1, y1)), a), b)
    g = fr_add(d, b)
    f = fr_sub(g, c)
    h = fr_sub(d, b)
    t3 = fr_mul(e, h) if with_t else _ZERO
    return fr_mul(e, f), fr_mul(g, h), fr_mul(f, g), t3


@njit(cache=True, inline="always")
def _add_dt(x1, y1, z1, t1, x2, y2, z2, dt2):
    """add-2008-hwcd with d*T2 given: A=X1X2, B=Y1Y2, C=T1 dT2, D=Z1Z2, E=(X1+Y1)(X2+Y2)-A-B,
    F=D-C, G=D+C, H=B-aA; X3=EF, Y3=GH, Z3=FG, T3=EH."""
    a = fr_mul(x1, x2)
    b = fr_mul(y1, y2)
    c = fr_mul(t1, dt2)
    d = fr_mul(z1, z2)
    e = fr_sub(fr_sub(fr_mul(fr_add(x1, y1), fr_add(x2, y2)), a), b)
    f = fr_sub(d, c)
    g = fr_add(d, c)
    h = fr_sub(b, fr_mul(_CA, a))
    return fr_mul(e, f), fr_mul(g, h), fr_mul(f, g), fr_mul(e, h)


@njit(cache=True, inline="always")
def _madd(x1, y1, z1, t1, x2, y2, dt2):
    """The same with Z2 = 1 (an affine point with d*x2*y2 given): D = Z1."""
    a = fr_mul(x1, x2)
    b = fr_mul(y1, y2)
    c = fr_mul(t1, dt2)
    e = fr_sub(fr_sub(fr_mul(fr_add(x1, y1), fr_add(x2, y2)), a), b)
    f = fr_sub(z1, c)
    g = fr_add(z1, c)
    h = fr_sub(b, fr_mul(_CA, a))
    return fr_mul(e, f), fr_mul(g, h), fr_mul(f, g), fr_mul(e, h)


@njit(cache=True, inline="always")
def _ld(arr, i, j):
    return (arr[i, j, 0], arr[i, j, 1], arr[i, j, 2], arr[i, j, 3])


@njit(cache=True, inline="always")
def _st(arr, i, j, v):
    arr[i, j, 0] = v[0]
    arr[i, j, 1] = v[1]
    arr[i, j, 2] = v[2]
    arr[i, j, 3] = v[3]


@njit(cache=True, inline="always")
def _ld4(arr, i, j, k):
    return (arr[i, j, k, 0], arr[i, j, k, 1], arr[i, j, k, 2], arr[i, j, k, 3])


@njit(cache=True, inline="always")
def _st4(arr, i, j, k, v):
    arr[i, j, k, 0] = v[0]
    arr[i, j, k, 1] = v[1]
    arr[i, j, k, 2] = v[2]
    arr[i, j, k, 3] = v[3]


@njit(cache=True, inline="always")
def _ld5(arr, h, i, j, k):
    return (arr[h, i, j, k, 0], arr[h, i, j, k, 1], arr[h, i, j, k, 2], arr[h, i, j, k, 3])


@njit(cache=True)
def _bits(x, i, j, pos, count):
    """count (<= 8) bits of the 256-bit plain integer x[i, j] starting at bit pos."""
    w = pos >> 6
    sh = np.uint64(pos & 63)
    v = x[i, j, w] >> sh
    if (pos & 63) + count > 64 and w < 3:
        v |= x[i, j, w + 1] << (np.uint64(64) - sh)
    return np.int64(v & ((_U1 << np.uint64(count)) - _U1))


@njit(cache=True)
def _wnaf(x, i, j, digits):
    """Width-_W NAF of x[i, j] into digits (index = bit position), zeros elsewhere; returns the
    highest non-zero position, or -1 for 0. Each digit d is odd with |d| < 2^(_W-1), and
    sum d_k 2^k = x: a window's value v >= 2^(_W-1) is written v - 2^_W with a carry into the
    next position."""
    for k in range(_NAF_LEN):
        digits[k] = 0
    carry = 0
    bit = 0
    top = -1
    while bit < _NAF_LEN:
        if _bits(x, i, j, bit, 1) == carry:
            bit += 1
            continue
        now = min(_W, _NAF_LEN - bit)
        word = _bits(x, i, j, bit, now) + carry
        carry = (word >> (_W - 1)) & 1
        word -= carry << _W
        digits[bit] = word
        top = bit
        bit += now
    return top


# Row layout of the kernel input x (n, 6, 4), plain little-endian limbs.
_R8X, _R8Y, _AX, _AY, _S, _E = range(6)


@njit(cache=True, nogil=True)  # releases the GIL: HTTP threads verify beside the sequencer
def _verify_rows(x, base8_tab, out):
    """out[i] = R8 and A on the curve and S*base8 == R8 + e*(8A) for row i of x (plain limbs:
    R8x, R8y, Ax, Ay, S < l, e = hm mod l). base8_tab (32, 255, 3, 4): j*256^i*base8 as
    Montgomery (x, y, d*x*y) for j = 1..255."""
    n = x.shape[0]
    digits = np.zeros(_NAF_LEN, dtype=np.int64)
    odd = np.empty((8, 4, 4), dtype=np.uint64)  # (2k+1)*8A as X, Y, Z, d*T
    for i in range(n):
        r8x = fr_mul(_ld(x, i, _R8X), _R2)
        r8y = fr_mul(_ld(x, i, _R8Y), _R2)
        ax = fr_mul(_ld(x, i, _AX), _R2)
        ay = fr_mul(_ld(x, i, _AY), _R2)
        if not (_on_curve(r8x, r8y) and _on_curve(ax, ay)):
            out[i] = False
            continue
        # 8A, then the odd multiples (2k+1)*8A = (2k-1)*8A + 2*8A.
        px, py, pz, pt = _dbl(ax, ay, FR_ONE, False)
        px, py, pz, pt = _dbl(px, py, pz, False)
        px, py, pz, pt = _dbl(px, py, pz, True)
        qx, qy, qz, qt = _dbl(px, py, pz, True)
        dq = fr_mul(_CD, qt)
        _st(odd, 0, 0, px)
        _st(odd, 0, 1, py)
        _st(odd, 0, 2, pz)
        _st(odd, 0, 3, fr_mul(_CD, pt))
        for k in range(1, 8):
            px, py, pz, pt = _add_dt(px, py, pz, pt, qx, qy, qz, dq)
            _st(odd, k, 0, px)
            _st(odd, k, 1, py)
            _st(odd, k, 2, pz)
            _st(odd, k, 3, fr_mul(_CD, pt))
        # Right side: e*(8A) by wNAF, most significant digit first, then + R8.
        top = _wnaf(x, i, _E, digits)
        rx, ry, rz, rt = _ZERO, FR_ONE, FR_ONE, _ZERO
        for b in range(top, -1, -1):
            d = digits[b]
            if b != top:  # T is read by the next addition (a digit's, or + R8 after b = 0)
                rx, ry, rz, rt = _dbl(rx, ry, rz, d != 0 or b == 0)
            if d > 0:
                k = d >> 1
                rx, ry, rz, rt = _add_dt(rx, ry, rz, rt, _ld(odd, k, 0), _ld(odd, k, 1),
                                         _ld(odd, k, 2), _ld(odd, k, 3))
            elif d < 0:  # -(X, Y, Z, T) = (-X, Y, Z, -T)
                k = (-d) >> 1
                rx, ry, rz, rt = _add_dt(rx, ry, rz, rt, fr_neg(_ld(odd, k, 0)), _ld(odd, k, 1),
                                         _ld(odd, k, 2), fr_neg(_ld(odd, k, 3)))
        out[i] = _check(x, i, base8_tab, r8x, r8y, rx, ry, rz, rt)
    return out


@njit(cache=True, inline="always")
def _check(x, i, base8_tab, r8x, r8y, rx, ry, rz, rt):
    """S*base8 == e*(8A) + R8, given e*(8A) = (rx, ry, rz, rt)."""
    rx, ry, rz, rt = _madd(rx, ry, rz, rt, r8x, r8y, fr_mul(_CD, fr_mul(r8x, r8y)))
    # Left side: S*base8 from the fixed-base table, one byte of S per row.
    lx, ly, lz, lt = _ZERO, FR_ONE, FR_ONE, _ZERO
    for row in range(32):
        w = _bits(x, i, _S, 8 * row, 8)
        if w:
            lx, ly, lz, lt = _madd(lx, ly, lz, lt, _ld4(base8_tab, row, w - 1, 0),
                                   _ld4(base8_tab, row, w - 1, 1),
                                   _ld4(base8_tab, row, w - 1, 2))
    return eq(fr_mul(lx, rz), fr_mul(rx, lz)) and eq(fr_mul(ly, rz), fr_mul(ry, lz))


@njit(cache=True, nogil=True)
def _verify_keyed(x, base8_tab, out, key_tabs, which):
    """``_verify_rows`` for rows whose A has a table: key_tabs[which[i]] is row i's
    ``_key_table``, so e*(8A) is 63 mixed additions, one per 4 bits of e."""
    for i in range(x.shape[0]):
        r8x = fr_mul(_ld(x, i, _R8X), _R2)
        r8y = fr_mul(_ld(x, i, _R8Y), _R2)
        ax = fr_mul(_ld(x, i, _AX), _R2)
        ay = fr_mul(_ld(x, i, _AY), _R2)
        if not (_on_curve(r8x, r8y) and _on_curve(ax, ay)):
            out[i] = False
            continue
        k = which[i]
        rx, ry, rz, rt = _ZERO, FR_ONE, FR_ONE, _ZERO
        for row in range(_KEY_ROWS):
            w = _bits(x, i, _E, 4 * row, 4)
            if w:
                rx, ry, rz, rt = _madd(rx, ry, rz, rt, _ld5(key_tabs, k, row, w - 1, 0),
                                       _ld5(key_tabs, k, row, w - 1, 1),
                                       _ld5(key_tabs, k, row, w - 1, 2))
        out[i] = _check(x, i, base8_tab, r8x, r8y, rx, ry, rz, rt)
    return out


@njit(cache=True, nogil=True)
def _key_table(a, tab):
    """tab[i, j - 1] = j * 16^i * (8A) for j = 1..15, i = 0.._KEY_ROWS-1, as Montgomery
    (x, y, d*x*y), for A = (a[0], a[1]) (plain limbs); False (tab not written) if A is off the
    curve. Projective sums (the formulas are complete: a is a square, d is not, so no Z is 0),
    then one inversion for all of them (prefix products, invert the last, walk back)."""
    ax = fr_mul((a[0, 0], a[0, 1], a[0, 2], a[0, 3]), _R2)
    ay = fr_mul((a[1, 0], a[1, 1], a[1, 2], a[1, 3]), _R2)
    if not _on_curve(ax, ay):
        return False
    m = _KEY_ROWS * 15
    ext = np.empty((m, 3, 4), dtype=np.uint64)  # X, Y, Z of each multiple
    bx, by, bz, bt = _dbl(ax, ay, FR_ONE, False)
    bx, by, bz, bt = _dbl(bx, by, bz, False)
    bx, by, bz, bt = _dbl(bx, by, bz, True)  # 8A
    k = 0
    for _row in range(_KEY_ROWS):
        dbt = fr_mul(_CD, bt)
        cx, cy, cz, ct = bx, by, bz, bt
        for j in range(15):
            if j:
                cx, cy, cz, ct = _add_dt(cx, cy, cz, ct, bx, by, bz, dbt)
            _st(ext, k, 0, cx)
            _st(ext, k, 1, cy)
            _st(ext, k, 2, cz)
            k += 1
        bx, by, bz, bt = _add_dt(cx, cy, cz, ct, bx, by, bz, dbt)  # 16 * the row's base
    prefix = np.empty((m, 1, 4), dtype=np.uint64)
    acc = FR_ONE
    for k in range(m):
        _st(prefix, k, 0, acc)
        acc = fr_mul(acc, _ld(ext, k, 2))
    inv = fr_inv(acc)
    for k in range(m - 1, -1, -1):
        zi = fr_mul(inv, _ld(prefix, k, 0))
        inv = fr_mul(inv, _ld(ext, k, 2))
        px = fr_mul(_ld(ext, k, 0), zi)
        py = fr_mul(_ld(ext, k, 1), zi)
        _st4(tab, k // 15, k % 15, 0, px)
        _st4(tab, k // 15, k % 15, 1, py)
        _st4(tab, k // 15, k % 15, 2, fr_mul(_CD, fr_mul(px, py)))
    return True


_BASE8_TAB: np.ndarray | None = None


def _base8_table() -> np.ndarray:
    """[j * 256^i * base8 for j in 1..255] for i in 0..31 as Montgomery limbs (x, y, d*x*y),
    shape (32, 255, 3, 4), built once (about 0.2 s): S*base8 is then 32 mixed additions, one
    per byte of S. Projective sums, then one inversion for all of them (Montgomery's trick:
    prefix products, invert the last, walk back)."""
    global _BASE8_TAB
    if _BASE8_TAB is None:
        p = _P
        pts = []
        step = bj._to_ext(bj.BASE8)
        for _ in range(32):
            row = [step]
            for _ in range(254):
                row.append(bj._ext_add(row[-1], step))
            pts += row
            step = bj._ext_add(row[-1], step)  # 256 * step
        prefix = []
        acc = 1
        for q in pts:
            prefix.append(acc)
            acc = acc * q[2] % p
        inv = pow(acc, -1, p)
        flat = [0] * (3 * len(pts))
        for k in range(len(pts) - 1, -1, -1):
            zi = inv * prefix[k] % p  # 1 / Z_k
            inv = inv * pts[k][2] % p
            x, y = pts[k][0] * zi % p, pts[k][1] * zi % p
            flat[3 * k:3 * k + 3] = (x, y, bj.D * x % p * y % p)
        raw = b"".join((v * _MONT % p).to_bytes(32, "little") for v in flat)
        _BASE8_TAB = np.frombuffer(raw, dtype="<u8").reshape(32, 255, 3, 4).copy()
    return _BASE8_TAB


# ---------------------------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------------------------


def _screen(public_key: object, message: object, signature: object):
    """eddsa_verify up to the curve checks, in its order: raises its TypeErrors, returns None
    where it returns False before any curve arithmetic, else (R8x, R8y, Ax, Ay, M, S)."""
    parsed = _parse(public_key, message, signature)
    if parsed is None:
        return None
    a, r8, message, s = parsed
    # in_curve's range test for the coordinates; the curve equation is the kernel's.
    if not (0 <= r8[0] < _P and 0 <= r8[1] < _P and 0 <= a[0] < _P and 0 <= a[1] < _P):
        return None
    if not (0 <= s < _L):
        return None
    return r8[0], r8[1], a[0], a[1], message, s


def verify_many(
    public_keys: Sequence[Sequence[int]],
    messages: Sequence[int],
    signatures: Sequence[tuple[Sequence[int], int]],
    *,
    tables: KeyTables | None = None,
) -> list[bool]:
    """[eddsa_verify(pk, m, sig) for pk, m, sig in zip(...)] as a list of bools, computed in one
    Poseidon batch and one compiled pass. Raises ValueError if the three lengths differ, and the
    TypeError eddsa_verify raises for the first triple holding a wrong Python type (before any
    work is done). ``tables``: the per-key tables to use and feed (``KEY_TABLES`` by default;
    the answers do not depend on them)."""
    n = len(public_keys)
    if len(messages) != n or len(signatures) != n:
        raise ValueError("verify_many: public_keys, messages and signatures differ in length")
    out = [False] * n
    idx: list[int] = []
    rows: list[tuple[int, int, int, int, int, int]] = []
    for i in range(n):
        row = _screen(public_keys[i], messages[i], signatures[i])
        if row is not None:
            idx.append(i)
            rows.append(row)
    if not rows:
        return out
    hms = hash_ints([r[:5] for r in rows])
    raw = b"".join(
        b"".join((r[0].to_bytes(32, "little"), r[1].to_bytes(32, "little"),
                  r[2].to_bytes(32, "little"), r[3].to_bytes(32, "little"),
                  r[5].to_bytes(32, "little"), (hm % _L).to_bytes(32, "little")))
        for r, hm in zip(rows, hms, strict=True)
    )
    x = np.frombuffer(raw, dtype="<u8").reshape(len(rows), 6, 4)
    ok = np.empty(len(rows), dtype=np.bool_)
    with (KEY_TABLES if tables is None else tables).rows([(r[2], r[3]) for r in rows]) as (
            slots, which):
        keyed = which >= 0
        for sel, kernel in ((np.flatnonzero(keyed), _verify_keyed),
                            (np.flatnonzero(~keyed), _verify_rows)):
            if len(sel):  # x[sel]: a writable copy, the one array type either kernel sees
                got = np.empty(len(sel), dtype=np.bool_)
                if kernel is _verify_keyed:
                    _verify_keyed(x[sel], _base8_table(), got, slots, which[sel])
                else:
                    _verify_rows(x[sel], _base8_table(), got)
                ok[sel] = got
    for i, v in zip(idx, ok.tolist(), strict=True):
        out[i] = v
    return out


class KeyTables:
    """Per-key tables of 8A for the keys that sign often (a market maker's): with one, e*(8A)
    costs 63 mixed additions instead of about 251 doublings and 42 additions (the kernel's time
    per signature falls to about a third: docs/circuits.md). A key gets a table once it has
    signed ``after`` rows (a table costs about as much as 10-20 verifications); ``keep`` tables
    live in one array of slots (92 KiB each), the least recently used giving way. The answers
    are the same either way: the same group law on the same multiples of 8A. Thread-safe: a
    slot that a caller's kernel reads is pinned (never rebuilt meanwhile); the maps change
    under a lock; tables are built outside it."""

    def __init__(self, after: int = 32, keep: int = 128) -> None:
        self.after, self.keep = after, keep
        self.lock = threading.Lock()
        self.slots: np.ndarray | None = None  # (keep, 63, 15, 3, 4), made with the first table
        self.slot_of: OrderedDict[tuple[int, int], int] = OrderedDict()  # key -> slot, LRU
        self.pins = [0] * keep  # callers reading each slot now
        self.free = list(range(keep))
        self.orphans: set[int] = set()  # slots to free once unpinned
        self.uses: OrderedDict[tuple[int, int], int] = OrderedDict()  # rows of keys w/o one
        self.built = 0

    @property
    def tables(self) -> dict[tuple[int, int], int]:
        """The keys that have a table, oldest use first (key -> slot)."""
        with self.lock:
            return dict(self.slot_of)

    def _take(self) -> int | None:
        """A slot to build in: a free one, else the least recently used unpinned one."""
        if self.free:
            return self.free.pop()
        for key, slot in self.slot_of.items():
            if not self.pins[slot]:
                del self.slot_of[key]
                return slot
        return None

    @contextmanager
    def rows(self, keys: list[tuple[int, int]]) -> Iterator[tuple[np.ndarray | None,
                                                                  np.ndarray]]:
        """(slots, which) while inside: which[i] is the slot of row i's table, or -1; those
        slots stay pinned until exit."""
        count = Counter(keys)
        mine: dict[tuple[int, int], int] = {}
        build: list[tuple[tuple[int, int], int]] = []
        pinned: list[int] = []
        with self.lock:
            for key, c in count.items():
                slot = self.slot_of.get(key)
                if slot is None:
                    n = self.uses.pop(key, 0) + c
                    slot = self._take() if n >= self.after else None
                    if slot is None:
                        self.uses[key] = n
                        while len(self.uses) > 8 * self.keep:
                            self.uses.popitem(last=False)
                        continue
                    build.append((key, slot))
                else:
                    self.slot_of.move_to_end(key)
                    mine[key] = slot
                self.pins[slot] += 1
                pinned.append(slot)
            if build and self.slots is None:
                self.slots = np.empty((self.keep, _KEY_ROWS, 15, 3, 4), dtype=np.uint64)
            slots = self.slots
        made = []
        for key, slot in build:  # outside the lock (the kernel releases the GIL too)
            a = np.frombuffer(key[0].to_bytes(32, "little") + key[1].to_bytes(32, "little"),
                              dtype="<u8").reshape(2, 4)
            if _key_table(a, slots[slot]):  # an off-curve key gets none: its rows fail anyway
                made.append((key, slot))
                mine[key] = slot
        with self.lock:
            for key, slot in build:
                if (key, slot) in made and key not in self.slot_of:
                    self.slot_of[key] = slot
                    self.built += 1
                else:  # off the curve, or another caller built it meanwhile
                    self.orphans.add(slot)
        try:
            yield slots, np.array([mine.get(k, -1) for k in keys], dtype=np.int64)
        finally:
            with self.lock:
                for slot in pinned:
                    self.pins[slot] -= 1
                    if not self.pins[slot] and slot in self.orphans:
                        self.orphans.discard(slot)
                        self.free.append(slot)

    def clear(self) -> None:
        with self.lock:
            for slot in self.slot_of.values():
                if self.pins[slot]:
                    self.orphans.add(slot)
                else:
                    self.free.append(slot)
            self.slot_of.clear()
            self.uses.clear()


KEY_TABLES = KeyTables()


def warm_up() -> None:
    """Load (or compile) the kernels and build the base8 table now rather than in the first
    caller's request: a verification of a well-formed, invalid signature, without and with a
    key table (a table of its own: none is kept)."""
    for tables in (KeyTables(after=2), KeyTables(after=1)):
        verify_many([bj.BASE8], [0], [(bj.BASE8, 1)], tables=tables)
