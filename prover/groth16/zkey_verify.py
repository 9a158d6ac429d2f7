"""`zkey verify`: a Groth16 zkey is the circuit's key from this ptau, moved by a valid chain of
phase-2 contributions (the checks of snarkjs's zkey_verify_frominit.js).

  1. Contribution i (x_i its secret): transcript_i = BLAKE2b-512(csHash || pubkey_1 .. pubkey_i-1
     || U(g1_s) || U(g1_sx)); e(g1_s, g2_spx) = e(g1_sx, g2_sp) with g2_sp = hashToG2(transcript_i);
     e(delta_i-1, g2_spx) = e(delta_i, g2_sp), delta_0 = g1; a beacon's g1_s, g1_sx are the ones
     its beacon derives (contribute.beacon_key).
  2. The key `groth16 setup` derives from the r1cs and ptau (init) has the same fields, sizes,
     alpha1, beta1, beta2, gamma2 and circuit hash, and the same IC, coefficient, A, B1 and B2
     sections byte for byte; delta1 = delta_k and e(g1, delta2) = e(delta1, g2).
  3. L and H are init's over delta: e(sum r_j P_j, delta2) = e(sum r_j P'_j, g2) for init's
     points P', the key's P and random 128-bit r_j. snarkjs checks H against the ptau's tauG1
     instead of its Lagrange section: the same verdict for any ptau `powersoftau verify` accepts.
A failed check raises ZkeyMismatch with snarkjs's reason; a passing key returns ZkeyReport.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

import numpy as np

from prover.constants import Q
from prover.curves import G1, G2
from prover.errors import ProverInputError
from prover.formats.zkey import Zkey, ZkeyContribution, parse_contributions, read_zkey
from prover.groth16.contribute import _pubkey_bytes, beacon_key, hash_to_g2
from prover.groth16.setup import _uncompressed, setup_from_ptau
from prover.msm import msm_g1
from prover.pairing import pairing_product_is_one


class ZkeyMismatch(ProverInputError):
    """The zkey does not follow from the r1cs and ptau through its contributions."""


@dataclass(frozen=True)
class ZkeyReport:
    cs_hash: bytes
    contributions: list[ZkeyContribution]
    contribution_hashes: list[bytes]  # BLAKE2b-512 of each contribution's public key


def same_ratio(g1s: np.ndarray, g1sx: np.ndarray, g2s: np.ndarray, g2sx: np.ndarray) -> bool:
    """e(g1s, g2sx) == e(g1sx, g2s) for affine Montgomery arrays; False when a point is the
    point at infinity (as snarkjs's sameRatio) or is not a curve point of the group."""
    p1 = np.stack([np.asarray(g1s), np.asarray(g1sx)])
    p2 = np.stack([np.asarray(g2s), np.asarray(g2sx)])
    if not (G1.is_on_curve(p1).all() and G2.in_subgroup(p2).all()):
        return False
    a, b = G1.to_ints(p1)
    c, d = G2.to_ints(p2)
    if a is None or b is None or c is None or d is None:
        return False
    return pairing_product_is_one([(a, d), ((b[0], (Q - b[1]) % Q), c)])


def _fail(reason: str) -> None:
    raise ZkeyMismatch(reason)


def verify_chain(cs_hash: bytes, contributions: list[ZkeyContribution]) -> tuple[np.ndarray,
                                                                                  list[bytes]]:
    """Check 1 of the module doc; returns (the last delta1, each contribution's hash)."""
    acc = hashlib.blake2b(digest_size=64)
    acc.update(cs_hash)
    cur_delta = G1.generator()
    hashes = []
    for i, c in enumerate(contributions):
        h = acc.copy()
        h.update(_uncompressed(G1, c.g1_s) + _uncompressed(G1, c.g1_sx))
        if h.digest() != bytes(c.transcript):
            _fail(f"INVALID({i}): Inconsistent transcript")
        g2_sp = G2.from_ints([hash_to_g2(bytes(c.transcript))], check=False)[0]
        if not same_ratio(c.g1_s, c.g1_sx, g2_sp, c.g2_spx):
            _fail(f"INVALID({i}): public key G1 and G2 do not have the same ratio")
        if not same_ratio(cur_delta, c.delta_after, g2_sp, c.g2_spx):
            _fail(f"INVALID({i}): deltaAfter does not follow the public key")
        if c.type == 1:
            if c.beacon_hash is None or c.num_iterations_exp is None:
                _fail(f"INVALID({i}): beacon contribution without its beacon")
            _, g1_s, g1_sx = beacon_key(c.beacon_hash, c.num_iterations_exp)
            if not np.array_equal(g1_s, c.g1_s):
                _fail(f"INVALID({i}): Key of the beacon does not match. g1_s")
            if not np.array_equal(g1_sx, c.g1_sx):
                _fail(f"INVALID({i}): Key of the beacon does not match. g1_sx")
        pub = _pubkey_bytes(c)
        acc.update(pub)
        hashes.append(hashlib.blake2b(pub, digest_size=64).digest())
        cur_delta = c.delta_after
    return cur_delta, hashes


def _same_section_ratio(init_pts: np.ndarray, pts: np.ndarray, delta2: np.ndarray,
                        init_delta2: np.ndarray) -> bool:
    """pts_j = init_pts_j * (init_delta2 / delta2) for all j, by one random combination."""
    if len(pts) == 0:
        return True
    r = [secrets.randbits(128) for _ in range(len(pts))]
    r1 = msm_g1(np.ascontiguousarray(init_pts), r)
    r2 = msm_g1(np.ascontiguousarray(pts), r)
    return same_ratio(r1, r2, delta2, init_delta2)


def verify_zkey(r1cs, ptau, zkey: Zkey | str | os.PathLike) -> ZkeyReport:
    """Checks 1-3 of the module doc; raises ZkeyMismatch naming the first that fails."""
    z = zkey if isinstance(zkey, Zkey) else read_zkey(zkey)
    if z.contributions is None:
        _fail("INVALID: the zkey has no contributions section (10)")
    cs_hash, contributions = parse_contributions(z.contributions)
    cur_delta, hashes = verify_chain(cs_hash, contributions)

    init = setup_from_ptau(r1cs, ptau)
    if (init.q, init.r, init.n8q, init.n8r) != (z.q, z.r, z.n8q, z.n8r):
        _fail("INVALID: Different curves")
    if (init.n_vars, init.n_public, init.domain_size) != (z.n_vars, z.n_public, z.domain_size):
        _fail("INVALID: Different circuit parameters")
    for name in ("alpha1", "beta1", "beta2", "gamma2"):
        if not np.array_equal(getattr(z, name), getattr(init, name)):
            _fail(f"INVALID: Invalid {name}")
    if not np.array_equal(z.delta1, cur_delta):
        _fail("INVALID: Invalid delta1")
    if not same_ratio(G1.generator(), cur_delta, G2.generator(), z.delta2):
        _fail("INVALID: Invalid delta2")
    if cs_hash != init.cs_hash:
        _fail("INVALID: Circuit does not match")
    for name, what in (("ic", "IC"), ("coeffs", "Coeffs"), ("a", "A"), ("b1", "B1"),
                       ("b2", "B2")):
        if np.asarray(getattr(z, name)).tobytes() != np.asarray(getattr(init, name)).tobytes():
            _fail(f"{what} section is not identical")
    if not _same_section_ratio(init.c, z.c, z.delta2, init.delta2):
        _fail("L section does not match")
    if not _same_section_ratio(init.h, z.h, z.delta2, init.delta2):
        _fail("H section does not match")
    return ZkeyReport(cs_hash, contributions, hashes)


def format_hash(h: bytes, title: str | None = None) -> str:
    """snarkjs's formatHash: four lines of four big-endian u32 words, each line "\\t\\t"."""
    lines = ["\t\t" + " ".join(h[i + 4 * j:i + 4 * j + 4].hex() for j in range(4))
             for i in range(0, 64, 16)]
    return "\n".join(([title] if title else []) + lines)


def report_lines(rep: ZkeyReport) -> list[str]:
    """What `snarkjs zkey verify` prints after its setup step, without the logger prefix."""
    out = format_hash(rep.cs_hash, "Circuit Hash: ").split("\n")
    for i in range(len(rep.contributions) - 1, -1, -1):
        c = rep.contributions[i]
        out.append("-" * 25)
        out += format_hash(rep.contribution_hashes[i],
                           f"contribution #{i + 1} {c.name or ''}:").split("\n")
        if c.type == 1:
            out.append(f"Beacon generator: {bytes(c.beacon_hash or b'').hex()}")
            out.append(f"Beacon iterations Exp: {c.num_iterations_exp}")
    out += ["-" * 25, "ZKey Ok!"]
    return out
