"""Every CUDA kernel compiles to PTX for sm_80 (A100) and sm_90 (H100) with CUDA's NVVM.

No GPU is needed: NVVM compiles for a named architecture. One subprocess per architecture (they
run side by side; NVVM takes most of the time), each printing one JSON line per kernel; skipped
only when NVVM itself is absent, with the loader's reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # NVVM on the large curve kernels: 1-3 minutes on 2 cores

ROOT = Path(__file__).resolve().parents[3]
ARCHS = ("8.0", "9.0")
TIMEOUT_S = 900


def _kernel_names() -> list[str]:
    from prover.kernels.cuda.registry import all_kernels

    return sorted(all_kernels())


KERNEL_NAMES = _kernel_names()


@pytest.fixture(scope="module")
def ptx_results():
    from prover.kernels.cuda.compile import NvvmUnavailable, nvvm_version

    try:
        nvvm_version()
    except NvvmUnavailable as exc:
        pytest.skip(f"NVVM is not available: {exc}")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(ROOT)
    procs = {
        arch: subprocess.Popen([sys.executable, __file__, arch], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for arch in ARCHS
    }
    results = {}
    for arch, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT_S)
        assert proc.returncode == 0, f"PTX compilation for sm_{arch} crashed:\n{err[-4000:]}"
        for line in out.splitlines():
            rec = json.loads(line)
            results[rec["kernel"], arch] = rec
    return results


def test_kernel_registry_is_complete():
    # One NTT stage kernel, the MSM pipeline for both groups, the H step's pointwise kernel.
    for name in ("ntt_bit_reverse", "ntt_stage", "fr_scale", "fr_scale_by_powers", "fr_mul_sub",
                 "msm_digits", "msm_count", "msm_scatter"):
        assert name in KERNEL_NAMES
    for g in ("g1", "g2"):
        for step in ("bucket_sums", "window_partials", "window_sums"):
            assert f"msm_{step}_{g}" in KERNEL_NAMES


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_kernel_compiles_to_ptx(ptx_results, kernel, arch):
    rec = ptx_results[kernel, arch]
    assert rec["error"] is None, rec["error"]
    assert rec["target"] == "sm_" + arch.replace(".", "")
    # Integer typing slips (uint64 op int64 -> float64) show up as f64 instructions.
    assert rec["f64"] == 0, f"{kernel}: {rec['f64']} f64 instructions in the PTX"
    if rec["multiplies"]:
        assert rec["mul_hi"] > 0, f"{kernel}: no mul.hi.u64 (the high product is not on device)"


# ---- the compiler side, run in a subprocess per architecture -----------------------------------

# Kernels that perform field multiplications (and so must use the device's high multiply).
MULTIPLYING = ("mul", "inv", "bucket", "window", "ntt_stage", "scale", "montgomery")


def _compile_all(arch: str) -> None:
    from prover.kernels.cuda.compile import compile_ptx
    from prover.kernels.cuda.registry import all_kernels

    cc = tuple(int(x) for x in arch.split("."))
    for name in sorted(all_kernels()):
        rec = {"kernel": name, "error": None, "target": None, "f64": 0, "mul_hi": 0,
               "multiplies": any(m in name for m in MULTIPLYING)}
        try:
            ptx = compile_ptx(name, cc)
        except Exception as exc:  # reported per kernel, so one failure does not hide the rest
            rec["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            lines = ptx.splitlines()
            rec["target"] = next((ln.split()[1] for ln in lines if ln.startswith(".target")),
                                 None)
            body = [ln for ln in lines if not ln.lstrip().startswith(("//", ".reg"))]
            rec["f64"] = sum(".f64" in ln for ln in body)
            rec["mul_hi"] = sum("mul.hi.u64" in ln for ln in body)
            rec["bytes"] = len(ptx)
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    _compile_all(sys.argv[1])
