"""Pippenger MSM sum_i k_i P_i over G1 or G2 on the device.

For c-bit windows (W = ceil(255 / c) of them, 2^(c-1) buckets each):
1. digits: the signed recoding of `kernels/cpu/msm.py`, one thread per scalar, keyed by bucket;
2. counting sort of the entries by bucket: atomic histogram, exclusive scan, atomic scatter;
3. bucket sums B_b: by batch-affine pairwise rounds (`msm_affine`, the default), or one thread
   per bucket with mixed Jacobian additions (madd-2007-bl; accumulate="jacobian");
4. window sums S_w = sum_b (b+1) B_b by segments of L buckets: per segment T_s and R_s, then
   S_w = sum_s T_s + L * sum_s s R_s;
5. host: S = sum_w 2^(cw) S_w (Horner); the chunks of a job beyond the device limit are added.
Designs still to come are listed in docs/prover.md.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, types

from prover.curves import G1, G2
from prover.kernels.cpu import msm as cpu_msm
from prover.kernels.cuda import memory as mem
from prover.kernels.cuda import msm_affine
from prover.kernels.cuda.compile import ARR_FR, ARR_G1, ARR_G2, ARR_U32, kernel
from prover.kernels.cuda.curve import G1_CURVE, G2_CURVE
from prover.kernels.cuda.fr import from_montgomery_kernel
from prover.kernels.cuda.ptx import launch as ptx_launch

I64 = types.int64
SCALAR_BITS = 254
NONE = np.uint32(0xFFFFFFFF)  # key of a zero digit: in no bucket
SIGN = np.uint32(1 << 31)
INDEX = np.uint32((1 << 31) - 1)
MAX_WINDOW = 16  # 2^15 buckets per window; the bucket index fits the key with W <= 2^16
MAX_CHUNK_POINTS = 1 << 30  # indices carry a sign bit in a uint32


def choose_window(n: int) -> int:
    """c minimizing W(c) * (n + 4 * 2^(c-1)): the additions into buckets plus the ~2 Jacobian
    additions per bucket of the window sums (weighed 2x: they are serial within a thread)."""
    if n <= 1:
        return 2
    best, best_c = math.inf, 2
    for c in range(2, MAX_WINDOW + 1):
        cost = math.ceil((SCALAR_BITS + 1) / c) * (n + 4 * (1 << (c - 1)))
        if cost < best:
            best, best_c = cost, c
    return best_c


def log_segment(c_bits: int) -> int:
    """log2 of the buckets per thread in the window-sum step: at least 16 (the per-window pass
    costs 3 additions per segment against 2 per bucket here), and at most 256 segments per
    window, so large windows still give W * 256 threads."""
    return max(min(4, c_bits - 1), (c_bits - 1) - 8)


# ---- group-independent kernels: digits and the counting sort --------------------------------


@kernel("msm_digits", types.void(ARR_FR, I64, I64, ARR_U32, ARR_U32))
def digits_kernel(k, c_bits, n_windows, keys, vals):
    """Scalar i (plain limbs) -> keys/vals of entries w*n + i, w < n_windows."""
    i = cuda.grid(1)
    n = k.shape[0]
    if i < n:
        nb = 1 << (c_bits - 1)
        full = 1 << c_bits
        mask = (np.uint64(1) << np.uint64(c_bits)) - np.uint64(1)
        carry = 0
        for w in range(n_windows):
            s = w * c_bits
            limb = s // 64
            sh = s % 64
            v = np.uint64(0)
            if limb < 4:
                v = k[i, limb] >> np.uint64(sh)
                if sh + c_bits > 64 and limb + 1 < 4:
                    v |= k[i, limb + 1] << np.uint64(64 - sh)
            d = np.int64(v & mask) + carry
            if d > nb:
                d -= full
                carry = 1
            else:
                carry = 0
            e = w * n + i
            if d == 0:
                keys[e] = NONE
                vals[e] = 0
            elif d > 0:
                keys[e] = w * nb + d - 1
                vals[e] = i
            else:
                keys[e] = w * nb - d - 1
                vals[e] = np.uint32(i) | SIGN


@kernel("msm_count", types.void(ARR_U32, I64, ARR_U32))
def count_kernel(keys, n, counts):
    """counts[key] += 1 over the entries w*n + i of scalar i (one thread per scalar: for each
    window, consecutive threads read consecutive entries)."""
    i = cuda.grid(1)
    if i < n:
        for e in range(i, keys.shape[0], n):
            key = keys[e]
            if key != NONE:
                cuda.atomic.add(counts, key, np.uint32(1))


@kernel("msm_scatter", types.void(ARR_U32, ARR_U32, I64, ARR_U32, ARR_U32))
def scatter_kernel(keys, vals, n, cursor, sorted_vals):
    """sorted_vals[offset(key) + rank] = val; cursor starts as the offsets. The order within a
    bucket depends on the atomics; the bucket's sum does not."""
    i = cuda.grid(1)
    if i < n:
        for e in range(i, keys.shape[0], n):
            key = keys[e]
            if key != NONE:
                pos = cuda.atomic.add(cursor, key, np.uint32(1))
                sorted_vals[pos] = vals[e]


# ---- group kernels: bucket sums and window sums, instantiated for G1 and G2 -----------------


def _group_kernels(tag: str, C, arr):
    # Kernels see module globals and closure cells, not attributes of a namespace object.
    jac_infinity, jac_add, jac_add_mixed = C.jac_infinity, C.jac_add, C.jac_add_mixed
    jac_double, load_jac, store_jac = C.jac_double, C.load_jac, C.store_jac
    load_aff_signed = C.load_aff_signed

    @kernel(f"msm_bucket_sums_{tag}", types.void(arr, ARR_U32, ARR_U32, arr))
    def bucket_sums(bases, sorted_vals, offsets, buckets):
        """buckets[b] = sum over the bucket's entries of +-bases[index] (Jacobian)."""
        b = cuda.grid(1)
        if b < buckets.shape[0]:
            acc = jac_infinity()
            for e in range(np.int64(offsets[b]), np.int64(offsets[b + 1])):
                v = sorted_vals[e]
                acc = jac_add_mixed(acc, load_aff_signed(bases, v & INDEX, (v & SIGN) != 0))
            store_jac(buckets, b, acc)

    @kernel(f"msm_window_partials_{tag}", types.void(arr, I64, I64, arr, arr))
    def window_partials(buckets, n_buckets, log_seg, weighted, plain):
        """Segment s of window w, buckets b in [lo, lo + 2^log_seg), lo = s 2^log_seg:
        weighted[w*T + s] = sum_b (b - lo + 1) B_b and plain[w*T + s] = sum_b B_b, by a running
        sum from the top bucket (2 additions per bucket)."""
        t = cuda.grid(1)
        if t < weighted.shape[0]:
            seg = 1 << log_seg
            n_seg = n_buckets >> log_seg
            w = t // n_seg
            lo = w * n_buckets + (t - w * n_seg) * seg
            running = jac_infinity()
            total = jac_infinity()
            for b in range(lo + seg - 1, lo - 1, -1):
                running = jac_add(running, load_jac(buckets, b))
                total = jac_add(total, running)
            store_jac(weighted, t, total)
            store_jac(plain, t, running)

    @kernel(f"msm_window_sums_{tag}", types.void(arr, arr, I64, I64, arr))
    def window_sums(weighted, plain, n_seg, log_seg, windows):
        """S_w = sum_b (b+1) B_b = sum_s weighted_s + 2^log_seg * sum_s s * plain_s, the last
        sum again by a running sum over the segments from the top."""
        w = cuda.grid(1)
        if w < windows.shape[0]:
            base = w * n_seg
            total = jac_infinity()
            running = jac_infinity()
            shifted = jac_infinity()
            for s in range(n_seg - 1, -1, -1):
                total = jac_add(total, load_jac(weighted, base + s))
                if s > 0:
                    running = jac_add(running, load_jac(plain, base + s))
                    shifted = jac_add(shifted, running)
            for _ in range(log_seg):
                shifted = jac_double(shifted)
            store_jac(windows, w, jac_add(total, shifted))

    return bucket_sums, window_partials, window_sums


KERNELS = {
    1: _group_kernels("g1", G1_CURVE, ARR_G1),
    2: _group_kernels("g2", G2_CURVE, ARR_G2),
}


# ---- host driver ------------------------------------------------------------------------------


ACCUMULATE = ("affine", "jacobian")  # how bucket sums are computed; the first is the default


def bytes_per_point(degree: int, c_bits: int) -> int:
    """Device bytes that grow with the point count: base, scalar, 3 uint32 per entry, and the
    batch-affine buffers (two affine points and half a coordinate)."""
    n_windows = math.ceil((SCALAR_BITS + 1) / c_bits)
    return 64 * degree + 32 + 12 * n_windows + 144 * degree


def window_sums_device(degree: int, d_bases, d_scalars, c_bits: int, montgomery: bool,
                       accumulate: str = "affine", field: str | None = None):
    """The W window sums S_w (Jacobian, on the host) of the points and scalars already on the
    device; scalars are plain limbs, or Montgomery form converted here when `montgomery`.
    `field`: the batch-affine rounds' arithmetic, "ptx" (CUDA C) or "numba"; None: the default
    of `ptx.launch.default_field` (CUDA C for G1 where it loads)."""
    if accumulate not in ACCUMULATE:
        raise ValueError(f"accumulate must be one of {ACCUMULATE}, got {accumulate!r}")
    field = field or ptx_launch.default_field(degree)
    ptx_launch.check_field(field, degree)
    n = d_bases.shape[0]
    coord = d_bases.shape[2:]
    bucket_sums, window_partials, window_sums = KERNELS[degree]
    n_windows = math.ceil((SCALAR_BITS + 1) / c_bits)
    nb = 1 << (c_bits - 1)
    if montgomery:
        plain = mem.empty((n, 4), np.uint64)
        from_montgomery_kernel[mem.grid(n)](d_scalars, plain)
        d_scalars = plain
    n_entries = n_windows * n
    keys = mem.empty(n_entries, np.uint32)
    vals = mem.empty(n_entries, np.uint32)
    digits_kernel[mem.grid(n)](d_scalars, c_bits, n_windows, keys, vals)

    counts = mem.zeros(n_windows * nb, np.uint32)
    count_kernel[mem.grid(n)](keys, n, counts)
    offsets = mem.exclusive_scan(counts, n_windows * nb)
    cursor = mem.copy(offsets)
    sorted_vals = mem.empty(max(n_entries, 1), np.uint32)
    scatter_kernel[mem.grid(n)](keys, vals, n, cursor, sorted_vals)
    del keys, vals, cursor, counts

    buckets = mem.empty((n_windows * nb, 3, *coord), np.uint64)
    if accumulate == "affine":
        msm_affine.bucket_sums(degree, d_bases, sorted_vals, offsets, n_windows, nb, buckets,
                               field=field)
    else:
        bucket_sums[mem.grid(n_windows * nb)](d_bases, sorted_vals, offsets, buckets)
    log_seg = log_segment(c_bits)
    n_seg = nb >> log_seg
    weighted = mem.empty((n_windows * n_seg, 3, *coord), np.uint64)
    plain_sums = mem.empty((n_windows * n_seg, 3, *coord), np.uint64)
    window_partials[mem.grid(n_windows * n_seg)](buckets, nb, log_seg, weighted, plain_sums)
    windows = mem.empty((n_windows, 3, *coord), np.uint64)
    window_sums[mem.grid(n_windows)](weighted, plain_sums, n_seg, log_seg, windows)
    return mem.to_host(windows)


def combine_windows(windows: np.ndarray, c_bits: int) -> np.ndarray:
    """sum_w 2^(cw) S_w as one Jacobian point (on the host, with the CPU kernel)."""
    out = np.zeros((1, *windows.shape[1:]), dtype=np.uint64)
    cpu_msm.combine_windows(windows, c_bits, out)
    return out[0]


def max_chunk_points(degree: int, c_bits: int, limit: int | None = None) -> int:
    """Points per device pass: `limit` if given, else what half the free memory holds."""
    if limit is not None:
        return max(1, min(limit, MAX_CHUNK_POINTS))
    fixed = 3 * 96 * degree * (1 << (c_bits - 1)) * math.ceil((SCALAR_BITS + 1) / c_bits)
    fixed += 144 * degree * msm_affine.PASS_ENTRIES  # affine buffers of a pass of small windows
    room = mem.free_bytes() // 2 - fixed
    return max(1 << 10, min(MAX_CHUNK_POINTS, room // bytes_per_point(degree, c_bits)))


def msm_jacobian(degree: int, bases: np.ndarray, scalars: np.ndarray, *, montgomery: bool,
                 window: int | None = None, max_chunk: int | None = None,
                 accumulate: str = "affine", field: str | None = None) -> np.ndarray:
    """sum_i k_i P_i as one Jacobian point (host array), for affine bases (n, 2, *coord) and
    scalars (n, 4): plain canonical limbs, or Fr Montgomery form when `montgomery`.

    Jobs larger than the device limit run in chunks of at most `max_chunk` points (default: what
    half the free device memory holds), whose sums are added on the host. `field`: see
    `window_sums_device`.
    """
    group = G1 if degree == 1 else G2
    n = len(bases)
    acc = group.empty_jacobian(1)  # Z = 0: infinity
    if n == 0:
        return acc[0]
    c_bits = window or choose_window(n)
    if not 2 <= c_bits <= MAX_WINDOW:
        raise ValueError(f"window size must be in 2..{MAX_WINDOW}")
    chunk = max_chunk_points(degree, c_bits, max_chunk)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        d_bases = mem.to_device(bases[lo:hi])
        d_scalars = mem.to_device(scalars[lo:hi])
        windows = window_sums_device(degree, d_bases, d_scalars, c_bits, montgomery,
                                     accumulate, field)
        del d_bases, d_scalars
        part = combine_windows(windows, c_bits)
        acc = group.add(acc, part[None])
    return acc[0]
