"""Poseidon with circomlib's parameters, for every width circomlib defines (1..16 inputs).

Same permutation as the native twin `circuits.poseidon.poseidon` (state [0, x_1..x_n], output
state[0]); the circuit runs the equivalent sparse schedule of
`circuits.poseidon_constants.optimized_tables`. Only the S-boxes cost constraints: linear layers
and round constants fold into the LCs. x^5 is ``x2 = x*x, x4 = x2*x2, x5 = x4*x`` (3 constraints);
full rounds apply it to all t elements, partial rounds to element 0 only, so

    constraints = 3 * (R_F * t + R_P) - 3 * (number of S-box inputs that are constants)

and state[0] = 0 + c_0 in the first round is a constant: Poseidon(2) = 3*(8*3 + 57) - 3 = 240,
Poseidon(5) = 3*(8*6 + 60) - 3 = 321, as circomlib with circom --O2.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, as_lc, lin
from ..poseidon_constants import MAX_WIDTH, optimized_tables, params

MAX_INPUTS = MAX_WIDTH - 1


def _sbox(cs: ConstraintSystem, x: LC) -> LC:
    # x^5 = (x^2)^2 * x; constant inputs fold without constraints
    x2 = x * x
    x4 = x2 * x2
    return x4 * x


def _full_round(cs: ConstraintSystem, s: list[LC], constants: list[int], mds) -> list[LC]:
    s = [_sbox(cs, x + c) for x, c in zip(s, constants, strict=True)]
    return [lin(zip(row, s, strict=True), cs) for row in mds]


def poseidon_permutation(cs: ConstraintSystem, state: Sequence[LC | int]) -> list[LC]:
    """The width-t permutation (t = 2..17) of LCs; returns the t output LCs."""
    t = len(state)
    tab = optimized_tables(t)  # raises for an unsupported width
    mds = params(t).mds
    s = [as_lc(x) for x in state]
    for constants in tab.first_constants:
        s = _full_round(cs, s, constants, mds)
    for k, (a, w, v) in enumerate(tab.sparse):
        x = _sbox(cs, s[0] + tab.partial_constants[k])
        # sparse matrix: s0' = a*x + sum_j w_j s_j, s_j' = s_j + v_j * x
        s0 = lin([(a, x)] + [(w[j - 1], s[j]) for j in range(1, t)], cs)
        s = [s0] + [s[j] + x.scale(v[j - 1]) for j in range(1, t)]
    post = tab.post_matrix
    s = [s[0]] + [lin(zip(post[i - 1], s[1:], strict=True), cs) for i in range(1, t)]
    for constants in tab.last_constants:
        s = _full_round(cs, s, constants, mds)
    return s


def poseidon(cs: ConstraintSystem, inputs: Sequence[LC | int]) -> LC:
    """circomlib ``Poseidon(n)`` of 1..16 inputs; returns the hash as an LC."""
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise ValueError(f"poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    with cs.component(f"poseidon{n}"):
        return poseidon_permutation(cs, [0, *inputs])[0]


def poseidon_constraints(n: int) -> int:
    """The constraint count of `poseidon` on n non-constant inputs (formula of the docstring)."""
    t = n + 1
    p = params(t)
    return 3 * (p.full_rounds * t + p.partial_rounds) - 3
