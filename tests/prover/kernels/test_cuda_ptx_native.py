"""The CUDA C kernels of prover/kernels/cuda/ptx without a GPU: the CPU twin of their limb
algorithm against Python integers, and NVRTC's PTX for sm_80/sm_90 (carry chains present, no
local memory; no spills where ptxas is installed). On a device, cuda_checks.py `ptx` runs them."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from prover.constants import Q, R
from prover.kernels.cuda.memory import real_device_present
from prover.kernels.cuda.ptx import launch, nvrtc, twin
from prover.kernels.cuda.ptx.source import KERNEL_NAMES, source

MONT = 1 << 256


def _values(p: int) -> list[int]:
    """Edges (0, 1, p-1, words of all ones), operands whose product is near 2^256 or p^2,
    and seeded random values."""
    rng = random.Random(p & 0xFFFF)
    edge = [0, 1, 2, p - 1, p - 2, (p - 1) // 2, (p + 1) // 2, (1 << 128) - 1, 1 << 128,
            (1 << 224) - 1, (1 << 253) % p, (1 << 32) - 1, MONT % p, (MONT - 1) % p,
            sum(0xFFFFFFFF << (64 * i) for i in range(4)) % p]
    return edge + [rng.randrange(p) for _ in range(40)]


@pytest.mark.parametrize("p", [Q, R], ids=["Fq", "Fr"])
def test_twin_matches_integers(p):
    F = twin.Field(p)
    vals = _values(p)
    rinv = pow(MONT, -1, p)
    for x in vals:
        for y in vals[::3]:
            a, b = twin.to_words(x), twin.to_words(y)
            assert twin.from_words(twin.mul(F, a, b)) == x * y * rinv % p, (x, y)
            assert twin.from_words(twin.add(F, a, b)) == (x + y) % p, (x, y)
            assert twin.from_words(twin.sub(F, a, b)) == (x - y) % p, (x, y)
    # Montgomery round trip: x * R^2 * R^-1 = x R (to Montgomery), then * 1 (back).
    r2 = twin.to_words(MONT * MONT % p)
    for x in vals:
        m = twin.mul(F, twin.to_words(x), r2)
        assert twin.from_words(m) == x * MONT % p
        assert twin.from_words(twin.mul(F, m, twin.to_words(1))) == x


def test_twin_carry_flag_is_ptx_semantics():
    cc = twin.Cc()
    assert cc.add_cc(0xFFFFFFFF, 1) == 0 and cc.cf == 1
    assert cc.addc(5, 6) == 12  # reads the carry, leaves it
    assert cc.cf == 1
    assert cc.sub_cc(0, 1) == 0xFFFFFFFF and cc.cf == 1  # borrow out
    assert cc.subc(0, 0) == 0xFFFFFFFF  # 0 - (0 + borrow): the all-ones mask
    assert cc.mad_hi_cc(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) == 0xFFFFFFFD and cc.cf == 1
    assert cc.madc_lo_cc(3, 4, 0xFFFFFFF3) == 0 and cc.cf == 1


def test_twin_field_needs_an_odd_modulus():
    # An even "modulus" has no inverse mod 2^32: the twin's setup fails loudly, not wrongly.
    with pytest.raises(ValueError):
        twin.Field(Q + 1).inv  # noqa: B018


# ---- NVRTC ------------------------------------------------------------------------------------

ARCHS = ("compute_80", "compute_90")


@pytest.fixture(scope="module")
def ptx():
    reason = nvrtc.unavailable_reason()
    if reason is not None:
        pytest.skip(f"NVRTC is not available: {reason}")
    return {arch: nvrtc.compile_ptx(source(), arch) for arch in ARCHS}


def _entry(ptx_text: str, name: str) -> str:
    start = ptx_text.index(f".entry {name}(")
    end = ptx_text.index("\n}", start)
    return ptx_text[start:end]


@pytest.mark.parametrize("arch", ARCHS)
def test_nvrtc_ptx_has_the_kernels_and_carry_chains(ptx, arch):
    text = ptx[arch]
    assert f".target sm_{arch[-2:]}" in text
    for name in KERNEL_NAMES:
        assert f".entry {name}(" in text, name
    for op in ("mad.lo.cc.u32", "madc.lo.cc.u32", "madc.hi.cc.u32", "addc.cc.u32",
               "sub.cc.u32", "subc.u32"):
        assert op in text, op
    assert ".local" not in text  # no local-memory arrays or spills in the PTX
    assert ".f64" not in text
    # One product: 8 rows x (a_i * b, m * p) x 16 multiply-adds, all in carry chains, no
    # 64-bit multiply and no setp/selp carry detection.
    body = _entry(text, "fq_mul_k")
    mads = [ln for ln in body.splitlines() if ln.strip().startswith(("mad.", "madc."))]
    assert len(mads) == 256
    assert "mul.hi.u64" not in body and "setp" not in body.split("ld.global")[-1]


@pytest.mark.parametrize("arch", ARCHS)
def test_ptxas_finds_no_spills(ptx, arch, tmp_path):
    ptxas = shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
    if not Path(ptxas).exists():
        pytest.skip("ptxas (a CUDA toolkit) is not installed")
    src = tmp_path / "k.ptx"
    src.write_text(ptx[arch])
    res = subprocess.run([ptxas, f"-arch=sm_{arch[-2:]}", "-v", str(src), "-o",
                          str(tmp_path / "k.cubin")], capture_output=True, text=True)
    if res.returncode != 0 and "Unsupported .version" in res.stderr:
        pytest.skip(f"ptxas is older than NVRTC: {res.stderr.strip()[:200]}")
    assert res.returncode == 0, res.stderr[-2000:]
    for name in KERNEL_NAMES:
        assert f"Compiling entry function '{name}'" in res.stderr
    spills = [ln for ln in res.stderr.splitlines() if "spill" in ln]
    assert spills and all("0 bytes spill stores, 0 bytes spill loads" in ln for ln in spills)


def test_nvrtc_reports_compile_errors_with_the_log(ptx):
    with pytest.raises(nvrtc.NvrtcError, match="undefined"):
        nvrtc.compile_ptx('extern "C" __global__ void k() { undefined_name(); }', "compute_90")


# ---- the MSM's choice ---------------------------------------------------------------------------


@pytest.mark.skipif(real_device_present(), reason="a CUDA device is present")
def test_field_choice_without_a_device(monkeypatch):
    monkeypatch.delenv("ZKPROVE_CUDA_FIELD", raising=False)
    assert launch.unavailable_reason() is not None  # no CuPy device on this machine
    assert launch.default_field(1) == "numba" and launch.default_field(2) == "numba"
    with pytest.raises(ValueError, match="G1 only"):
        launch.check_field("ptx", 2)
    with pytest.raises(RuntimeError, match="field='ptx' requested"):
        launch.check_field("ptx", 1)
    with pytest.raises(ValueError, match="field must be one of"):
        launch.check_field("fast", 1)
    monkeypatch.setenv("ZKPROVE_CUDA_FIELD", "ptx")
    assert launch.default_field(1) == "ptx" and launch.default_field(2) == "numba"
    monkeypatch.setenv("ZKPROVE_CUDA_FIELD", "bogus")
    with pytest.raises(ValueError, match="ZKPROVE_CUDA_FIELD"):
        launch.default_field(1)


def test_benchmark_counts_the_product_kernel(ptx):
    from benchmarks.cuda_ptx import ptx_stats

    st = ptx_stats(ptx["compute_90"], "fq_mul_k")
    assert st["mad"] == 256 and st["mul_hi_u64"] == 0 and st["local"] == 0
    assert st["carry_chain"] >= 256 and st["calls"] == 0
