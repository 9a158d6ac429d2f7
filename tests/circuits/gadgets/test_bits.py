from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.dsl import ConstraintSystem, R
from circuits.gadgets.bits import (
    assert_bool,
    from_bits,
    from_bits_native,
    range_check,
    to_bits,
    to_bits_native,
)
from tests.support.gadgets import failing_components, forged


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=253).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=(1 << n) - 1))))
def test_to_bits_matches_native(nv):
    n, v = nv
    cs = ConstraintSystem()
    x = cs.private_input("x", v)
    bits = to_bits(cs, x, n)
    assert [b.value for b in bits] == to_bits_native(v, n)
    assert from_bits(bits).value == v == from_bits_native(to_bits_native(v, n))
    assert cs.n_constraints == n
    assert cs.check() == []


def test_to_bits_constant_is_free():
    cs = ConstraintSystem()
    bits = to_bits(cs, cs.const(10), 4)
    assert [b.constant() for b in bits] == [0, 1, 0, 1]
    assert cs.n_constraints == 0
    with pytest.raises(ValueError):
        to_bits(cs, cs.const(16), 4)


def test_out_of_range_value_fails_in_num2bits():
    cs = ConstraintSystem()
    x = cs.private_input("x", 300)
    with cs.component("rc"):
        range_check(cs, x, 8)
    assert failing_components(cs) == {"rc/num2bits8"}
    # negative numbers are huge field elements: also out of range
    cs2 = ConstraintSystem()
    y = cs2.private_input("y", R - 1)
    range_check(cs2, y, 64)
    assert cs2.check()


def test_wrong_bit_fails():
    cs = ConstraintSystem()
    x = cs.private_input("x", 0b1011)
    with cs.component("dec"):
        bits = to_bits(cs, x, 4)
    bad = [b for b in bits if b.wire is not None and b.wire in cs._finalize().wire_of]
    assert len(bad) == 3  # one bit is substituted by the recomposition
    for b in bad:
        assert failing_components(cs, forged(cs, b, 1 - b.value)) == {"dec/num2bits4"}
        assert failing_components(cs, forged(cs, b, 2)) == {"dec/num2bits4"}


def test_assert_bool():
    cs = ConstraintSystem()
    x = cs.private_input("x", 1)
    assert_bool(cs, x)
    assert cs.n_constraints == 1 and cs.check() == []
    assert failing_components(cs, forged(cs, x, 3)) == {"bool"}


def test_width_limits():
    cs = ConstraintSystem()
    x = cs.private_input("x", 1)
    with pytest.raises(ValueError):
        to_bits(cs, x, 254)
    with pytest.raises(ValueError):
        to_bits(cs, x, 0)
