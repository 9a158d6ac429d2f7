"""The one place where the prover's compute backend is chosen: CPU kernels or CUDA kernels.

    backend = get_backend("auto")      # "cuda" when a GPU is present, else "cpu" (logged)
    backend.msm_g1(bases, scalars, "montgomery")
    backend.ntt(a); backend.coset_intt(a, shift)

Both backends take and return host NumPy arrays with the semantics of `prover.msm` and
`prover.ntt` (NTTs work in place and return their argument; MSMs return points), so a caller never
asks which one it runs on. The CUDA backend copies inputs to the device and results back, and
keeps H's polynomials there (`h_evaluations`). The CPU backend runs prover.kernels.native when
it loads, else the Numba kernels; importing this module loads neither.

`auto` never picks the CUDA simulator; naming "cuda" explicitly under NUMBA_ENABLE_CUDASIM=1 runs
the CUDA kernels in the simulator (that is how they are tested without a GPU). A device error in
the middle of a computation is raised as GpuError; nothing falls back to the CPU silently.
"""

from __future__ import annotations

import glob
import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import numpy as np

from prover import msm as cpu_msm
from prover.constants import FR_TWO_ADICITY, R
from prover.formats.container import drop_pages, ensure_aligned
from prover.msm import MsmJob
from prover.tasks import TaskGraph, default_threads

if TYPE_CHECKING:
    from prover.curves import CurveGroup
    from prover.formats.zkey import Zkey

# lazy: Numba, the curves and fields (Numba kernels) and the CUDA backend's modules
# (`prover.kernels.cuda`: Numba CUDA and a driver that may be absent) load only when used, so
# a native CPU proof never imports them.

log = logging.getLogger(__name__)

BackendName = Literal["auto", "cpu", "cuda"]
ScalarForm = Literal["standard", "montgomery"]
MAX_LOG_N = FR_TWO_ADICITY


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (e.g. "cuda" without a CUDA device); says why."""


class GpuError(RuntimeError):
    """A CUDA call failed while computing (out of memory, launch failure, lost device)."""


def _groups():
    from prover.curves import G1, G2

    return G1, G2


class Backend:
    """MSM and NTT entry points; subclasses implement them for one kind of hardware."""

    name: str = "?"
    device_name: str = "?"

    @property
    def kernels(self):
        """The CPU kernel set for the host's share of a proof (prover.msm.jit_kernels)."""
        return cpu_msm.jit_kernels()

    def msm_jacobian(self, group: CurveGroup, bases: np.ndarray, scalars,
                     scalar_form: ScalarForm = "standard") -> np.ndarray:
        """sum_i k_i P_i as one Jacobian point ((3, 4) for G1, (3, 2, 4) for G2)."""
        raise NotImplementedError

    def msm_g1(self, bases: np.ndarray, scalars, scalar_form: ScalarForm = "standard"):
        """sum_i k_i P_i over G1, affine (2, 4); (0, 0) is infinity."""
        G1, _ = _groups()
        return G1.to_affine(self.msm_jacobian(G1, bases, scalars, scalar_form)[None])[0]

    def msm_g2(self, bases: np.ndarray, scalars, scalar_form: ScalarForm = "standard"):
        """sum_i k_i P_i over G2, affine (2, 2, 4); (0, 0) is infinity."""
        _, G2 = _groups()
        return G2.to_affine(self.msm_jacobian(G2, bases, scalars, scalar_form)[None])[0]

    def ntt(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def intt(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def coset_ntt(self, a: np.ndarray, shift: int) -> np.ndarray:
        raise NotImplementedError

    def coset_intt(self, a: np.ndarray, shift: int) -> np.ndarray:
        raise NotImplementedError

    def h_evaluations(self, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                      shift: int) -> np.ndarray:
        """A*B - C on the coset shift*H, from A, B, C evaluated on H (each (n, 4) Montgomery):
        each is interpolated (intt) and evaluated on the coset (coset_ntt). a, b, c are
        overwritten. snarkjs's H uses shift = w_(2n), the odd points of the 2n-domain."""
        from prover.fields import Fr

        for x in (a, b, c):
            self.intt(x)
            self.coset_ntt(x, shift)
        return Fr.sub(Fr.mul(a, b), c)

    def h_and_msms(self, jobs: dict[str, MsmJob], a: np.ndarray, b: np.ndarray,
                   c: np.ndarray, shift: int,
                   h_bases: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The MSMs of a Groth16 proof and its H step: p = `h_evaluations(a, b, c, shift)`,
        each job's MSM, and the MSM of p (Montgomery) over h_bases as job "H". Returns (name
        -> Jacobian point, work label -> seconds). This version runs them one after another;
        a backend may overlap them (a, b, c are overwritten either way)."""
        G1, G2 = _groups()
        work: dict[str, float] = {}
        t = time.perf_counter()
        p = self.h_evaluations(a, b, c, shift)
        work["H (NTTs)"] = time.perf_counter() - t
        out = {}
        for name, j in {**jobs, "H": MsmJob(1, h_bases, p, scalar_form="montgomery")}.items():
            t = time.perf_counter()
            group = G1 if j.degree == 1 else G2
            out[name] = self.msm_jacobian(group, j.bases, j.scalars[j.first:], j.scalar_form)
            work[j.label(name)] = time.perf_counter() - t
        return out, work

    def groth16_msms(self, zkey: Zkey, w: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                               dict[str, float]]:
        """Steps 1-3 of prove.py for the canonical witness limbs w: (name -> Jacobian MSM for
        "A", "B1", "B2", "C", "H"; work label -> seconds). This version: A.w, B.w, C.w on the
        host (Numba), then `h_and_msms`."""
        from prover.groth16.steps import evaluate_abc, msm_jobs, odd_shift

        t = time.perf_counter()
        a, b, c = evaluate_abc(zkey, w)
        drop_pages(zkey.coeffs)  # read once: out of the resident memory
        t_ab = time.perf_counter() - t
        out, work = self.h_and_msms(msm_jobs(zkey, w), a, b, c, odd_shift(zkey.domain_size),
                                    zkey.h)
        return out, {"A.w, B.w": t_ab, **work}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} on {self.device_name}>"


class CpuBackend(Backend):
    """The CPU kernels: the native library (prover.kernels.native) when it loads, else the
    Numba kernels (`native=False` forces these, `native=True` requires the library). The
    numeric steps of a proof and each MSM run as one graph of single-threaded tasks on a pool
    of threads (prover.tasks, groth16.steps), so both cores stay busy to the end."""

    name = "cpu"

    def __init__(self, native: bool | None = None, threads: int | None = None) -> None:
        from prover.kernels import native as kn

        lib = None if native is False else kn.load()
        if native and lib is None:
            raise BackendUnavailable(f"native kernels unavailable: {kn.unavailable_reason()}")
        if native is None and lib is None:
            log.info("native kernels unavailable (%s): Numba kernels", kn.unavailable_reason())
        self.native = lib is not None
        self._kernels = lib
        self.threads = threads or default_threads()
        kind = "native" if self.native else "Numba"
        self.device_name = f"CPU, {kind} kernels ({self.threads} threads)"

    @property
    def kernels(self):
        if self._kernels is None:
            self._kernels = cpu_msm.jit_kernels()
        return self._kernels

    def msm_jacobian(self, group, bases, scalars, scalar_form="standard"):
        return cpu_msm.msm_jacobian(group, bases, scalars, scalar_form=scalar_form,
                                    kernels=self.kernels, threads=self.threads)

    def _numba_ntt(self):
        from prover import ntt as cpu_ntt

        return cpu_ntt

    def ntt(self, a):
        return self._numba_ntt().ntt(a)

    def intt(self, a):
        return self._numba_ntt().intt(a)

    def coset_ntt(self, a, shift):
        return self._numba_ntt().coset_ntt(a, shift)

    def coset_intt(self, a, shift):
        return self._numba_ntt().coset_intt(a, shift)

    def _h_tasks(self, graph: TaskGraph, a, b, c, shift: int):
        from prover.groth16.steps import add_h, add_twiddles

        for x in (a, b, c):
            _ntt_size(x)
        if not a.shape == b.shape == c.shape:
            raise ValueError("A, B, C must have the same size")
        n = a.shape[0]
        tw_inv, tw, tws = add_twiddles(graph, self.kernels, n.bit_length() - 1)
        return add_h(graph, self.kernels, a, b, c, tw_inv, tw,
                     cpu_msm.mont_tuple(pow(n, -1, R), R), cpu_msm.mont_tuple(shift, R), tws)

    def h_evaluations(self, a, b, c, shift):
        graph = TaskGraph()
        self._h_tasks(graph, a, b, c, shift)
        graph.run(self.threads)
        return a

    def h_and_msms(self, jobs, a, b, c, shift, h_bases):
        from prover.groth16.steps import add_h_and_msms

        graph = TaskGraph()
        h_done = self._h_tasks(graph, a, b, c, shift)
        results = add_h_and_msms(graph, self.kernels, jobs, h_done, a, h_bases)
        graph.run(self.threads)
        return {name: r() for name, r in results.items()}, dict(graph.seconds)

    def groth16_msms(self, zkey, w):
        from prover.groth16.steps import add_groth16

        graph = TaskGraph()
        results = add_groth16(graph, self.kernels, zkey, w, self.threads)
        graph.run(self.threads)
        return {name: r() for name, r in results.items()}, dict(graph.seconds)


def _gpu_error_types() -> tuple[type[BaseException], ...]:
    from numba.cuda.cudadrv import driver, error

    kinds: list[type[BaseException]] = []
    # (the simulator's modules define only some of these)
    for mod, names in ((driver, ("CudaAPIError", "LinkerError")),
                       (error, ("CudaDriverError", "CudaRuntimeError", "CudaSupportError"))):
        kinds += [getattr(mod, n) for n in names if isinstance(getattr(mod, n, None), type)]
    try:
        import cupy

        kinds += [cupy.cuda.runtime.CUDARuntimeError, cupy.cuda.memory.OutOfMemoryError,
                  cupy.cuda.driver.CUDADriverError]
    except Exception:  # CuPy absent: only Numba's errors can occur
        pass
    return tuple(kinds)


@contextmanager
def _device_errors(what: str):
    """Re-raise CUDA failures as GpuError naming the step, with the original as the cause."""
    kinds = _gpu_error_types()
    try:
        yield
    except kinds as exc:
        raise GpuError(f"{what} failed on the GPU: {exc}") from exc


def _ntt_size(a: np.ndarray) -> int:
    if not (isinstance(a, np.ndarray) and a.dtype == np.uint64 and a.ndim == 2
            and a.shape[1] == 4 and a.flags.c_contiguous and a.flags.writeable):
        raise ValueError("NTT works in place on a writeable C-contiguous (n, 4) uint64 array")
    n = a.shape[0]
    if n <= 0 or n & (n - 1):
        raise ValueError(f"NTT size must be a power of two, got {n}")
    if n.bit_length() - 1 > MAX_LOG_N:
        raise ValueError(f"NTT size 2^{n.bit_length() - 1} exceeds Fr's 2-adicity {MAX_LOG_N}")
    return n.bit_length() - 1


def _mont(x: int) -> np.ndarray:
    from prover.fields import Fr

    return Fr.from_int(x % R)


class CudaBackend(Backend):
    """The kernels of `prover.kernels.cuda`; `max_chunk` caps the points of one device pass."""

    name = "cuda"

    def __init__(self, *, max_chunk: int | None = None) -> None:
        from prover.kernels.cuda import memory as mem

        self._mem = mem
        self.max_chunk = max_chunk
        self.device_name = mem.device_name()

    # -- MSM --------------------------------------------------------------------------------------

    def msm_jacobian(self, group, bases, scalars: np.ndarray | Sequence[int],
                     scalar_form="standard"):
        from prover.kernels.cuda import msm as kmsm

        pts = group._rows(ensure_aligned(bases), 2)  # an aligned host copy for the transfer
        montgomery = isinstance(scalars, np.ndarray) and scalar_form == "montgomery"
        if montgomery:
            # Converted on the device; canonical by construction (our own field arrays).
            k = np.ascontiguousarray(scalars, dtype=np.uint64).reshape(-1, 4)
        else:
            k = cpu_msm.plain_scalars(scalars, scalar_form)
        if len(k) != len(pts):
            raise ValueError(f"{len(pts)} bases but {len(k)} scalars")
        with _device_errors(f"{group.name} MSM of {len(pts)} points"):
            return kmsm.msm_jacobian(group.degree, pts, k, montgomery=montgomery,
                                     max_chunk=self.max_chunk)

    # -- NTT --------------------------------------------------------------------------------------

    def _transform(self, a: np.ndarray, what: str, steps) -> np.ndarray:
        _ntt_size(a)
        with _device_errors(f"{what} of size {a.shape[0]}"):
            d = self._mem.to_device(a)
            steps(d)
            self._mem.to_host(d, out=a)
        return a

    def _forward(self, d) -> None:
        from prover.kernels.cuda import ntt as kntt

        log_n = d.shape[0].bit_length() - 1
        kntt.ntt_in_place(d, kntt.device_twiddles(log_n, False))

    def _inverse(self, d) -> None:
        from prover.kernels.cuda import ntt as kntt

        n = d.shape[0]
        kntt.ntt_in_place(d, kntt.device_twiddles(n.bit_length() - 1, True))
        kntt.scale(d, _mont(pow(n, -1, R)))

    def ntt(self, a):
        return self._transform(a, "NTT", self._forward)

    def intt(self, a):
        return self._transform(a, "inverse NTT", self._inverse)

    def coset_ntt(self, a, shift):
        from prover.kernels.cuda import ntt as kntt

        def steps(d):
            kntt.scale_by_powers(d, _mont(shift))
            self._forward(d)

        return self._transform(a, "coset NTT", steps)

    def coset_intt(self, a, shift):
        from prover.kernels.cuda import ntt as kntt

        def steps(d):
            self._inverse(d)
            kntt.scale_by_powers(d, _mont(pow(shift, -1, R)))

        return self._transform(a, "coset inverse NTT", steps)

    def h_evaluations(self, a, b, c, shift):
        from prover.kernels.cuda import ntt as kntt

        for x in (a, b, c):
            _ntt_size(x)
        if not a.shape == b.shape == c.shape:
            raise ValueError("A, B, C must have the same size")
        g = _mont(shift)
        with _device_errors(f"H evaluations of size {a.shape[0]}"):
            ds = [self._mem.to_device(x) for x in (a, b, c)]
            for d in ds:
                self._inverse(d)
                kntt.scale_by_powers(d, g)
                self._forward(d)
            kntt.mul_sub(ds[0], ds[1], ds[2], ds[0])
            return self._mem.to_host(ds[0])


def cuda_unavailable_reason() -> str | None:
    """None when the CUDA backend can run here (a device, or the simulator), else why not."""
    from prover.kernels.cuda import memory as mem
    from prover.kernels.cuda.word import SIMULATOR

    if SIMULATOR or mem.real_device_present():
        return None
    try:
        from numba import cuda

        cuda.current_context()  # raises with the driver's own reason
    except Exception as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        return f"no usable CUDA device ({detail[:200] or type(exc).__name__})"
    return "no CUDA device found"


def gpu_device_node() -> bool:
    """An NVIDIA device node exists (checked before "auto" imports Numba CUDA to probe)."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def get_backend(name: BackendName = "auto", *, max_chunk: int | None = None,
                native: bool | None = None) -> Backend:
    """The backend called `name`; "auto" picks CUDA when a real GPU is present, else the CPU,
    and logs the choice. "cuda" without a device raises BackendUnavailable. `native` chooses
    the CPU backend's kernels (CpuBackend)."""
    if name == "cpu":
        backend: Backend = CpuBackend(native)
    elif name == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"CUDA backend requested but unavailable: {reason}")
        backend = CudaBackend(max_chunk=max_chunk)
    elif name == "auto":
        if gpu_device_node() and _real_gpu():
            backend = CudaBackend(max_chunk=max_chunk)
        else:
            backend = CpuBackend(native)
    else:
        raise ValueError(f"backend must be 'auto', 'cpu' or 'cuda', got {name!r}")
    log.info("prover backend: %s (%s)%s", backend.name, backend.device_name,
             " [auto]" if name == "auto" else "")
    return backend


def _real_gpu() -> bool:
    from prover.kernels.cuda import memory as mem

    return mem.real_device_present()
