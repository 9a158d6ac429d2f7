"""64-bit word arithmetic shared by every device function: high product, add/sub with carry.

All values are uint64. Numba types `uint64 op int64` as float64, so every literal is a uint64
constant and comparisons become words through an explicit `np.uint64(...)`.

The one operation that the CUDA simulator cannot run is the 64x64 -> 128-bit high product:
on the device it is `cuda.libdevice.umul64hi` (one `mul.hi.u64`); under the simulator the
function below is replaced by a Python-int twin with the same result. Everything else is the
same Python source in both modes.

Device functions are `register_jitable` rather than `cuda.jit(device=True)`: the kernel compiler
inlines them as ordinary Numba functions (so PTX can be produced without a driver, for a chosen
compute capability), and under the simulator they are plain Python calls.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import config
from numba.extending import register_jitable

# True when numba.cuda is the simulator; fixed when numba is first imported.
SIMULATOR = bool(config.ENABLE_CUDASIM)

device = register_jitable  # a function callable from kernels (and from Python)

U0 = np.uint64(0)
U1 = np.uint64(1)
U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)

if SIMULATOR:
    # Under the simulator uint64 wraparound happens in NumPy scalars, which warn on overflow;
    # wraparound is the intended arithmetic mod 2^64 here, as on the device.
    warnings.filterwarnings("ignore", message="overflow encountered in scalar",
                            category=RuntimeWarning)

    def mulhi(a, b):
        """floor(a * b / 2^64) for uint64 a, b (Python-int twin of umul64hi)."""
        return np.uint64((int(a) * int(b)) >> 64)

else:
    from numba import cuda

    @register_jitable
    def mulhi(a, b):
        """floor(a * b / 2^64) for uint64 a, b: PTX mul.hi.u64.

        Numba declares __nv_umul64hi with int64 arguments and result; the casts are bit-for-bit,
        and without the last one the sums below would be typed int64 + uint64 = float64.
        """
        return np.uint64(cuda.libdevice.umul64hi(a, b))


@device
def mac(a, b, c, d):
    """(lo, hi) = a*b + c + d; cannot overflow 128 bits: (2^64-1)^2 + 2(2^64-1) = 2^128 - 1."""
    lo = a * b
    hi = mulhi(a, b)
    lo = lo + c
    hi = hi + np.uint64(lo < c)  # the sum wrapped iff it is below an addend
    lo = lo + d
    hi = hi + np.uint64(lo < d)
    return lo, hi


@device
def adc(a, b, carry):
    """(a + b + carry mod 2^64, carry out), carry in {0, 1}."""
    s = a + b
    c1 = np.uint64(s < a)
    t = s + carry
    c2 = np.uint64(t < s)
    return t, c1 | c2


@device
def sbb(a, b, borrow):
    """(a - b - borrow mod 2^64, borrow out), borrow in {0, 1}."""
    d = a - b
    b1 = np.uint64(a < b)
    t = d - borrow
    b2 = np.uint64(d < borrow)
    return t, b1 | b2
