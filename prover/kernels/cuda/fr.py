"""Fr (BN254 scalar field) device functions and elementwise kernels (the NTT's field)."""

from __future__ import annotations

import numpy as np
from numba import cuda, types

from prover.constants import R
from prover.kernels.cpu.params import MontParams
from prover.kernels.cuda import field as f
from prover.kernels.cuda.compile import ARR_FR, kernel
from prover.kernels.cuda.word import device

FR = MontParams.of(R)
_P = FR.p
_PINV = FR.pinv
FR_ONE = FR.one
_PM2 = FR.pm2
PLAIN_ONE = (np.uint64(1), np.uint64(0), np.uint64(0), np.uint64(0))


@device
def fr_mul(a, b):
    return f.mont_mul(a, b, _P, _PINV)


@device
def fr_add(a, b):
    return f.add_mod(a, b, _P)


@device
def fr_sub(a, b):
    return f.sub_mod(a, b, _P)


@device
def fr_neg(a):
    return f.neg_mod(a, _P)


@device
def fr_pow(a, e):
    return f.mont_pow(a, e, _P, _PINV, FR_ONE)


@device
def fr_inv(a):
    return f.mont_pow(a, _PM2, _P, _PINV, FR_ONE)


# ---- elementwise kernels over (n, 4) arrays; one thread per element ------------------------


@kernel("fr_mul", types.void(ARR_FR, ARR_FR, ARR_FR))
def mul_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fr_mul(f.load4(a, i), f.load4(b, i)))


@kernel("fr_add", types.void(ARR_FR, ARR_FR, ARR_FR))
def add_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fr_add(f.load4(a, i), f.load4(b, i)))


@kernel("fr_sub", types.void(ARR_FR, ARR_FR, ARR_FR))
def sub_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fr_sub(f.load4(a, i), f.load4(b, i)))


@kernel("fr_mul_sub", types.void(ARR_FR, ARR_FR, ARR_FR, ARR_FR))
def mul_sub_kernel(a, b, c, out):
    """out = a*b - c: the pointwise step of the H computation, A(x)B(x) - C(x) on the coset."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fr_sub(fr_mul(f.load4(a, i), f.load4(b, i)), f.load4(c, i)))


@kernel("fr_from_montgomery", types.void(ARR_FR, ARR_FR))
def from_montgomery_kernel(a, out):
    """out = a * 2^-256 = mont_mul(a, 1): Montgomery form -> plain integer limbs."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fr_mul(f.load4(a, i), PLAIN_ONE))
