"""Multi-scalar multiplication sum_i k_i P_i over G1 or G2 (affine bases), on the CPU, as tasks.

Scalars come in one of three explicit forms, because the prover meets all of them: Python ints
(reduced mod r), an Fr limb array in standard form (a .wtns witness), or an Fr limb array in
Montgomery form (our own field arrays; zkey coefficient sections). Standard-form limb arrays must be
canonical (< r), else NonCanonicalError.

`add_msm` puts one MSM on a TaskGraph as tasks (GLV digits, phi(P), one task per window, the
final sum) run by a kernel set: `jit_kernels()` (Numba, compiled on first use) or the native
library of prover.kernels.native, which the same kernels compiled ahead of time; this module
imports neither, so a native proof never loads Numba. `Scalars` shares the digits of one scalar
vector between the MSMs that use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Literal

import numpy as np

from prover.constants import Q, R
from prover.formats._limbs import R_MONT, check_canonical, ints_to_limbs
from prover.glv import BETA_G1, BETA_G2
from prover.tasks import Task, TaskGraph, default_threads

if TYPE_CHECKING:
    from prover.curves import CurveGroup

ScalarForm = Literal["standard", "montgomery"]

SCALAR_BITS = R.bit_length()  # 254
GLV_BITS = 128  # |k0|, |k1| < 2^128 (prover.glv.GLV_MUL)
# The GLV split up to this many bases. One core, best of 2: at 2^16 it saves 6% on G1 and 10%
# on G2; at 2^18 it costs 6% on G1 (G2 even) and at 2^20 9% on G1, against 254-bit digits
# in windows of 14 bits (its additions cost more there; the halved bucket sums matter less).
GLV_MAX_N = 1 << 17
COORD_SHAPE = {1: (4,), 2: (2, 4)}  # G1 coordinates in Fq, G2 in Fq2


# Cost model of one window, in ns measured on this code (2-core EPYC): a batch-affine bucket
# addition, one field inversion shared by a batch, and the two Jacobian additions per bucket of
# the window sum.
_ADD_NS, _INV_NS, _BUCKET_NS = 250.0, 13_000.0, 1_000.0


# Buckets of one window should stay in a core's L2 (512 KiB here): at 2^20 points, c = 16 with
# 2 MiB of G1 buckets measured 7.6 s against 4.1 s for c = 14.
_BUCKET_BYTES_MAX = 512 * 1024


def n_windows(c_bits: int, glv: bool = True) -> int:
    """Windows of c bits for signed digits of the scalars (128-bit halves after the GLV split,
    else 254 bits; one more bit for the carry)."""
    return math.ceil(((GLV_BITS if glv else SCALAR_BITS) + 1) / c_bits)


def use_glv(n: int) -> bool:
    return n <= GLV_MAX_N


def choose_window(n: int, point_bytes: int = 64, glv: bool | None = None) -> int:
    """Window size c for n bases (2n points after the GLV split, `use_glv(n)` by default)
    minimizing W(c) * (points * (add + inv / B(c)) + 2^(c-1) * bucket), W(c) = n_windows(c),
    B(c) the batch size, among the c whose 2^(c-1) affine buckets of `point_bytes` each fit
    in L2."""
    if n <= 1:
        return 2
    glv = use_glv(n) if glv is None else glv
    points = 2 * n if glv else n
    best, best_c = math.inf, 2
    for cb in range(2, 21):
        if (1 << (cb - 1)) * point_bytes > _BUCKET_BYTES_MAX:
            break
        per_point = _ADD_NS + _INV_NS / batch_size(cb)
        cost = n_windows(cb, glv) * (points * per_point + (1 << (cb - 1)) * _BUCKET_NS)
        if cost < best:
            best, best_c = cost, cb
    return best_c


def signed_digits_reference(k: int, c_bits: int, n_windows: int) -> list[int]:
    """The clear version of the kernel's signed-digit recoding (for tests)."""
    out, carry, half = [], 0, 1 << (c_bits - 1)
    for w in range(n_windows):
        d = ((k >> (c_bits * w)) & ((1 << c_bits) - 1)) + carry
        carry = int(d > half)
        out.append(d - (carry << c_bits))
    return out


def batch_size(c_bits: int) -> int:
    """Additions sharing one inversion. An inversion (~380 products) costs I/B per addition; a
    point whose bucket is already in the batch (probability ~B/(2 nb)) pays a mixed Jacobian
    addition instead (~5 products more). The sum is smallest near B = sqrt(150 nb)."""
    nb = 1 << (c_bits - 1)
    return int(min(2048, max(16, math.isqrt(150 * nb))))


def workspace(c_bits: int, batch: int, degree: int) -> tuple[np.ndarray, ...]:
    """The scratch arrays of one window task (kernels.cpu.msm.workspace_rows)."""
    nb = 1 << (c_bits - 1)
    coord = COORD_SHAPE[degree]
    return (np.empty((nb + 2 * batch + 1, 2, *coord), dtype=np.uint64),
            np.empty((nb, 3, *coord), dtype=np.uint64), np.empty(3 * nb, dtype=np.uint8),
            np.empty(batch + max(batch // 2, 1), dtype=np.int64))


def plain_scalars(scalars, scalar_form: ScalarForm = "standard") -> np.ndarray:
    """Scalars as canonical plain (non-Montgomery) uint64 limbs, shape (n, 4)."""
    if isinstance(scalars, np.ndarray):
        k = np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4)
        if scalar_form == "montgomery":
            from prover.fields import Fr  # lazy: Numba kernels, for this conversion only

            return Fr.from_montgomery(k)
        if scalar_form != "standard":
            raise ValueError("scalar_form must be 'standard' or 'montgomery'")
        check_canonical(k, R)
        return k
    return ints_to_limbs([int(s) % R for s in scalars])


def scalar_array(scalars, scalar_form: ScalarForm) -> tuple[np.ndarray, bool]:
    """(limbs (n, 4), Montgomery?) without converting Montgomery arrays (the digit kernel does)."""
    if isinstance(scalars, np.ndarray) and scalar_form == "montgomery":
        return np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4), True
    return plain_scalars(scalars, scalar_form), False


def readonly(a: np.ndarray) -> np.ndarray:
    # One Numba type for the zkey's mapped sections and for arrays made here: fewer
    # specializations of each kernel to compile and to load.
    v = a.view()
    v.flags.writeable = False
    return v


def mont_tuple(x: int, p: int) -> tuple:
    """x in Montgomery form mod p as the limb tuple the kernels take for a constant."""
    return tuple(np.uint64(v) for v in ints_to_limbs([x * R_MONT % p])[0])


def beta(degree: int) -> tuple:
    """beta of phi(x, y) = (beta x, y) = LAMBDA (x, y) on G1 (degree 1) or G2 (degree 2)."""
    return mont_tuple(BETA_G1 if degree == 1 else BETA_G2, Q)


def jit_kernels() -> SimpleNamespace:
    """The Numba kernels of the task graphs (compiled on first use, cached on disk)."""
    # lazy: Numba, which a native proof never loads
    from prover.groth16 import kernels as kg
    from prover.kernels.cpu import msm as kmsm
    from prover.kernels.cpu import ntt as kn

    return SimpleNamespace(scalar_digits=kmsm.scalar_digits, phi_points=kmsm.phi_points,
                           window_task=kmsm.window_task, combine_windows=kmsm.combine_windows,
                           odd_points=kg.odd_points, mul_sub=kg.mul_sub, mul_rows=kg.mul_rows,
                           eval_ab_chunks=kg.eval_ab_chunks, powers=kn.powers,
                           combine=kg.combine)


@dataclass
class MsmJob:
    """sum_i k[first + i] P_i over G1 (degree 1) or G2 (degree 2) for affine bases P and
    scalars k (limbs in `scalar_form`): jobs of one proof that share a scalar vector (the
    witness) pass the same array."""

    degree: int
    bases: np.ndarray
    scalars: np.ndarray
    first: int = 0
    scalar_form: ScalarForm = "standard"

    def label(self, name: str) -> str:
        return f"MSM {name} (G{self.degree})"


class Scalars:
    """One scalar vector (n, 4), plain or Montgomery (canonical, < r), and its digits per
    (window size, GLV split or not): computed once, by a task of the graph, for all the MSMs
    that use them. `after`: tasks that must finish before the digits are read (the ones
    writing k)."""

    def __init__(self, k: np.ndarray, montgomery: bool = False, after: Iterable[Task] = ()):
        self.k = k
        self.montgomery = montgomery
        self.after = list(after)
        self._digits: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._tasks: dict[tuple[int, int, bool], Task] = {}

    def __len__(self) -> int:
        return len(self.k)

    def digits_task(self, graph: TaskGraph, kernels, c_bits: int, glv: bool = True) -> Task:
        key = (id(graph), c_bits, glv)
        if key not in self._tasks:
            def run() -> None:
                nw = n_windows(c_bits, glv)
                d0 = np.empty((nw, len(self.k)), dtype=np.int32)
                d1 = np.empty((nw, len(self.k)), dtype=np.int32) if glv else d0
                kernels.scalar_digits(self.k, self.montgomery, glv, c_bits, d0, d1)
                self._digits[c_bits, glv] = (d0, d1)

            # digits first among the tasks ready: every window of every MSM using them waits
            self._tasks[key] = graph.add(run, "msm digits", self.after, order=-1)
        return self._tasks[key]

    def digits(self, c_bits: int, glv: bool = True) -> tuple[np.ndarray, np.ndarray]:
        return self._digits[c_bits, glv]


def add_msm(graph: TaskGraph, kernels, degree: int, bases: np.ndarray, scalars: Scalars,
            first: int = 0, *, label: str = "msm", window: int | None = None,
            glv: bool | None = None,
            on_done: Callable[[], None] | None = None) -> Callable[[], np.ndarray]:
    """Put sum_i k[first + i] P_i (P = bases, affine rows of G`degree`) on `graph`, run by
    `kernels`: with the GLV split (`use_glv(n)` by default) a task computing phi(P), then one
    task per window, one for the final sum (which then calls `on_done`). Returns a function
    that gives the Jacobian point ((3, 4) for G1, (3, 2, 4) for G2) once the graph has run."""
    shape = (2, *COORD_SHAPE[degree])
    pts = np.ascontiguousarray(bases, dtype=np.uint64)
    if pts.shape[-len(shape):] != shape:
        raise ValueError(f"G{degree} array must end in shape {shape}, got {pts.shape}")
    pts = readonly(pts.reshape(-1, *shape))
    n = len(pts)
    if first + n != len(scalars):
        raise ValueError(f"{n} bases but {len(scalars) - first} scalars")
    out = np.zeros((1, 3, *COORD_SHAPE[degree]), dtype=np.uint64)
    if n == 0:
        return lambda: out[0]  # Z = 0: infinity
    glv = use_glv(n) if glv is None else glv
    c_bits = window or choose_window(n, pts[0].nbytes, glv)
    if not 2 <= c_bits <= 24:
        raise ValueError("window size must be in 2..24")
    nw = n_windows(c_bits, glv)
    batch = batch_size(c_bits)
    windows = np.zeros((nw, 3, *COORD_SHAPE[degree]), dtype=np.uint64)
    # x of phi(P) (its y is P's); without the split, an empty set the windows skip (n1 = 0)
    state = {"phi": readonly(np.empty((0, *COORD_SHAPE[degree]), dtype=np.uint64))}

    def phi() -> None:
        p = np.empty((n, *COORD_SHAPE[degree]), dtype=np.uint64)
        kernels.phi_points(pts, beta(degree), p)
        state["phi"] = readonly(p)

    def window_task(w: int) -> Callable[[], None]:
        def run() -> None:
            d0, d1 = scalars.digits(c_bits, glv)
            kernels.window_task(pts, state["phi"], d0, d1, w, first, n if glv else 0, c_bits,
                                batch, windows, *workspace(c_bits, batch, degree))
        return run

    def combine() -> None:
        kernels.combine_windows(windows, c_bits, out)
        state.clear()  # phi(P): the largest temporary, freed as soon as it is no longer read
        if on_done is not None:
            on_done()

    deps = [scalars.digits_task(graph, kernels, c_bits, glv)]
    if glv:
        deps.append(graph.add(phi, label))
    tw = [graph.add(window_task(w), label, deps) for w in range(nw)]
    graph.add(combine, label, tw)
    return lambda: out[0]


def msm_jacobian(
    group: CurveGroup,
    bases: np.ndarray,
    scalars: np.ndarray | Sequence[int],
    *,
    scalar_form: ScalarForm = "standard",
    window: int | None = None,
    threads: int | None = None,
    kernels=None,
    glv: bool | None = None,
) -> np.ndarray:
    """sum_i k_i P_i as one Jacobian point, shape (3, 4) for G1 or (3, 2, 4) for G2, by
    `kernels` (default: the Numba kernels) on `threads` threads."""
    k, mont = scalar_array(scalars, scalar_form)
    pts = group._rows(bases, 2)
    if len(k) != len(pts):
        raise ValueError(f"{len(pts)} bases but {len(k)} scalars")
    graph = TaskGraph()
    result = add_msm(graph, kernels or jit_kernels(), group.degree, pts, Scalars(k, mont),
                     window=window, glv=glv)
    graph.run(threads or default_threads())
    return result()


def msm(group: CurveGroup, bases, scalars, **kw) -> np.ndarray:
    """sum_i k_i P_i as an affine point ((2, 4) for G1, (2, 2, 4) for G2; (0, 0) = infinity)."""
    return group.to_affine(msm_jacobian(group, bases, scalars, **kw)[None])[0]


def msm_g1(bases, scalars, **kw) -> np.ndarray:
    from prover.curves import G1  # lazy: Numba kernels (the group law)

    return msm(G1, bases, scalars, **kw)


def msm_g2(bases, scalars, **kw) -> np.ndarray:
    from prover.curves import G2  # lazy: Numba kernels (the group law)

    return msm(G2, bases, scalars, **kw)
