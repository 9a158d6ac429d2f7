"""Poseidon parameters for BN254's scalar field, generated as circomlib's were.

Re-runs the Poseidon authors' ``generate_parameters_grain.sage`` (eprint 2019/458, Appendix F)
with circomlib's arguments, ``1 0 254 t 8 R_P r`` for t = 2..17, instead of pasting ~11,000
numbers: a Grain LFSR with self-shrinking yields the round constants (rejection-sampled below r)
and a Cauchy MDS matrix. Tables are plain Python ints, generated once per width on first use;
``tests/circuits/test_poseidon.py`` checks them against circomlibjs's constant file.

``optimized_tables`` factors the partial rounds into one constant and one sparse matrix each
plus a pre-matrix, as circomlib's ``poseidon_constants.circom`` does (moving forward through the
rounds rather than backward: other numbers, the same permutation). Details: docs/circuits.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


class PoseidonInputError(ValueError):
    """An input is not a canonical field element, or the number of inputs is unsupported."""


# BN254 scalar field (the field of circuit signals).
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
FIELD_BITS = 254
ALPHA = 5
FULL_ROUNDS = 8
# Partial rounds for t = 2..17 (nInputs = 1..16), as fixed by circomlib.
PARTIAL_ROUNDS = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
MIN_WIDTH = 2
MAX_WIDTH = 17

def partial_rounds(t: int) -> int:
    _check_width(t)
    return PARTIAL_ROUNDS[t - MIN_WIDTH]


def _check_width(t: int) -> None:
    if not (MIN_WIDTH <= t <= MAX_WIDTH):
        raise ValueError(f"Poseidon width t must be in {MIN_WIDTH}..{MAX_WIDTH}, got {t}")


class GrainLFSR:
    """The self-shrinking Grain LFSR of the Poseidon reference script, producing a bit stream.

    The 80-bit state is an int whose bit k is the k-th oldest bit. The nearest tap (62) lies 18
    positions before the new bit, so 18 new bits depend only on the current state and are computed
    at once with shifts and xors.
    """

    _TAPS = (62, 51, 38, 23, 13, 0)
    _STEP = 18
    _MASK = (1 << _STEP) - 1

    def __init__(self, field: int, sbox: int, n: int, t: int, r_f: int, r_p: int) -> None:
        seed = (
            format(field, "02b")
            + format(sbox, "04b")
            + format(n, "012b")
            + format(t, "012b")
            + format(r_f, "010b")
            + format(r_p, "010b")
            + "1" * 30
        )
        assert len(seed) == 80
        # seed[0] is the oldest bit -> bit 0 of the state.
        self._state = int(seed[::-1], 2)
        self._raw = ""  # raw LFSR bits not yet consumed (oldest first)
        self._out = ""  # self-shrunk bits not yet consumed (oldest first)
        self._raw_bits(160)  # warm-up, discarded

    def _clock(self, nchunks: int) -> str:
        s = self._state
        mask = self._MASK
        acc = 0
        for k in range(nchunks):
            new = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & mask
            s = (s >> 18) | (new << 62)
            acc |= new << (18 * k)
        self._state = s
        nbits = 18 * nchunks
        # bit j of acc is the j-th produced bit; reverse so that index 0 is the oldest.
        return format(acc, f"0{nbits}b")[::-1]

    def _raw_bits(self, count: int) -> str:
        while len(self._raw) < count:
            self._raw += self._clock(max(64, (count - len(self._raw)) // 18 + 1))
        bits, self._raw = self._raw[:count], self._raw[count:]
        return bits

    def bits(self, count: int) -> str:
        """`count` output bits of the self-shrinking generator, oldest first."""
        while len(self._out) < count:
            # On average 4 raw bits per output bit.
            need = 4 * (count - len(self._out)) + 64
            raw = self._raw_bits(need - need % 2)
            self._out += "".join(b for a, b in zip(raw[0::2], raw[1::2], strict=True) if a == "1")
        bits, self._out = self._out[:count], self._out[count:]
        return bits

    def integer(self, n: int) -> int:
        """n output bits read as an integer, most significant bit first."""
        return int(self.bits(n), 2)


def _inv(a: int) -> int:
    return pow(a, R - 2, R)


def mat_inverse(m: list[list[int]]) -> list[list[int]]:
    """Inverse over F_r by Gauss-Jordan elimination; ValueError if singular."""
    n = len(m)
    a = [[x % R for x in row] + [int(i == j) for j in range(n)] for i, row in enumerate(m)]
    for col in range(n):
        piv = next((i for i in range(col, n) if a[i][col]), None)
        if piv is None:
            raise ValueError("singular matrix")
        a[col], a[piv] = a[piv], a[col]
        inv = _inv(a[col][col])
        a[col] = [x * inv % R for x in a[col]]
        for i in range(n):
            if i != col and a[i][col]:
                f = a[i][col]
                a[i] = [(x - f * y) % R for x, y in zip(a[i], a[col], strict=True)]
    return [row[n:] for row in a]


def mat_mul(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    cols = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, col, strict=True)) % R for col in cols] for row in a]


def mat_vec(m: list[list[int]], v: list[int]) -> list[int]:
    return [sum(x * y for x, y in zip(row, v, strict=True)) % R for row in m]


@dataclass(frozen=True)
class PoseidonParams:
    """Plain Poseidon tables for one width t (what the reference permutation uses).

    round_constants: (R_F + R_P) * t ints, round r adds round_constants[r*t + i] to state[i].
    mds: t x t, the linear layer is new[i] = sum_j mds[i][j] * state[j].
    """

    t: int
    full_rounds: int
    partial_rounds: int
    round_constants: list[int]
    mds: list[list[int]]


@cache
def params(t: int) -> PoseidonParams:
    """Generate (once per process) the circomlib Poseidon tables for width t."""
    _check_width(t)
    r_f, r_p = FULL_ROUNDS, partial_rounds(t)
    grain = GrainLFSR(field=1, sbox=0, n=FIELD_BITS, t=t, r_f=r_f, r_p=r_p)

    constants = []
    for _ in range((r_f + r_p) * t):
        c = grain.integer(FIELD_BITS)
        while c >= R:
            c = grain.integer(FIELD_BITS)
        constants.append(c)

    # Cauchy MDS. The reference redraws when an element repeats or some x_i + y_j is zero.
    # (Newer versions of the script then also test the matrix against invariant-subspace
    # attacks and redraw if it fails; the first draw is what circomlib's tables contain.)
    while True:
        draws = [grain.integer(FIELD_BITS) % R for _ in range(2 * t)]
        while len(set(draws)) != len(draws):
            draws = [grain.integer(FIELD_BITS) % R for _ in range(2 * t)]
        xs, ys = draws[:t], draws[t:]
        if all((x + y) % R for x in xs for y in ys):
            break
    mds = [[_inv((x + y) % R) for y in ys] for x in xs]
    return PoseidonParams(t, r_f, r_p, constants, mds)


@dataclass(frozen=True)
class OptimizedTables:
    """An equivalent, cheaper schedule of the same permutation (see module docstring).

    Rounds 0 .. R_F/2 - 1 are plain full rounds with first_constants[r] and the dense mds.
    Then each partial round k: s0 += partial_constants[k]; s0 = s0^5; then the sparse matrix
    sparse[k] = (a, w, v): s0' = a*s0 + sum_j w[j]*s[j+1]; s[i+1]' = v[i]*s0 + s[i+1].
    Then the dense (t-1)x(t-1) ``post_matrix`` is applied to s[1:] (s0 unchanged), and the
    last R_F/2 rounds are plain full rounds with last_constants[r] and the dense mds.
    """

    t: int
    first_constants: list[list[int]]
    partial_constants: list[int]
    sparse: list[tuple[int, list[int], list[int]]]
    post_matrix: list[list[int]]
    last_constants: list[list[int]]


@cache
def optimized_tables(t: int) -> OptimizedTables:
    p = params(t)
    half = p.full_rounds // 2
    c = [p.round_constants[k * t : (k + 1) * t] for k in range(p.full_rounds + p.partial_rounds)]
    m = p.mds

    # 1. Constants: of a partial round's constant vector only component 0 has to be added before
    # the S-box; the rest passes linearly, so its image through M is carried into the next round.
    carry = [0] * t
    partial_constants = []
    for k in range(half, half + p.partial_rounds):
        ck = [(a + b) % R for a, b in zip(c[k], carry, strict=True)]
        partial_constants.append(ck[0])
        carry = mat_vec(m, [0] + ck[1:])
    last_constants = [list(row) for row in c[half + p.partial_rounds :]]
    last_constants[0] = [(a + b) % R for a, b in zip(last_constants[0], carry, strict=True)]

    # 2. Matrices: write A = [[a, w], [u, B]] = diag(1, B) * [[a, w], [B^-1 u, I]]. diag(1, B)
    # leaves s0 alone, so it commutes with a partial round's S-box and its constant (both touch
    # s0 only) and is moved into the next round: A_next = M * diag(1, B).
    a_mat = m
    sparse = []
    b: list[list[int]] = []
    for _ in range(p.partial_rounds):
        b = [row[1:] for row in a_mat[1:]]
        u = [row[0] for row in a_mat[1:]]
        v = mat_vec(mat_inverse(b), u)
        sparse.append((a_mat[0][0], list(a_mat[0][1:]), v))
        diag = [[1] + [0] * (t - 1)] + [[0] + row for row in b]
        a_mat = mat_mul(m, diag)
    # After the last partial round the pending factor is diag(1, B_last).
    post_matrix = b
    return OptimizedTables(
        t=t,
        first_constants=[list(row) for row in c[:half]],
        partial_constants=partial_constants,
        sparse=sparse,
        post_matrix=post_matrix,
        last_constants=last_constants,
    )
