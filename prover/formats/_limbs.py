"""Conversions between Python ints and the little-endian 64-bit limb arrays used on disk.

Only integer conversion lives here (canonical <-> limbs, canonical <-> Montgomery with Python
ints); the fast field arithmetic is elsewhere. Everything is sized for 256-bit fields (4 limbs),
which covers both BN254 fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# BN254 base field (coordinates of G1/G2 points) and scalar field (witness, coefficients).
from prover.constants import Q as BN254_Q
from prover.constants import R as BN254_R  # noqa: F401 (re-exported by prover.formats)
from prover.errors import NonCanonicalError

N_LIMBS = 4
N8 = 32  # bytes per field element on disk for both BN254 fields
R_MONT = 1 << 256  # Montgomery radix for 4 x 64-bit limbs


def field_n8(prime: int) -> int:
    """Bytes per element as snarkjs computes it: whole 64-bit words covering the prime."""
    return ((prime.bit_length() - 1) // 64 + 1) * 8


def int_to_limbs(x: int) -> np.ndarray:
    """One non-negative int < 2**256 -> uint64[4] (little-endian limbs)."""
    return np.frombuffer(int(x).to_bytes(N8, "little"), dtype="<u8").astype(np.uint64)


def ints_to_limbs(xs: Iterable[int]) -> np.ndarray:
    """Ints -> uint64[n, 4]. Raises OverflowError for values outside [0, 2**256)."""
    data = b"".join(int(x).to_bytes(N8, "little") for x in xs)
    return np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(-1, N_LIMBS)


def limbs_to_int(limbs: np.ndarray) -> int:
    return int.from_bytes(np.ascontiguousarray(limbs, dtype="<u8").tobytes(), "little")


def limbs_to_ints(limbs: np.ndarray) -> list[int]:
    """uint64[..., 4] -> flat list of ints (row-major over the leading axes)."""
    raw = np.ascontiguousarray(limbs, dtype="<u8").tobytes()
    return [int.from_bytes(raw[i : i + N8], "little") for i in range(0, len(raw), N8)]


def limbs_lt(limbs: np.ndarray, bound: int) -> np.ndarray:
    """Vectorized `value < bound` for uint64[..., 4]; compares from the most significant limb."""
    b = int_to_limbs(bound)
    a = np.asarray(limbs)
    less = np.zeros(a.shape[:-1], dtype=bool)
    equal = np.ones(a.shape[:-1], dtype=bool)
    for k in range(N_LIMBS - 1, -1, -1):
        less |= equal & (a[..., k] < b[k])
        equal &= a[..., k] == b[k]
    return less


def all_canonical(limbs: np.ndarray, prime: int) -> bool:
    return bool(np.all(limbs_lt(limbs, prime)))


def check_canonical(limbs: np.ndarray, prime: int, what: str = "Fr") -> None:
    """NonCanonicalError naming the first row of uint64[n, 4] that is not below `prime`
    (numpy only: no kernel to load)."""
    ok = limbs_lt(limbs, prime)
    if not bool(np.all(ok)):
        i = int(np.argmin(ok))
        raise NonCanonicalError(f"{what} element #{i} is not below the modulus: "
                                f"{limbs_to_ints(np.asarray(limbs)[i])[0]}")


def to_mont(x: int, p: int) -> int:
    """Canonical value -> Montgomery representative x*R mod p, R = 2**256."""
    return x * R_MONT % p


def from_mont(x: int, p: int) -> int:
    """Montgomery representative -> canonical value x*R^-1 mod p."""
    return x * pow(R_MONT, -1, p) % p


def ints_to_mont_limbs(xs: Iterable[int], p: int) -> np.ndarray:
    return ints_to_limbs(x * R_MONT % p for x in xs)


def mont_limbs_to_ints(limbs: np.ndarray, p: int) -> list[int]:
    rinv = pow(R_MONT, -1, p)
    return [v * rinv % p for v in limbs_to_ints(limbs)]


# --- affine points as stored in zkey/ptau: Montgomery coordinates, infinity = all zero limbs ---

G1Int = tuple[int, int] | None
G2Int = tuple[tuple[int, int], tuple[int, int]] | None


def g1_from_mont(arr: np.ndarray, q: int = BN254_Q) -> list[G1Int]:
    """uint64[n, 2, 4] (or [2, 4]) Montgomery affine points -> [(x, y) or None]."""
    a = np.asarray(arr).reshape(-1, 2, N_LIMBS)
    zero = ~a.reshape(len(a), -1).any(axis=1)
    vals = mont_limbs_to_ints(a, q)
    return [None if zero[i] else (vals[2 * i], vals[2 * i + 1]) for i in range(len(a))]


def g2_from_mont(arr: np.ndarray, q: int = BN254_Q) -> list[G2Int]:
    """uint64[n, 2, 2, 4] (or [2, 2, 4]) -> [((x0, x1), (y0, y1)) or None]."""
    a = np.asarray(arr).reshape(-1, 2, 2, N_LIMBS)
    zero = ~a.reshape(len(a), -1).any(axis=1)
    v = mont_limbs_to_ints(a, q)
    return [
        None if zero[i] else ((v[4 * i], v[4 * i + 1]), (v[4 * i + 2], v[4 * i + 3]))
        for i in range(len(a))
    ]


def g1_to_mont(points: Sequence[G1Int], q: int = BN254_Q) -> np.ndarray:
    flat = []
    for p in points:
        flat.extend((0, 0) if p is None else (p[0] * R_MONT % q, p[1] * R_MONT % q))
    return ints_to_limbs(flat).reshape(-1, 2, N_LIMBS)


def g2_to_mont(points: Sequence[G2Int], q: int = BN254_Q) -> np.ndarray:
    flat = []
    for p in points:
        if p is None:
            flat.extend((0, 0, 0, 0))
        else:
            flat.extend(c * R_MONT % q for c in (*p[0], *p[1]))
    return ints_to_limbs(flat).reshape(-1, 2, 2, N_LIMBS)
