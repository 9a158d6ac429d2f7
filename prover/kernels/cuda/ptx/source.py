"""The CUDA C source of the carry-chain kernels: 8 x 32-bit limbs, inline PTX add.cc/addc/mad.cc.

An element is 8 little-endian uint32 limbs holding a * 2^256 mod p in [0, p): the same bytes as
the 4 x uint64 limbs of `kernels/cpu/field.py`, so the kernels read the Numba kernels' arrays
(rows of (n, k, 4) uint64) as they are. `source()` prepends each field's constants (generated
from `MontParams`, folded into immediates) to the fixed text below. `twin.py` models the same
instruction sequence on the CPU; tests/prover/kernels/test_cuda_ptx_native.py checks both.
"""

from __future__ import annotations

from prover.constants import Q, R

# Kernels launched by name (extern "C": no C++ name mangling).
KERNEL_NAMES = (
    "fq_mul_k", "fq_add_k", "fq_sub_k", "fr_mul_k", "fr_add_k", "fr_sub_k", "fq_mul_chain_k",
    "g1_double_k", "g1_add_k", "g1_add_mixed_k", "msm_affine_round_g1",
)


def _words(x: int) -> list[int]:
    return [(x >> (32 * i)) & 0xFFFFFFFF for i in range(8)]


def _select(name: str, words: list[int]) -> str:
    """A constexpr limb accessor: with a constant j (unrolled loops) it folds to an immediate."""
    body = " : ".join(f"j == {i} ? 0x{w:08x}u" for i, w in enumerate(words[:-1]))
    return (f"  __device__ __forceinline__ static constexpr u32 {name}(int j) "
            f"{{ return {body} : 0x{words[-1]:08x}u; }}\n")


def field_struct(name: str, p: int) -> str:
    inv = (-pow(p, -1, 1 << 32)) % (1 << 32)
    return (f"struct {name} {{\n"
            f"  static constexpr u32 INV = 0x{inv:08x}u;  // -p^-1 mod 2^32\n"
            + _select("p", _words(p))
            + _select("one", _words((1 << 256) % p))  # 1 in Montgomery form
            + _select("pm2", _words(p - 2))  # the Fermat inverse exponent
            + "};\n")


HEADER = r"""
typedef unsigned int u32;
typedef long long i64;
"""

# For `hostemu.py`: the same text as plain C++ on the CPU. CUDA's qualifiers vanish, the launch
# indices are per-call globals set by the caller, and each PTX instruction becomes C over a
# global carry flag (the twin's semantics), so the whole source, G1 formulas and the MSM round
# included, runs against the CPU kernels where no GPU is.
HOST_HEADER = r"""
#include <cstdint>
#define __device__
#define __global__
#define __forceinline__ inline
#define __noinline__
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
struct uint4 { u32 x, y, z, w; };
static inline uint4 make_uint4(u32 x, u32 y, u32 z, u32 w) { uint4 r = {x, y, z, w}; return r; }
struct Dim3 { u32 x; };
static Dim3 blockIdx, threadIdx, blockDim;
static u32 CF;  // CC.CF
extern "C" void zk_set_thread(u32 block, u32 thread, u32 dim) {
    blockIdx.x = block; threadIdx.x = thread; blockDim.x = dim;
}
"""

# PTX semantics in C: (C name, result expression over a, b, c, whether it writes CF).
_HOST_OPS = {
    "add_cc": ("(u64)a + b", True), "addc_cc": ("(u64)a + b + CF", True),
    "addc": ("(u64)a + b + CF", False),
    "sub_cc": ("(u64)a - b", True), "subc_cc": ("(u64)a - b - CF", True),
    "subc": ("(u64)a - b - CF", False),
    "mad_lo_cc": ("(u64)(u32)(a * b) + c", True),
    "madc_lo_cc": ("(u64)(u32)(a * b) + c + CF", True),
    "mad_hi_cc": ("(((u64)a * b) >> 32) + c", True),
    "madc_hi_cc": ("(((u64)a * b) >> 32) + c + CF", True),
    "madc_hi": ("(((u64)a * b) >> 32) + c + CF", False),
}

BODY = r"""
// ---- single PTX instructions; CC.CF is the carry (borrow for sub) flag between them -------------
INSTRUCTIONS
struct E { u32 v[8]; };  // one field element: 32 bytes, one row of a (.., 4) uint64 array

__device__ __forceinline__ E ld(const E* a, i64 i) {
    const uint4* q = reinterpret_cast<const uint4*>(a + i);  // two 16-byte loads
    uint4 lo = q[0], hi = q[1];
    E r = {{lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w}};
    return r;
}
__device__ __forceinline__ void st(E* a, i64 i, const E& x) {
    uint4* q = reinterpret_cast<uint4*>(a + i);
    q[0] = make_uint4(x.v[0], x.v[1], x.v[2], x.v[3]);
    q[1] = make_uint4(x.v[4], x.v[5], x.v[6], x.v[7]);
}

template <class F> __device__ __forceinline__ E f_zero() {
    E r = {{0, 0, 0, 0, 0, 0, 0, 0}};
    return r;
}
template <class F> __device__ __forceinline__ E f_one() {
    E r;
#pragma unroll
    for (int j = 0; j < 8; j++) r.v[j] = F::one(j);
    return r;
}
__device__ __forceinline__ bool is_zero(const E& a) {
    return (a.v[0] | a.v[1] | a.v[2] | a.v[3] | a.v[4] | a.v[5] | a.v[6] | a.v[7]) == 0;
}
__device__ __forceinline__ bool eq(const E& a, const E& b) {
    u32 d = 0;
#pragma unroll
    for (int j = 0; j < 8; j++) d |= a.v[j] ^ b.v[j];
    return d == 0;
}

// t - p if t >= p else t, for t < 2p: one borrow chain, then a branch-free select.
template <class F> __device__ __forceinline__ E reduce_once(const E& t) {
    E d;
    d.v[0] = sub_cc(t.v[0], F::p(0));
#pragma unroll
    for (int j = 1; j < 8; j++) d.v[j] = subc_cc(t.v[j], F::p(j));
    u32 br = subc(0, 0);  // 0xffffffff when t < p
#pragma unroll
    for (int j = 0; j < 8; j++) d.v[j] = (t.v[j] & br) | (d.v[j] & ~br);
    return d;
}

// a + b mod p: p < 2^254, so a + b < 2^255 never carries out of the top limb.
template <class F> __device__ __forceinline__ E f_add(const E& a, const E& b) {
    E s;
    s.v[0] = add_cc(a.v[0], b.v[0]);
#pragma unroll
    for (int j = 1; j < 7; j++) s.v[j] = addc_cc(a.v[j], b.v[j]);
    s.v[7] = addc(a.v[7], b.v[7]);
    return reduce_once<F>(s);
}

// a - b mod p: the borrow mask adds p back when a < b.
template <class F> __device__ __forceinline__ E f_sub(const E& a, const E& b) {
    E d;
    d.v[0] = sub_cc(a.v[0], b.v[0]);
#pragma unroll
    for (int j = 1; j < 8; j++) d.v[j] = subc_cc(a.v[j], b.v[j]);
    u32 m = subc(0, 0);
    d.v[0] = add_cc(d.v[0], F::p(0) & m);
#pragma unroll
    for (int j = 1; j < 7; j++) d.v[j] = addc_cc(d.v[j], F::p(j) & m);
    d.v[7] = addc(d.v[7], F::p(7) & m);
    return d;
}

template <class F> __device__ __forceinline__ E f_dbl(const E& a) { return f_add<F>(a, a); }

// CIOS over 32-bit words, 'no-carry' bound (p's top word < 2^31 - 1): before row i the
// accumulator t < 2p < 2^255 fits t0..t7 with t8 = 0; t + a_i b + m p < 2^288 fits t0..t8, so
// no chain carries out of t8. Each product x * y (x = a_i, then m = t0 (-p^-1) mod 2^32) is
// added as two carry chains, even and odd words of y (the sppark layout): the low and high
// halves of one 32 x 32 product sit side by side in a chain (mad.lo.cc then madc.hi.cc), which
// ptxas fuses into one wide multiply-add. m makes t0 zero; then t shifts down a word.
#define CHAINS(x, y, T8)                                                                     \
    t0 = mad_lo_cc(x, y(0), t0); t1 = madc_hi_cc(x, y(0), t1);                               \
    t2 = madc_lo_cc(x, y(2), t2); t3 = madc_hi_cc(x, y(2), t3);                              \
    t4 = madc_lo_cc(x, y(4), t4); t5 = madc_hi_cc(x, y(4), t5);                              \
    t6 = madc_lo_cc(x, y(6), t6); t7 = madc_hi_cc(x, y(6), t7);                              \
    t8 = addc(T8, 0);                                                                        \
    t1 = mad_lo_cc(x, y(1), t1); t2 = madc_hi_cc(x, y(1), t2);                               \
    t3 = madc_lo_cc(x, y(3), t3); t4 = madc_hi_cc(x, y(3), t4);                              \
    t5 = madc_lo_cc(x, y(5), t5); t6 = madc_hi_cc(x, y(5), t6);                              \
    t7 = madc_lo_cc(x, y(7), t7); t8 = madc_hi(x, y(7), t8);
template <class F> __device__ __forceinline__ E f_mul(const E& a, const E& b) {
    u32 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0, t8;
#define B(j) b.v[j]
#define P(j) F::p(j)
#pragma unroll
    for (int i = 0; i < 8; i++) {
        u32 ai = a.v[i];
        CHAINS(ai, B, 0)
        u32 m = t0 * F::INV;
        CHAINS(m, P, t8)
        t0 = t1; t1 = t2; t2 = t3; t3 = t4; t4 = t5; t5 = t6; t6 = t7; t7 = t8;  // t0 was 0
    }
#undef B
#undef P
    E t = {{t0, t1, t2, t3, t4, t5, t6, t7}};
    return reduce_once<F>(t);
}

template <class F> __device__ __forceinline__ E f_sqr(const E& a) { return f_mul<F>(a, a); }

template <class F> __device__ __forceinline__ E f_neg(const E& a) {
    return is_zero(a) ? a : f_sub<F>(f_zero<F>(), a);
}

// a^(p-2) = 1/a (0 -> 0), square-and-multiply from the top bit; the exponent words are
// immediates selected by the word index.
template <class F> __device__ __noinline__ E f_inv(const E a) {
    E r = f_one<F>();
    for (int i = 7; i >= 0; i--) {
        u32 w = F::pm2(i);
        for (int j = 31; j >= 0; j--) {
            r = f_sqr<F>(r);
            if ((w >> j) & 1u) r = f_mul<F>(r, a);
        }
    }
    return r;
}

// ---- G1 over Fq: Jacobian (X, Y, Z), Z = 0 infinity; affine (0, 0) infinity ---------------------
struct Jac { E x, y, z; };
struct Aff { E x, y; };

__device__ __forceinline__ Jac jac_inf() {
    Jac r = {f_one<Fq>(), f_one<Fq>(), f_zero<Fq>()};
    return r;
}

// dbl-2009-l: A=X^2 B=Y^2 C=B^2 D=2((X+B)^2-A-C) E=3A F=E^2 X3=F-2D Y3=E(D-X3)-8C Z3=2YZ
__device__ __noinline__ Jac g1_double(const Jac P) {
    E A = f_sqr<Fq>(P.x), B = f_sqr<Fq>(P.y), C = f_sqr<Fq>(B);
    E D = f_dbl<Fq>(f_sub<Fq>(f_sub<Fq>(f_sqr<Fq>(f_add<Fq>(P.x, B)), A), C));
    E e = f_add<Fq>(f_dbl<Fq>(A), A);
    E X3 = f_sub<Fq>(f_sqr<Fq>(e), f_dbl<Fq>(D));
    E C8 = f_dbl<Fq>(f_dbl<Fq>(f_dbl<Fq>(C)));
    Jac r = {X3, f_sub<Fq>(f_mul<Fq>(e, f_sub<Fq>(D, X3)), C8), f_dbl<Fq>(f_mul<Fq>(P.y, P.z))};
    return r;
}

// madd-2007-bl: P Jacobian + Q affine.
__device__ __noinline__ Jac g1_add_mixed(const Jac P, const Aff Q) {
    if (is_zero(Q.x) && is_zero(Q.y)) return P;
    if (is_zero(P.z)) { Jac r = {Q.x, Q.y, f_one<Fq>()}; return r; }
    E Z1Z1 = f_sqr<Fq>(P.z);
    E U2 = f_mul<Fq>(Q.x, Z1Z1);
    E S2 = f_mul<Fq>(f_mul<Fq>(Q.y, P.z), Z1Z1);
    E H = f_sub<Fq>(U2, P.x);
    E r = f_dbl<Fq>(f_sub<Fq>(S2, P.y));
    if (is_zero(H)) return is_zero(r) ? g1_double(P) : jac_inf();
    E HH = f_sqr<Fq>(H);
    E I = f_dbl<Fq>(f_dbl<Fq>(HH));
    E J = f_mul<Fq>(H, I);
    E V = f_mul<Fq>(P.x, I);
    E X3 = f_sub<Fq>(f_sub<Fq>(f_sqr<Fq>(r), J), f_dbl<Fq>(V));
    E Y3 = f_sub<Fq>(f_mul<Fq>(r, f_sub<Fq>(V, X3)), f_dbl<Fq>(f_mul<Fq>(P.y, J)));
    E Z3 = f_sub<Fq>(f_sub<Fq>(f_sqr<Fq>(f_add<Fq>(P.z, H)), Z1Z1), HH);
    Jac out = {X3, Y3, Z3};
    return out;
}

// add-2007-bl: both Jacobian.
__device__ __noinline__ Jac g1_add(const Jac P, const Jac Q) {
    if (is_zero(P.z)) return Q;
    if (is_zero(Q.z)) return P;
    E Z1Z1 = f_sqr<Fq>(P.z), Z2Z2 = f_sqr<Fq>(Q.z);
    E U1 = f_mul<Fq>(P.x, Z2Z2), U2 = f_mul<Fq>(Q.x, Z1Z1);
    E S1 = f_mul<Fq>(f_mul<Fq>(P.y, Q.z), Z2Z2);
    E S2 = f_mul<Fq>(f_mul<Fq>(Q.y, P.z), Z1Z1);
    E H = f_sub<Fq>(U2, U1);
    E r = f_dbl<Fq>(f_sub<Fq>(S2, S1));
    if (is_zero(H)) return is_zero(r) ? g1_double(P) : jac_inf();
    E I = f_sqr<Fq>(f_dbl<Fq>(H));
    E J = f_mul<Fq>(H, I);
    E V = f_mul<Fq>(U1, I);
    E X3 = f_sub<Fq>(f_sub<Fq>(f_sqr<Fq>(r), J), f_dbl<Fq>(V));
    E Y3 = f_sub<Fq>(f_mul<Fq>(r, f_sub<Fq>(V, X3)), f_dbl<Fq>(f_mul<Fq>(S1, J)));
    E Z3 = f_mul<Fq>(f_sub<Fq>(f_sub<Fq>(f_sqr<Fq>(f_add<Fq>(P.z, Q.z)), Z1Z1), Z2Z2), H);
    Jac out = {X3, Y3, Z3};
    return out;
}

__device__ __forceinline__ Aff ld_aff(const E* a, i64 i) {
    Aff r = {ld(a, 2 * i), ld(a, 2 * i + 1)};
    return r;
}
__device__ __forceinline__ void st_aff(E* a, i64 i, const Aff& P) {
    st(a, 2 * i, P.x);
    st(a, 2 * i + 1, P.y);
}
__device__ __forceinline__ Jac ld_jac(const E* a, i64 i) {
    Jac r = {ld(a, 3 * i), ld(a, 3 * i + 1), ld(a, 3 * i + 2)};
    return r;
}
__device__ __forceinline__ void st_jac(E* a, i64 i, const Jac& P) {
    st(a, 3 * i, P.x);
    st(a, 3 * i + 1, P.y);
    st(a, 3 * i + 2, P.z);
}

__device__ __forceinline__ i64 gid() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }

// ---- elementwise kernels over (n, 4) uint64 arrays ----------------------------------------------
#define BINARY(NAME, OP) \
extern "C" __global__ void NAME(const E* a, const E* b, E* out, i64 n) { \
    i64 i = gid(); if (i < n) st(out, i, OP(ld(a, i), ld(b, i))); }
BINARY(fq_mul_k, f_mul<Fq>)
BINARY(fq_add_k, f_add<Fq>)
BINARY(fq_sub_k, f_sub<Fq>)
BINARY(fr_mul_k, f_mul<Fr>)
BINARY(fr_add_k, f_add<Fr>)
BINARY(fr_sub_k, f_sub<Fr>)

// Throughput: a = x_i, b = x_(i+1 mod n); iters times a <- a b, b <- b a; out_i = a + b.
extern "C" __global__ void fq_mul_chain_k(const E* x, E* out, i64 n, i64 iters) {
    i64 i = gid();
    if (i < n) {
        E a = ld(x, i), b = ld(x, (i + 1) % n);
        for (i64 k = 0; k < iters; k++) { a = f_mul<Fq>(a, b); b = f_mul<Fq>(b, a); }
        st(out, i, f_add<Fq>(a, b));
    }
}

extern "C" __global__ void g1_double_k(const E* P, E* out, i64 n) {
    i64 i = gid(); if (i < n) st_jac(out, i, g1_double(ld_jac(P, i)));
}
extern "C" __global__ void g1_add_k(const E* P, const E* Q, E* out, i64 n) {
    i64 i = gid(); if (i < n) st_jac(out, i, g1_add(ld_jac(P, i), ld_jac(Q, i)));
}
extern "C" __global__ void g1_add_mixed_k(const E* P, const E* Q, E* out, i64 n) {
    i64 i = gid(); if (i < n) st_jac(out, i, g1_add_mixed(ld_jac(P, i), ld_aff(Q, i)));
}

// ---- the batch-affine round of msm_affine.py (G1), same arguments and layout -------------------
__device__ __forceinline__ i64 upper_bound(const u32* a, i64 n, i64 x) {
    i64 lo = 0, hi = n;
    while (lo < hi) { i64 mid = (lo + hi) / 2; if ((i64)a[mid] <= x) lo = mid + 1; else hi = mid; }
    return lo;
}

// kind 0: P + Q, d = x_Q - x_P; 1 doubling, d = 2 y_P; 2 the sum is Q; 3 the sum is P;
// 4 the sum is infinity. d = 1 for kinds 2-4 (the batch product never holds a zero).
__device__ __forceinline__ int denominator(const Aff& P, const Aff& Q, E& d) {
    if (is_zero(P.x) && is_zero(P.y)) { d = f_one<Fq>(); return 2; }
    if (is_zero(Q.x) && is_zero(Q.y)) { d = f_one<Fq>(); return 3; }
    if (eq(P.x, Q.x)) {
        if (eq(P.y, Q.y) && !is_zero(P.y)) { d = f_dbl<Fq>(P.y); return 1; }
        d = f_one<Fq>(); return 4;
    }
    d = f_sub<Fq>(Q.x, P.x); return 0;
}

__device__ __noinline__ Aff pair_sum(const Aff P, const Aff Q, int kind, const E d_inv) {
    if (kind == 2) return Q;
    if (kind == 3) return P;
    if (kind == 4) { Aff r = {f_zero<Fq>(), f_zero<Fq>()}; return r; }
    E lam;
    if (kind == 1) { E x2 = f_sqr<Fq>(P.x); lam = f_mul<Fq>(f_add<Fq>(f_dbl<Fq>(x2), x2), d_inv); }
    else lam = f_mul<Fq>(f_sub<Fq>(Q.y, P.y), d_inv);
    E x3 = f_sub<Fq>(f_sub<Fq>(f_sqr<Fq>(lam), P.x), Q.x);
    Aff r = {x3, f_sub<Fq>(f_mul<Fq>(lam, f_sub<Fq>(P.x, x3)), P.y)};
    return r;
}

// Thread t adds pairs L in [t*batch, (t+1)*batch) with one inversion (Montgomery's trick);
// pair L is pair j of bucket b: ys[s_b + j] = xs[s_b + 2j] + xs[s_b + 2j + 1].
extern "C" __global__ void msm_affine_round_g1(const u32* offsets, i64 b0, i64 e0,
                                               const u32* pair_off, i64 n_buckets, i64 batch,
                                               const E* xs, E* ys, E* scratch) {
    i64 total = pair_off[n_buckets];
    i64 lo = gid() * batch;
    if (lo >= total) return;
    i64 hi = lo + batch < total ? lo + batch : total;
    E acc = f_one<Fq>(), d;
    for (i64 L = lo; L < hi; L++) {
        i64 b = upper_bound(pair_off, n_buckets + 1, L) - 1;
        i64 s = (i64)offsets[b0 + b] - e0 + 2 * (L - (i64)pair_off[b]);
        denominator(ld_aff(xs, s), ld_aff(xs, s + 1), d);
        st(scratch, L, acc);
        acc = f_mul<Fq>(acc, d);
    }
    E acc_inv = f_inv<Fq>(acc);
    for (i64 L = hi - 1; L >= lo; L--) {
        i64 b = upper_bound(pair_off, n_buckets + 1, L) - 1;
        i64 j = L - (i64)pair_off[b];
        i64 s = (i64)offsets[b0 + b] - e0;
        Aff P = ld_aff(xs, s + 2 * j), Q = ld_aff(xs, s + 2 * j + 1);
        int kind = denominator(P, Q, d);
        E d_inv = f_mul<Fq>(acc_inv, ld(scratch, L));
        acc_inv = f_mul<Fq>(acc_inv, d);
        st_aff(ys, s + j, pair_sum(P, Q, kind, d_inv));
    }
}
"""


# The PTX instructions used, one inline function each: (C name, PTX opcode, operand count).
# CC.CF, the carry (borrow for sub) flag, passes between consecutive asm statements.
_INSTRUCTIONS = (
    ("add_cc", "add.cc.u32", 2), ("addc_cc", "addc.cc.u32", 2), ("addc", "addc.u32", 2),
    ("sub_cc", "sub.cc.u32", 2), ("subc_cc", "subc.cc.u32", 2), ("subc", "subc.u32", 2),
    ("mad_lo_cc", "mad.lo.cc.u32", 3), ("madc_lo_cc", "madc.lo.cc.u32", 3),
    ("mad_hi_cc", "mad.hi.cc.u32", 3), ("madc_hi_cc", "madc.hi.cc.u32", 3),
    ("madc_hi", "madc.hi.u32", 3),
)


def _instruction(name: str, op: str, n: int) -> str:
    args = ", ".join(f"u32 {x}" for x in "abc"[:n])
    regs = ", ".join(f"%{i + 1}" for i in range(n))
    ins = ", ".join(f'"r"({x})' for x in "abc"[:n])
    return (f"__device__ __forceinline__ u32 {name}({args}) {{\n"
            f'    u32 r; asm volatile("{op} %0, {regs};" : "=r"(r) : {ins}); return r;\n}}\n')


def _host_instruction(name: str, op: str, n: int) -> str:
    args = ", ".join(f"u32 {x}" for x in "abc"[:n])
    expr, writes = _HOST_OPS[name]
    # A borrow is the sign of the 64-bit difference: its bit 32 and up are all ones.
    flag = ("CF = (u32)(s >> 32) & 1u; " if writes else "")
    return (f"inline u32 {name}({args}) {{ u64 s = {expr}; {flag}return (u32)s; }}"
            f"  // {op}\n")


def source(host: bool = False) -> str:
    """The whole translation unit: types, the Fq and Fr constants, then the kernels; `host`:
    the same as plain C++ for the CPU (`hostemu.py`)."""
    make = _host_instruction if host else _instruction
    body = BODY.replace("INSTRUCTIONS\n", "".join(make(*i) for i in _INSTRUCTIONS))
    return ((HOST_HEADER if host else HEADER) + field_struct("Fq", Q) + field_struct("Fr", R)
            + body)
