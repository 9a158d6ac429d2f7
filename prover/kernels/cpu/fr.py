"""Fr (BN254 scalar field) scalar kernels, modulus folded in; used by NTT and witness code.

The product is adx.py's MULX/ADCX/ADOX assembly where adx.ENABLED, field.mont_mul otherwise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from prover.constants import R
from prover.kernels.cpu import adx
from prover.kernels.cpu import field as f
from prover.kernels.cpu.params import MontParams

FR = MontParams.of(R)
_P = FR.p
_PINV = FR.pinv
FR_ONE = FR.one
_PM2 = FR.pm2


if adx.ENABLED:
    _ASM_MUL = adx.mont_mul_asm(R)

    @njit(cache=True)
    def fr_mul(a, b):
        # as tuples: callers also pass limb arrays
        return _ASM_MUL((a[0], a[1], a[2], a[3]), (b[0], b[1], b[2], b[3]))

else:

    @njit(cache=True)
    def fr_mul(a, b):
        return f.mont_mul(a, b, _P, _PINV)


@njit(cache=True)
def fr_sqr(a):
    return fr_mul(a, a)


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
    """a^e with e a 256-bit exponent as limbs (plain integer), left to right."""
    r = FR_ONE
    for i in range(3, -1, -1):
        w = e[i]
        for j in range(63, -1, -1):
            r = fr_sqr(r)
            if (w >> np.uint64(j)) & f.U1:
                r = fr_mul(r, a)
    return r


@njit(cache=True)
def fr_inv(a):
    return fr_pow(a, _PM2)
