"""Multi-scalar multiplication sum_i k_i P_i over G1 or G2 (affine bases), on the CPU.

Scalars come in one of three explicit forms, because the prover meets all of them: Python ints
(reduced mod r), an Fr limb array in standard form (a .wtns witness), or an Fr limb array in
Montgomery form (our own field arrays; zkey coefficient sections). Standard-form limb arrays must be
canonical (< r), else NonCanonicalError.

`add_msm` puts one MSM on a TaskGraph as tasks (GLV digits, phi(P), one task per window, the
final sum), so that a caller can run several MSMs, and other kernels, on one pool of threads;
`Scalars` shares the digits of one scalar vector between the MSMs that use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np

from prover.constants import R
from prover.curves import G1, G2, CurveGroup
from prover.fields import Fq, Fr, ints_to_limbs
from prover.glv import BETA_G1, BETA_G2
from prover.kernels.cpu import msm as kmsm
from prover.tasks import Task, TaskGraph

ScalarForm = Literal["standard", "montgomery"]

SCALAR_BITS = R.bit_length()  # 254
GLV_BITS = 128  # |k0|, |k1| < 2^128 (prover.glv.GLV_MUL)


# Cost model of one window, in ns measured on this code (2-core EPYC): a batch-affine bucket
# addition, one field inversion shared by a batch, and the two Jacobian additions per bucket of
# the window sum.
_ADD_NS, _INV_NS, _BUCKET_NS = 250.0, 13_000.0, 1_000.0


# Buckets of one window should stay in a core's L2 (512 KiB here): at 2^20 points, c = 16 with
# 2 MiB of G1 buckets measured 7.6 s against 4.1 s for c = 14.
_BUCKET_BYTES_MAX = 512 * 1024


def n_windows(c_bits: int, bits: int = GLV_BITS) -> int:
    """Windows of c bits for signed digits of `bits`-bit scalars (one more bit for the carry)."""
    return math.ceil((bits + 1) / c_bits)


def choose_window(n: int, point_bytes: int = 64) -> int:
    """Window size c for n bases (2n points after the GLV split) minimizing
    W(c) * (2n * (add + inv / B(c)) + 2^(c-1) * bucket), W(c) = n_windows(c), B(c) the batch
    size, among the c whose 2^(c-1) affine buckets of `point_bytes` each fit in L2."""
    if n <= 1:
        return 2
    best, best_c = math.inf, 2
    for cb in range(2, 21):
        if (1 << (cb - 1)) * point_bytes > _BUCKET_BYTES_MAX:
            break
        per_point = _ADD_NS + _INV_NS / batch_size(cb)
        cost = n_windows(cb) * (2 * n * per_point + (1 << (cb - 1)) * _BUCKET_NS)
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


def plain_scalars(scalars, scalar_form: ScalarForm = "standard") -> np.ndarray:
    """Scalars as canonical plain (non-Montgomery) uint64 limbs, shape (n, 4)."""
    if isinstance(scalars, np.ndarray):
        k = np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4)
        if scalar_form == "montgomery":
            return Fr.from_montgomery(k)
        if scalar_form != "standard":
            raise ValueError("scalar_form must be 'standard' or 'montgomery'")
        Fr.check_canonical(k)
        return k
    return ints_to_limbs([int(s) % R for s in scalars])


def scalar_array(scalars, scalar_form: ScalarForm) -> tuple[np.ndarray, bool]:
    """(limbs (n, 4), Montgomery?) without converting Montgomery arrays (the digit kernel does)."""
    if isinstance(scalars, np.ndarray) and scalar_form == "montgomery":
        return np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4), True
    return plain_scalars(scalars, scalar_form), False


def _readonly(a: np.ndarray) -> np.ndarray:
    # One Numba type for the zkey's mapped sections and for arrays made here: fewer
    # specializations of each kernel to compile and to load.
    v = a.view()
    v.flags.writeable = False
    return v


_BETA = {1: None, 2: None}


def _beta(group: CurveGroup) -> tuple:
    """beta of phi(x, y) = (beta x, y) = LAMBDA (x, y) on `group`, as Montgomery limbs."""
    if _BETA[group.degree] is None:
        b = BETA_G1 if group.degree == 1 else BETA_G2
        _BETA[group.degree] = tuple(np.uint64(v) for v in Fq.from_int(b))
    return _BETA[group.degree]


@dataclass
class MsmJob:
    """sum_i k[first + i] P_i for affine bases P and scalars k (limbs in `scalar_form`): jobs
    of one proof that share a scalar vector (the witness) pass the same array."""

    group: CurveGroup
    bases: np.ndarray
    scalars: np.ndarray
    first: int = 0
    scalar_form: ScalarForm = "standard"

    def label(self, name: str) -> str:
        return f"MSM {name} ({self.group.name})"


class Scalars:
    """One scalar vector (n, 4), plain or Montgomery (canonical, < r), and its GLV digits per
    window size: computed once, by a task of the graph, for all the MSMs that use it.
    `after`: tasks that must finish before the digits are read (the ones writing k)."""

    def __init__(self, k: np.ndarray, montgomery: bool = False, after: Iterable[Task] = ()):
        self.k = k
        self.montgomery = montgomery
        self.after = list(after)
        self._digits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._tasks: dict[tuple[int, int], Task] = {}

    def __len__(self) -> int:
        return len(self.k)

    def digits_task(self, graph: TaskGraph, c_bits: int) -> Task:
        key = (id(graph), c_bits)
        if key not in self._tasks:
            def run() -> None:
                nw = n_windows(c_bits)
                d0 = np.empty((nw, len(self.k)), dtype=np.int32)
                d1 = np.empty((nw, len(self.k)), dtype=np.int32)
                kmsm.glv_digits(self.k, self.montgomery, c_bits, d0, d1)
                self._digits[c_bits] = (d0, d1)

            # digits first among the tasks ready: every window of every MSM using them waits
            self._tasks[key] = graph.add(run, "msm digits", self.after, order=-1)
        return self._tasks[key]

    def digits(self, c_bits: int) -> tuple[np.ndarray, np.ndarray]:
        return self._digits[c_bits]

    def release(self) -> None:
        self._digits.clear()


def add_msm(graph: TaskGraph, group: CurveGroup, bases: np.ndarray, scalars: Scalars,
            first: int = 0, *, label: str = "msm", window: int | None = None,
            on_done: Callable[[], None] | None = None) -> Callable[[], np.ndarray]:
    """Put sum_i k[first + i] P_i (P = bases) on `graph`: a task computing phi(P), one task per
    window, one for the final sum (which then calls `on_done`). Returns a function that gives
    the Jacobian point ((3, 4) for G1, (3, 2, 4) for G2) once the graph has run."""
    pts = _readonly(group._rows(bases, 2))
    n = len(pts)
    if first + n != len(scalars):
        raise ValueError(f"{n} bases but {len(scalars) - first} scalars")
    out = group.empty_jacobian(1)
    if n == 0:
        return lambda: out[0]  # Z = 0: infinity
    c_bits = window or choose_window(n, pts[0].nbytes)
    if not 2 <= c_bits <= 24:
        raise ValueError("window size must be in 2..24")
    nw = n_windows(c_bits)
    batch = batch_size(c_bits)
    windows = group.empty_jacobian(nw)
    state: dict[str, np.ndarray] = {}

    def phi() -> None:
        p = np.empty_like(pts)
        kmsm.phi_points(pts, _beta(group), p)
        state["phi"] = _readonly(p)

    def window_task(w: int) -> Callable[[], None]:
        def run() -> None:
            d0, d1 = scalars.digits(c_bits)
            kmsm.window_task(pts, state["phi"], d0, d1, w, first, n, c_bits, batch, windows)
        return run

    def combine() -> None:
        kmsm.combine_windows(windows, c_bits, out)
        state.clear()  # phi(P): the largest temporary, freed as soon as it is no longer read
        if on_done is not None:
            on_done()

    dig = scalars.digits_task(graph, c_bits)
    t_phi = graph.add(phi, label)
    tw = [graph.add(window_task(w), label, (dig, t_phi)) for w in range(nw)]
    graph.add(combine, label, tw)
    return lambda: out[0]


def threads_default() -> int:
    return numba.get_num_threads()


def msm_jacobian(
    group: CurveGroup,
    bases: np.ndarray,
    scalars: np.ndarray | Sequence[int],
    *,
    scalar_form: ScalarForm = "standard",
    window: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """sum_i k_i P_i as one Jacobian point, shape (3, 4) for G1 or (3, 2, 4) for G2."""
    k, mont = scalar_array(scalars, scalar_form)
    n = len(group._rows(bases, 2))
    if len(k) != n:
        raise ValueError(f"{n} bases but {len(k)} scalars")
    graph = TaskGraph()
    result = add_msm(graph, group, bases, Scalars(k, mont), window=window)
    graph.run(threads or threads_default())
    return result()


def msm(group: CurveGroup, bases, scalars, **kw) -> np.ndarray:
    """sum_i k_i P_i as an affine point ((2, 4) for G1, (2, 2, 4) for G2; (0, 0) = infinity)."""
    return group.to_affine(msm_jacobian(group, bases, scalars, **kw)[None])[0]


def msm_g1(bases, scalars, **kw) -> np.ndarray:
    return msm(G1, bases, scalars, **kw)


def msm_g2(bases, scalars, **kw) -> np.ndarray:
    return msm(G2, bases, scalars, **kw)
