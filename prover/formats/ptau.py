"""snarkjs powers-of-tau `.ptau` reader/writer (layout of snarkjs src/powersoftau_new.js,
powersoftau_utils.js, powersoftau_preparephase2.js).

Container magic b"ptau", version 1. With N = 2^power: 1 header, 2 tauG1 (2N-1 points), 3 tauG2,
4 alphaTauG1, 5 betaTauG1 (N points each), 6 betaG2, 7 the phase-1 transcript (raw bytes); files
made by `powersoftau prepare phase2` add 12-15, the Lagrange bases of sections 2-5 for every
domain size 2^k, concatenated (the basis of size 2^k starts at point 2^k - 1, roots of unity in
their natural order). Points: affine, Montgomery coordinates, little-endian limbs, infinity all
zeros; G1 arrays (n, 2, 4), G2 arrays (n, 2, 2, 4), read-only views over the mapped file.
Section 7 (the transcript): parse_contributions / encode_contributions. Section table and
record layout: docs/prover.md.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np

from ._limbs import BN254_Q, N8, all_canonical
from .container import FormatError, read_container, u32, write_container

MAGIC = b"ptau"
VERSION = 1
SEC_HEADER, SEC_TAU_G1, SEC_TAU_G2, SEC_ALPHA_TAU_G1, SEC_BETA_TAU_G1 = 1, 2, 3, 4, 5
SEC_BETA_G2, SEC_CONTRIBUTIONS = 6, 7
SEC_LAGRANGE_TAU_G1, SEC_LAGRANGE_TAU_G2 = 12, 13
SEC_LAGRANGE_ALPHA_TAU_G1, SEC_LAGRANGE_BETA_TAU_G1 = 14, 15
PHASE1_ORDER = (1, 2, 3, 4, 5, 6, 7)
PREPARED_ORDER = (*PHASE1_ORDER, 12, 13, 14, 15)

G1 = (2, 4)
G2 = (2, 2, 4)


@dataclass
class Ptau:
    q: int
    power: int
    ceremony_power: int
    tau_g1: np.ndarray  # (2N-1, 2, 4)
    tau_g2: np.ndarray  # (N, 2, 2, 4)
    alpha_tau_g1: np.ndarray  # (N, 2, 4)
    beta_tau_g1: np.ndarray  # (N, 2, 4)
    beta_g2: np.ndarray  # (2, 2, 4)
    contributions: bytes = field(default=b"\0\0\0\0", repr=False)  # raw section 7
    lagrange_tau_g1: np.ndarray | None = None  # (4N-1, 2, 4)
    lagrange_tau_g2: np.ndarray | None = None  # (2N-1, 2, 2, 4)
    lagrange_alpha_tau_g1: np.ndarray | None = None  # (2N-1, 2, 4)
    lagrange_beta_tau_g1: np.ndarray | None = None  # (2N-1, 2, 4)
    n8: int = N8
    section_order: tuple[int, ...] | None = None  # None: snarkjs's order

    @property
    def prepared(self) -> bool:
        return self.lagrange_tau_g1 is not None

    @property
    def n_contributions(self) -> int:
        return int.from_bytes(self.contributions[:4], "little")

    def _lagrange(self, arr: np.ndarray | None, k: int, kmax: int) -> np.ndarray:
        if arr is None:
            raise FormatError("ptau is not prepared for phase 2 (no Lagrange sections)")
        if not 0 <= k <= kmax:
            raise ValueError(f"domain 2^{k} not available (0 <= k <= {kmax})")
        return arr[(1 << k) - 1 : (1 << (k + 1)) - 1]

    def lagrange_g1(self, k: int) -> np.ndarray:
        """[L_i(tau)]_1 over the 2^k-th roots of unity (k <= power + 1)."""
        return self._lagrange(self.lagrange_tau_g1, k, self.power + 1)

    def lagrange_g2(self, k: int) -> np.ndarray:
        return self._lagrange(self.lagrange_tau_g2, k, self.power)

    def lagrange_alpha_g1(self, k: int) -> np.ndarray:
        return self._lagrange(self.lagrange_alpha_tau_g1, k, self.power)

    def lagrange_beta_g1(self, k: int) -> np.ndarray:
        return self._lagrange(self.lagrange_beta_tau_g1, k, self.power)

    def _expected(self) -> dict[int, tuple[str, int, tuple[int, ...]]]:
        n = 1 << self.power
        exp = {
            SEC_TAU_G1: ("tau_g1", 2 * n - 1, G1),
            SEC_TAU_G2: ("tau_g2", n, G2),
            SEC_ALPHA_TAU_G1: ("alpha_tau_g1", n, G1),
            SEC_BETA_TAU_G1: ("beta_tau_g1", n, G1),
        }
        if self.prepared:
            exp.update({
                SEC_LAGRANGE_TAU_G1: ("lagrange_tau_g1", 4 * n - 1, G1),
                SEC_LAGRANGE_TAU_G2: ("lagrange_tau_g2", 2 * n - 1, G2),
                SEC_LAGRANGE_ALPHA_TAU_G1: ("lagrange_alpha_tau_g1", 2 * n - 1, G1),
                SEC_LAGRANGE_BETA_TAU_G1: ("lagrange_beta_tau_g1", 2 * n - 1, G1),
            })
        return exp

    def validate(self, *, check_points: bool = True) -> None:
        if self.n8 != N8:
            raise FormatError(f"unsupported field size {self.n8}")
        if not 0 <= self.power <= 28:
            raise FormatError(f"power {self.power} out of range")
        arrays = {"beta_g2": self.beta_g2}
        if tuple(self.beta_g2.shape) != G2:
            raise FormatError("beta_g2 must have shape (2, 2, 4)")
        lag = [self.lagrange_tau_g1, self.lagrange_tau_g2, self.lagrange_alpha_tau_g1,
               self.lagrange_beta_tau_g1]
        if any(x is None for x in lag) and not all(x is None for x in lag):
            raise FormatError("ptau has only some of the Lagrange sections 12-15")
        for name, count, shape in self._expected().values():
            arr = getattr(self, name)
            if tuple(arr.shape) != (count, *shape):
                raise FormatError(f"ptau {name}: shape {arr.shape}, expected {(count, *shape)}")
            arrays[name] = arr
        if check_points:
            for name, arr in arrays.items():
                if not all_canonical(arr, self.q):
                    raise FormatError(f"ptau {name}: coordinate not reduced modulo q")


def read_ptau(path: str | os.PathLike, *, q: int | None = BN254_Q,
              check_points: bool = False) -> Ptau:
    """Read a ptau file (phase 1, optionally prepared for phase 2) as mapped arrays."""
    bf = read_container(path, MAGIC, max_version=VERSION)
    h = bf.reader(SEC_HEADER)
    n8 = h.u32()
    if n8 != N8:
        raise FormatError(f"{bf.name}: unsupported field size {n8} bytes (only {N8})")
    fq = h.bigint(n8)
    power, ceremony_power = h.u32(), h.u32()
    h.expect_end()
    if q is not None and fq != q:
        raise FormatError(f"{bf.name}: wrong prime {fq}, expected {q}")
    if power > 28:
        raise FormatError(f"{bf.name}: power {power} exceeds the 2-adicity of BN254 Fr")

    def points(sid: int, count: int, shape: tuple[int, ...]) -> np.ndarray:
        rd = bf.reader(sid)
        per = int(np.prod(shape)) * 8
        if len(rd.data) != count * per:
            raise FormatError(f"{bf.name}: section {sid} has {len(rd.data)} bytes, expected "
                              f"{count * per} ({count} points)")
        return rd.array(count, shape)

    n = 1 << power
    p = Ptau(
        q=fq, power=power, ceremony_power=ceremony_power,
        tau_g1=points(SEC_TAU_G1, 2 * n - 1, G1),
        tau_g2=points(SEC_TAU_G2, n, G2),
        alpha_tau_g1=points(SEC_ALPHA_TAU_G1, n, G1),
        beta_tau_g1=points(SEC_BETA_TAU_G1, n, G1),
        beta_g2=points(SEC_BETA_G2, 1, G2)[0],
        contributions=bf.payload(SEC_CONTRIBUTIONS).tobytes(),
        n8=n8, section_order=tuple(bf.section_ids),
    )
    lag_ids = (SEC_LAGRANGE_TAU_G1, SEC_LAGRANGE_TAU_G2, SEC_LAGRANGE_ALPHA_TAU_G1,
               SEC_LAGRANGE_BETA_TAU_G1)
    present = [bf.has(s) for s in lag_ids]
    if any(present):
        if not all(present):
            raise FormatError(f"{bf.name}: only some of the Lagrange sections 12-15 present")
        p.lagrange_tau_g1 = points(SEC_LAGRANGE_TAU_G1, 4 * n - 1, G1)
        p.lagrange_tau_g2 = points(SEC_LAGRANGE_TAU_G2, 2 * n - 1, G2)
        p.lagrange_alpha_tau_g1 = points(SEC_LAGRANGE_ALPHA_TAU_G1, 2 * n - 1, G1)
        p.lagrange_beta_tau_g1 = points(SEC_LAGRANGE_BETA_TAU_G1, 2 * n - 1, G1)
    extra = [s for s in bf.section_ids if s not in PREPARED_ORDER]
    if extra:
        raise FormatError(f"{bf.name}: unexpected sections {extra}")
    try:
        p.validate(check_points=check_points)
    except FormatError as e:
        raise FormatError(f"{bf.name}: {e}") from None
    return p


def write_ptau(p: Ptau, path: str | os.PathLike) -> None:
    """Write a ptau; sections in p.section_order or snarkjs's order."""
    p.validate(check_points=False)
    header = u32(p.n8) + p.q.to_bytes(p.n8, "little") + u32(p.power) + u32(p.ceremony_power)
    payload: dict[int, object] = {
        SEC_HEADER: header,
        SEC_TAU_G1: p.tau_g1, SEC_TAU_G2: p.tau_g2, SEC_ALPHA_TAU_G1: p.alpha_tau_g1,
        SEC_BETA_TAU_G1: p.beta_tau_g1, SEC_BETA_G2: p.beta_g2,
        SEC_CONTRIBUTIONS: bytes(p.contributions),
    }
    if p.prepared:
        payload.update({
            SEC_LAGRANGE_TAU_G1: p.lagrange_tau_g1, SEC_LAGRANGE_TAU_G2: p.lagrange_tau_g2,
            SEC_LAGRANGE_ALPHA_TAU_G1: p.lagrange_alpha_tau_g1,
            SEC_LAGRANGE_BETA_TAU_G1: p.lagrange_beta_tau_g1,
        })
    order = [s for s in (p.section_order or PREPARED_ORDER) if s in payload]
    order += [s for s in PREPARED_ORDER if s in payload and s not in order]
    sections = [(s, np.asarray(payload[s], dtype="<u8") if isinstance(payload[s], np.ndarray)
                 else payload[s]) for s in order]
    write_container(path, MAGIC, VERSION, sections)


# --- section 7: the phase-1 contributions ----------------------------------------------------

KEY_PARTS = ("tau", "alpha", "beta")
PARTIAL_HASH_BYTES = 216
_G1_BYTES, _G2_BYTES = 64, 128
RECORD_FIXED = 3 * _G1_BYTES + 2 * _G2_BYTES + 6 * _G1_BYTES + 3 * _G2_BYTES + 216 + 64


@dataclass(frozen=True)
class PtauKeyPart:
    """One secret's public key: g1_s, g1_sx = x g1_s, g2_spx = x hashToG2(...)."""

    g1_s: np.ndarray  # (2, 4)
    g1_sx: np.ndarray  # (2, 4)
    g2_spx: np.ndarray  # (2, 2, 4)


@dataclass(frozen=True)
class PtauContribution:
    """One record of section 7 (powersoftau_utils.js readContribution), points affine LEM."""

    tau_g1: np.ndarray  # [tau]_1 after the contribution: tauG1[1]
    tau_g2: np.ndarray  # tauG2[1]
    alpha_g1: np.ndarray  # alphaTauG1[0]
    beta_g1: np.ndarray  # betaTauG1[0]
    beta_g2: np.ndarray  # betaG2
    key: dict[str, PtauKeyPart]  # "tau", "alpha", "beta"
    partial_hash: bytes  # the response hasher's state before the public key (216 bytes)
    next_challenge: bytes  # BLAKE2b-512 of the response hash and the new points
    type: int = 0  # 0 = contribution, 1 = beacon
    name: str | None = None
    num_iterations_exp: int | None = None
    beacon_hash: bytes | None = None


def _js_substring64(name: str) -> bytes:
    """TextEncoder().encode(name.substring(0, 64)): 64 UTF-16 code units; a surrogate pair cut
    in half leaves a lone surrogate, which the encoder writes as U+FFFD."""
    cut = name.encode("utf-16-le", "surrogatepass")[:128].decode("utf-16-le", "surrogatepass")
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in cut).encode()


def encode_params(c: PtauContribution) -> bytes:
    """The parameter list of writeContribution: 1 name, then for a beacon 2 numIterationsExp and
    3 beaconHash (type, length, bytes)."""
    out = b""
    if c.name:
        raw = _js_substring64(c.name)
        out += bytes([1, len(raw)]) + raw
    if c.type == 1:
        out += bytes([2, c.num_iterations_exp or 0, 3, len(c.beacon_hash or b"")])
        out += bytes(c.beacon_hash or b"")
    return out


def _g(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr, dtype="<u8").tobytes()


def encode_contribution(c: PtauContribution) -> bytes:
    key = b"".join([_g(c.key[p].g1_s) + _g(c.key[p].g1_sx) for p in KEY_PARTS]
                   + [_g(c.key[p].g2_spx) for p in KEY_PARTS])
    params = encode_params(c)
    return (_g(c.tau_g1) + _g(c.tau_g2) + _g(c.alpha_g1) + _g(c.beta_g1) + _g(c.beta_g2) + key
            + bytes(c.partial_hash) + bytes(c.next_challenge)
            + struct.pack("<II", c.type, len(params)) + params)


def encode_contributions(cs: list[PtauContribution]) -> bytes:
    """Section 7's payload: the count, then each record."""
    return u32(len(cs)) + b"".join(encode_contribution(c) for c in cs)


def parse_contributions(raw: bytes | np.ndarray) -> list[PtauContribution]:
    """Section 7 as snarkjs reads it (readContributions); FormatError where snarkjs throws."""
    data = bytes(raw)
    if len(data) < 4:
        raise FormatError("contributions section: truncated")
    n = int.from_bytes(data[:4], "little")
    pos, out = 4, []

    def take(k: int) -> bytes:
        nonlocal pos
        if pos + k > len(data):
            raise FormatError(f"contributions section: truncated in contribution #{len(out) + 1}")
        pos += k
        return data[pos - k : pos]

    def point(k: int, shape: tuple[int, ...]) -> np.ndarray:
        return np.frombuffer(take(k), dtype="<u8").astype(np.uint64).reshape(shape)

    for _ in range(n):
        pts = [point(_G1_BYTES, G1), point(_G2_BYTES, G2), point(_G1_BYTES, G1),
               point(_G1_BYTES, G1), point(_G2_BYTES, G2)]
        g1 = [point(_G1_BYTES, G1) for _ in range(6)]
        g2 = [point(_G2_BYTES, G2) for _ in range(3)]
        key = {p: PtauKeyPart(g1[2 * i], g1[2 * i + 1], g2[i]) for i, p in enumerate(KEY_PARTS)}
        partial, nxt = take(PARTIAL_HASH_BYTES), take(64)
        ctype, plen = struct.unpack("<II", take(8))
        params, last = take(plen), 0
        name = exp = beacon = None
        i = 0
        while i < len(params):
            t = params[i]
            if t <= last:
                raise FormatError("Parameters in the contribution must be sorted")
            last = t
            if t == 1 and i + 1 < len(params):
                ln = params[i + 1]
                name = params[i + 2 : i + 2 + ln].decode("utf-8", "replace")
                i += 2 + ln
            elif t == 2 and i + 1 < len(params):
                exp = params[i + 1]
                i += 2
            elif t == 3 and i + 1 < len(params):
                ln = params[i + 1]
                beacon = params[i + 2 : i + 2 + ln]
                i += 2 + ln
            else:
                raise FormatError("Parameter not recognized" if t not in (1, 2, 3)
                                  else "Parameters do not match")
            if i > len(params):
                raise FormatError("Parameters do not match")
        out.append(PtauContribution(*pts, key, partial, nxt, ctype, name, exp, beacon))
    if pos != len(data):
        raise FormatError("Invalid contribution section size")
    return out
