"""`.wtns` v2 (witness) reader/writer, as written by circom's witness calculator and snarkjs.

Sections (after the common container header, magic b"wtns", version 2):
  1 header:  n8 u32 | prime (n8 bytes) | nWitness u32
  2 values:  nWitness times n8 bytes, canonical (not Montgomery), little-endian
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ._limbs import BN254_R, N8, all_canonical, field_n8, ints_to_limbs
from .container import FormatError, read_container, u32, write_container

MAGIC = b"wtns"
VERSION = 2
SEC_HEADER, SEC_VALUES = 1, 2


def read_wtns_header(path: str | os.PathLike) -> tuple[int, int, int]:
    """(n8, prime, n_witness) without touching the values."""
    bf = read_container(path, MAGIC, max_version=VERSION, min_version=VERSION)
    h = bf.reader(SEC_HEADER)
    n8 = h.u32()
    p = h.bigint(n8)
    n = h.u32()
    h.expect_end()
    return n8, p, n


def read_wtns(path: str | os.PathLike, *, prime: int | None = BN254_R,
              check_canonical: bool = True) -> np.ndarray:
    """Witness values as uint64[n, 4] canonical limbs: a read-only view over the mapped file.

    `prime` is the expected field (None accepts any); values >= prime raise FormatError unless
    check_canonical is False (the check is one vectorized pass).
    """
    bf = read_container(path, MAGIC, max_version=VERSION, min_version=VERSION)
    h = bf.reader(SEC_HEADER)
    n8 = h.u32()
    if n8 != N8:
        raise FormatError(f"{bf.name}: unsupported field size {n8} bytes (only {N8})")
    p = h.bigint(n8)
    n = h.u32()
    h.expect_end()
    if prime is not None and p != prime:
        raise FormatError(f"{bf.name}: wrong prime {p}, expected {prime}")
    v = bf.reader(SEC_VALUES)
    values = v.array(n, (4,))
    v.expect_end()
    if check_canonical and not all_canonical(values, p):
        raise FormatError(f"{bf.name}: witness value not reduced modulo the prime")
    return values


def _as_limbs(values: np.ndarray | Sequence[int], prime: int) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype != object:
        arr = np.asarray(values)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise FormatError(f"witness array must have shape (n, 4), got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.unsignedinteger) or arr.dtype.itemsize != 8:
            raise FormatError(f"witness array must be uint64, got {arr.dtype}")
        if not all_canonical(arr, prime):
            raise FormatError("witness value not reduced modulo the prime")
        return arr
    vals = [int(x) for x in values]
    if any(x < 0 or x >= prime for x in vals):
        raise FormatError("witness value outside [0, prime)")
    return ints_to_limbs(vals)


def write_wtns(path: str | os.PathLike, values: np.ndarray | Sequence[int],
               prime: int = BN254_R) -> None:
    """Write a witness (uint64[n, 4] canonical limbs or a list of ints) byte-for-byte as
    snarkjs/circom do: sections 1 then 2."""
    n8 = field_n8(prime)
    if n8 != N8:
        raise FormatError(f"unsupported field size {n8} bytes (only {N8})")
    arr = _as_limbs(values, prime)
    header = u32(n8) + prime.to_bytes(n8, "little") + u32(len(arr))
    write_container(path, MAGIC, VERSION,
                    [(SEC_HEADER, header), (SEC_VALUES, np.asarray(arr, dtype="<u8"))])
