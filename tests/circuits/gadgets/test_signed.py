from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.dsl import ConstraintSystem
from circuits.gadgets import signed as sg
from tests.support.gadgets import failing_components

N = 64
s64 = st.integers(min_value=-(1 << (N - 1)), max_value=(1 << (N - 1)) - 1)
u16 = st.integers(min_value=0, max_value=(1 << 16) - 1)


def sys_with(*vs):
    cs = ConstraintSystem()
    return cs, [cs.private_input(f"x{i}", sg.encode(v)) for i, v in enumerate(vs)]


@settings(max_examples=50, deadline=None)
@given(s64, s64, u16)
def test_signed_ops_match_native(a, b, u):
    cs, (x, y) = sys_with(a, b)
    uu = cs.private_input("u", u)
    assert sg.is_negative(cs, x, N).value == sg.is_negative_native(a, N)
    assert sg.is_positive(cs, x, N).value == sg.is_positive_native(a, N)
    assert sg.decode(sg.abs_(cs, x, N).value) == sg.abs_native(a, N)
    assert sg.decode(sg.relu(cs, x, N).value) == sg.relu_native(a, N)
    assert sg.less_than(cs, x, y, N).value == sg.less_than_native(a, b, N)
    assert sg.decode(sg.mul_unsigned(cs, x, N, uu, 16).value) == sg.mul_unsigned_native(
        a, N, u, 16)
    assert sg.decode(sg.add(cs, x, y, N + 1).value) == sg.add_native(a, b, N + 1)
    assert cs.check() == []


def test_costs():
    cs, (x, y) = sys_with(-5, 7)
    counts = []
    for f in (lambda: sg.assert_signed(cs, x, N), lambda: sg.abs_(cs, x, N),
              lambda: sg.add(cs, x, y, N), lambda: sg.less_than(cs, x, y, N),
              lambda: sg.is_positive(cs, x, N), lambda: sg.assert_nonnegative(cs, y, N)):
        before = cs.n_constraints
        f()
        counts.append(cs.n_constraints - before)
    assert counts == [N, N + 1, N, N + 1, N + 2, N - 1]


def test_overflowing_sum_fails():
    hi = (1 << (N - 1)) - 1
    cs, (x, y) = sys_with(hi, 1)
    with cs.component("acc"):
        sg.add(cs, x, y, N)
    assert failing_components(cs) == {f"acc/signed_add/signed{N}/num2bits{N}"}
    cs2, (z,) = sys_with(-5)
    sg.assert_nonnegative(cs2, z, N)
    assert cs2.check()


def test_forged_sign_fails():
    cs, (x,) = sys_with(-3)
    with cs.component("pos"):
        neg = sg.is_negative(cs, x, N)
    flag = cs.public_output("neg", neg)
    assert flag.value == 1
    w = cs.witness()
    w[cs.wire_index(flag)] = 0
    assert failing_components(cs, w) == {f"pos/signed{N}/num2bits{N}"}


def test_encoding_roundtrip():
    for v in (0, 1, -1, -(1 << 63), (1 << 63) - 1):
        assert sg.decode(sg.encode(v)) == v
        assert sg.fits(v, 64)
    assert not sg.fits(1 << 63, 64)
