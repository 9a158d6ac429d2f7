from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.dsl import ConstraintSystem
from circuits.gadgets import select as sel
from circuits.gadgets.bits import to_bits
from tests.support.gadgets import failing_components, forged

vals = st.lists(st.integers(min_value=0, max_value=2**64), min_size=1, max_size=9)


@settings(max_examples=40, deadline=None)
@given(vals, st.data())
def test_select_matches_native(values, data):
    i = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    cs = ConstraintSystem()
    idx = cs.private_input("i", i)
    sigs = [cs.private_input(f"v{j}", v) for j, v in enumerate(values)]
    out = sel.select(cs, idx, sigs)
    assert out.value == sel.select_native(i, values)
    assert cs.check() == []


def test_select_rejects_out_of_range_index():
    cs = ConstraintSystem()
    idx = cs.private_input("i", 5)  # 5 fits the 3 index bits but the list has 5 entries
    sigs = [cs.private_input(f"v{j}", j) for j in range(5)]
    sel.select(cs, idx, sigs)
    assert failing_components(cs) == {"select/assert_lt3/num2bits3"}


def test_mux_counts():
    cs = ConstraintSystem()
    s = to_bits(cs, cs.private_input("s", 5), 3)
    xs = [cs.private_input(f"x{j}", 10 * j) for j in range(8)]
    before = cs.n_constraints
    out = sel.mux(cs, s, xs)
    assert out.value == 50
    assert cs.n_constraints - before == 7
    # a table of constants: the first level is linear in the low bit
    before = cs.n_constraints
    table = [7, 1, 9, 4, 4, 8, 2, 6]
    out = sel.mux(cs, s, table)
    assert out.value == 8
    # level 1 folds; in level 2 the pair (4 + 4 s0, 2 + 4 s0) differs by a constant and folds too
    assert cs.n_constraints - before == 2
    assert sel.mux_native([1, 0, 1], list(range(8))) == 5


@pytest.mark.parametrize("bit", [0, 1])
def test_cswap(bit):
    cs = ConstraintSystem()
    s = cs.private_input("s", bit)
    a = cs.private_input("a", 11)
    b = cs.private_input("b", 22)
    with cs.component("path"):
        left, right = sel.cswap(cs, s, a, b)
    assert (left.value, right.value) == sel.cswap_native(bit, 11, 22)
    assert cs.n_constraints == 1
    # outputs pinned as public signals, then a forged product is caught in the swap
    cs.public_output("l", left)
    cs.public_output("r", right)
    w = forged(cs, cs.names["l"], 33)
    # the product is caught in the swap; r == b - l + a joins only interface signals, so it
    # stays a root-level linear constraint
    assert failing_components(cs, w) == {"path/cswap", ""}


def test_mux2_constant_selector_is_free():
    cs = ConstraintSystem()
    a = cs.private_input("a", 1)
    b = cs.private_input("b", 2)
    assert sel.mux2(cs, 1, a, b).value == 2
    assert cs.n_constraints == 0
