"""The numeric steps of a proof (prove.py: A.w and B.w, H, the five MSMs) as tasks of one
TaskGraph, over a kernel set (prover.msm: the Numba kernels or the native library), without
importing either.

A.w and B.w run in chunks of whole constraints, then C.w = A.w * B.w in row ranges; the three
transforms of H (`kernels.odd_points` each: iNTT, times g^j / n, NTT, on one thread) wait for
those and for the twiddle tables, A*B - C for the transforms. The MSMs of A, B1, B2 and C need
only the witness and start at once; the MSM of H waits for A*B - C. Every window of every MSM is
a task, so whichever thread is free takes the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from prover.constants import R
from prover.formats.container import drop_pages
from prover.formats.zkey import Zkey
from prover.msm import MsmJob, Scalars, add_msm, mont_tuple, scalar_array
from prover.pure.ntt import root_of_unity
from prover.tasks import Task, TaskGraph

AB_LABEL = "A.w, B.w"
H_LABEL = "H (NTTs)"


def chunk_starts(constraint: np.ndarray, n_chunks: int) -> np.ndarray:
    """Record indices cutting `constraint` (sorted) into about n_chunks runs of whole rows."""
    n = len(constraint)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    cuts = np.linspace(0, n, n_chunks + 1).astype(np.int64)[1:-1]
    # Move each cut forward to the first record of a new constraint.
    cuts = np.searchsorted(constraint, constraint[cuts], side="left")
    # Sorted already (searchsorted of increasing cuts): drop repeats without np.unique, whose
    # first call imports numpy.ma (~50-100 ms of a small proof's start-up).
    starts = np.concatenate(([0], cuts, [n])).astype(np.int64)
    return starts[np.concatenate(([True], starts[1:] != starts[:-1]))]


def coeff_records(zkey: Zkey) -> np.ndarray:
    """Section 4 as (n, 11) uint32 (see kernels.eval_ab): a view of the mapped file, copied
    only when the section does not start on a 4-byte boundary."""
    rec = zkey.coeffs
    if rec.ctypes.data % 4 or not rec.flags.c_contiguous:
        rec = np.ascontiguousarray(rec)
        rec.flags.writeable = False  # one Numba type for both: one compiled specialization
    return rec.view(np.uint32).reshape(-1, 11)


def coeff_chunks(rec: np.ndarray, n_chunks: int) -> np.ndarray:
    """Chunk starts over the records (whole constraints each): one chunk when the records are
    not sorted by constraint (snarkjs never writes that), so rows stay race-free."""
    constraint = rec[:, 1]
    if len(rec) > 1 and not bool(np.all(constraint[1:] >= constraint[:-1])):
        return np.array([0, len(rec)], dtype=np.int64)
    return chunk_starts(constraint, n_chunks)


def add_h(graph: TaskGraph, kernels, a: np.ndarray, b: np.ndarray, c: np.ndarray,
          tw_inv: np.ndarray, tw: np.ndarray, inv_n: tuple, g: tuple,
          after: Iterable[Task] = ()) -> Task:
    """Tasks leaving A*B - C on the coset g*H in `a`, from A, B, C on H (Montgomery, ready
    once the tasks `after` are done); b, c are overwritten. tw_inv, tw: twiddle tables w^-j,
    w^j (j < n/2); inv_n = 1/n and g as Montgomery limb tuples. Returns the last task."""
    after = list(after)
    ntts = [graph.add(lambda x=x: kernels.odd_points(x, tw_inv, tw, inv_n, g), H_LABEL, after)
            for x in (a, b, c)]
    return graph.add(lambda: kernels.mul_sub(a, b, c), H_LABEL, ntts)


def add_h_and_msms(graph: TaskGraph, kernels, jobs: dict[str, MsmJob], h_done: Task,
                   p: np.ndarray, h_bases: np.ndarray,
                   release: Callable[[np.ndarray], None] | None = None
                   ) -> dict[str, Callable[[], np.ndarray]]:
    """The jobs' MSMs and the MSM of p (Montgomery, written by the task h_done) over h_bases,
    as job "H"; `release(bases)` runs when an MSM no longer needs its bases. Returns name ->
    a function giving the Jacobian result once the graph has run."""
    shared: dict[int, Scalars] = {}  # one set of digits per scalar vector
    results = {}
    for name, j in jobs.items():
        if id(j.scalars) not in shared:
            shared[id(j.scalars)] = Scalars(*scalar_array(j.scalars, j.scalar_form))
        done = None if release is None else (lambda b=j.bases: release(b))
        results[name] = add_msm(graph, kernels, j.degree, j.bases, shared[id(j.scalars)],
                                j.first, label=j.label(name), on_done=done)
    h_job = MsmJob(1, h_bases, p, scalar_form="montgomery")
    done = None if release is None else (lambda: release(h_bases))
    results["H"] = add_msm(graph, kernels, 1, h_bases, Scalars(p, True, after=[h_done]),
                           label=h_job.label("H"), on_done=done)
    return results


def evaluate_abc(zkey: Zkey, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A.w, B.w, C.w) on the domain, Montgomery form, each (domainSize, 4), by Numba's
    parallel kernels in this thread (backends other than the CPU's)."""
    import numba

    from prover.fields import Fr  # lazy: Numba, which the CPU's graph (native) never loads
    from prover.groth16 import kernels as kg  # lazy: Numba, as above

    n = zkey.domain_size
    a = np.zeros((n, 4), dtype=np.uint64)
    b = np.zeros((n, 4), dtype=np.uint64)
    rec = coeff_records(zkey)
    kg.eval_ab(rec, w, coeff_chunks(rec, 8 * numba.get_num_threads()), a, b)
    return a, b, Fr.mul(a, b)


def odd_shift(n: int) -> int:
    """w_2n: the coset w_2n * H of the n-domain H is the odd points of the 2n-domain."""
    return root_of_unity(n.bit_length())


def msm_jobs(zkey: Zkey, w: np.ndarray) -> dict[str, MsmJob]:
    """The MSMs over the witness: A, B1 (G1), B2 (G2) and C (G1, private wires only)."""
    return {"A": MsmJob(1, zkey.a, w), "B1": MsmJob(1, zkey.b1, w), "B2": MsmJob(2, zkey.b2, w),
            "C": MsmJob(1, zkey.c, w, zkey.n_public + 1)}


def add_twiddles(graph: TaskGraph, kernels, log_n: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(w^-j table, w^j table, their tasks), j < n/2, w the 2^log_n-th root of unity."""
    half = max((1 << log_n) // 2, 1)
    w = root_of_unity(log_n)
    tw_inv, tw = np.empty((half, 4), dtype=np.uint64), np.empty((half, 4), dtype=np.uint64)
    tasks = [graph.add(lambda: kernels.powers(mont_tuple(pow(w, -1, R), R), half, tw_inv),
                       H_LABEL),
             graph.add(lambda: kernels.powers(mont_tuple(w, R), half, tw), H_LABEL)]
    return tw_inv, tw, tasks


def add_groth16(graph: TaskGraph, kernels, zkey: Zkey, w: np.ndarray,
                threads: int) -> dict[str, Callable[[], np.ndarray]]:
    """All the numeric steps for the canonical witness limbs w: returns name ("A", "B1", "B2",
    "C", "H") -> a function giving that MSM (Jacobian) once the graph has run. Each section of
    the key leaves the resident memory once read (formats.container.drop_pages)."""
    n = zkey.domain_size
    log_n = n.bit_length() - 1
    rec = coeff_records(zkey)
    starts = coeff_chunks(rec, 4 * threads)
    a = np.zeros((n, 4), dtype=np.uint64)
    b = np.zeros((n, 4), dtype=np.uint64)
    c = np.empty((n, 4), dtype=np.uint64)
    cuts = np.linspace(0, len(starts) - 1, threads + 1).astype(int)
    evals = [graph.add(lambda t0=int(t0), t1=int(t1):
                       kernels.eval_ab_chunks(rec, w, starts, t0, t1, a, b), AB_LABEL)
             for t0, t1 in zip(cuts[:-1], cuts[1:], strict=True) if t1 > t0]
    done = graph.add(lambda: drop_pages(zkey.coeffs), AB_LABEL, evals)
    rows = np.linspace(0, n, threads + 1).astype(int)
    prods = [graph.add(lambda lo=int(lo), hi=int(hi): kernels.mul_rows(a, b, c, lo, hi),
                       AB_LABEL, [done]) for lo, hi in zip(rows[:-1], rows[1:], strict=True)]
    tw_inv, tw, tws = add_twiddles(graph, kernels, log_n)
    h_done = add_h(graph, kernels, a, b, c, tw_inv, tw, mont_tuple(pow(n, -1, R), R),
                   mont_tuple(root_of_unity(log_n + 1), R), after=prods + tws)
    return add_h_and_msms(graph, kernels, msm_jobs(zkey, w), h_done, a, zkey.h,
                          release=drop_pages)
