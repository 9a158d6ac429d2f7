"""Fq (BN254 base field) and Fq2 = Fq[u]/(u^2 + 1) device functions and elementwise kernels.

Fq elements are 4-limb tuples in Montgomery form; Fq2 elements pairs (c0, c1) meaning c0 + c1*u.
`FQ_OPS` / `FQ2_OPS` bundle each field's operations under one set of names, so the curve
formulas (curve.py) are written once and instantiated for G1 and G2.
"""

from __future__ import annotations

from types import SimpleNamespace

from numba import cuda, types

from prover.constants import Q
from prover.kernels.cpu.params import MontParams, int_to_limbs
from prover.kernels.cuda import field as f
from prover.kernels.cuda.compile import ARR_FR, kernel
from prover.kernels.cuda.word import device

FQ = MontParams.of(Q)
_P = FQ.p
_PINV = FQ.pinv
FQ_ONE = FQ.one
FQ_ZERO = int_to_limbs(0)
_PM2 = FQ.pm2


@device
def fq_mul(a, b):
    return f.mont_mul(a, b, _P, _PINV)


@device
def fq_sqr(a):
    return f.mont_mul(a, a, _P, _PINV)


@device
def fq_add(a, b):
    return f.add_mod(a, b, _P)


@device
def fq_sub(a, b):
    return f.sub_mod(a, b, _P)


@device
def fq_dbl(a):
    return f.add_mod(a, a, _P)


@device
def fq_neg(a):
    return f.neg_mod(a, _P)


@device
def fq_inv(a):
    """a^(q-2); 0 maps to 0."""
    return f.mont_pow(a, _PM2, _P, _PINV, FQ_ONE)


@device
def fq_is_zero(a):
    return f.is_zero(a)


@device
def fq_eq(a, b):
    return f.eq(a, b)


@device
def fq_one():
    return FQ_ONE


@device
def fq_zero():
    return FQ_ZERO


@device
def fq_load(x, i, j):
    """Coordinate j of point i in a (n, k, 4) array."""
    return (x[i, j, 0], x[i, j, 1], x[i, j, 2], x[i, j, 3])


@device
def fq_store(x, i, j, v):
    x[i, j, 0] = v[0]
    x[i, j, 1] = v[1]
    x[i, j, 2] = v[2]
    x[i, j, 3] = v[3]


# ---- Fq2 -------------------------------------------------------------------------------------


@device
def fq2_add(a, b):
    return (fq_add(a[0], b[0]), fq_add(a[1], b[1]))


@device
def fq2_sub(a, b):
    return (fq_sub(a[0], b[0]), fq_sub(a[1], b[1]))


@device
def fq2_dbl(a):
    return (fq_dbl(a[0]), fq_dbl(a[1]))


@device
def fq2_neg(a):
    return (fq_neg(a[0]), fq_neg(a[1]))


@device
def fq2_mul(a, b):
    """Karatsuba with u^2 = -1: c0 = a0b0 - a1b1, c1 = (a0+a1)(b0+b1) - a0b0 - a1b1."""
    v0 = fq_mul(a[0], b[0])
    v1 = fq_mul(a[1], b[1])
    s = fq_mul(fq_add(a[0], a[1]), fq_add(b[0], b[1]))
    return (fq_sub(v0, v1), fq_sub(fq_sub(s, v0), v1))


@device
def fq2_sqr(a):
    """Complex squaring: c0 = (a0+a1)(a0-a1), c1 = 2 a0 a1."""
    return (fq_mul(fq_add(a[0], a[1]), fq_sub(a[0], a[1])), fq_dbl(fq_mul(a[0], a[1])))


@device
def fq2_inv(a):
    """(a0 - a1 u) / (a0^2 + a1^2); 0 maps to 0."""
    t = fq_inv(fq_add(fq_sqr(a[0]), fq_sqr(a[1])))
    return (fq_mul(a[0], t), fq_neg(fq_mul(a[1], t)))


@device
def fq2_is_zero(a):
    return f.is_zero(a[0]) and f.is_zero(a[1])


@device
def fq2_eq(a, b):
    return f.eq(a[0], b[0]) and f.eq(a[1], b[1])


@device
def fq2_one():
    return (FQ_ONE, FQ_ZERO)


@device
def fq2_zero():
    return (FQ_ZERO, FQ_ZERO)


@device
def fq2_load(x, i, j):
    """Coordinate j of point i in a (n, k, 2, 4) array."""
    return (
        (x[i, j, 0, 0], x[i, j, 0, 1], x[i, j, 0, 2], x[i, j, 0, 3]),
        (x[i, j, 1, 0], x[i, j, 1, 1], x[i, j, 1, 2], x[i, j, 1, 3]),
    )


@device
def fq2_store(x, i, j, v):
    for c in range(2):
        x[i, j, c, 0] = v[c][0]
        x[i, j, c, 1] = v[c][1]
        x[i, j, c, 2] = v[c][2]
        x[i, j, c, 3] = v[c][3]


FQ_OPS = SimpleNamespace(
    mul=fq_mul, sqr=fq_sqr, add=fq_add, sub=fq_sub, dbl=fq_dbl, neg=fq_neg, inv=fq_inv,
    is_zero=fq_is_zero, eq=fq_eq, one=fq_one, zero=fq_zero, load=fq_load, store=fq_store,
)
FQ2_OPS = SimpleNamespace(
    mul=fq2_mul, sqr=fq2_sqr, add=fq2_add, sub=fq2_sub, dbl=fq2_dbl, neg=fq2_neg, inv=fq2_inv,
    is_zero=fq2_is_zero, eq=fq2_eq, one=fq2_one, zero=fq2_zero, load=fq2_load,
    store=fq2_store,
)


# ---- elementwise kernels (tests and H-side helpers); one thread per element -----------------

ARR_FQ2 = types.Array(types.uint64, 3, "C")  # (n, 2, 4)


@kernel("fq_mul", types.void(ARR_FR, ARR_FR, ARR_FR))
def fq_mul_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fq_mul(f.load4(a, i), f.load4(b, i)))


@kernel("fq_mul_chain", types.void(ARR_FR, ARR_FR, types.int64))
def fq_mul_chain_kernel(x, out, iters):
    """Throughput of the product (benchmarks/device_run.py, beside the CUDA C fq_mul_chain_k):
    a = x_i, b = x_(i+1 mod n); iters times a <- a b, b <- b a; out_i = a + b."""
    i = cuda.grid(1)
    n = x.shape[0]
    if i < n:
        a = f.load4(x, i)
        b = f.load4(x, (i + 1) % n)
        for _ in range(iters):
            a = fq_mul(a, b)
            b = fq_mul(b, a)
        f.store4(out, i, fq_add(a, b))


@kernel("fq_add", types.void(ARR_FR, ARR_FR, ARR_FR))
def fq_add_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fq_add(f.load4(a, i), f.load4(b, i)))


@kernel("fq_sub", types.void(ARR_FR, ARR_FR, ARR_FR))
def fq_sub_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fq_sub(f.load4(a, i), f.load4(b, i)))


@kernel("fq_neg", types.void(ARR_FR, ARR_FR))
def fq_neg_kernel(a, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        f.store4(out, i, fq_neg(f.load4(a, i)))


@kernel("fq2_mul", types.void(ARR_FQ2, ARR_FQ2, ARR_FQ2))
def fq2_mul_kernel(a, b, out):
    """(n, 2, 4) arrays: the rows are read as 'points' with two coordinates c0, c1."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        x = (fq_load(a, i, 0), fq_load(a, i, 1))
        y = (fq_load(b, i, 0), fq_load(b, i, 1))
        z = fq2_mul(x, y)
        fq_store(out, i, 0, z[0])
        fq_store(out, i, 1, z[1])


@kernel("fq2_inv", types.void(ARR_FQ2, ARR_FQ2))
def fq2_inv_kernel(a, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        z = fq2_inv((fq_load(a, i, 0), fq_load(a, i, 1)))
        fq_store(out, i, 0, z[0])
        fq_store(out, i, 1, z[1])
