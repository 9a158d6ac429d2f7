"""The CUDA C kernels on a device: `source()` loaded by CuPy (cupy.RawModule, NVRTC), launched
by name on CuPy arrays (the Numba kernels' arrays: same layout, same default stream).

`unavailable_reason()` says why they cannot run here (no CuPy device, the simulator, a compile
error); `default_field(degree)` is the MSM's choice: "ptx" for G1 where they run, else "numba",
overridden by ZKPROVE_CUDA_FIELD=numba|ptx.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from prover.kernels.cuda import memory as mem
from prover.kernels.cuda.ptx.source import source
from prover.kernels.cuda.word import SIMULATOR

FIELDS = ("numba", "ptx")  # field arithmetic of the CUDA MSM's G1 bucket rounds


@lru_cache(maxsize=1)
def module():
    cp = mem.cupy_or_none()
    if cp is None:
        raise RuntimeError("CuPy with a CUDA device is needed to run the CUDA C kernels")
    mod = cp.RawModule(code=source(), options=("--std=c++17",))
    mod.compile()
    return mod


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    if SIMULATOR:
        return "the CUDA simulator runs Numba kernels only"
    if mem.cupy_or_none() is None:
        return "CuPy with a CUDA device is not available"
    try:
        module()
    except Exception as exc:  # CompileException, CUDADriverError: report, fall back to Numba
        return f"CUDA C kernels did not load: {type(exc).__name__}: {str(exc)[:500]}"
    return None


def default_field(degree: int) -> str:
    forced = os.environ.get("ZKPROVE_CUDA_FIELD")
    if forced:
        if forced not in FIELDS:
            raise ValueError(f"ZKPROVE_CUDA_FIELD must be one of {FIELDS}, got {forced!r}")
        return forced if degree == 1 else "numba"
    return "ptx" if degree == 1 and unavailable_reason() is None else "numba"


def check_field(field: str, degree: int) -> None:
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    if field == "ptx":
        if degree != 1:
            raise ValueError("the CUDA C kernels cover G1 only (G2 runs the Numba kernels)")
        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"field='ptx' requested: {reason}")


def _arg(x):
    if isinstance(x, bool | int | np.integer):
        return np.int64(x)
    return x


def launch(name: str, n_threads: int, *args) -> None:
    """Run kernel `name` over n_threads threads; Python ints are passed as int64."""
    blocks, tpb = mem.grid(n_threads)
    module().get_function(name)((blocks,), (tpb,), tuple(_arg(a) for a in args))
