"""Device arrays, transfers and launch shapes, with CuPy when it is installed and sees a device.

CuPy owns device memory where it is present (one allocator, shared with anything else the
process does with CuPy); otherwise Numba's device arrays do the same job, which is also how the
code runs under the CUDA simulator. Numba kernels accept either (`__cuda_array_interface__`).
Both launch on the legacy default stream, so kernels and copies are ordered without explicit
synchronization; `synchronize()` is needed only before reading host-side timers.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import cuda

from prover.kernels.cuda.word import SIMULATOR

# Threads per block. Under the simulator every CUDA thread is a Python thread, so keep blocks
# small; on a device 128 leaves room for the ~200 registers of the curve kernels.
TPB = 32 if SIMULATOR else 128


@lru_cache(maxsize=1)
def cupy_or_none():
    """The cupy module if it imports and reports at least one device, else None."""
    if SIMULATOR:
        return None
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # ImportError, or CUDARuntimeError when there is no driver/device
        return None
    return None


def real_device_present() -> bool:
    """A physical CUDA device is usable (the simulator does not count)."""
    if SIMULATOR:
        return False
    if cupy_or_none() is not None:
        return True
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


def device_name() -> str:
    if SIMULATOR:
        return "Numba CUDA simulator"
    cp = cupy_or_none()
    if cp is not None:
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def free_bytes() -> int:
    """Free device memory; a fixed 1 GiB under the simulator (host memory stands in)."""
    if SIMULATOR:
        return 1 << 30
    cp = cupy_or_none()
    if cp is not None:
        return int(cp.cuda.runtime.memGetInfo()[0])
    return int(cuda.current_context().get_memory_info()[0])


def to_device(a: np.ndarray):
    a = np.ascontiguousarray(a)
    cp = cupy_or_none()
    return cp.asarray(a) if cp is not None else cuda.to_device(a)


def empty(shape, dtype):
    cp = cupy_or_none()
    return cp.empty(shape, dtype=dtype) if cp is not None else cuda.device_array(shape, dtype)


def zeros(shape, dtype):
    cp = cupy_or_none()
    if cp is not None:
        return cp.zeros(shape, dtype=dtype)
    return cuda.to_device(np.zeros(shape, dtype=dtype))


def to_host(d, out: np.ndarray | None = None) -> np.ndarray:
    """Copy a device array to the host (into `out` when given)."""
    if hasattr(d, "copy_to_host"):
        return d.copy_to_host(out) if out is not None else d.copy_to_host()
    host = d.get()
    if out is not None:
        out[...] = host
        return out
    return host


def exclusive_scan(d_counts, total_len: int):
    """offsets[0] = 0, offsets[i+1] = counts[0] + ... + counts[i], as uint32 on the device.

    On the device with CuPy; otherwise a round trip through the host (one array of bucket
    counts, small beside the points).
    """
    cp = cupy_or_none()
    if cp is not None:
        off = cp.zeros(total_len + 1, dtype=cp.uint32)
        cp.cumsum(d_counts, dtype=cp.uint32, out=off[1:])
        return off
    counts = to_host(d_counts)
    off = np.zeros(total_len + 1, dtype=np.uint32)
    np.cumsum(counts, dtype=np.uint32, out=off[1:])
    return to_device(off)


def copy(d):
    cp = cupy_or_none()
    if cp is not None:
        return d.copy()
    out = cuda.device_array_like(d)
    out.copy_to_device(d)
    return out


def synchronize() -> None:
    cp = cupy_or_none()
    if cp is not None:
        cp.cuda.get_current_stream().synchronize()
    cuda.synchronize()


def grid(n: int, tpb: int = TPB) -> tuple[int, int]:
    """(blocks, threads per block) covering n threads (at least one block)."""
    return max(1, (n + tpb - 1) // tpb), tpb
