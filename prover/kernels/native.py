"""The prover's task kernels compiled ahead of time into one shared library, called with ctypes.

The library holds C-callable wrappers (numba.cfunc) of the Numba kernels of kernels/cpu and
groth16/kernels.py, built by kernels.cpu.native_build once per kernel sources, Numba and
llvmlite versions and CPU, into $ZKPROVE_NATIVE_CACHE (default ~/.cache/zkprove). Loading it
needs neither Numba nor llvmlite: a proof starts in the time numpy takes to import and LLVM's
~120 MiB stay out of the process; ctypes releases the GIL around each call, so prover.tasks runs
the kernels on several threads. `load()` builds on first use (saying so on stderr) and returns
None when the library cannot be built here (no linker; ZKPROVE_NATIVE=0), with the reason in
`unavailable_reason()`; the Numba kernels then do the work. The functions of the kernel set take
the arguments of the Numba kernels they stand for, so prover.msm and groth16.steps run either.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from prover.constants import Q, R
from prover.formats._limbs import g1_to_mont, g2_to_mont

# name -> C argument types ("u64*" .. pointers, "i" int64); the builder compiles each with
# exactly these, the loader declares them to ctypes. _g1/_g2: the same kernel per group.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "scalar_digits": ("u64*", "i", "i", "i", "i", "i", "i32*", "i32*"),
    "window_task_g1": ("u64*", "i", "u64*", "i", "i32*", "i32*", "i", "i", "i", "i", "i", "i",
                       "u64*", "u64*", "i", "u64*", "i", "u8*", "i", "i64*", "i"),
    "combine_windows_g1": ("u64*", "i", "i", "u64*"),
    "phi_points_g1": ("u64*", "i", "u64*", "u64*"),
    "odd_points": ("u64*", "i", "u64*", "u64*", "u64*", "u64*"),
    "mul_sub": ("u64*", "u64*", "u64*", "i"),
    "mul_rows": ("u64*", "u64*", "u64*", "i", "i"),
    "eval_ab_chunks": ("u32*", "i", "u64*", "i", "i64*", "i", "i", "i", "u64*", "u64*", "i"),
    "powers": ("u64*", "i", "u64*"),
    "combine": ("u64*",) * 16,
    "pairing_product_is_one": ("u64*", "u64*", "u64*", "u64*", "i", "u64*", "i", "u64*", "u64*",
                               "i", "u64*", "i", "u8*"),
}
for _k in ("window_task", "combine_windows", "phi_points"):
    SIGNATURES[f"{_k}_g2"] = SIGNATURES[f"{_k}_g1"]

# Every file whose code ends up in the library: a change to any of them means a new build.
_SOURCES = ("prover/kernels/cpu", "prover/groth16/kernels.py", "prover/glv.py",
            "prover/constants.py", "prover/kernels/native.py")

_state: dict[str, object] = {}


def cache_dir() -> Path:
    d = os.environ.get("ZKPROVE_NATIVE_CACHE")
    base = Path(d) if d else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base if d else base / "zkprove"


def _cpu_id() -> bytes:
    """What the compiled code depends on: the machine and its instruction-set flags."""
    import platform

    parts = [platform.machine().encode()]
    try:
        with open("/proc/cpuinfo", "rb") as f:
            for line in f:
                if line.startswith((b"flags", b"model name", b"vendor_id")):
                    parts.append(line.strip())
                if line.strip() == b"":
                    break  # the first processor is enough: all cores are alike
    except OSError:
        parts.append(platform.processor().encode())
    return b"\n".join(parts)


def build_key() -> str:
    """Hash of the kernel sources, the Numba and llvmlite versions (their _version.py, found
    without importing them), the CPU and the field product forced portable or not."""
    from importlib.util import find_spec

    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for rel in _SOURCES:
        p = root / rel
        for f in sorted(p.glob("*.py")) if p.is_dir() else [p]:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    for pkg in ("numba", "llvmlite"):
        spec = find_spec(pkg)
        origin = Path(spec.origin) if spec and spec.origin else None
        version = origin.parent / "_version.py" if origin else None
        h.update(version.read_bytes() if version and version.exists() else pkg.encode())
    h.update(_cpu_id())
    # ZKPROVE_FIELD_ASM=0 forces the portable field product (kernels/cpu/adx.py)
    h.update(b"field-portable" if os.environ.get("ZKPROVE_FIELD_ASM", "1") == "0" else b"")
    return h.hexdigest()[:20]


def library_path() -> Path:
    return cache_dir() / f"zkprove-kernels-{build_key()}.so"


def unavailable_reason() -> str | None:
    return _state.get("reason")  # type: ignore[return-value]


def load(build: bool = True) -> SimpleNamespace | None:
    """The kernel set of the native library (built first if needed and `build`), or None."""
    if "kernels" in _state:
        return _state["kernels"]  # type: ignore[return-value]
    kernels = None
    if os.environ.get("ZKPROVE_NATIVE", "1") == "0":
        _state["reason"] = "ZKPROVE_NATIVE=0"
    else:
        path = library_path()
        failed = path.with_suffix(".failed")
        if not path.exists() and failed.exists():
            _state["reason"] = (f"{failed.read_text().strip() or 'the build failed before'} "
                                f"(remembered in {failed}: delete it to try again)")
        elif not path.exists() and not build:
            _state["reason"] = "not built"
            return None  # not remembered: a later load() may build it
        else:
            try:
                if not path.exists():
                    print("compiling the native prover kernels (first use; cached for later "
                          "runs) ...", file=sys.stderr, flush=True)
                    # lazy: Numba and llvmlite, needed only to build
                    from prover.kernels.cpu.native_build import build_library

                    build_library(path, SIGNATURES)
                kernels = _wrap(ctypes.CDLL(str(path)))
            except Exception as exc:  # no linker, no compiler support: the Numba kernels
                _state["reason"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                try:
                    failed.parent.mkdir(parents=True, exist_ok=True)
                    failed.write_text(str(_state["reason"]) + "\n")
                except OSError:
                    pass
    _state["kernels"] = kernels
    return kernels


def _reset() -> None:
    """Forget what load() found (tests)."""
    _state.clear()


def _wrap(lib: ctypes.CDLL) -> SimpleNamespace:
    fns = {}
    for name, sig in SIGNATURES.items():
        f = getattr(lib, f"zk_{name}")
        f.restype = None
        f.argtypes = [ctypes.c_int64 if t == "i" else ctypes.c_void_p for t in sig]
        fns[name] = f
    return _kernel_set(fns)


def _p(a: np.ndarray) -> int:
    """The data address of `a`: the caller keeps `a` referenced until the call returns."""
    return a.ctypes.data


def _limbs(t) -> np.ndarray:
    return np.array([int(x) for x in t], dtype=np.uint64)


def _grp(a: np.ndarray) -> str:
    """'g1' for (n, k, 4) point arrays, 'g2' for (n, k, 2, 4)."""
    return "g1" if a.ndim == 3 else "g2"


def _c(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous:
        raise ValueError("native kernels take C-contiguous arrays")
    return a


def _kernel_set(f: dict) -> SimpleNamespace:
    """Python functions with the signatures of the Numba kernels they stand for."""

    def scalar_digits(k, montgomery, glv, c_bits, d0, d1):
        f["scalar_digits"](_p(_c(k)), len(k), int(montgomery), int(glv), c_bits, d0.shape[0],
                           _p(_c(d0)), _p(_c(d1)))

    def window_task(b0, b1, d0, d1, w, first, n1, c_bits, batch, out, aff, jac, flags, idx):
        f[f"window_task_{_grp(b0)}"](
            _p(_c(b0)), len(b0), _p(_c(b1)), n1, _p(_c(d0)), _p(_c(d1)), d0.shape[0],
            d0.shape[1], w, first, c_bits, batch, _p(_c(out)), _p(_c(aff)), len(aff),
            _p(_c(jac)), len(jac), _p(flags), len(flags), _p(idx), len(idx))

    def combine_windows(windows, c_bits, out):
        f[f"combine_windows_{_grp(windows)}"](_p(_c(windows)), len(windows), c_bits,
                                               _p(_c(out)))

    def phi_points(P, beta, out):
        b = _limbs(beta)  # (every temporary stays referenced until the call returns)
        f[f"phi_points_{_grp(P)}"](_p(_c(P)), len(P), _p(b), _p(_c(out)))

    def odd_points(x, tw_inv, tw, inv_n, g):
        inv, gg = _limbs(inv_n), _limbs(g)
        f["odd_points"](_p(_c(x)), len(x), _p(_c(tw_inv)), _p(_c(tw)), _p(inv), _p(gg))

    def mul_sub(a, b, c):
        f["mul_sub"](_p(_c(a)), _p(_c(b)), _p(_c(c)), len(a))

    def mul_rows(a, b, out, lo, hi):
        f["mul_rows"](_p(_c(a)), _p(_c(b)), _p(_c(out)), lo, hi)

    def eval_ab_chunks(rec, witness, starts, t0, t1, out_a, out_b):
        f["eval_ab_chunks"](_p(_c(rec)), len(rec), _p(_c(witness)), len(witness),
                            _p(_c(starts)), len(starts), t0, t1, _p(_c(out_a)), _p(_c(out_b)),
                            len(out_a))

    def powers(g, n, out):
        gg = _limbs(g)
        f["powers"](_p(gg), n, _p(_c(out)))

    def combine(*args):
        *points, r, s, rs, out_a, out_b, out_c = args
        arrays = [_c(np.ascontiguousarray(p, dtype=np.uint64)) for p in points]
        arrays += [_limbs(r), _limbs(s), _limbs(rs)]
        f["combine"](*(_p(a) for a in arrays), _p(_c(out_a)), _p(_c(out_b)), _p(_c(out_c)))

    def pairing_product_is_one(pairs) -> bool:
        """prod e(P_i, Q_i) == 1 for Python-int points (None: infinity), as the function of
        prover.pure.pairing: the same check, ~5x faster (prover.pairing's kernel)."""
        pairs = [(p, q) for p, q in pairs if p is not None and q is not None]
        if not pairs:
            return True
        P = g1_to_mont([p for p, _ in pairs])
        Q = g2_to_mont([q for _, q in pairs])
        xs, ys = np.ascontiguousarray(P[:, 0]), np.ascontiguousarray(P[:, 1])
        x2s, y2s = np.ascontiguousarray(Q[:, 0]), np.ascontiguousarray(Q[:, 1])
        (sw, sb), frob, (e2w, e2b), (e3w, e3b) = _pairing_constants()
        out = np.zeros(1, dtype=np.uint8)
        f["pairing_product_is_one"](_p(xs), _p(ys), _p(x2s), _p(y2s), len(xs), _p(sw), sb,
                                    _p(frob), _p(e2w), e2b, _p(e3w), e3b, _p(out))
        return bool(out[0])

    return SimpleNamespace(scalar_digits=scalar_digits, window_task=window_task,
                           combine_windows=combine_windows, phi_points=phi_points,
                           odd_points=odd_points, mul_sub=mul_sub, mul_rows=mul_rows,
                           eval_ab_chunks=eval_ab_chunks, powers=powers, combine=combine,
                           pairing_product_is_one=pairing_product_is_one)


def _pairing_constants():
    """The arguments of kernels.cpu.pairing.product_is_one that do not depend on the points:
    (words, bits) of s = 6x + 2, of q^2 and of (q^4 - q^2 + 1)/r; the Frobenius constants."""
    if "pairing" not in _state:
        from prover.pure import pairing as pp  # lazy: plain ints, for the proof check only

        def words(e: int):
            n = max(1, (e.bit_length() + 63) // 64)
            return np.array([(e >> (64 * i)) & (2**64 - 1) for i in range(n)],
                            dtype=np.uint64), e.bit_length()

        frob = g2_to_mont([(pp._G12, pp._G13), (pp._G22, pp._G23)]).reshape(4, 2, 4)
        _state["pairing"] = (words(pp.ATE_LOOP), np.ascontiguousarray(frob), words(Q * Q),
                             words((Q**4 - Q**2 + 1) // R))
    return _state["pairing"]
