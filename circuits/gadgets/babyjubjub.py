"""Baby Jubjub in the circuit: on-curve check, complete addition, doubling, scalar multiplication.

Points are ``(x, y)`` pairs of LCs on the twisted Edwards curve of `circuits.babyjubjub`
(``a x^2 + y^2 = 1 + d x^2 y^2``, a = 168700, d = 168696); that module is the native twin.

Costs (constraints)
    on_curve 3; add 6 (3 when one point is constant); double 5 (on-curve input);
    scalar_mul_fixed(n bits) about 2 per bit; scalar_mul_any(254-bit scalar) about 6 per bit.

Scalar multiplication runs mostly on the birationally equivalent Montgomery curve
``v^2 = u^3 + A u^2 + u`` with A = 2(a + d)/(a - d) = 168698, B = 4/(a - d) = 1, through
``u = (1 + y)/(1 - y), v = u/x`` (and back ``x = u/v, y = (u - 1)/(u + 1)``), where an addition is
3 constraints. Montgomery addition is incomplete (it fails for P = +-Q and for the identity), so
each use below is arranged so that those cases cannot occur for *any* witness, not just an honest
one; the arguments are given at each function.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .. import babyjubjub as bj
from ..cs import ConstraintSystem
from ..lc import LC, R, as_lc, lin

Point = tuple[LC, LC]

A = bj.A
D = bj.D
L = bj.SUBGROUP_ORDER
MONT_A = 168698  # 2(a + d)/(a - d); B = 4/(a - d) = 1
assert MONT_A * (A - D) % R == 2 * (A + D) % R and 4 * pow(A - D, -1, R) % R == 1


def _div(n: int, d: int) -> int:
    return n * pow(d, -1, R) % R if d % R else 0


def _quotient(cs: ConstraintSystem, num: LC | int, den: LC | int) -> LC:
    """q with ``q * den == num`` (1 constraint; hinted q = num / den, or 0 for den = 0).

    Constant den folds to a scaled LC. Callers ensure den != 0 for every accepted witness,
    which makes q unique."""
    num, den = as_lc(num), as_lc(den)
    if den.is_constant():
        return num.scale(pow(den.constant(), -1, R))
    q = cs.hint(_div, num, den)
    cs.constrain(q, den, num)
    return q


def point(p) -> Point:
    return as_lc(p[0]), as_lc(p[1])


# -- Edwards ---------------------------------------------------------------------------------


def on_curve(cs: ConstraintSystem, p, enabled: LC | int = 1) -> None:
    """Assert ``a x^2 + y^2 == 1 + d x^2 y^2`` (3 constraints; gated by a bit `enabled`)."""
    x, y = point(p)
    with cs.component("on_curve"):
        xx = x * x
        yy = y * y
        diff = (xx.scale(D) * yy) - (xx.scale(A) + yy - 1)
        cs.constrain(as_lc(enabled), diff, 0)


def add(cs: ConstraintSystem, p, q) -> Point:
    """The complete twisted Edwards sum (6 constraints, 3 when q is constant):

    beta = x1 y2, gamma = y1 x2, delta = (y1 - a x1)(x2 + y2), tau = beta gamma,
    x3 (1 + d tau) = beta + gamma, y3 (1 - d tau) = delta + a beta - gamma.
    Complete because a is a square and d is not: the denominators never vanish on the curve.
    """
    x1, y1 = point(p)
    x2, y2 = point(q)
    with cs.component("bj_add"):
        beta = x1 * y2
        gamma = y1 * x2
        delta = (y1 - x1.scale(A)) * (x2 + y2)
        tau = beta * gamma
        x3 = _quotient(cs, beta + gamma, 1 + tau.scale(D))
        y3 = _quotient(cs, delta + beta.scale(A) - gamma, 1 - tau.scale(D))
        return x3, y3


def double(cs: ConstraintSystem, p) -> Point:
    """2P for P on the curve (5 constraints), using a x^2 + y^2 = 1 + d x^2 y^2:

    x3 = 2xy / (a x^2 + y^2),  y3 = (y^2 - a x^2) / (2 - a x^2 - y^2).
    Both denominators equal 1 +- d x^2 y^2 on the curve, non-zero by completeness.
    """
    x, y = point(p)
    with cs.component("bj_double"):
        xx = x * x
        yy = y * y
        xy = x * y
        ax2 = xx.scale(A)
        x3 = _quotient(cs, xy.scale(2), ax2 + yy)
        y3 = _quotient(cs, yy - ax2, 2 - ax2 - yy)
        return x3, y3


def select_point(cs: ConstraintSystem, s: LC | int, p0, p1) -> Point:
    """``p0 if s == 0 else p1`` for a bit s (2 constraints, fewer with constant points)."""
    x0, y0 = point(p0)
    x1, y1 = point(p1)
    s = as_lc(s)
    return x0 + s * (x1 - x0), y0 + s * (y1 - y0)


def neg(p) -> Point:
    x, y = point(p)
    return -x, y


# -- Montgomery ------------------------------------------------------------------------------


def to_montgomery(cs: ConstraintSystem, p) -> Point:
    """(u, v) = ((1 + y)/(1 - y), u/x): 2 constraints; P must not have x = 0 (not the identity
    and not (0, -1)), which the callers guarantee."""
    x, y = point(p)
    u = _quotient(cs, 1 + y, 1 - y)
    v = _quotient(cs, u, x)
    return u, v


def from_montgomery(cs: ConstraintSystem, p) -> Point:
    """(x, y) = (u/v, (u - 1)/(u + 1)): 2 constraints (v != 0 and u != -1 for points of odd
    order)."""
    u, v = point(p)
    return _quotient(cs, u, v), _quotient(cs, u - 1, u + 1)


def mont_add(cs: ConstraintSystem, p, q) -> Point:
    """P + Q on the Montgomery curve for u_P != u_Q (3 constraints):
    lambda (u2 - u1) = v2 - v1, u3 = lambda^2 - A - u1 - u2, v3 = lambda (u1 - u3) - v1."""
    u1, v1 = point(p)
    u2, v2 = point(q)
    lam = _quotient(cs, v2 - v1, u2 - u1)
    u3 = lam * lam - MONT_A - u1 - u2
    v3 = lam * (u1 - u3) - v1
    return u3, v3


def mont_double(cs: ConstraintSystem, p) -> Point:
    """2P on the Montgomery curve for v != 0 (4 constraints):
    lambda 2v = 3u^2 + 2Au + 1, u3 = lambda^2 - A - 2u, v3 = lambda (u - u3) - v."""
    u, v = point(p)
    uu = u * u
    lam = _quotient(cs, uu.scale(3) + u.scale(2 * MONT_A) + 1, v.scale(2))
    u3 = lam * lam - MONT_A - u.scale(2)
    v3 = lam * (u - u3) - v
    return u3, v3


def _mont_double_add(cs: ConstraintSystem, acc: Point, q: Point) -> Point:
    """2*acc + q as (acc + q) + acc, without the middle point's v (5 constraints):

    lambda1 (u_q - u_a) = v_q - v_a,  u_r = lambda1^2 - A - u_a - u_q,
    v_r = lambda1 (u_a - u_r) - v_a, so the second slope lambda2 = (v_r - v_a)/(u_r - u_a)
    satisfies (lambda1 + lambda2)(u_a - u_r) = 2 v_a; u_s = lambda2^2 - A - u_r - u_a,
    v_s = lambda2 (u_a - u_s) - v_a. Valid when u_a != u_q and u_r != u_a.
    """
    ua, va = acc
    uq, vq = q
    lam1 = _quotient(cs, vq - va, uq - ua)
    ur = lam1 * lam1 - MONT_A - ua - uq
    lam2 = _quotient(cs, va.scale(2), ua - ur) - lam1
    us = lam2 * lam2 - MONT_A - ur - ua
    vs = lam2 * (ua - us) - va
    return us, vs


# -- lookups of constant points ---------------------------------------------------------------


def _lookup_const(cs: ConstraintSystem, bits: Sequence[LC], table: Sequence[tuple[int, int]],
                  b01: LC | None = None) -> Point:
    """``table[sum(bits[i] 2^i)]`` for constant pairs and 1..3 bits: linear in 1, b0, b1, b0 b1
    (1 product) for 2 bits; a third bit muxes two such halves (2 more products)."""
    w = len(bits)
    if len(table) != 1 << w or not 1 <= w <= 3:
        raise ValueError("need 1..3 bits and 2**bits entries")
    if w == 3:
        b01 = bits[0] * bits[1]
        lo = _lookup_const(cs, bits[:2], table[:4], b01)
        hi = _lookup_const(cs, bits[:2], table[4:], b01)
        return select_point(cs, bits[2], lo, hi)
    if w == 1:
        (x0, y0), (x1, y1) = table
        b = bits[0]
        return x0 + b.scale(x1 - x0), y0 + b.scale(y1 - y0)
    b0, b1 = bits
    if b01 is None:
        b01 = b0 * b1
    out = []
    for k in range(2):
        t0, t1, t2, t3 = (e[k] for e in table)
        # multilinear interpolation over {0,1}^2
        out.append(lin([(t1 - t0, b0), (t2 - t0, b1), (t3 - t2 - t1 + t0, b01)], cs) + t0)
    return out[0], out[1]


def _mont_of(p: tuple[int, int]) -> tuple[int, int]:
    x, y = p
    u = (1 + y) * pow(1 - y, -1, R) % R
    return u, u * pow(x, -1, R) % R


@cache
def _fixed_plan(base: tuple[int, int], n: int):
    """Window plan for `scalar_mul_fixed` (see there): Montgomery windows, Edwards windows."""
    if not bj.in_curve(base) or bj.mul(base, L) != bj.IDENTITY or base == bj.IDENTITY:
        raise ValueError("fixed base must be a point of order l")
    mont = []  # (first bit, width, table of Montgomery points)
    pos, off_sum = 0, 0
    while pos < n:
        w = min(3, n - pos)
        off = (1 << pos) + off_sum
        # largest scalar reachable after this window: every digit maximal
        if (1 << (pos + w)) - 1 + off_sum + off >= L:
            break
        table = [_mont_of(bj.mul(base, d * (1 << pos) + off)) for d in range(1 << w)]
        mont.append((pos, w, table))
        off_sum += off
        pos += w
    edw = []  # (first bit, width, table of Edwards points); the first one removes the offset
    correction = bj.mul(base, (-off_sum) % L)
    while pos < n:
        w = min(2, n - pos)
        table = [bj.mul(base, d << pos) for d in range(1 << w)]
        if not edw:
            table = [bj.add(t, correction) for t in table]
        edw.append((pos, w, table))
        pos += w
    return mont, edw, (correction if not edw else None)


def scalar_mul_fixed(cs: ConstraintSystem, bits: Sequence[LC | int], base=bj.BASE8) -> Point:
    """``(sum bits[i] 2^i) * base`` for a constant point of order l and boolean-constrained
    little-endian bits (n <= 253). About 2 constraints per bit.

    Windows of 3 bits are looked up (3 constraints) as Montgomery points and added (3). Window
    j (bits p .. p+2) adds ``(digit * 2^p + o_j) * base`` with offsets o_j = 2^p + (o_0 + ... +
    o_{j-1}): the running sum's scalar then always lies in [O_j, 2^p - 1 + O_j] (O_j the sum of
    the previous offsets), strictly below the added scalar (>= o_j) and, while windows are
    taken, with the total below l. So the two summands are different non-zero multiples whose
    sum is not zero mod l: never +-Q, never the identity, for every bit pattern. Windows are
    taken while the largest reachable scalar stays below l (249 bits for base8); the remaining
    bits go through 2-bit windows of complete Edwards additions, the first of which also
    subtracts the accumulated offset (its table entries carry it).
    """
    bits = [as_lc(b) for b in bits]
    base = (base[0] % R, base[1] % R)
    n = len(bits)
    if not 1 <= n <= 253:
        raise ValueError("scalar_mul_fixed takes 1..253 bits")
    mont, edw, correction = _fixed_plan(base, n)
    with cs.component("bj_mul_fixed"):
        acc = None
        for pos, w, table in mont:
            q = _lookup_const(cs, bits[pos:pos + w], table)
            acc = q if acc is None else mont_add(cs, acc, q)
        res = from_montgomery(cs, acc) if acc is not None else (cs.const(0), cs.const(1))
        for pos, w, table in edw:
            res = add(cs, res, _lookup_const(cs, bits[pos:pos + w], table))
        if correction is not None:
            res = add(cs, res, correction)
        return res


# -- variable base ----------------------------------------------------------------------------

N_BITS = 254
# C = -2^253 mod l: the loop below computes (k + 2^253) P for the 254-bit integer k it is given,
# so decomposing k = h + C yields h * P.
OFFSET = (-(1 << (N_BITS - 1))) % L
# Montgomery steps run for bits 253 .. FAST_LOW (see scalar_mul_any), complete Edwards below.
FAST_LOW = 5


def _fast_bound_ok() -> bool:
    # before the step of bit i, acc = K * P with 2^(253-i) + 1 <= K <= 3 * 2^(253-i) - 1
    # (K = 2 for i = 253); safe while 2K + 1 < l
    return 2 * (3 * (1 << (N_BITS - 1 - FAST_LOW)) - 1) + 1 < L


assert _fast_bound_ok()


def _bits_le_const(cs: ConstraintSystem, bits: Sequence[LC], c: int, enabled: LC | int = 1
                   ) -> None:
    """Assert ``sum(bits[i] 2^i) <= c`` for a constant c and boolean bits, when `enabled` is 1.

    Scan c from the top. M = the number of positions above where c has a 1 and the bit is 0
    (linear: a sum of ``1 - b``), plus ``1 - enabled``. While M = 0 the bits so far equal c's
    (a mismatch at a 0 of c is what the constraints forbid), so at each run of zeros of c:
    ``M * w == Z`` with Z the sum of the run's bits and w a hint (1 constraint per run): M = 0
    forces Z = 0 (integers far below r, no wrap), and M != 0 (the value is already below c, or
    the check is disabled) lets w = Z / M. Runs of ones cost nothing.
    """
    n = len(bits)
    if c < 0:
        raise ValueError("negative bound")
    if c >= (1 << n) - 1:
        return
    enabled = as_lc(enabled)
    if enabled.is_constant() and enabled.constant() == 0:
        return
    miss = 1 - enabled
    i = n - 1
    while i >= 0:
        bit = (c >> i) & 1
        j = i
        while j >= 0 and (c >> j) & 1 == bit:
            j -= 1
        run = bits[j + 1:i + 1]
        if bit:
            miss = miss + lin((-1, b) for b in run) + len(run)
        else:
            z = lin((1, b) for b in run)
            if miss.is_constant():
                cs.constrain(miss, 1, z)  # M = 0 here: the bits are 0 (a linear equality)
            else:
                cs.constrain(miss, cs.hint(_div, z, miss), z)
        i = j


def assert_bits_le(cs: ConstraintSystem, bits: Sequence[LC | int], c: int,
                   enabled: LC | int = 1) -> None:
    """Assert that the boolean little-endian `bits` encode an integer <= c (when `enabled`)."""
    with cs.component("bits_le"):
        _bits_le_const(cs, [as_lc(b) for b in bits], c, enabled)


def assert_bits_ge(cs: ConstraintSystem, bits: Sequence[LC | int], c: int,
                   enabled: LC | int = 1) -> None:
    """Assert value(bits) >= c: the complemented bits encode 2^n - 1 - value <= 2^n - 1 - c."""
    n = len(bits)
    if not 0 <= c < 1 << n:
        raise ValueError(f"bound {c} is outside the range of {n} bits")
    with cs.component("bits_ge"):
        _bits_le_const(cs, [1 - as_lc(b) for b in bits], (1 << n) - 1 - c, enabled)


def _split254(v: int) -> list[int]:
    return [(v >> i) & 1 for i in range(N_BITS)]


def scalar_bits_mod_l(cs: ConstraintSystem, h: LC | int) -> list[LC]:
    """254 bits of the integer k = h + C (C = OFFSET), proven exactly: booleanity (254), the
    recomposition (linear) and C <= k <= r - 1 + C (two constant comparisons). In that range
    k == h + C mod r forces k - C to be h's canonical value, so k + 2^253 == h (mod l)."""
    with cs.component("scalar_bits"):
        h = as_lc(h)
        bits = cs.hint(lambda x: _split254(x + OFFSET), h, n_out=N_BITS)
        for b in bits:
            cs.assert_bool(b)
        cs.assert_equal(lin(((1 << i, b) for i, b in enumerate(bits)), cs), h + OFFSET)
        assert_bits_ge(cs, bits, OFFSET)
        assert_bits_le(cs, bits, R - 1 + OFFSET)
        return bits


def scalar_mul_any(cs: ConstraintSystem, h: LC | int, p) -> Point:
    """``h * P`` for a field element h and a point P of order exactly l (the caller proves it,
    e.g. P = 8A with 8A != identity). About 6 constraints per bit, 1,947 in all.

    With k = h + C in 254 bits (`scalar_bits_mod_l`): acc = 2P, then for i = 253 .. 1
    ``acc = 2 acc + (2 k_i - 1) P`` and finally ``acc += (k_0 - 1) P``, which gives
    (2^254 + (k - k_0) - (2^253 - 1) + k_0 - 1) P = (k + 2^253) P = h P.
    Before the step of bit i, acc = K P with 2^(253-i) + 1 <= K <= 3 * 2^(253-i) - 1 (K = 2 at
    the start): so K != +-1 and 2K +- 1 != 0 mod l while 6 * 2^(253-i) < l, i.e. for i >= 5,
    and the Montgomery double-and-add (`_mont_double_add`, 5 constraints + 1 for the sign)
    never meets an exceptional case. Bits 4 .. 0 use complete Edwards formulas.
    """
    with cs.component("bj_mul_any"):
        bits = scalar_bits_mod_l(cs, h)
        px, py = point(p)
        pm = to_montgomery(cs, (px, py))
        acc = mont_double(cs, pm)
        for i in range(N_BITS - 1, FAST_LOW - 1, -1):
            # q = (2 k_i - 1) P: the sign only flips v
            vq = (bits[i] * pm[1]).scale(2) - pm[1]
            acc = _mont_double_add(cs, acc, (pm[0], vq))
        res = from_montgomery(cs, acc)
        for i in range(FAST_LOW - 1, 0, -1):
            xq = (bits[i] * px).scale(2) - px
            res = add(cs, double(cs, res), (xq, py))
        # + (k_0 - 1) P: the identity when k_0 = 1, -P when k_0 = 0
        q = select_point(cs, bits[0], (-px, py), (cs.const(0), cs.const(1)))
        return add(cs, res, q)
