"""Kernel registry: every kernel with an explicit signature, so it can be compiled to PTX for a
chosen architecture on a machine without a GPU (NVVM only), and launched lazily on one that has.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from numba import cuda, types

from prover.kernels.cuda.word import SIMULATOR

U64 = types.uint64
ARR_FR = types.Array(U64, 2, "C")  # (n, 4) field elements
ARR_G1 = types.Array(U64, 3, "C")  # (n, 2|3, 4) G1 points
ARR_G2 = types.Array(U64, 4, "C")  # (n, 2|3, 2, 4) G2 points
ARR_U32 = types.Array(types.uint32, 1, "C")
ARR_I32 = types.Array(types.int32, 1, "C")


@dataclass(frozen=True)
class KernelSpec:
    name: str
    pyfunc: Callable
    signature: types.abstract.Type


KERNELS: dict[str, KernelSpec] = {}

# ZKPROVE_CUDA_CACHE=1: kernels are cached on disk by Numba (NUMBA_CACHE_DIR, else __pycache__),
# so the processes of one device run compile each kernel once. Off by default: Numba keys the
# cache on the kernel's own file, not on the device functions it inlines from other files.
CACHE = os.environ.get("ZKPROVE_CUDA_CACHE") == "1" and not SIMULATOR


def kernel(name: str, signature):
    """Register `pyfunc` under `name` with the signature used for PTX checks; return the lazily
    compiled CUDA kernel (specialized on the argument types of each launch)."""

    def deco(pyfunc):
        if name in KERNELS:
            raise ValueError(f"kernel {name!r} registered twice")
        KERNELS[name] = KernelSpec(name, pyfunc, signature)
        return cuda.jit(pyfunc, cache=True) if CACHE else cuda.jit(pyfunc)

    return deco


class NvvmUnavailable(RuntimeError):
    """CUDA's NVVM library (libnvvm) could not be loaded, so nothing can be compiled to PTX."""


def nvvm_version() -> tuple[int, int]:
    """NVVM's IR version; raises NvvmUnavailable with the loader's reason."""
    if SIMULATOR:
        raise NvvmUnavailable("numba.cuda is the simulator (NUMBA_ENABLE_CUDASIM=1)")
    from numba.cuda.cudadrv import nvvm

    try:
        return nvvm.NVVM().get_version()
    except Exception as exc:  # NvvmSupportError, OSError: the library is absent or broken
        raise NvvmUnavailable(str(exc).strip() or type(exc).__name__) from exc


@contextmanager
def _target_cc(cc: tuple[int, int]):
    """Device functions are compiled for 'the current device' (numba.cuda.dispatcher asks the
    driver for its compute capability). Without a driver, answer with the target instead: the
    device function is LLVM IR linked into the kernel, which NVVM compiles for `cc`."""
    import numba.cuda.dispatcher as disp

    if cuda.is_available():
        yield
        return
    saved = disp.get_current_device
    disp.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
    try:
        yield
    finally:
        disp.get_current_device = saved


def compile_ptx(name: str, cc: tuple[int, int]) -> str:
    """PTX of the registered kernel `name` for compute capability `cc`, e.g. (9, 0)."""
    spec = KERNELS[name]
    with _target_cc(cc):
        ptx, _ = cuda.compile_ptx(spec.pyfunc, spec.signature, cc=cc)
    return ptx

