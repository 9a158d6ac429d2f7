"""NVRTC through ctypes: CUDA C source -> PTX for a named architecture, without a GPU or driver.

The library comes from the `nvidia-cuda-nvrtc` wheel (the `dev` and `gpu` extras pin it), else
from the system's CUDA toolkit ($CUDA_HOME/lib64, the loader's path). Its builtins library is
loaded first so that NVRTC finds it beside itself. `NvrtcUnavailable` names what was tried;
`NvrtcError` carries the compiler's log.
"""

from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache


class NvrtcUnavailable(RuntimeError):
    """No loadable libnvrtc (install the nvidia-cuda-nvrtc wheel or a CUDA toolkit)."""


class NvrtcError(RuntimeError):
    """NVRTC rejected the source; the message holds the compiler's log."""


def _candidates() -> list[str]:
    dirs = []
    try:
        import nvidia  # lazy: the wheel is optional (a namespace package)

        for root in nvidia.__path__:
            dirs += sorted(glob.glob(os.path.join(root, "cu*", "lib")))
            dirs.append(os.path.join(root, "cuda_nvrtc", "lib"))
    except ImportError:
        pass
    for env in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(env):
            dirs.append(os.path.join(os.environ[env], "lib64"))
    dirs.append("/usr/local/cuda/lib64")
    found = [p for d in dirs for p in sorted(glob.glob(os.path.join(d, "libnvrtc.so*")))
             if "alt" not in os.path.basename(p)]
    return found + ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            for b in glob.glob(os.path.join(os.path.dirname(path), "libnvrtc-builtins.so*")):
                if "alt" not in os.path.basename(b):
                    ctypes.CDLL(b, mode=ctypes.RTLD_GLOBAL)
            lib = ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            continue
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        return lib
    raise NvrtcUnavailable("no libnvrtc could be loaded: " + "; ".join(errors[-3:]))


def version() -> tuple[int, int]:
    lib = library()
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def unavailable_reason() -> str | None:
    try:
        version()
    except NvrtcUnavailable as exc:
        return str(exc)
    return None


def compile_ptx(src: str, arch: str, name: str = "kernels.cu",
                options: tuple[str, ...] = ()) -> str:
    """PTX for `arch` ("compute_80", "compute_90", ...); raises NvrtcError with the log."""
    lib = library()
    prog = ctypes.c_void_p()

    def check(rc: int, what: str) -> None:
        if rc != 0:
            raise NvrtcError(f"{what}: {lib.nvrtcGetErrorString(rc).decode()}")

    check(lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), name.encode(), 0, None, None),
          "nvrtcCreateProgram")
    try:
        opts = [f"--gpu-architecture={arch}", "--std=c++17", *options]
        argv = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
        rc = lib.nvrtcCompileProgram(prog, len(opts), argv)
        if rc != 0:
            size = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetProgramLog(prog, log)
            raise NvrtcError(f"{arch}: {lib.nvrtcGetErrorString(rc).decode()}\n"
                             f"{log.value.decode(errors='replace')}")
        size = ctypes.c_size_t()
        check(lib.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
        buf = ctypes.create_string_buffer(size.value)
        check(lib.nvrtcGetPTX(prog, buf), "nvrtcGetPTX")
        return buf.value.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
