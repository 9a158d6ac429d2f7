"""Backend selection: one place picks CPU or CUDA; here (no GPU) auto -> cpu, cuda -> error."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from benchmarks.cli import bench
from prover import ntt
from prover.backend import (
    BackendUnavailable,
    CpuBackend,
    GpuError,
    _device_errors,
    get_backend,
)
from prover.constants import R
from prover.curves import G1, G2
from prover.fields import Fr
from prover.kernels.cuda.memory import real_device_present
from prover.msm import msm

needs_no_gpu = pytest.mark.skipif(real_device_present(), reason="a CUDA device is present")


@needs_no_gpu
def test_auto_without_a_gpu_is_cpu_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="prover.backend"):
        b = get_backend("auto")
    assert isinstance(b, CpuBackend) and b.name == "cpu"
    assert "prover backend: cpu" in caplog.text and "[auto]" in caplog.text


@needs_no_gpu
def test_cuda_without_a_gpu_raises_a_typed_error():
    with pytest.raises(BackendUnavailable, match="CUDA backend requested but unavailable"):
        get_backend("cuda")


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        get_backend("tpu")


def test_device_errors_are_raised_typed_not_hidden():
    from numba.cuda.cudadrv.driver import CudaAPIError

    with pytest.raises(GpuError, match="G1 MSM failed on the GPU") as info:
        with _device_errors("G1 MSM"):
            raise CudaAPIError(2, "CUDA_ERROR_OUT_OF_MEMORY")
    assert isinstance(info.value.__cause__, CudaAPIError)
    with pytest.raises(KeyError):  # anything else passes through untouched
        with _device_errors("G1 MSM"):
            raise KeyError("x")


def test_cpu_backend_has_the_cpu_semantics():
    b = get_backend("cpu")
    a = Fr.from_ints(range(1, 17))
    assert np.array_equal(b.ntt(a.copy()), ntt.ntt(a.copy()))
    assert np.array_equal(b.intt(b.ntt(a.copy())), a)
    assert np.array_equal(b.coset_intt(b.coset_ntt(a.copy(), 7), 7), a)
    x = a.copy()
    assert b.ntt(x) is x  # in place, like prover.ntt

    ks = [0, 1, R - 1, 5, 7]
    for group, one in ((G1, b.msm_g1), (G2, b.msm_g2)):
        bases = group.random_points(5, seed=2)
        assert np.array_equal(one(bases, ks), msm(group, bases, ks))
        mont = Fr.from_ints(ks)
        assert np.array_equal(one(bases, mont, "montgomery"), msm(group, bases, ks))


def test_h_evaluations_is_ab_minus_c_on_the_coset():
    b = get_backend("cpu")
    n = 8
    shift = ntt.root_of_unity(4)  # w_(2n): snarkjs's odd points
    A, B, C = (Fr.from_ints([(s * 31 + i) ** 3 % R for i in range(n)]) for s in (1, 2, 3))
    got = b.h_evaluations(A.copy(), B.copy(), C.copy(), shift)
    ea, eb, ec = (ntt.coset_ntt(ntt.intt(x.copy()), shift) for x in (A, B, C))
    assert np.array_equal(got, Fr.sub(Fr.mul(ea, eb), ec))


@needs_no_gpu
def test_bench_msm_with_cuda_backend_reports_a_missing_device():
    from click.testing import CliRunner


    out = CliRunner().invoke(bench, ["msm", "--backend", "cuda", "--sizes", "4",
                                   "--g2-sizes", ""])
    assert out.exit_code == 1
    assert "CUDA backend requested but unavailable" in out.output
