"""Baby Jubjub, the twisted Edwards curve over BN254's scalar field used by circomlib (EIP-2494).

    a*x^2 + y^2 = 1 + d*x^2*y^2  over F_r,  a = 168700, d = 168696.

The group has order 8*l (l prime); base8 = 8 * generator generates the order-l subgroup. a is a
square and d is not, so the unified addition law (Bernstein-Lange, "Twisted Edwards curves",
section 6) is complete: it adds any two curve points, doubling and the identity (0, 1) included:

    x3 = (x1*y2 + y1*x2) / (1 + d*x1*x2*y1*y2),   y3 = (y1*y2 - a*x1*x2) / (1 - d*x1*x2*y1*y2).

Public points are affine (x, y) int tuples, as circomlibjs returns them (after F.toObject).
Internally scalar multiplication uses extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z,
T = X*Y/Z (Hisil-Wong-Carter-Dawson 2008, formulas add-2008-hwcd and dbl-2008-hwcd, complete
under the same conditions), so that only one inversion is paid per multiplication.
Functions other than ``in_curve`` / ``in_subgroup`` / ``unpack_point`` assume on-curve inputs.
"""

from __future__ import annotations

from functools import cache

__all__ = [
    "A",
    "BASE8",
    "D",
    "GENERATOR",
    "IDENTITY",
    "ORDER",
    "P",
    "SUBGROUP_ORDER",
    "Point",
    "add",
    "double",
    "in_curve",
    "in_subgroup",
    "mul",
    "mul_base8",
    "neg",
    "pack_point",
    "unpack_point",
]

Point = tuple[int, int]

# The base field of Baby Jubjub is BN254's scalar field r.
P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
A = 168700
D = 168696
ORDER = 21888242871839275222246405745257275088614511777268538073601725287587578984328  # 8 * l
SUBGROUP_ORDER = ORDER >> 3  # l
GENERATOR: Point = (
    995203441582195749578291179787384436505546430278305826713579947235728471134,
    5472060717959818805561601436314318772137091100104008585924551046643952123905,
)
BASE8: Point = (
    5299619240641551281634865583518297030282874472190772894086521144482721001553,
    16950150798460657717958625567821834550301663161624707787222815936182638968203,
)
IDENTITY: Point = (0, 1)
_HALF = (P - 1) // 2

_Ext = tuple[int, int, int, int]


def _inv(x: int) -> int:
    return pow(x, -1, P)


def in_curve(point: Point) -> bool:
    """a*x^2 + y^2 == 1 + d*x^2*y^2 (mod r), for coordinates given as ints in [0, r)."""
    x, y = point
    if not (0 <= x < P and 0 <= y < P):
        return False
    x2, y2 = x * x % P, y * y % P
    return (A * x2 + y2 - 1 - D * x2 % P * y2) % P == 0


def add(p1: Point, p2: Point) -> Point:
    """The unified (complete) addition law in affine coordinates."""
    x1, y1 = p1
    x2, y2 = p2
    dxy = D * (x1 * x2 % P) % P * (y1 * y2 % P) % P
    x3 = (x1 * y2 + y1 * x2) * _inv((1 + dxy) % P) % P
    y3 = (y1 * y2 - A * x1 * x2) * _inv((1 - dxy) % P) % P
    return (x3, y3)


def double(point: Point) -> Point:
    return add(point, point)


def neg(point: Point) -> Point:
    x, y = point
    return ((-x) % P, y)


def _to_ext(point: Point) -> _Ext:
    x, y = point
    return (x, y, 1, x * y % P)


def _from_ext(q: _Ext) -> Point:
    x, y, z, _ = q
    zi = _inv(z)
    return (x * zi % P, y * zi % P)


def _ext_add(q1: _Ext, q2: _Ext) -> _Ext:
    # add-2008-hwcd: A=X1X2, B=Y1Y2, C=d T1T2, D=Z1Z2, E=(X1+Y1)(X2+Y2)-A-B, F=D-C, G=D+C,
    # H=B-aA; X3=EF, Y3=GH, T3=EH, Z3=FG.
    x1, y1, z1, t1 = q1
    x2, y2, z2, t2 = q2
    a_ = x1 * x2 % P
    b_ = y1 * y2 % P
    c_ = D * t1 % P * t2 % P
    d_ = z1 * z2 % P
    e_ = ((x1 + y1) * (x2 + y2) - a_ - b_) % P
    f_ = d_ - c_
    g_ = d_ + c_
    h_ = b_ - A * a_
    return (e_ * f_ % P, g_ * h_ % P, f_ * g_ % P, e_ * h_ % P)


def _ext_madd(q1: _Ext, x2: int, y2: int, dt2: int) -> _Ext:
    # add-2008-hwcd with Z2 = 1 and d*T2 precomputed (points of a fixed-base table).
    x1, y1, z1, t1 = q1
    a_ = x1 * x2 % P
    b_ = y1 * y2 % P
    c_ = t1 * dt2 % P
    e_ = ((x1 + y1) * (x2 + y2) - a_ - b_) % P
    f_ = z1 - c_
    g_ = z1 + c_
    h_ = b_ - A * a_
    return (e_ * f_ % P, g_ * h_ % P, f_ * g_ % P, e_ * h_ % P)


def _ext_double(q: _Ext) -> _Ext:
    # dbl-2008-hwcd: A=X1^2, B=Y1^2, C=2Z1^2, D=aA, E=(X1+Y1)^2-A-B, G=D+B, F=G-C, H=D-B;
    # X3=EF, Y3=GH, T3=EH, Z3=FG. T1 is not read.
    x1, y1, z1, _ = q
    a_ = x1 * x1 % P
    b_ = y1 * y1 % P
    c_ = 2 * z1 * z1 % P
    d_ = A * a_ % P
    s = x1 + y1
    e_ = (s * s - a_ - b_) % P
    g_ = d_ + b_
    f_ = g_ - c_
    h_ = d_ - b_
    return (e_ * f_ % P, g_ * h_ % P, f_ * g_ % P, e_ * h_ % P)


def _ext_mul(point: Point, scalar: int) -> _Ext:
    """scalar * point, 4-bit fixed windows, most significant first."""
    base = _to_ext(point)
    table = [(0, 1, 1, 0), base]
    for _ in range(14):
        table.append(_ext_add(table[-1], base))
    acc: _Ext = (0, 1, 1, 0)
    nibbles = (scalar.bit_length() + 3) // 4
    for i in range(nibbles - 1, -1, -1):
        acc = _ext_double(_ext_double(_ext_double(_ext_double(acc))))
        w = (scalar >> (4 * i)) & 15
        if w:
            acc = _ext_add(acc, table[w])
    return acc


def mul(point: Point, scalar: int) -> Point:
    """scalar * point for any int scalar (negative: of the negated point). Not constant-time."""
    if scalar < 0:
        return mul(neg(point), -scalar)
    if scalar == 0:
        return IDENTITY
    return _from_ext(_ext_mul(point, scalar))


@cache
def _base8_table() -> tuple[tuple[tuple[int, int, int], ...], ...]:
    """[j * 16^i * base8 for j in 1..15] for i in 0..63, affine with d*x*y, for mul_base8."""
    rows = []
    step = _to_ext(BASE8)
    for _ in range(64):
        row_ext = [step]
        for _ in range(14):
            row_ext.append(_ext_add(row_ext[-1], step))
        row = []
        for q in row_ext:
            x, y = _from_ext(q)
            row.append((x, y, D * x % P * y % P))
        rows.append(tuple(row))
        step = _ext_double(_ext_double(_ext_double(_ext_double(row_ext[0]))))
    return tuple(rows)


def _ext_mul_base8(scalar: int) -> _Ext:
    scalar %= SUBGROUP_ORDER  # base8 has order l
    acc: _Ext = (0, 1, 1, 0)
    for row in _base8_table():
        w = scalar & 15
        if w:
            x, y, dt = row[w - 1]
            acc = _ext_madd(acc, x, y, dt)
        scalar >>= 4
    return acc


def mul_base8(scalar: int) -> Point:
    """scalar * base8 with a precomputed fixed-base table (63 additions, no doublings)."""
    return _from_ext(_ext_mul_base8(scalar))


def in_subgroup(point: Point) -> bool:
    """On the curve and of order dividing l (circomlibjs ``inSubgroup``)."""
    if not in_curve(point):
        return False
    x, y, z, _ = _ext_mul(point, SUBGROUP_ORDER)
    return x == 0 and y == z


def pack_point(point: Point) -> bytes:
    """circomlibjs ``packPoint``: y as 32 bytes little-endian, bit 255 set iff x > (r-1)/2."""
    x, y = point
    if not (0 <= x < P and 0 <= y < P):
        raise ValueError("point coordinates must be in [0, r)")
    out = bytearray(y.to_bytes(32, "little"))
    if x > _HALF:
        out[31] |= 0x80
    return bytes(out)


def _sqrt(n: int) -> int | None:
    """A square root of n mod r (Tonelli-Shanks; r - 1 = 2^28 * odd), or None."""
    if n == 0:
        return 0
    if pow(n, (P - 1) // 2, P) != 1:
        return None
    q, s = P - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 5  # a quadratic non-residue mod r
    m, c, t, res = s, pow(z, q, P), pow(n, q, P), pow(n, (q + 1) // 2, P)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % P
            i += 1
        b = pow(c, 1 << (m - i - 1), P)
        m, c, t, res = i, b * b % P, t * b % P * b % P, res * b % P
    return res


def unpack_point(data: bytes, *, strict: bool = False) -> Point | None:
    """circomlibjs ``unpackPoint``: the point, or None where circomlibjs returns null.

    As circomlibjs does: bit 255 is the sign of x, the other 255 bits are y little-endian and are
    reduced mod r (circomlibjs accepts y >= r); x^2 = (1 - y^2) / (a - d*y^2) must be a non-zero
    square (so the two points with x = 0 never unpack); x is the root <= (r-1)/2, negated when
    the sign bit is set. With strict=True, a non-canonical y (>= r) is also rejected.
    """
    if len(data) != 32:
        raise ValueError("a packed Baby Jubjub point is 32 bytes")
    buf = bytearray(data)
    sign = bool(buf[31] & 0x80)
    buf[31] &= 0x7F
    y = int.from_bytes(buf, "little")
    if y >= P:
        if strict:
            return None
        y %= P
    y2 = y * y % P
    den = (A - D * y2) % P
    if den == 0:
        return None
    x2 = (1 - y2) * _inv(den) % P
    if x2 == 0:
        return None
    x = _sqrt(x2)
    if x is None:
        return None
    if x > _HALF:
        x = P - x
    if sign:
        x = (P - x) % P
    return (x, y)
