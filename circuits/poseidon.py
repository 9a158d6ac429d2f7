"""Native Poseidon hash, bit-compatible with circomlib's ``Poseidon(n)`` and circomlibjs.

poseidon([x_1..x_n]) for n = 1..16: state = [0, x_1, ..., x_n] over F_r (t = n + 1), the
permutation below, output state[0]. The permutation (Poseidon paper, eprint 2019/458, section 2):
R_F/2 full rounds, R_P partial rounds, R_F/2 full rounds; each round adds its round constants,
applies x -> x^5 (to every element in full rounds, to state[0] only in partial rounds), then
multiplies by the MDS matrix.

Two implementations: ``poseidon_permutation_reference`` follows that definition literally (the
tests hold the fast one to it); ``poseidon_permutation`` runs the equivalent sparse schedule of
``poseidon_constants.optimized_tables`` as straight-line code generated once per width, with the
constants inlined as literals. Products are summed unreduced and reduced once per output element
(Python ints do not overflow, and one ``%`` on a ~520-bit sum is cheaper than t of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from circuits.poseidon_constants import (
    MAX_WIDTH,
    MIN_WIDTH,
    PoseidonInputError,
    R,
    optimized_tables,
    params,
)

__all__ = [
    "PoseidonInputError",
    "poseidon",
    "poseidon_permutation",
    "poseidon_permutation_reference",
    "poseidon_python",
]


def _check_state(state: Sequence[int]) -> list[int]:
    t = len(state)
    if not (MIN_WIDTH <= t <= MAX_WIDTH):
        raise PoseidonInputError(f"state width must be {MIN_WIDTH}..{MAX_WIDTH}, got {t}")
    out = []
    for x in state:
        if isinstance(x, bool) or not isinstance(x, int):
            raise TypeError(f"field elements must be int, got {type(x).__name__}")
        if not (0 <= x < R):
            raise PoseidonInputError("field element out of range [0, r)")
        out.append(x)
    return out


def poseidon_permutation_reference(state: Sequence[int]) -> list[int]:
    """The textbook permutation with the plain (C, M) tables; slow, for cross-checking."""
    s = _check_state(state)
    t = len(s)
    p = params(t)
    half = p.full_rounds // 2
    c, m = p.round_constants, p.mds
    for r in range(p.full_rounds + p.partial_rounds):
        s = [(x + c[r * t + i]) % R for i, x in enumerate(s)]
        if r < half or r >= half + p.partial_rounds:
            s = [pow(x, 5, R) for x in s]
        else:
            s[0] = pow(s[0], 5, R)
        s = [sum(mij * x for mij, x in zip(row, s, strict=True)) % R for row in m]
    return s


def _generate_source(t: int) -> str:
    """Straight-line Python for the width-t permutation over local variables s0..s{t-1}."""
    tab = optimized_tables(t)
    mds = params(t).mds
    idx = range(t)
    lines = [f"def permute_{t}(" + ", ".join(f"s{i}" for i in idx) + "):"]
    emit = lines.append

    def full_round(constants: list[int]) -> None:
        # x^5 as x^2 = x*x, x^4 = x^2*x^2, x^4*x: three multiplications and three reductions
        # (measured: as fast as pow(x, 5, P), and faster than fewer reductions of larger ints).
        for i in idx:
            emit(f"    x = s{i} + {constants[i]}")
            emit("    y = x * x % P")
            emit(f"    s{i} = (y * y % P) * x % P")
        for i in idx:
            terms = " + ".join(f"{mds[i][j]} * s{j}" for j in idx)
            emit(f"    n{i} = ({terms}) % P")
        emit("    " + ", ".join(f"s{i}" for i in idx) + " = " + ", ".join(f"n{i}" for i in idx))

    for constants in tab.first_constants:
        full_round(constants)
    for k, (a, w, v) in enumerate(tab.sparse):
        emit(f"    x = s0 + {tab.partial_constants[k]}")
        emit("    y = x * x % P")
        emit("    x = (y * y % P) * x % P")
        terms = " + ".join([f"{a} * x"] + [f"{w[j - 1]} * s{j}" for j in range(1, t)])
        emit(f"    s0 = ({terms}) % P")
        for i in range(1, t):
            # Left unreduced: grows by < 2^254 * r per round, reduced in the post matrix below.
            emit(f"    s{i} = s{i} + {v[i - 1]} * x")
        if k % 8 == 7:
            # Keep the unreduced limbs small (a few hundred bits) so products stay cheap.
            for i in range(1, t):
                emit(f"    s{i} %= P")
    post = tab.post_matrix
    for i in range(1, t):
        terms = " + ".join(f"{post[i - 1][j - 1]} * s{j}" for j in range(1, t))
        emit(f"    n{i} = ({terms}) % P")
    if t > 1:
        emit("    " + ", ".join(f"s{i}" for i in range(1, t)) + " = "
             + ", ".join(f"n{i}" for i in range(1, t)))
    for constants in tab.last_constants:
        full_round(constants)
    emit("    return [" + ", ".join(f"s{i}" for i in idx) + "]")
    return "\n".join(lines) + "\n"


@cache
def _permutation(t: int) -> Callable[..., list[int]]:
    namespace: dict[str, object] = {"P": R}
    code = compile(_generate_source(t), f"<poseidon permutation t={t}>", "exec")
    exec(code, namespace)  # noqa: S102 - source generated above from our own tables
    return namespace[f"permute_{t}"]  # type: ignore[return-value]


def poseidon_permutation(state: Sequence[int]) -> list[int]:
    """The Poseidon permutation of circomlib's parameters for width len(state) (2..17)."""
    s = _check_state(state)
    return _permutation(len(s))(*s)


_fast_hash: Callable[[Sequence[int]], int] | None = None


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib Poseidon(n) of 1..16 field elements (ints in [0, r)); returns an int in [0, r).

    Raises PoseidonInputError (a ValueError) for an element outside [0, r) or a bad input count,
    TypeError for non-int elements.

    Runs the Numba kernel of ``circuits.poseidon_fast`` (about 10x lower latency per call than
    ``poseidon_python``), imported on the first call so that ``import circuits`` stays light.
    """
    global _fast_hash
    if _fast_hash is None:
        from circuits.poseidon_fast import poseidon_fast  # lazy: Numba, on the first hash

        _fast_hash = poseidon_fast
    return _fast_hash(inputs)


def poseidon_python(inputs: Sequence[int]) -> int:
    """``poseidon`` in pure Python (the same checks and errors), without Numba."""
    n = len(inputs)
    if not (1 <= n <= MAX_WIDTH - 1):
        raise PoseidonInputError(f"poseidon takes 1..{MAX_WIDTH - 1} inputs, got {n}")
    for x in inputs:
        if isinstance(x, bool) or not isinstance(x, int):
            raise TypeError(f"field elements must be int, got {type(x).__name__}")
        if not (0 <= x < R):
            raise PoseidonInputError("poseidon input out of range [0, r)")
    return _permutation(n + 1)(0, *inputs)[0]
