"""iden3 `.r1cs` v1 reader/writer (spec: iden3/r1csfile doc/r1cs_bin_format.md).

Sections:
  1 header:      fs u32 | prime (fs bytes) | nWires u32 | nPubOut u32 | nPubIn u32 |
                 nPrvIn u32 | nLabels u64 | mConstraints u32
  2 constraints: for each constraint, for each of A, B, C:
                 n u32, then n times (wireId u32, coeff fs bytes, canonical little-endian)
  3 wire2label:  nWires times u64
  4, 5           custom gates (PLONK-only circom extension): rejected here.
Other section ids must be ignored (spec). circom writes the sections in the order 2, 1, 3; the
writer does the same so that re-writing a circom file is byte-identical.

Wire order is fixed by the spec: 0 = constant one, then public outputs, public inputs, private
inputs, then internal wires.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numba
import numpy as np

from ._limbs import BN254_R, N8, all_canonical, ints_to_limbs, limbs_to_ints
from .container import (
    FormatError,
    Streamed,
    as_u64,
    read_container,
    u32,
    u64,
    write_container,
)

MAGIC = b"r1cs"
VERSION = 1
SEC_HEADER, SEC_CONSTRAINTS, SEC_WIRE2LABEL = 1, 2, 3
SEC_CUSTOM_GATES_LIST, SEC_CUSTOM_GATES_APPLIED = 4, 5
# circom's section order; reproduced on write.
WRITE_ORDER = (SEC_CONSTRAINTS, SEC_HEADER, SEC_WIRE2LABEL)

Constraint = tuple[dict[int, int], dict[int, int], dict[int, int]]


@dataclass
class SparseMatrix:
    """One of A, B, C. Entries in constraint-major order, as in the file."""

    row: np.ndarray  # int64[nnz], constraint index
    col: np.ndarray  # int64[nnz], wire index
    coeff: np.ndarray  # uint64[nnz, 4], canonical (not Montgomery), little-endian limbs

    @property
    def nnz(self) -> int:
        return len(self.row)

    def sorted_by_row(self) -> SparseMatrix:
        """Itself when its entries are constraint-major, else a copy stably sorted so."""
        if len(self.row) < 2 or bool(np.all(self.row[1:] >= self.row[:-1])):
            return self
        order = np.argsort(self.row, kind="stable")  # keeps the within-constraint order
        return SparseMatrix(self.row[order], self.col[order], self.coeff[order])


@dataclass
class R1CS:
    prime: int
    n_wires: int
    n_pub_out: int
    n_pub_in: int
    n_prv_in: int
    n_labels: int
    n_constraints: int
    A: SparseMatrix
    B: SparseMatrix
    C: SparseMatrix
    wire_to_label: np.ndarray = field(repr=False)  # uint64[n_wires]

    @property
    def n_public(self) -> int:
        """Public signals excluding the constant-one wire (snarkjs's nPublic)."""
        return self.n_pub_out + self.n_pub_in

    @classmethod
    def from_constraints(cls, constraints: list[Constraint], *, n_wires: int, n_pub_out: int,
                         n_pub_in: int, n_prv_in: int, prime: int = BN254_R,
                         n_labels: int | None = None,
                         wire_to_label: np.ndarray | None = None) -> R1CS:
        """Build from [(A, B, C)] with {wire: coeff} dicts; coefficients are reduced mod prime
        and kept in dict order (the order they will have in the file)."""
        lcs = tuple([c[k] for c in constraints] for k in range(3))
        return cls.from_lcs(*lcs, n_wires=n_wires, n_pub_out=n_pub_out, n_pub_in=n_pub_in,
                            n_prv_in=n_prv_in, prime=prime, n_labels=n_labels,
                            wire_to_label=wire_to_label)

    @classmethod
    def from_lcs(cls, a: Sequence[Mapping[int, int]], b: Sequence[Mapping[int, int]],
                 c: Sequence[Mapping[int, int]], *, n_wires: int, n_pub_out: int,
                 n_pub_in: int, n_prv_in: int, prime: int = BN254_R,
                 n_labels: int | None = None, wire_to_label: np.ndarray | None = None,
                 wire_of: np.ndarray | None = None) -> R1CS:
        """Build from the A, B and C linear combinations ({id: coeff}, constraint i at index i
        of each); ids are wires, or labels mapped to wires by the array `wire_of`. Converted
        in chunks of constraints, so the peak beyond the result is one chunk's Python ints,
        not a second copy of the system."""
        if not len(a) == len(b) == len(c):
            raise ValueError("A, B and C must have one linear combination per constraint")
        mats = [_matrix(lcs, prime, wire_of) for lcs in (a, b, c)]
        if wire_to_label is None:
            wire_to_label = np.arange(n_wires, dtype=np.uint64)
        wire_to_label = np.asarray(wire_to_label, dtype=np.uint64)
        if n_labels is None:
            n_labels = int(wire_to_label.max()) + 1 if n_wires else 0
        r = cls(prime, n_wires, n_pub_out, n_pub_in, n_prv_in, n_labels, len(a),
                *mats, wire_to_label=wire_to_label)
        r.validate()
        return r

    def constraints(self) -> list[Constraint]:
        """Slow conversion back to dicts (tests, debugging)."""
        out: list[Constraint] = [({}, {}, {}) for _ in range(self.n_constraints)]
        for k, m in enumerate((self.A, self.B, self.C)):
            vals = limbs_to_ints(m.coeff)
            for r, c, v in zip(m.row.tolist(), m.col.tolist(), vals, strict=True):
                out[r][k][c] = v
        return out

    def validate(self) -> None:
        """Structural checks (raise FormatError): shapes, index ranges, canonical coefficients."""
        if self.prime.bit_length() > 256 or self.prime < 2:
            raise FormatError(f"unsupported prime of {self.prime.bit_length()} bits")
        if 1 + self.n_pub_out + self.n_pub_in + self.n_prv_in > self.n_wires:
            raise FormatError("more declared inputs/outputs than wires")
        for name, m in zip("ABC", (self.A, self.B, self.C), strict=True):
            n = len(m.row)
            if m.col.shape != (n,) or m.coeff.shape != (n, 4):
                raise FormatError(f"matrix {name}: inconsistent shapes {m.row.shape}, "
                                  f"{m.col.shape}, {m.coeff.shape}")
            if n and (m.row.min() < 0 or m.row.max() >= self.n_constraints):
                raise FormatError(f"matrix {name}: constraint index out of range")
            if n and (m.col.min() < 0 or m.col.max() >= self.n_wires):
                raise FormatError(f"matrix {name}: wire index out of range")
            if not all_canonical(m.coeff, self.prime):
                raise FormatError(f"matrix {name}: coefficient not reduced modulo the prime")
        if self.wire_to_label.shape != (self.n_wires,):
            raise FormatError("wire_to_label must have n_wires entries")


_CHUNK = 1 << 16  # constraints converted per step (bounds the temporary Python objects)


def _matrix(lcs: Sequence[Mapping[int, int]], prime: int,
            wire_of: np.ndarray | None) -> SparseMatrix:
    """One matrix's entries, constraint-major and in dict order, as arrays."""
    nnz = sum(map(len, lcs))
    rows = np.empty(nnz, np.int64)
    cols = np.empty(nnz, np.int64)
    coeff = np.empty((nnz, 4), np.uint64)
    p = 0
    for s in range(0, len(lcs), _CHUNK):
        part = lcs[s : s + _CHUNK]
        lens = np.fromiter(map(len, part), np.int64, len(part))
        k = int(lens.sum())
        rows[p : p + k] = np.repeat(np.arange(s, s + len(part), dtype=np.int64), lens)
        ids = np.fromiter(chain.from_iterable(part), np.int64, k)
        cols[p : p + k] = ids if wire_of is None else wire_of[ids]
        if k:
            coeff[p : p + k] = ints_to_limbs(v % prime for d in part for v in d.values())
        p += k
    return SparseMatrix(rows, cols, coeff)


# --- constraint section parsing: one sequential scan (lengths are data-dependent) -------------

@numba.njit(cache=True)
def _scan_terms(buf, m, fs):  # pragma: no cover - compiled
    """Count terms per matrix; returns (counts[3], bytes consumed) or consumed = -1 if truncated."""
    counts = np.zeros(3, np.int64)
    n = buf.shape[0]
    p = 0
    rec = 4 + fs
    for _c in range(m):
        for k in range(3):
            if p + 4 > n:
                return counts, -1
            t = (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
                 | (np.int64(buf[p + 3]) << 24))
            p += 4
            if p + t * rec > n:
                return counts, -1
            counts[k] += t
            p += t * rec
    return counts, p


@numba.njit(cache=True)
def _fill_terms(buf, m, fs, starts, rows, cols, coeff_bytes):  # pragma: no cover - compiled
    """Second pass: copy wire ids and coefficient bytes; matrix k fills from starts[k]."""
    ptr = starts.copy()
    p = 0
    for c in range(m):
        for k in range(3):
            t = (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
                 | (np.int64(buf[p + 3]) << 24))
            p += 4
            for _ in range(t):
                j = ptr[k]
                rows[j] = c
                cols[j] = (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)
                           | (np.int64(buf[p + 2]) << 16) | (np.int64(buf[p + 3]) << 24))
                p += 4
                for b in range(fs):
                    coeff_bytes[j, b] = buf[p + b]
                p += fs
                ptr[k] = j + 1


@numba.njit(cache=True)
def _emit_terms(out, m, fs, counts, cols, coeff_bytes, starts):  # pragma: no cover - compiled
    """Serialize constraint-major: entries of matrix k for constraint c are consecutive."""
    ptr = starts.copy()
    p = 0
    for c in range(m):
        for k in range(3):
            t = counts[k, c]
            for s in range(4):
                out[p + s] = (t >> (8 * s)) & 0xFF
            p += 4
            for _ in range(t):
                j = ptr[k]
                w = cols[j]
                for s in range(4):
                    out[p + s] = (w >> (8 * s)) & 0xFF
                p += 4
                for b in range(fs):
                    out[p + b] = coeff_bytes[j, b]
                p += fs
                ptr[k] = j + 1
    return p


def _parse_constraints(data: np.ndarray, m: int, fs: int) -> tuple[SparseMatrix, ...]:
    data = np.ascontiguousarray(data)
    counts, used = _scan_terms(data, m, fs)
    if used < 0:
        raise FormatError("constraints section truncated")
    if used != len(data):
        raise FormatError(f"constraints section has {len(data) - used} unexpected trailing bytes")
    total = int(counts.sum())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rows = np.empty(total, np.int64)
    cols = np.empty(total, np.int64)
    coeff_bytes = np.empty((total, fs), np.uint8)
    _fill_terms(data, m, fs, starts, rows, cols, coeff_bytes)
    coeff = as_u64(coeff_bytes.reshape(-1)).reshape(total, fs // 8)
    out = []
    for k in range(3):
        s, e = int(starts[k]), int(starts[k] + counts[k])
        out.append(SparseMatrix(rows[s:e], cols[s:e], coeff[s:e]))
    return tuple(out)


def read_r1cs(path: str | os.PathLike, *, prime: int | None = BN254_R) -> R1CS:
    """Read an `.r1cs` file. `prime` is the expected field (None accepts any 256-bit prime)."""
    bf = read_container(path, MAGIC, max_version=VERSION)
    for sid in (SEC_CUSTOM_GATES_LIST, SEC_CUSTOM_GATES_APPLIED):
        if bf.has(sid):
            raise FormatError(f"{bf.name}: custom gates (section {sid}) are not supported")
    h = bf.reader(SEC_HEADER)
    fs = h.u32()
    if fs != N8:
        raise FormatError(f"{bf.name}: unsupported field size {fs} bytes (only {N8})")
    p = h.bigint(fs)
    if prime is not None and p != prime:
        raise FormatError(f"{bf.name}: wrong prime {p}, expected {prime}")
    n_wires, n_pub_out, n_pub_in, n_prv_in = h.u32(), h.u32(), h.u32(), h.u32()
    n_labels = h.u64()
    m = h.u32()
    h.expect_end()

    A, B, C = _parse_constraints(bf.payload(SEC_CONSTRAINTS), m, fs)

    w2l = bf.payload(SEC_WIRE2LABEL)
    if len(w2l) != 8 * n_wires:
        raise FormatError(f"{bf.name}: wire2label section has {len(w2l)} bytes, expected "
                          f"{8 * n_wires}")
    r = R1CS(p, n_wires, n_pub_out, n_pub_in, n_prv_in, n_labels, m, A, B, C,
             wire_to_label=as_u64(w2l))
    try:
        r.validate()
    except FormatError as e:
        raise FormatError(f"{bf.name}: {e}") from None
    return r


_WRITE_ROWS = 1 << 18  # constraints serialized per chunk of the constraints section


def _block_bytes(mats: Sequence[SparseMatrix], m: int) -> np.ndarray:
    """The constraints section's bytes for m constraints whose entries are `mats` (rows 0..m-1,
    constraint-major)."""
    fs = N8
    counts = np.stack([np.bincount(x.row, minlength=m).astype(np.int64) for x in mats])
    cols = np.concatenate([x.col for x in mats]).astype(np.int64)
    coeff_bytes = np.ascontiguousarray(np.concatenate([x.coeff for x in mats]).astype(
        "<u8")).view(np.uint8).reshape(-1, fs)
    nnz = np.array([x.nnz for x in mats], np.int64)
    starts = np.concatenate([[0], np.cumsum(nnz)[:-1]]).astype(np.int64)
    out = np.empty(12 * m + int(nnz.sum()) * (4 + fs), np.uint8)
    written = _emit_terms(out, m, fs, counts, cols, coeff_bytes, starts)
    assert written == len(out)
    return out


def _header(prime: int, n_wires: int, n_pub_out: int, n_pub_in: int, n_prv_in: int,
            n_labels: int, m: int) -> bytes:
    return (u32(N8) + prime.to_bytes(N8, "little") + u32(n_wires) + u32(n_pub_out)
            + u32(n_pub_in) + u32(n_prv_in) + u64(n_labels) + u32(m))


def r1cs_sections(r1cs: R1CS) -> list[tuple[int, bytes | np.ndarray | Streamed]]:
    """Section payloads in circom's order; the constraints section is streamed in chunks of
    constraints (each matrix's entries of those rows), never built whole."""
    r1cs.validate()
    m = r1cs.n_constraints
    mats = [x.sorted_by_row() for x in (r1cs.A, r1cs.B, r1cs.C)]
    first = np.zeros((3, m + 1), np.int64)  # entry index of each row's first entry, per matrix
    for k, x in enumerate(mats):
        np.cumsum(np.bincount(x.row, minlength=m), out=first[k, 1:])

    def chunks():
        for c0 in range(0, m, _WRITE_ROWS):
            c1 = min(m, c0 + _WRITE_ROWS)
            block = []
            for k, x in enumerate(mats):
                e = slice(int(first[k, c0]), int(first[k, c1]))
                block.append(SparseMatrix(x.row[e] - c0, x.col[e], x.coeff[e]))
            yield _block_bytes(block, c1 - c0)

    size = 12 * m + sum(x.nnz for x in mats) * (4 + N8)
    header = _header(r1cs.prime, r1cs.n_wires, r1cs.n_pub_out, r1cs.n_pub_in, r1cs.n_prv_in,
                     r1cs.n_labels, m)
    payload = {SEC_CONSTRAINTS: Streamed(size, chunks), SEC_HEADER: header,
               SEC_WIRE2LABEL: np.asarray(r1cs.wire_to_label, dtype="<u8")}
    return [(sid, payload[sid]) for sid in WRITE_ORDER]


def write_r1cs_lcs(path: str | os.PathLike, a: Sequence[Mapping[int, int]],
                   b: Sequence[Mapping[int, int]], c: Sequence[Mapping[int, int]], *,
                   n_wires: int, n_pub_out: int, n_pub_in: int, n_prv_in: int,
                   wire_to_label: np.ndarray, n_labels: int, prime: int = BN254_R,
                   wire_of: np.ndarray | None = None) -> None:
    """`write_r1cs(R1CS.from_lcs(...))` byte for byte, converting and writing a chunk of
    constraints at a time: the R1CS's arrays never exist whole (a large circuit's builder
    writes its system without doubling its memory)."""
    if not len(a) == len(b) == len(c):
        raise ValueError("A, B and C must have one linear combination per constraint")
    m = len(a)

    def chunks():
        for c0 in range(0, m, _WRITE_ROWS):
            block = [_matrix(x[c0 : c0 + _WRITE_ROWS], prime, wire_of) for x in (a, b, c)]
            for name, x in zip("ABC", block, strict=True):
                if x.nnz and (x.col.min() < 0 or x.col.max() >= n_wires):
                    raise FormatError(f"matrix {name}: wire index out of range")
            yield _block_bytes(block, min(m, c0 + _WRITE_ROWS) - c0)

    size = 12 * m + sum(sum(map(len, x)) for x in (a, b, c)) * (4 + N8)
    header = _header(prime, n_wires, n_pub_out, n_pub_in, n_prv_in, n_labels, m)
    w2l = np.asarray(wire_to_label, dtype="<u8")
    if w2l.shape != (n_wires,):
        raise FormatError("wire_to_label must have n_wires entries")
    payload = {SEC_CONSTRAINTS: Streamed(size, chunks), SEC_HEADER: header, SEC_WIRE2LABEL: w2l}
    write_container(path, MAGIC, VERSION, [(sid, payload[sid]) for sid in WRITE_ORDER])


def write_r1cs(r1cs: R1CS, path: str | os.PathLike) -> None:
    write_container(path, MAGIC, VERSION, r1cs_sections(r1cs))
