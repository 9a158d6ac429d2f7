"""The CUDA C source run on the CPU: `source(host=True)` built by the system's C++ compiler into
a shared library, each kernel called once per thread index (tests only; slow, serial).

Where no GPU runs this checks what the instruction twin (`twin.py`) cannot reach: the G1
formulas, the batch-affine round and the array layout of the very text that NVRTC compiles,
with each PTX instruction replaced by C over one carry flag. `unavailable_reason()` says why it
cannot build (no compiler).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from prover.kernels.cuda.ptx.source import source


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")


def unavailable_reason() -> str | None:
    return None if _compiler() else "no C++ compiler (g++ or clang++) on PATH"


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    cxx = _compiler()
    if cxx is None:
        raise RuntimeError(unavailable_reason())
    src = source(host=True)
    key = hashlib.sha256(src.encode()).hexdigest()[:16]
    out_dir = Path(tempfile.gettempdir()) / f"zkprove-ptx-host-{os.getuid()}"
    out_dir.mkdir(exist_ok=True)
    lib = out_dir / f"kernels-{key}.so"
    if not lib.exists():
        cu = out_dir / f"kernels-{key}.cpp"
        cu.write_text(src)
        part = lib.with_suffix(f".{os.getpid()}.part")
        res = subprocess.run([cxx, "-O1", "-std=c++17", "-shared", "-fPIC", "-w", str(cu), "-o",
                              str(part)], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{cxx} failed on the host build:\n{res.stderr[-3000:]}")
        part.replace(lib)
    return ctypes.CDLL(str(lib))


def _arg(x):
    if isinstance(x, np.ndarray):
        if not x.flags.c_contiguous:
            raise ValueError("kernel arrays must be C-contiguous")
        return ctypes.c_void_p(x.ctypes.data)
    return ctypes.c_longlong(int(x))


def launch(name: str, n_threads: int, *args, tpb: int = 32) -> None:
    """Kernel `name` for thread indices 0..n_threads-1 (blocks of `tpb`), one after another."""
    lib = library()
    fn = getattr(lib, name)
    fn.restype = None
    cargs = [_arg(a) for a in args]
    for t in range(n_threads):
        lib.zk_set_thread(t // tpb, t % tpb, tpb)
        fn(*cargs)
