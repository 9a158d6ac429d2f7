from __future__ import annotations

import itertools
import random

import pytest

from circuits import babyjubjub as bj
from circuits.dsl import ConstraintSystem, R
from circuits.gadgets import babyjubjub as g
from circuits.gadgets.bits import to_bits
from tests.support.gadgets import failing_components, forged

L = bj.SUBGROUP_ORDER
ORDER2 = (0, R - 1)  # the point of order 2
rng = random.Random(7)


def rand_point():
    return bj.mul_base8(rng.randrange(1, L))


def two_points(p, q):
    cs = ConstraintSystem()
    a = (cs.private_input("ax", p[0]), cs.private_input("ay", p[1]))
    b = (cs.private_input("bx", q[0]), cs.private_input("by", q[1]))
    return cs, a, b


def value(pt):
    return pt[0].value, pt[1].value


def ev(vals, lc):
    return sum(c * vals[w] for w, c in lc.terms.items()) % R


@pytest.mark.parametrize("p,q", [
    (rand_point(), rand_point()), (bj.BASE8, bj.BASE8), (bj.IDENTITY, bj.BASE8),
    (bj.BASE8, bj.neg(bj.BASE8)), (ORDER2, bj.GENERATOR), (ORDER2, ORDER2),
])
def test_add_is_complete(p, q):
    cs, a, b = two_points(p, q)
    with cs.component("sum"):
        s = g.add(cs, a, b)
    assert value(s) == bj.add(p, q)
    assert cs.n_constraints == 6 and cs.check() == []
    assert failing_components(cs, forged(cs, s[0], s[0].value + 1)) == {"sum/bj_add"}


def test_add_constant_point_is_3_constraints():
    p = rand_point()
    cs, a, _ = two_points(p, p)
    s = g.add(cs, a, bj.BASE8)
    assert value(s) == bj.add(p, bj.BASE8) and cs.n_constraints == 3 and cs.check() == []


@pytest.mark.parametrize("p", [rand_point(), bj.IDENTITY, ORDER2, bj.GENERATOR])
def test_double(p):
    cs, a, _ = two_points(p, p)
    d = g.double(cs, a)
    assert value(d) == bj.double(p) and cs.n_constraints == 5 and cs.check() == []


def test_on_curve():
    for p, ok in [(rand_point(), True), (bj.IDENTITY, True), ((1, 2), False)]:
        cs, a, _ = two_points(p, p)
        with cs.component("c"):
            g.on_curve(cs, a)
        assert cs.n_constraints == 3
        assert (failing_components(cs) == set()) == ok
        if not ok:
            assert failing_components(cs) == {"c/on_curve"}


def test_montgomery_round_trip_and_ops():
    p, q = rand_point(), rand_point()
    cs, a, b = two_points(p, q)
    pm, qm = g.to_montgomery(cs, a), g.to_montgomery(cs, b)
    assert value(g.from_montgomery(cs, g.mont_add(cs, pm, qm))) == bj.add(p, q)
    assert value(g.from_montgomery(cs, g.mont_double(cs, pm))) == bj.double(p)
    assert cs.check() == []


def fixed_system(s, n):
    cs = ConstraintSystem()
    bits = to_bits(cs, cs.private_input("s", s), n)
    with cs.component("mul"):
        out = g.scalar_mul_fixed(cs, bits)
    return cs, out


@pytest.mark.parametrize("n,scalars", [
    (251, [0, 1, 2, L - 1, (1 << 249) - 1, 1 << 250, (1 << 251) - 1]),
    (253, [(1 << 253) - 1, L, 3 * L + 5]),
    (8, [0, 255, 77]),
])
def test_fixed_base(n, scalars):
    cs, out = fixed_system(0, n)
    for s in scalars + [rng.randrange(1 << n)]:
        vals = cs.solve({"s": s})
        assert cs.check(values=vals) == [], s
        assert (ev(vals, out[0]), ev(vals, out[1])) == bj.mul(bj.BASE8, s), s


def test_fixed_base_count_and_forgery():
    cs, out = fixed_system(rng.randrange(L), 251)
    print(f"scalar_mul_fixed(251 bits): {cs.n_constraints - 251}")
    assert cs.n_constraints - 251 <= 505
    assert failing_components(cs, forged(cs, out[1], out[1].value + 1)) <= {
        "mul/bj_mul_fixed", "mul/bj_mul_fixed/bj_add"}


def any_system(point):
    cs = ConstraintSystem()
    p = (cs.private_input("x", point[0]), cs.private_input("y", point[1]))
    with cs.component("mul"):
        out = g.scalar_mul_any(cs, cs.private_input("h", 0), p)
    return cs, out


def test_scalar_mul_any():
    p = rand_point()
    cs, out = any_system(p)
    print(f"scalar_mul_any(field element): {cs.n_constraints}")
    assert cs.n_constraints <= 1950
    edge = [0, 1, 2, 31, 32, L - 1, L, L + 1, (1 << 250) - 1, R - 1, R - L, rng.randrange(R)]
    for h in edge:
        vals = cs.solve({"x": p[0], "y": p[1], "h": h})
        assert cs.check(values=vals) == [], h
        assert (ev(vals, out[0]), ev(vals, out[1])) == bj.mul(p, h), h


def test_scalar_bits_range_is_exact():
    # the decomposition k = h + C must stay in [C, r - 1 + C]: both ends accepted, a k outside
    # (the other representative h + C + r or h + C - r) rejected
    cs = ConstraintSystem()
    with cs.component("sb"):
        bits = g.scalar_bits_mod_l(cs, cs.private_input("h", 0))
    for h in (0, R - 1):
        assert cs.check(values=cs.solve({"h": h})) == []
    for k in (g.OFFSET - 1, R + g.OFFSET):
        if not 0 <= k < 1 << 254:
            continue
        vals = cs.solve({"h": (k - g.OFFSET) % R})
        for i, b in enumerate(bits):
            vals[b.wire] = (k >> i) & 1
        assert {v.component for v in cs.check(values=vals)} & {"sb/scalar_bits/bits_ge",
                                                                "sb/scalar_bits/bits_le"}, k


@pytest.mark.parametrize("n", [1, 3, 5])
def test_bits_le_and_ge_exhaustive(n):
    for c, v, en, op in itertools.product(range((1 << n) + 1), range(1 << n), (0, 1), "lg"):
        cs = ConstraintSystem()
        e = cs.private_input("en", en)
        bits = [cs.private_input(f"b{i}", (v >> i) & 1) for i in range(n)]
        if op == "l":
            g.assert_bits_le(cs, bits, c, e)
            ok = v <= c
        elif c < 1 << n:
            g.assert_bits_ge(cs, bits, c, e)
            ok = v >= c
        else:
            with pytest.raises(ValueError):
                g.assert_bits_ge(cs, bits, c, e)
            continue
        assert (cs.check() == []) == (ok or not en), (n, c, v, en, op)


def test_bits_le_cannot_be_forged_by_the_hint():
    # with value > c, the first mismatch sits where M = 0: 0 * w == Z fails for every w
    for v, c in itertools.product(range(16), range(15)):
        if v <= c:
            continue
        cs = ConstraintSystem()
        bits = [cs.private_input(f"b{i}", (v >> i) & 1) for i in range(4)]
        g.assert_bits_le(cs, bits, c)
        for w in range(cs.n_signals):
            if cs.kind[w] == 4 and cs.n_constraints:
                vals = list(cs.values)
                vals[w] = rng.randrange(R)
                assert cs.check(values=vals) != []
        assert cs.check() != []
