"""BN254 fields for Python callers: Fq, Fr (arrays of shape (..., 4)) and Fq2 ((..., 2, 4)).

Elements live in Montgomery form (a * 2^256 mod p) as little-endian uint64 limbs, the layout of
the kernels and of snarkjs's zkey files. Conversions from Python ints and bytes reject negative or
non-canonical values (>= p) with `NonCanonicalError`, unless `reduce=True` asks to reduce mod p.

    >>> a = Fr.from_ints([3, 5]); Fr.to_ints(Fr.mul(a, a))
    [9, 25]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from prover.constants import Q, R
from prover.errors import NonCanonicalError
from prover.kernels.cpu import field as kf
from prover.kernels.cpu import fq as kq
from prover.kernels.cpu.params import MontParams, int_to_limbs


def ints_to_limbs(values: Iterable[int]) -> np.ndarray:
    """Plain (non-Montgomery) little-endian limbs, shape (n, 4); values must be in [0, 2^256)."""
    vals = list(values)
    try:
        raw = b"".join(v.to_bytes(32, "little") for v in vals)
    except OverflowError as exc:  # negative or >= 2^256
        raise NonCanonicalError(f"value out of range for a 256-bit field element: {exc}") from None
    return np.frombuffer(raw, dtype="<u8").reshape(len(vals), 4).astype(np.uint64)


def limbs_to_ints(a: np.ndarray) -> list[int]:
    """Inverse of `ints_to_limbs` over the last axis, flattened."""
    raw = np.ascontiguousarray(a, dtype="<u8").tobytes()
    return [int.from_bytes(raw[i : i + 32], "little") for i in range(0, len(raw), 32)]


def _rows(a: np.ndarray, width: int) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.uint64)
    if a.shape[-1] != 4:
        raise ValueError(f"field arrays end in an axis of 4 limbs, got shape {a.shape}")
    return a.reshape(-1, *([2, 4] if width == 2 else [4]))


SERIAL_ROWS = 256  # below this many rows a conversion runs on one thread


def _mul_scalar(rows, s, out, p, pinv) -> None:
    kernel = kf.arr_mul_scalar_serial if len(rows) < SERIAL_ROWS else kf.arr_mul_scalar
    kernel(rows, s, out, p, pinv)


class PrimeField:
    """Vectorized operations over a 4-limb prime field in Montgomery form."""

    def __init__(self, modulus: int, name: str):
        self.name = name
        self.modulus = modulus
        self.params = MontParams.of(modulus)
        self._p = self.params.p
        self._pinv = self.params.pinv
        self._r2 = self.params.r2
        self._one_std = int_to_limbs(1)

    # -- conversions ----------------------------------------------------------------------------

    def check_canonical(self, limbs: np.ndarray) -> None:
        rows = _rows(limbs, 1)
        bad = ~kf.arr_lt_modulus(rows, self._p)
        if bad.any():
            i = int(np.argmax(bad))
            raise NonCanonicalError(
                f"{self.name} element #{i} is not below the modulus: {limbs_to_ints(rows[i])[0]}"
            )

    def to_montgomery(self, limbs: np.ndarray, *, check: bool = True) -> np.ndarray:
        """Plain canonical limbs -> Montgomery limbs (x * 2^256 mod p)."""
        rows = _rows(limbs, 1)
        if check:
            self.check_canonical(rows)
        out = np.empty_like(rows)
        _mul_scalar(rows, self._r2, out, self._p, self._pinv)
        return out.reshape(np.shape(limbs))

    def from_montgomery(self, a: np.ndarray) -> np.ndarray:
        """Montgomery limbs -> plain canonical limbs (x * 2^-256 mod p)."""
        rows = _rows(a, 1)
        out = np.empty_like(rows)
        _mul_scalar(rows, self._one_std, out, self._p, self._pinv)
        return out.reshape(np.shape(a))

    def from_ints(self, values: Iterable[int], *, reduce: bool = False) -> np.ndarray:
        vals = list(values)
        if reduce:
            vals = [v % self.modulus for v in vals]
        return self.to_montgomery(ints_to_limbs(vals))

    def to_ints(self, a: np.ndarray) -> list[int]:
        return limbs_to_ints(self.from_montgomery(a))

    def from_int(self, value: int, *, reduce: bool = False) -> np.ndarray:
        return self.from_ints([value], reduce=reduce)[0]

    def to_int(self, a: np.ndarray) -> int:
        return self.to_ints(a)[0]

    def to_bytes(self, a: np.ndarray, byteorder: str = "big") -> bytes:
        """32 bytes per element, canonical (non-Montgomery) value, big- or little-endian."""
        plain = np.ascontiguousarray(self.from_montgomery(a), dtype="<u8").reshape(-1, 4)
        if byteorder == "little":
            return plain.tobytes()
        if byteorder == "big":
            return plain[:, ::-1].astype(">u8").tobytes()
        raise ValueError("byteorder must be 'big' or 'little'")

    def from_bytes(self, data: bytes, byteorder: str = "big") -> np.ndarray:
        """Elements from 32-byte chunks; non-canonical chunks raise NonCanonicalError."""
        if len(data) % 32:
            raise ValueError(f"{self.name} byte string length {len(data)} is not a multiple of 32")
        if byteorder == "little":
            limbs = np.frombuffer(data, dtype="<u8").reshape(-1, 4)
        elif byteorder == "big":
            limbs = np.frombuffer(data, dtype=">u8").reshape(-1, 4)[:, ::-1]
        else:
            raise ValueError("byteorder must be 'big' or 'little'")
        return self.to_montgomery(limbs.astype(np.uint64))

    def zeros(self, n: int) -> np.ndarray:
        return np.zeros((n, 4), dtype=np.uint64)

    def ones(self, n: int) -> np.ndarray:
        return np.tile(np.array(self.params.one, dtype=np.uint64), (n, 1))

    # -- arithmetic (elementwise; shapes must match) ---------------------------------------------

    def _binary(self, kernel, a, b, *mod):
        a, b = np.broadcast_arrays(np.asarray(a, np.uint64), np.asarray(b, np.uint64))
        shape = a.shape
        ra, rb = _rows(a, 1), _rows(b, 1)
        out = np.empty_like(ra)
        kernel(ra, rb, out, *mod)
        return out.reshape(shape)

    def mul(self, a, b):
        return self._binary(kf.arr_mul, a, b, self._p, self._pinv)

    def sqr(self, a):
        return self.mul(a, a)

    def add(self, a, b):
        return self._binary(kf.arr_add, a, b, self._p)

    def sub(self, a, b):
        return self._binary(kf.arr_sub, a, b, self._p)

    def neg(self, a):
        ra = _rows(a, 1)
        out = np.empty_like(ra)
        kf.arr_neg(ra, out, self._p)
        return out.reshape(np.shape(a))

    def pow(self, a, e: int):
        """a^e elementwise; negative e means (a^-1)^|e|."""
        if e < 0:
            return self.pow(self.inv(a), -e)
        if e >= 1 << 256:  # a^(p-1) = 1 for a != 0; adding p-1 back keeps 0^e = 0 for e > 0
            e = e % (self.modulus - 1) + (self.modulus - 1)
        ra = _rows(a, 1)
        out = np.empty_like(ra)
        kf.arr_pow(ra, int_to_limbs(e), out, self._p, self._pinv, self.params.one)
        return out.reshape(np.shape(a))

    def inv(self, a):
        """Elementwise inverse (Montgomery's trick); zero has no inverse: ZeroDivisionError."""
        ra = _rows(a, 1)
        out = self.batch_inv(ra)
        zero = ~ra.any(axis=1)
        if zero.any():
            raise ZeroDivisionError(
                f"{self.name}: inverse of zero (element #{int(np.argmax(zero))})"
            )
        return out.reshape(np.shape(a))

    def batch_inv(self, a):
        """Inverses of all rows with one exponentiation; zeros map to zero."""
        ra = _rows(a, 1)
        out = np.empty_like(ra)
        kf.batch_inverse(ra, out, self._p, self._pinv, self.params.one, self.params.pm2)
        return out.reshape(np.shape(a))

    def is_zero(self, a) -> np.ndarray:
        return ~np.asarray(a, np.uint64).any(axis=-1)

    def equal(self, a, b) -> np.ndarray:
        return (np.asarray(a, np.uint64) == np.asarray(b, np.uint64)).all(axis=-1)


class BaseField(PrimeField):
    """Fq, with square roots (q = 3 mod 4)."""

    def sqrt(self, a):
        """(roots, is_square): roots are valid where is_square is True."""
        ra = _rows(a, 1)
        out = np.empty_like(ra)
        ok = kq.arr_sqrt(ra, out)
        return out.reshape(np.shape(a)), ok.reshape(np.shape(a)[:-1])


class Fq2Field:
    """Fq2 = Fq[u]/(u^2 + 1), arrays of shape (..., 2, 4): (c0, c1) meaning c0 + c1*u."""

    name = "Fq2"

    def __init__(self, base: BaseField):
        self.base = base

    def from_ints(self, values: Iterable[Sequence[int]], *, reduce: bool = False) -> np.ndarray:
        pairs = [tuple(v) for v in values]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("Fq2 elements are pairs (c0, c1)")
        flat = self.base.from_ints([c for p in pairs for c in p], reduce=reduce)
        return flat.reshape(len(pairs), 2, 4)

    def to_ints(self, a: np.ndarray) -> list[tuple[int, int]]:
        flat = self.base.to_ints(np.asarray(a).reshape(-1, 4))
        return list(zip(flat[0::2], flat[1::2], strict=True))

    def _apply(self, kernel, *arrays):
        arrays = np.broadcast_arrays(*[np.asarray(x, np.uint64) for x in arrays])
        shape = arrays[0].shape
        rows = [_rows(x, 2) for x in arrays]
        out = np.empty_like(rows[0])
        kernel(*rows, out)
        return out.reshape(shape)

    def mul(self, a, b):
        return self._apply(kq.arr2_mul, a, b)

    def sqr(self, a):
        return self._apply(kq.arr2_sqr, a)

    def add(self, a, b):
        return self._apply(kq.arr2_add, a, b)

    def sub(self, a, b):
        return self._apply(kq.arr2_sub, a, b)

    def neg(self, a):
        return self._apply(kq.arr2_neg, a)

    def inv(self, a):
        if (~np.asarray(a, np.uint64).reshape(-1, 8).any(axis=1)).any():
            raise ZeroDivisionError("Fq2: inverse of zero")
        return self._apply(kq.arr2_inv, a)

    def sqrt(self, a):
        rows = _rows(a, 2)
        out = np.empty_like(rows)
        ok = kq.arr2_sqrt(rows, out)
        return out.reshape(np.shape(a)), ok.reshape(np.shape(a)[:-2])


Fq = BaseField(Q, "Fq")
Fr = PrimeField(R, "Fr")
Fq2 = Fq2Field(Fq)
