"""Every CUDA kernel of the package by name: importing the kernel modules registers them in
``compile.KERNELS``. Kept apart from ``compile`` so the registry's users (PTX checks) import the
kernels, and the kernels import ``compile``, without a cycle."""

from __future__ import annotations

from prover.kernels.cuda import fq, fr, msm, msm_affine, ntt  # noqa: F401  (registration by import)
from prover.kernels.cuda.compile import KERNELS, KernelSpec


def all_kernels() -> dict[str, KernelSpec]:
    return dict(KERNELS)
