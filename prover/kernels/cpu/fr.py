"""Fr (BN254 scalar field) scalar kernels, modulus folded in; used by NTT and witness code."""

from __future__ import annotations

from numba import njit

from prover.constants import R
from prover.kernels.cpu import field as f
from prover.kernels.cpu.params import MontParams

FR = MontParams.of(R)
_P = FR.p
_PINV = FR.pinv
FR_ONE = FR.one
_PM2 = FR.pm2


@njit(cache=True)
def fr_mul(a, b):
    return f.mont_mul(a, b, _P, _PINV)


@njit(cache=True)
def fr_sqr(a):
    return f.mont_mul(a, a, _P, _PINV)


@njit(cache=True)
def fr_add(a, b):
    return f.add_mod(a, b, _P)


@njit(cache=True)
def fr_sub(a, b):
    return f.sub_mod(a, b, _P)


@njit(cache=True)
def fr_neg(a):
    return f.neg_mod(a, _P)


@njit(cache=True)
def fr_pow(a, e):
    return f.mont_pow(a, e, _P, _PINV, FR_ONE)


@njit(cache=True)
def fr_inv(a):
    return f.mont_pow(a, _PM2, _P, _PINV, FR_ONE)
