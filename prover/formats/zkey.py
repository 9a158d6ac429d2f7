"""snarkjs Groth16 `.zkey` v1 reader/writer (layout of snarkjs src/zkey_utils.js, zkey_new.js).

Sections: 1 header (protocol 1 = Groth16; PLONK and FFLONK are rejected), 2 Groth header
(curve, sizes, alpha/beta/gamma/delta), 3 IC, 4 A and B coefficients, 5 A, 6 B1, 7 B2, 8 C (the
private wires only), 9 H, 10 the phase-2 contributions. Points are affine with Montgomery
coordinates in little-endian limbs, infinity all zero bytes; arrays are (n, 2, 4) for G1 and
(n, 2, 2, 4) for G2, read-only views over the mapped file.

Two conventions a prover must know: a section-4 `value` is c*R^2 mod r (R = 2^256), not the
coefficient c (`coeff_values` undoes it), and C is not stored; section 9 holds the odd Lagrange
points [L_{2i+1}(tau)]_1 of the 2*domainSize domain, so no division by Z is needed.
Byte layout and the reasons: docs/prover.md.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np

from ._limbs import BN254_Q, BN254_R, N8, R_MONT, all_canonical, ints_to_limbs, limbs_to_ints
from .container import FormatError, read_container, u32, write_container

MAGIC = b"zkey"
VERSION = 1
GROTH16_PROTOCOL_ID = 1
_PROTOCOL_NAMES = {1: "groth16", 2: "plonk", 10: "fflonk"}

SEC_HEADER, SEC_GROTH_HEADER, SEC_IC, SEC_COEFFS = 1, 2, 3, 4
SEC_A, SEC_B1, SEC_B2, SEC_C, SEC_H, SEC_CONTRIBUTIONS = 5, 6, 7, 8, 9, 10
# Order in which `snarkjs groth16 setup` (zkey_new.js) writes sections; `zkey contribute` and
# `zkey beacon` write them in id order 1..10. read_zkey records the order it found.
SNARKJS_ORDER = (1, 2, 4, 3, 9, 8, 5, 6, 7, 10)

G1_BYTES = 2 * N8
G2_BYTES = 4 * N8

# One section-4 record: 12 + 32 = 44 bytes, no padding.
COEF_DTYPE = np.dtype([("matrix", "<u4"), ("constraint", "<u4"), ("signal", "<u4"),
                       ("value", "<u8", (4,))])


@dataclass
class ZkeyContribution:
    delta_after: np.ndarray  # G1 (2, 4)
    g1_s: np.ndarray  # G1
    g1_sx: np.ndarray  # G1
    g2_spx: np.ndarray  # G2 (2, 2, 4)
    transcript: bytes  # 64 bytes
    type: int  # 0 = contribution, 1 = beacon
    name: str | None = None
    num_iterations_exp: int | None = None
    beacon_hash: bytes | None = None


@dataclass
class Zkey:
    n8q: int
    q: int
    n8r: int
    r: int
    n_vars: int
    n_public: int  # public signals, not counting the constant-one wire
    domain_size: int
    alpha1: np.ndarray  # (2, 4)
    beta1: np.ndarray  # (2, 4)
    beta2: np.ndarray  # (2, 2, 4)
    gamma2: np.ndarray  # (2, 2, 4)
    delta1: np.ndarray  # (2, 4)
    delta2: np.ndarray  # (2, 2, 4)
    ic: np.ndarray  # (n_public + 1, 2, 4)
    coeffs: np.ndarray  # structured COEF_DTYPE[n]; value = c*R^2 mod r (see module doc)
    a: np.ndarray  # (n_vars, 2, 4)
    b1: np.ndarray  # (n_vars, 2, 4)
    b2: np.ndarray  # (n_vars, 2, 2, 4)
    c: np.ndarray  # (n_vars - n_public - 1, 2, 4), entry i belongs to wire n_public + 1 + i
    h: np.ndarray  # (domain_size, 2, 4)
    contributions: bytes | None = field(default=None, repr=False)  # raw section 10
    section_order: tuple[int, ...] = SNARKJS_ORDER
    protocol_id: int = GROTH16_PROTOCOL_ID

    @property
    def power(self) -> int:
        return self.domain_size.bit_length() - 1

    @property
    def cs_hash(self) -> bytes | None:
        return None if self.contributions is None else bytes(self.contributions[:64])

    def coeff_values(self) -> list[int]:
        """Canonical coefficients c = value * R^-2 mod r (slow, Python ints)."""
        rinv2 = pow(R_MONT * R_MONT, -1, self.r)
        return [v * rinv2 % self.r for v in limbs_to_ints(self.coeffs["value"])]

    def contribution_list(self) -> list[ZkeyContribution]:
        return [] if self.contributions is None else parse_contributions(self.contributions)[1]

    def validate(self, *, check_points: bool = True) -> None:
        """Shape checks and (optionally, one vectorized pass) coordinates < q, values < r."""
        if self.domain_size <= 0 or self.domain_size & (self.domain_size - 1):
            raise FormatError(f"domainSize {self.domain_size} is not a power of two")
        if self.n_vars < self.n_public + 1:
            raise FormatError("nVars smaller than nPublic + 1")
        shapes = {
            "alpha1": (self.alpha1, (2, 4)), "beta1": (self.beta1, (2, 4)),
            "beta2": (self.beta2, (2, 2, 4)), "gamma2": (self.gamma2, (2, 2, 4)),
            "delta1": (self.delta1, (2, 4)), "delta2": (self.delta2, (2, 2, 4)),
            "IC": (self.ic, (self.n_public + 1, 2, 4)), "A": (self.a, (self.n_vars, 2, 4)),
            "B1": (self.b1, (self.n_vars, 2, 4)), "B2": (self.b2, (self.n_vars, 2, 2, 4)),
            "C": (self.c, (self.n_vars - self.n_public - 1, 2, 4)),
            "H": (self.h, (self.domain_size, 2, 4)),
        }
        for name, (arr, shape) in shapes.items():
            if tuple(arr.shape) != shape:
                raise FormatError(f"zkey {name}: shape {arr.shape}, expected {shape}")
        if self.coeffs.dtype != COEF_DTYPE:
            raise FormatError("zkey coefficients must use COEF_DTYPE")
        if len(self.coeffs):
            if int(self.coeffs["matrix"].max()) > 1:
                raise FormatError("zkey coefficients: matrix id other than 0 (A) or 1 (B)")
            if int(self.coeffs["signal"].max()) >= self.n_vars:
                raise FormatError("zkey coefficients: signal index out of range")
            if int(self.coeffs["constraint"].max()) >= self.domain_size:
                raise FormatError("zkey coefficients: constraint index beyond the domain")
        if not all_canonical(self.coeffs["value"], self.r):
            raise FormatError("zkey coefficients: value not reduced modulo r")
        if check_points:
            for name, (arr, _) in shapes.items():
                if not all_canonical(arr, self.q):
                    raise FormatError(f"zkey {name}: coordinate not reduced modulo q")


def parse_contributions(raw: bytes | np.ndarray) -> tuple[bytes, list[ZkeyContribution]]:
    """Section 10: (csHash, contributions); layout of snarkjs zkey_utils readMPCParams."""
    b = bytes(raw)
    if len(b) < 68:
        raise FormatError("zkey contributions section truncated")
    cs_hash, (n,) = b[:64], struct.unpack_from("<I", b, 64)
    pos = 68
    out = []

    def take(k: int) -> bytes:
        nonlocal pos
        if pos + k > len(b):
            raise FormatError("zkey contributions section truncated")
        pos += k
        return b[pos - k : pos]

    def g(k: int, shape: tuple[int, ...]) -> np.ndarray:
        return np.frombuffer(take(k), dtype="<u8").astype(np.uint64).reshape(shape)

    for _ in range(n):
        c = ZkeyContribution(g(G1_BYTES, (2, 4)), g(G1_BYTES, (2, 4)), g(G1_BYTES, (2, 4)),
                             g(G2_BYTES, (2, 2, 4)), take(64), struct.unpack("<I", take(4))[0])
        plen = struct.unpack("<I", take(4))[0]
        params = take(plen)
        i, last = 0, 0
        while i < len(params):
            t = params[i]
            if t <= last:
                raise FormatError("zkey contribution parameters not sorted")
            last = t
            if t == 1 and i + 1 < len(params):
                ln = params[i + 1]
                c.name = params[i + 2 : i + 2 + ln].decode("utf-8", "replace")
                i += 2 + ln
            elif t == 2 and i + 1 < len(params):
                c.num_iterations_exp = params[i + 1]
                i += 2
            elif t == 3 and i + 1 < len(params):
                ln = params[i + 1]
                c.beacon_hash = params[i + 2 : i + 2 + ln]
                i += 2 + ln
            else:
                raise FormatError(f"zkey contribution: unknown or truncated parameter {t}")
        out.append(c)
    if pos != len(b):
        raise FormatError("zkey contributions section has trailing bytes")
    return cs_hash, out


def read_zkey(path: str | os.PathLike, *, q: int | None = BN254_Q, r: int | None = BN254_R,
              check_points: bool = False) -> Zkey:
    """Read a Groth16 zkey. Point arrays are views over the mapped file (no copy).

    `check_points=True` also verifies every coordinate is < q (a full pass over the file).
    """
    bf = read_container(path, MAGIC, max_version=VERSION)
    h1 = bf.reader(SEC_HEADER)
    proto = h1.u32()
    h1.expect_end()
    if proto != GROTH16_PROTOCOL_ID:
        raise FormatError(f"{bf.name}: unsupported protocol {_PROTOCOL_NAMES.get(proto, proto)}"
                          f" (only groth16)")
    h = bf.reader(SEC_GROTH_HEADER)
    n8q = h.u32()
    if n8q != N8:
        raise FormatError(f"{bf.name}: unsupported base field size {n8q} bytes")
    zq = h.bigint(n8q)
    n8r = h.u32()
    if n8r != N8:
        raise FormatError(f"{bf.name}: unsupported scalar field size {n8r} bytes")
    zr = h.bigint(n8r)
    if q is not None and zq != q:
        raise FormatError(f"{bf.name}: wrong base field prime {zq}, expected {q}")
    if r is not None and zr != r:
        raise FormatError(f"{bf.name}: wrong scalar field prime {zr}, expected {r}")
    n_vars, n_public, domain_size = h.u32(), h.u32(), h.u32()
    alpha1 = h.array(1, (2, 4))[0]
    beta1 = h.array(1, (2, 4))[0]
    beta2 = h.array(1, (2, 2, 4))[0]
    gamma2 = h.array(1, (2, 2, 4))[0]
    delta1 = h.array(1, (2, 4))[0]
    delta2 = h.array(1, (2, 2, 4))[0]
    h.expect_end()
    if n_vars < n_public + 1:
        raise FormatError(f"{bf.name}: nVars {n_vars} < nPublic + 1")

    def points(sid: int, count: int, shape: tuple[int, ...]) -> np.ndarray:
        rd = bf.reader(sid)
        per = int(np.prod(shape)) * 8
        if len(rd.data) != count * per:
            raise FormatError(f"{bf.name}: section {sid} has {len(rd.data)} bytes, expected "
                              f"{count * per} ({count} points)")
        return rd.array(count, shape)

    ic = points(SEC_IC, n_public + 1, (2, 4))
    cr = bf.reader(SEC_COEFFS)
    n_coefs = cr.u32()
    body = cr.rest()
    if len(body) != n_coefs * COEF_DTYPE.itemsize:
        raise FormatError(f"{bf.name}: coefficient section holds {len(body)} bytes for "
                          f"{n_coefs} records of {COEF_DTYPE.itemsize}")
    coeffs = body.view(COEF_DTYPE)
    a = points(SEC_A, n_vars, (2, 4))
    b1 = points(SEC_B1, n_vars, (2, 4))
    b2 = points(SEC_B2, n_vars, (2, 2, 4))
    c = points(SEC_C, n_vars - n_public - 1, (2, 4))
    hp = points(SEC_H, domain_size, (2, 4))
    contributions = None
    if bf.has(SEC_CONTRIBUTIONS):
        contributions = bf.payload(SEC_CONTRIBUTIONS).tobytes()
    known = set(SNARKJS_ORDER)
    extra = [s for s in bf.section_ids if s not in known]
    if extra:
        raise FormatError(f"{bf.name}: unexpected sections {extra}")
    z = Zkey(n8q, zq, n8r, zr, n_vars, n_public, domain_size, alpha1, beta1, beta2, gamma2,
             delta1, delta2, ic, coeffs, a, b1, b2, c, hp, contributions,
             tuple(bf.section_ids), proto)
    try:
        z.validate(check_points=check_points)
    except FormatError as e:
        raise FormatError(f"{bf.name}: {e}") from None
    return z


def zkey_sections(z: Zkey) -> list[tuple[int, object]]:
    z.validate(check_points=False)
    header = (u32(z.n8q) + z.q.to_bytes(z.n8q, "little") + u32(z.n8r)
              + z.r.to_bytes(z.n8r, "little") + u32(z.n_vars) + u32(z.n_public)
              + u32(z.domain_size))
    pts = [np.asarray(p, dtype="<u8") for p in
           (z.alpha1, z.beta1, z.beta2, z.gamma2, z.delta1, z.delta2)]
    coeffs = np.ascontiguousarray(z.coeffs, dtype=COEF_DTYPE)
    payload: dict[int, object] = {
        SEC_HEADER: u32(z.protocol_id),
        SEC_GROTH_HEADER: [header, *pts],
        SEC_IC: np.asarray(z.ic, dtype="<u8"),
        SEC_COEFFS: [u32(len(coeffs)), coeffs.view(np.uint8)],
        SEC_A: np.asarray(z.a, dtype="<u8"),
        SEC_B1: np.asarray(z.b1, dtype="<u8"),
        SEC_B2: np.asarray(z.b2, dtype="<u8"),
        SEC_C: np.asarray(z.c, dtype="<u8"),
        SEC_H: np.asarray(z.h, dtype="<u8"),
    }
    if z.contributions is not None:
        payload[SEC_CONTRIBUTIONS] = bytes(z.contributions)
    order = [s for s in z.section_order if s in payload]
    order += [s for s in SNARKJS_ORDER if s in payload and s not in order]
    return [(s, payload[s]) for s in order]


def write_zkey(z: Zkey, path: str | os.PathLike) -> None:
    """Write a zkey; sections in z.section_order (snarkjs's order by default)."""
    write_container(path, MAGIC, VERSION, zkey_sections(z))


def make_coeffs(matrix, constraint, signal, values: list[int], r: int = BN254_R) -> np.ndarray:
    """Build section-4 records from canonical coefficients (stores c*R^2 mod r)."""
    rec = np.zeros(len(values), dtype=COEF_DTYPE)
    rec["matrix"] = matrix
    rec["constraint"] = constraint
    rec["signal"] = signal
    r2 = R_MONT * R_MONT % r
    rec["value"] = ints_to_limbs(v % r * r2 % r for v in values)
    return rec
