"""The CUDA C kernels of prover/kernels/cuda/ptx without a GPU: the CPU twin of their limb
algorithm against Python integers; NVRTC's PTX for sm_80/sm_90 (carry chains present, no local
memory; no spills where ptxas is installed); the same source built as C++ (hostemu) against the
CPU kernels: fields, G1 formulas, the MSM's batch-affine round. On a device, cuda_checks.py
`ptx` runs them."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
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


# ---- the same source as C++ on the CPU (hostemu): formulas, round kernel, layout ------------


@pytest.fixture(scope="module")
def host():
    from prover.kernels.cuda.ptx import hostemu

    reason = hostemu.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    hostemu.library()
    return hostemu


@pytest.mark.parametrize("tag", ["fq", "fr"])
def test_host_build_field_kernels_match_the_cpu(host, tag):
    from prover.fields import Fq, Fr

    F, p = (Fq, Q) if tag == "fq" else (Fr, R)
    vals = _values(p)[:30]
    xs = [x for x in vals for _ in vals]
    ys = [y for _ in vals for y in vals]
    a, b = F.from_ints(xs, reduce=True), F.from_ints(ys, reduce=True)
    for op, ref in (("mul", F.mul), ("add", F.add), ("sub", F.sub)):
        out = np.zeros_like(a)
        host.launch(f"{tag}_{op}_k", len(a), a, b, out, len(a))
        assert np.array_equal(out, ref(a, b)), op


def test_host_build_product_chain_and_inverse(host):
    from prover.fields import Fq

    x = Fq.from_ints(_values(Q)[:6], reduce=True)
    out = np.zeros_like(x)
    host.launch("fq_mul_chain_k", len(x), x, out, len(x), 2)
    for i in range(len(x)):
        u, v = x[i:i + 1], x[(i + 1) % len(x):][:1]
        for _ in range(2):
            u = Fq.mul(u, v)
            v = Fq.mul(v, u)
        assert np.array_equal(out[i:i + 1], Fq.add(u, v)), i


def _g1_cases():
    from prover.curves import G1

    pts = G1.random_points(6, seed=3)
    pts[1] = pts[0]  # P + P through the addition formulas
    pts[2] = 0  # infinity
    pts[3] = G1.neg(pts[0][None])[0]  # P + (-P)
    return G1, pts, np.ascontiguousarray(pts[::-1])


def test_host_build_g1_formulas_match_the_cpu(host):
    G1, pts, rev = _g1_cases()
    jac, jac2 = G1.to_jacobian(pts), G1.to_jacobian(rev)
    for name, want, args in (
        ("g1_double_k", G1.double(jac), (jac,)),
        ("g1_add_k", G1.add(jac, jac2), (jac, jac2)),
        ("g1_add_mixed_k", G1.add_mixed(jac, rev), (jac, rev)),
    ):
        out = np.zeros_like(jac)
        host.launch(name, len(jac), *args, out, len(jac))
        assert G1.to_ints(G1.to_affine(out)) == G1.to_ints(G1.to_affine(want)), name


@pytest.mark.parametrize("batch", [1, 3, 32])
def test_host_build_affine_rounds_sum_every_bucket(host, batch):
    """The round kernel driven as msm_affine.bucket_sums drives it (prepare and swap here):
    buckets with P + P, P + (-P), infinity, a long bucket, an empty one; batches that straddle
    buckets. Each bucket's last point must be the CPU sum."""
    G1, pts, _ = _g1_cases()
    P, Qp, S = pts[0], pts[4], pts[5]
    negP, inf = pts[3], np.zeros_like(P)
    more = G1.random_points(11, seed=9)
    buckets = [[P, P], [P, negP], [inf, Qp], [Qp, inf, S], [], [S] * 9 + [P, negP],
               list(more), [Qp]]
    counts = np.array([len(b) for b in buckets], np.uint32)
    offsets = np.zeros(len(buckets) + 1, np.uint32)
    np.cumsum(counts, out=offsets[1:])
    size = int(offsets[-1])
    xs = np.zeros((size, 2, 4), np.uint64)
    for b, pts_b in enumerate(buckets):
        for k, pt in enumerate(pts_b):
            xs[offsets[b] + k] = pt
    ys = np.zeros_like(xs)
    scratch = np.zeros((size // 2 + 1, 1, 4), np.uint64)
    cnt = counts.copy()
    while True:
        pairs = cnt // 2
        for b in range(len(buckets)):  # msm_affine's prepare kernel
            if cnt[b] & 1:
                ys[offsets[b] + pairs[b]] = xs[offsets[b] + cnt[b] - 1]
        cnt = cnt - pairs
        pair_off = np.zeros(len(buckets) + 1, np.uint32)
        np.cumsum(pairs, out=pair_off[1:])
        total = int(pair_off[-1])
        if total == 0:
            break
        host.launch("msm_affine_round_g1", (total + batch - 1) // batch, offsets, 0, 0,
                    pair_off, len(buckets), batch, xs, ys, scratch)
        xs, ys = ys, xs
    for b, pts_b in enumerate(buckets):
        if not pts_b:
            continue
        want = G1.to_jacobian(np.stack(pts_b[:1]))
        for pt in pts_b[1:]:
            want = G1.add_mixed(want, pt[None])
        got = G1.to_ints(xs[offsets[b]][None])
        assert got == G1.to_ints(G1.to_affine(want)), b
