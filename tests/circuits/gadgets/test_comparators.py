from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.dsl import ConstraintSystem, R
from circuits.gadgets import comparators as cmp
from tests.support.gadgets import failing_components, forged

u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


def two_inputs(a, b):
    cs = ConstraintSystem()
    return cs, cs.private_input("a", a), cs.private_input("b", b)


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.just(0), st.integers(min_value=0, max_value=R - 1)))
def test_is_zero(v):
    cs = ConstraintSystem()
    x = cs.private_input("x", v)
    out = cmp.is_zero(cs, x)
    assert out.value == cmp.is_zero_native(v)
    assert cs.n_constraints == 2 and cs.check() == []
    # flipping the output is caught inside is_zero
    assert failing_components(cs, forged(cs, out, 1 - out.value)) == {"is_zero"}


@settings(max_examples=30, deadline=None)
@given(u64, st.booleans())
def test_is_equal(a, same):
    b = a if same else a ^ 1
    cs, x, y = two_inputs(a, b)
    out = cmp.is_equal(cs, x, y)
    assert out.value == cmp.is_equal_native(a, b) == int(same)
    assert cs.n_constraints == 2 and cs.check() == []


@settings(max_examples=60, deadline=None)
@given(u64, u64)
def test_comparisons_64(a, b):
    cs, x, y = two_inputs(a, b)
    outs = {
        "lt": (cmp.less_than(cs, x, y, 64), cmp.less_than_native(a, b, 64)),
        "le": (cmp.less_eq(cs, x, y, 64), cmp.less_eq_native(a, b, 64)),
        "gt": (cmp.greater_than(cs, x, y, 64), cmp.greater_than_native(a, b, 64)),
        "ge": (cmp.greater_eq(cs, x, y, 64), cmp.greater_eq_native(a, b, 64)),
    }
    for got, want in outs.values():
        assert got.value == want
    assert cs.n_constraints == 4 * 65
    assert cs.check() == []


def test_less_than_64_is_65_constraints_like_circomlib():
    cs, x, y = two_inputs(5, 9)
    out = cmp.less_than(cs, x, y, 64)
    cs.public_output("out", out)
    assert cs.n_constraints == 65  # circomlib LessThan(64) with --O2: 65
    assert cs.n_wires == 67  # as circom: one, out, 2 inputs, 63 bits
    assert cs.check() == []


def test_forged_comparator_output_fails_in_less_than():
    cs, x, y = two_inputs(5, 9)
    with cs.component("cmp"):
        out = cmp.less_than(cs, x, y, 64)
    flag = cs.public_output("lt", out)
    assert flag.value == 1
    # the flag's bit is substituted by 1 - lt, so flipping lt breaks the decomposition
    assert failing_components(cs, forged(cs, flag, 0)) == {"cmp/less_than64/num2bits65"}


def test_constant_comparisons_fold():
    cs = ConstraintSystem()
    assert cmp.less_than(cs, 3, 4, 8).constant() == 1
    assert cmp.less_than(cs, 4, 3, 8).constant() == 0
    assert cmp.is_zero(cs, 0).constant() == 1
    assert cs.n_constraints == 0


@settings(max_examples=30, deadline=None)
@given(u64, u64)
def test_assert_less(a, b):
    cs, x, y = two_inputs(a, b)
    with cs.component("lt"):
        cmp.assert_less_than(cs, x, y, 64)
    with cs.component("le"):
        cmp.assert_less_eq(cs, x, y, 64)
    assert cs.n_constraints == 128
    roots = {c.split("/")[0] for c in failing_components(cs)}
    assert roots == ({"lt"} if a >= b else set()) | ({"le"} if a > b else set())


@pytest.mark.parametrize("lo,hi,cost", [(10, 17, 3), (10, 20, 8), (0, 255, 8), (5, 5, 1)])
def test_assert_in_range(lo, hi, cost):
    # a one-point range is x == lo: a kept linear constraint for an input signal
    for v in range(lo - 3, hi + 4):
        cs = ConstraintSystem()
        x = cs.private_input("x", v % R)
        cmp.assert_in_range(cs, x, lo, hi)
        assert cs.n_constraints == cost
        assert (cs.check() == []) == cmp.in_range_native(v, lo, hi)
