"""The constraint-system DSL: constant folding, substitution, wire order, check, replay."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.dsl import LC, ConstraintError, ConstraintSystem, R, const, lin, lsum


def cube_system(x_val=3, **kw):
    cs = ConstraintSystem(**kw)
    x = cs.private_input("x", x_val)
    with cs.component("cube"):
        y = x * x * x + x + 5
    cs.public_output("y", y)
    return cs


def test_cube_counts_and_witness():
    cs = cube_system()
    assert cs.n_constraints == 2
    # x*x*x wire was substituted by the output: wires = one, y, x, x*x
    assert cs.n_wires == 4
    assert cs.witness() == [1, 35, 3, 9]
    assert cs.check() == []
    assert cs.component_counts() == {"": 2, "cube": 2}


def test_lc_constant_folding():
    cs = ConstraintSystem()
    x = cs.private_input("x", 4)
    y = x * 3 + 2 * x - x  # linear
    assert y.terms == {x.wire: 4}
    z = x * const(7)  # constant LC factor: scale
    assert z.terms == {x.wire: 7}
    w = const(6) * const(7)
    assert w.is_constant() and w.constant() == 42
    assert (x - x).terms == {}
    assert (x + (R - 1)).terms == {x.wire: 1, 0: R - 1}
    assert cs.n_constraints == 0
    assert (x * x).value == 16
    assert cs.n_constraints == 1


def test_lin_and_lsum():
    cs = ConstraintSystem()
    xs = [cs.private_input(f"x{i}", i + 1) for i in range(5)]
    s = lin((1 << i, x) for i, x in enumerate(xs))
    assert s.value == sum((i + 1) << i for i in range(5))
    assert lsum(xs + [10]).value == 25
    assert lsum([x - x for x in xs]).terms == {}


def test_public_output_of_product_costs_one_constraint():
    cs = ConstraintSystem()
    a = cs.private_input("a", 6)
    b = cs.private_input("b", 7)
    cs.public_output("c", a * b)
    assert cs.n_constraints == 1
    ((A, B, C),) = cs.constraints()
    assert A == {2: 1} and B == {3: 1} and C == {1: 1}  # one, c, a, b
    assert cs.witness() == [1, 42, 6, 7]
    assert cs.stats()["substituted"] == 1


def test_wire_order_is_iden3():
    cs = ConstraintSystem()
    p = cs.private_input("p", 2)
    i1 = cs.public_input("i1", 3)
    t = p * i1
    q = cs.private_input("q", 5)
    o = cs.public_output("o", t * q)
    i2 = cs.public_input("i2", 4)
    cs.assert_equal(i2 * p, 8)
    f = cs.stats()
    assert (f["public_outputs"], f["public_inputs"], f["private_inputs"]) == (1, 2, 2)
    order = [cs.wire_index(s) for s in (o, i1, i2, p, q, t)]
    assert order == [1, 2, 3, 4, 5, 6]
    assert cs.witness()[:7] == [1, 30, 3, 4, 2, 5, 6]
    assert cs.check() == []


def test_linear_equality_between_inputs_is_one_constraint():
    cs = ConstraintSystem()
    a = cs.public_input("a", 5)
    b = cs.private_input("b", 5)
    with cs.component("eq"):
        cs.assert_equal(a, b)
    assert cs.n_constraints == 1
    ((A, B, C),) = cs.constraints()
    assert B == {0: 1} and C == {}
    assert cs.check() == []
    w = cs.witness()
    w[cs.wire_index(b)] = 6
    (v,) = cs.check(w)
    assert v.component == "eq" and v.a * v.b % R != v.c


def test_substitution_that_makes_a_constraint_linear_cascades():
    cs = ConstraintSystem()
    y = cs.private_input("y", 9)
    t = cs.hint(lambda: 5)
    cs.assert_equal(t, 5)  # t := 5 makes t*y linear, so it is eliminated too
    z = t * y  # becomes 5*y == z: z is then substituted by 5*y
    cs.public_output("o", z * y)
    assert cs.n_constraints == 1
    ((A, B, C),) = cs.constraints()
    assert A == {2: 5} and B == {2: 1} and C == {1: 1}
    assert cs.check() == []
    assert cs.witness() == [1, 405, 9]


def test_inconsistent_constant_equality_raises():
    cs = ConstraintSystem()
    with pytest.raises(ValueError):
        cs.assert_equal(const(1), const(2))


def test_inconsistent_equalities_after_substitution_fail_check():
    cs = ConstraintSystem()
    x = cs.private_input("x", 1)
    t = cs.hint(lambda v: v, x)
    cs.assert_equal(t, 3)
    cs.assert_equal(t, 4)
    bad = cs.check()
    assert bad and any(v.kind == "linear" for v in bad)
    assert cs.n_constraints == 1  # the contradiction 1 == 0 stays visible as a constraint


def test_check_names_component_and_values():
    cs = ConstraintSystem()
    x = cs.private_input("x", 3)
    with cs.component("outer"):
        with cs.component("inner"):
            y = x * x
        z = y * x
    cs.public_output("z", z)
    assert cs.component_counts() == {"": 2, "outer": 2, "outer/inner": 1}
    assert "inner: 1" in cs.component_tree()
    w = cs.witness()
    w[cs.wire_index(y)] = 10
    bad = cs.check(w)
    assert [v.component for v in bad] == ["outer/inner", "outer"]
    first = bad[0]
    assert (first.a, first.b, first.c) == (3, 3, 10)
    assert "outer/inner" in str(first)
    with pytest.raises(ConstraintError, match="outer/inner"):
        cs.assert_satisfied(w)


def test_check_values_covers_substituted_equalities():
    cs = ConstraintSystem()
    a = cs.private_input("a", 2)
    b = cs.private_input("b", 3)
    with cs.component("prod"):
        c = a * b
        d = cs.hint(lambda v: v, c)
        cs.assert_equal(d, c)  # d is substituted away
    cs.public_output("o", d * a)
    vals = list(cs.values)
    vals[d.wire] = 7
    bad = cs.check(values=vals)
    assert any(v.kind == "linear" and v.component == "prod" for v in bad)


def test_solve_replays_hints_and_products():
    cs = cube_system(3, compute_witness=False)
    vals = cs.solve({"x": 5})
    w = cs.witness(vals)
    assert w[1] == 5**3 + 5 + 5
    assert cs.check(w) == []
    built = cube_system(5)
    assert built.witness() == w


def test_no_witness_mode_rejects_witness():
    cs = cube_system(compute_witness=False)
    with pytest.raises(ValueError):
        cs.witness()


def test_lc_has_no_truth_value():
    cs = ConstraintSystem()
    x = cs.private_input("x", 1)
    with pytest.raises(TypeError):
        bool(x)
    assert isinstance(x, LC)


def test_assert_bool():
    cs = ConstraintSystem()
    x = cs.private_input("x", 1)
    cs.assert_bool(x)
    cs.assert_bool(const(0))
    assert cs.n_constraints == 1
    with pytest.raises(ValueError):
        cs.assert_bool(const(2))
    w = cs.witness()
    w[1] = 2
    assert cs.check(w)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=R - 1), min_size=2, max_size=6))
def test_product_chain_matches_native(xs):
    cs = ConstraintSystem()
    sigs = [cs.private_input(f"x{i}", v) for i, v in enumerate(xs)]
    acc = sigs[0]
    native = xs[0]
    for s, v in zip(sigs[1:], xs[1:], strict=True):
        acc = acc * (s + 1)
        native = native * (v + 1) % R
    out = cs.public_output("out", acc)
    assert out.value == native
    assert cs.n_constraints == len(xs) - 1
    assert cs.check() == []
