"""NTT over Fr for Python callers: forward, inverse, coset, in place on (n, 4) Montgomery arrays.

Roots of unity follow the convention of snarkjs/ffjavascript (the zkey H section depends on it):
w_(2^k) = 5^((r - 1) / 2^k), so w_(2^(k-1)) = w_(2^k)^2, for k <= 28 (Fr's 2-adicity).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from prover.constants import FR_GENERATOR, FR_TWO_ADICITY, R
from prover.fields import Fr
from prover.kernels.cpu import ntt as kn

MAX_LOG_N = FR_TWO_ADICITY


def root_of_unity(log_n: int) -> int:
    """The primitive 2^log_n-th root of unity of the snarkjs convention, as an int."""
    if not 0 <= log_n <= MAX_LOG_N:
        raise ValueError(f"Fr has roots of unity of order 2^k only for k <= {MAX_LOG_N}")
    return pow(FR_GENERATOR, (R - 1) >> log_n, R)


def _log2(n: int) -> int:
    if n <= 0 or n & (n - 1):
        raise ValueError(f"NTT size must be a power of two, got {n}")
    log_n = n.bit_length() - 1
    if log_n > MAX_LOG_N:
        raise ValueError(f"NTT size 2^{log_n} exceeds Fr's 2-adicity {MAX_LOG_N}")
    return log_n


@lru_cache(maxsize=16)
def twiddles(log_n: int, inverse: bool) -> np.ndarray:
    """w^j for j < n/2 (w^-j when inverse), Montgomery; cached per size."""
    n = 1 << log_n
    w = root_of_unity(log_n)
    if inverse:
        w = pow(w, -1, R)
    out = np.empty((max(n // 2, 1), 4), dtype=np.uint64)
    kn.powers(Fr.from_int(w), max(n // 2, 1), out)
    out.flags.writeable = False
    return out


def _check(a: np.ndarray) -> int:
    if not (
        isinstance(a, np.ndarray)
        and a.dtype == np.uint64
        and a.ndim == 2
        and a.shape[1] == 4
        and a.flags.c_contiguous
        and a.flags.writeable
    ):
        raise ValueError("NTT works in place on a writeable C-contiguous (n, 4) uint64 array")
    return _log2(a.shape[0])


def ntt(a: np.ndarray) -> np.ndarray:
    """In place: a_j <- sum_i a_i w^(ij) (coefficients -> evaluations on the domain)."""
    log_n = _check(a)
    kn.ntt_in_place(a, twiddles(log_n, False))
    return a


def intt(a: np.ndarray) -> np.ndarray:
    """In place: the inverse of `ntt` (evaluations -> coefficients), including the 1/n."""
    log_n = _check(a)
    kn.ntt_in_place(a, twiddles(log_n, True))
    kn.scale(a, _mont_scalar(pow(a.shape[0], -1, R)))
    return a


def _mont_scalar(x: int) -> tuple:
    """x as the Montgomery limb tuple the kernels take as a scalar argument."""
    return tuple(np.uint64(v) for v in Fr.from_int(x))


def scale_by_powers(a: np.ndarray, g: int) -> np.ndarray:
    """In place: a_i <- a_i g^i (moves a polynomial's evaluation domain to the coset g H)."""
    _check(a)
    kn.scale_by_powers(a, _mont_scalar(g % R), 1 << 12)
    return a


def coset_ntt(a: np.ndarray, shift: int) -> np.ndarray:
    """In place: evaluations of the polynomial with coefficients a on shift * w^j."""
    scale_by_powers(a, shift)
    return ntt(a)


def coset_intt(a: np.ndarray, shift: int) -> np.ndarray:
    """In place: coefficients from evaluations on the coset shift * H (inverse of coset_ntt)."""
    intt(a)
    return scale_by_powers(a, pow(shift, -1, R))
