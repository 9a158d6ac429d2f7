"""`powersoftau new | contribute | beacon`: a phase-1 ceremony, files byte-compatible with snarkjs.

new: every point the generator, no contribution. A contribution with secrets (tau, alpha, beta)
maps tauG1_j, tauG2_j -> tau^j (.), alphaTauG1_j -> alpha tau^j (.), betaTauG1_j -> beta tau^j (.),
betaG2 -> beta (.), and appends its record to section 7 (formats.ptau.PtauContribution):
    response = BLAKE2b(challenge || C(new sections 2..6) || U(public key))
    next challenge = BLAKE2b(response || U(new sections 2..6))
where challenge is the previous record's next challenge (transcript.first_challenge for the
first), C/U the compressed/uncompressed encodings, and the record keeps the response hasher's
state before the key (transcript.NobleBlake2b, hashed in snarkjs's chunks of 2^20 bytes of
points). A beacon derives its key from a public value (keys.beacon_key): the output is then
deterministic and equal to snarkjs's byte for byte; so is `new`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from prover.constants import Q, R
from prover.curves import G1, G2, CurveGroup
from prover.errors import ProverInputError
from prover.formats.container import u32, write_container
from prover.formats.ptau import (
    MAGIC,
    PHASE1_ORDER,
    VERSION,
    Ptau,
    PtauContribution,
    encode_contributions,
    parse_contributions,
    read_ptau,
    write_ptau,
)
from prover.glv import decomposition_table
from prover.kernels.cpu import group_fft as kf
from prover.powersoftau.keys import PtauKey, beacon_key, create_key, public_key_bytes, random_rng
from prover.powersoftau.lagrange import chunk_rows, dims, endo_consts
from prover.powersoftau.transcript import (
    NobleBlake2b,
    compressed,
    first_challenge,
    hash_points,
    uncompressed,
)

MAX_POWER = 28  # Fr's 2-adicity; snarkjs: "Power must be between 1 and 28"
BEACON_MIN_EXP, BEACON_MAX_EXP = 10, 63
CURVE_NAMES = ("BN128", "BN254", "ALTBN128")  # snarkjs getCurveFromName, normalized
Progress = Callable[[str], None]


class CeremonyError(ProverInputError):
    """A ceremony step refused its input (reduced file, bad beacon, unknown curve)."""


def check_curve(name: str) -> None:
    norm = "".join(ch for ch in name.upper() if ch.isalnum())
    if norm == "BLS12381":
        raise CeremonyError("curve bls12-381 is not supported here (only bn128)")
    if norm not in CURVE_NAMES:
        raise CeremonyError(f"Curve not supported: {name}")


def new_ptau(power: int) -> Ptau:
    """The file `snarkjs powersoftau new bn128 POWER` writes."""
    if not 1 <= power <= MAX_POWER:
        raise CeremonyError(f"Power must be between 1 and {MAX_POWER}")
    n = 1 << power
    g1, g2 = G1.generator(), G2.generator()
    return Ptau(q=Q, power=power, ceremony_power=power,
                tau_g1=np.broadcast_to(g1, (2 * n - 1, *g1.shape)),
                tau_g2=np.broadcast_to(g2, (n, *g2.shape)),
                alpha_tau_g1=np.broadcast_to(g1, (n, *g1.shape)),
                beta_tau_g1=np.broadcast_to(g1, (n, *g1.shape)),
                beta_g2=g2, contributions=encode_contributions([]), section_order=PHASE1_ORDER)


def new_file(power: int, path: str | os.PathLike) -> bytes:
    """Write `powersoftau new`'s file, streamed in blocks of repeated generators (no array of
    the whole file); returns the first challenge hash."""
    p = new_ptau(power)  # validates the power; its arrays are broadcast views

    def repeated(pt: np.ndarray, count: int) -> list[np.ndarray]:
        block = np.ascontiguousarray(np.broadcast_to(pt, (min(count, 1 << 16), *pt.shape)))
        full, rest = divmod(count, len(block))
        return [block] * full + ([block[:rest]] if rest else [])

    header = u32(32) + Q.to_bytes(32, "little") + u32(power) + u32(power)
    write_container(path, MAGIC, VERSION, [
        (1, header), (2, repeated(p.tau_g1[0], len(p.tau_g1))),
        (3, repeated(p.tau_g2[0], len(p.tau_g2))),
        (4, repeated(p.alpha_tau_g1[0], len(p.alpha_tau_g1))),
        (5, repeated(p.beta_tau_g1[0], len(p.beta_tau_g1))),
        (6, np.ascontiguousarray(p.beta_g2)), (7, p.contributions)])
    return first_challenge(power)


def _apply(group: CurveGroup, points: np.ndarray, first: int, inc: int) -> np.ndarray:
    """points_j * first * inc^j (GLV per point), affine."""
    n = len(points)
    if n == 0:
        return group.empty_affine(0)
    scalars, t = [], first % R
    for _ in range(n):
        scalars.append(t)
        t = t * inc % R
    k, neg = decomposition_table(scalars, dims(group))
    jac = group.to_jacobian(np.ascontiguousarray(points))
    kf.mul_each(jac, k, neg, endo_consts(group), chunk_rows(n))
    out = group.empty_affine(n)
    kf.to_affine(jac, out, max(64, chunk_rows(n) * 16))
    return out


# Points per response-hash update: snarkjs processes sections in chunks of 2^20 bytes of points.
RESPONSE_CHUNK = {1: (1 << 20) // 64, 2: (1 << 20) // 128}


@dataclass(frozen=True)
class ContributionResult:
    ptau: Ptau
    response_hash: bytes
    next_challenge: bytes


def apply_key(p: Ptau, make_key: Callable[[bytes], PtauKey], record: PtauContribution,
              progress: Progress | None = None) -> ContributionResult:
    """p moved by the key make_key(challenge), with `record` (type, name, beacon fields)
    completed and appended."""
    if p.power != p.ceremony_power:
        raise CeremonyError("This file has been reduced. You cannot contribute into a reduced "
                            "file.")
    previous = parse_contributions(p.contributions)
    challenge = previous[-1].next_challenge if previous else first_challenge(p.power)
    key = make_key(challenge)
    tau, alpha, beta = (key.secrets[x] for x in ("tau", "alpha", "beta"))
    sections = []
    for name, group, pts, first in (("tauG1", G1, p.tau_g1, 1), ("tauG2", G2, p.tau_g2, 1),
                                    ("alphaTauG1", G1, p.alpha_tau_g1, alpha),
                                    ("betaTauG1", G1, p.beta_tau_g1, beta),
                                    ("betaG2", G2, np.asarray(p.beta_g2)[None], beta)):
        if progress:
            progress(f"applying the key to {name}")
        sections.append((group, _apply(group, pts, first, tau)))
    response = NobleBlake2b().update(challenge)
    for group, pts in sections:
        step = RESPONSE_CHUNK[group.degree]
        for i in range(0, len(pts), step):
            response.update(compressed(group, pts[i : i + step]))
    partial = response.partial()
    response_hash = response.update(public_key_bytes(key.public)).digest()
    nxt = hashlib.blake2b(response_hash, digest_size=64)
    for group, pts in sections:
        hash_points(nxt, group, pts, uncompressed)
    (_, t1), (_, t2), (_, a1), (_, b1), (_, b2) = sections
    rec = replace(record, tau_g1=t1[1], tau_g2=t2[1], alpha_g1=a1[0], beta_g1=b1[0],
                  beta_g2=b2[0], key=key.public, partial_hash=partial,
                  next_challenge=nxt.digest())
    out = Ptau(q=p.q, power=p.power, ceremony_power=p.power, tau_g1=t1, tau_g2=t2,
               alpha_tau_g1=a1, beta_tau_g1=b1, beta_g2=b2[0],
               contributions=encode_contributions([*previous, rec]),
               section_order=PHASE1_ORDER)
    return ContributionResult(out, response_hash, rec.next_challenge)


def _record(ctype: int, name: str | None, **kw) -> PtauContribution:
    z1, z2 = G1.empty_affine(1)[0], G2.empty_affine(1)[0]
    return PtauContribution(z1, z2, z1, z1, z2, {}, b"", b"", ctype, name or None, **kw)


def contribute(p: Ptau, name: str | None = None, entropy: str | None = None,
               progress: Progress | None = None) -> ContributionResult:
    """A contribution from fresh randomness (the secrets are not kept)."""
    rng = random_rng(entropy)
    return apply_key(p, lambda ch: create_key(ch, rng), _record(0, name), progress)


def parse_beacon_hex(text: str) -> bytes:
    """The beacon as snarkjs accepts it: hexadecimal digits in pairs, 1 to 255 bytes."""
    import re

    if not text or not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        raise CeremonyError("Invalid Beacon Hash. (It must be a valid hexadecimal sequence)")
    raw = bytes.fromhex(text)
    if len(raw) >= 256:
        raise CeremonyError("Maximum length of beacon hash is 255 bytes")
    return raw


def beacon(p: Ptau, beacon_hash: bytes, num_iterations_exp: int, name: str | None = None,
           progress: Progress | None = None) -> ContributionResult:
    """The final contribution from a public beacon: byte for byte snarkjs's."""
    if not BEACON_MIN_EXP <= num_iterations_exp <= BEACON_MAX_EXP:
        raise CeremonyError(f"Invalid numIterationsExp. (Must be between {BEACON_MIN_EXP} and "
                            f"{BEACON_MAX_EXP})")
    if not 0 < len(beacon_hash) < 256:
        raise CeremonyError("the beacon hash must be 1 to 255 bytes")
    rec = _record(1, name, num_iterations_exp=num_iterations_exp, beacon_hash=bytes(beacon_hash))
    return apply_key(p, lambda ch: beacon_key(ch, beacon_hash, num_iterations_exp), rec,
                     progress)


def contribute_file(src, dst, name=None, entropy=None, progress=None) -> ContributionResult:
    res = contribute(read_ptau(src), name, entropy, progress)
    write_ptau(res.ptau, dst)
    return res


def beacon_file(src, dst, beacon_hash: bytes, num_iterations_exp: int, name=None,
                progress=None) -> ContributionResult:
    res = beacon(read_ptau(src), beacon_hash, num_iterations_exp, name, progress)
    write_ptau(res.ptau, dst)
    return res

