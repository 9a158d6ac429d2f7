"""`powersoftau verify`: the checks of snarkjs's powersoftau_verify.js, one typed error per failure.

1. Each contribution i against its predecessor (the generators and the first challenge for #1):
   a beacon's key is the one its beacon derives; with g2_sp = hashToG2(BLAKE2b(pers ||
   challenge_{i-1} || U(g1_s) || U(g1_sx))), e(g1_s, g2_spx) = e(g1_sx, g2_sp) for tau, alpha and
   beta, and its tauG1, tauG2, alphaG1, betaG1, betaG2 follow the previous ones by those ratios.
2. The last contribution matches the file: with random r_j, sum r_j P_j and sum r_j P_{j+1} have
   the ratio tau (pairing against tauG2[1], or tauG1[1] for the G2 section); the first points
   are the generators / the record's points; BLAKE2b(response || U(sections 2-6)) is the
   record's next challenge (response: the record's partial hash resumed over its key).
3. A prepared file: for every domain 2^p, sum r_j T_j = sum NTT(r)_i L_i (the Lagrange section
   is the basis of the powers), all domains of a section in one random combination.
snarkjs draws 32-bit random coefficients; these are 64-bit. Failures raise PtauMismatch.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from prover.curves import G1, G2, CurveGroup
from prover.errors import ProverInputError
from prover.fields import Fr
from prover.formats.ptau import KEY_PARTS, Ptau, PtauContribution, parse_contributions, read_ptau
from prover.groth16.zkey_verify import format_hash, same_ratio
from prover.msm import msm
from prover.ntt import ntt
from prover.powersoftau.keys import beacon_key, g2_sp, public_key_bytes
from prover.powersoftau.transcript import NobleBlake2b, first_challenge, hash_points, uncompressed

Progress = Callable[[str], None]
SEPARATOR = "-" * 53


class PtauMismatch(ProverInputError):
    """The .ptau does not verify (the reason names the first failed check)."""


@dataclass(frozen=True)
class PtauReport:
    lines: list[str]  # what snarkjs logs at INFO level, in its order
    prepared: bool


def _fail(msg: str) -> None:
    raise PtauMismatch(msg)


def _eq(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


@dataclass(frozen=True)
class _Prev:
    tau_g1: np.ndarray
    tau_g2: np.ndarray
    alpha_g1: np.ndarray
    beta_g1: np.ndarray
    beta_g2: np.ndarray
    next_challenge: bytes


def _initial(ceremony_power: int) -> _Prev:
    g1, g2 = G1.generator(), G2.generator()
    return _Prev(g1, g2, g1, g1, g2, first_challenge(ceremony_power))


def response_hash(c: PtauContribution) -> bytes:
    return NobleBlake2b.from_partial(c.partial_hash).update(public_key_bytes(c.key)).digest()


def verify_contribution(cur: PtauContribution, prev, cid: int) -> None:
    """Check 1 of the module doc for contribution #cid."""
    who = f"challenge #{cid}  {cur.name or ''}"
    if cur.type == 1:
        if cur.beacon_hash is None or cur.num_iterations_exp is None:
            _fail(f"BEACON contribution #{cid} without its beacon parameters")
        key = beacon_key(prev.next_challenge, cur.beacon_hash, cur.num_iterations_exp).public
        for p in KEY_PARTS:
            for f, label in (("g1_s", "G1_s"), ("g1_sx", "G1_sx"), ("g2_spx", "G2_spx")):
                if not _eq(getattr(cur.key[p], f), getattr(key[p], f)):
                    _fail(f"BEACON key ({p}{label}) is not generated correctly in {who}")
    sp = {p: g2_sp(i, prev.next_challenge, cur.key[p].g1_s, cur.key[p].g1_sx)
          for i, p in enumerate(KEY_PARTS)}
    for p in KEY_PARTS:
        k = cur.key[p]
        if not same_ratio(k.g1_s, k.g1_sx, sp[p], k.g2_spx):
            _fail(f"INVALID key ({p}) in challenge #{cid}")
    tau, alpha, beta = (cur.key[p] for p in KEY_PARTS)
    follow = "It does not follow the previous contribution"
    if not same_ratio(prev.tau_g1, cur.tau_g1, sp["tau"], tau.g2_spx):
        _fail(f"INVALID tau*G1. challenge #{cid} {follow}")
    if not same_ratio(tau.g1_s, tau.g1_sx, prev.tau_g2, cur.tau_g2):
        _fail(f"INVALID tau*G2. challenge #{cid} {follow}")
    if not same_ratio(prev.alpha_g1, cur.alpha_g1, sp["alpha"], alpha.g2_spx):
        _fail(f"INVALID alpha*G1. challenge #{cid} {follow}")
    if not same_ratio(prev.beta_g1, cur.beta_g1, sp["beta"], beta.g2_spx):
        _fail(f"INVALID beta*G1. challenge #{cid} {follow}")
    if not same_ratio(beta.g1_s, beta.g1_sx, prev.beta_g2, cur.beta_g2):
        _fail(f"INVALID beta*G2. challenge #{cid} {follow}")


def _random(n: int) -> np.ndarray:
    """n random 64-bit scalars as plain limbs (n, 4)."""
    r = np.zeros((n, 4), dtype=np.uint64)
    r[:, 0] = np.frombuffer(secrets.token_bytes(8 * n), dtype="<u8")
    return r


def _powers_ratio(group: CurveGroup, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum r_j P_j, sum r_j P_(j+1)) over j < n - 1, random r."""
    r = _random(len(pts) - 1)
    return (msm(group, np.ascontiguousarray(pts[:-1]), r),
            msm(group, np.ascontiguousarray(pts[1:]), r))


def _check_on_curve(p: Ptau) -> None:
    for name, group, arr in (("tauG1", G1, p.tau_g1), ("tauG2", G2, p.tau_g2),
                             ("alphaTauG1", G1, p.alpha_tau_g1),
                             ("betaTauG1", G1, p.beta_tau_g1), ("betaG2", G2, p.beta_g2[None])):
        ok = group.is_on_curve(np.ascontiguousarray(arr)).reshape(-1)
        if not ok.all():
            _fail(f"{name} section: point #{int(np.argmax(~ok))} is not on the curve")


def verify_sections(p: Ptau, cur: PtauContribution, resp: bytes) -> bytes:
    """Check 2 of the module doc; returns the next challenge hash the file implies."""
    g1, g2 = G1.generator(), G2.generator()
    _check_on_curve(p)
    r1, r2 = _powers_ratio(G1, p.tau_g1)
    if not same_ratio(r1, r2, g2, cur.tau_g2):
        _fail("tauG1 section. Powers do not match")
    if not _eq(p.tau_g1[0], g1):
        _fail("First element of tau*G1 section must be the generator")
    if not _eq(p.tau_g1[1], cur.tau_g1):
        _fail("Second element of tau*G1 section does not match the one in the contribution "
              "section")
    r1, r2 = _powers_ratio(G2, p.tau_g2)
    if not same_ratio(g1, cur.tau_g1, r1, r2):
        _fail("tauG2 section. Powers do not match")
    if not _eq(p.tau_g2[0], g2):
        _fail("First element of tau*G2 section must be the generator")
    if not _eq(p.tau_g2[1], cur.tau_g2):
        _fail("Second element of tau*G2 section does not match the one in the contribution "
              "section")
    for name, arr, first in (("alpha", p.alpha_tau_g1, cur.alpha_g1),
                             ("beta", p.beta_tau_g1, cur.beta_g1)):
        r1, r2 = _powers_ratio(G1, arr)
        if not same_ratio(r1, r2, g2, cur.tau_g2):
            _fail(f"{name}TauG1 section. Powers do not match")
        if not _eq(arr[0], first):
            _fail(f"First element of {name}*tau*G1 section ({name}*G1) does not match the one "
                  "in the contribution section")
    if not _eq(p.beta_g2, cur.beta_g2):
        _fail("betaG2 element in betaG2 section does not match the one in the contribution "
              "section")
    h = hashlib.blake2b(resp, digest_size=64)
    for group, arr in ((G1, p.tau_g1), (G2, p.tau_g2), (G1, p.alpha_tau_g1),
                       (G1, p.beta_tau_g1), (G2, p.beta_g2[None])):
        hash_points(h, group, arr, uncompressed)
    return h.digest()


def verify_lagrange(group: CurveGroup, powers: np.ndarray, bases: np.ndarray, top: int,
                    what: str) -> None:
    """Check 3 for one section: powers T, bases = the Lagrange section (domains 2^0..2^top)."""
    m = min(len(powers), 1 << top)
    coeff_t = Fr.zeros(m)
    coeff_l = []
    for p in range(top + 1):
        n = 1 << p
        r = Fr.to_montgomery(_random(n))
        if n > len(powers):  # tauG1's largest domain: its last monomial is not in the file
            r[-1] = 0
        coeff_t[: min(n, m)] = Fr.add(coeff_t[: min(n, m)], r[: min(n, m)])
        coeff_l.append(ntt(r))  # NTT(r)_i = sum_j r_j w^(ij): r's polynomial on the domain
    lhs = msm(group, np.ascontiguousarray(powers[:m]), coeff_t, scalar_form="montgomery")
    flat = np.concatenate(coeff_l)
    rhs = msm(group, np.ascontiguousarray(bases[: len(flat)]), flat, scalar_form="montgomery")
    if not _eq(lhs, rhs):
        _fail(f"{what}: the phase 2 values do not match the powers of tau")


def verify_ptau(src: str | os.PathLike | Ptau, progress: Progress | None = None) -> PtauReport:
    """All checks of the module doc; PtauMismatch names the first that fails."""
    p = src if isinstance(src, Ptau) else read_ptau(src)
    contributions = parse_contributions(p.contributions)
    if not contributions:
        _fail("This file has no contribution! It cannot be used in production")
    initial = _initial(p.ceremony_power)
    prevs = [initial, *contributions]
    last = len(contributions)
    if progress:
        progress(f"contribution #{last}")
    verify_contribution(contributions[-1], prevs[last - 1], last)
    lines = ["Powers Of tau file OK!"]
    resp = response_hash(contributions[-1])
    if progress:
        progress("sections 2-6")
    nxt = verify_sections(p, contributions[-1], resp)
    if p.power == p.ceremony_power and nxt != contributions[-1].next_challenge:
        _fail("Hash of the values does not match the next challenge of the last contributor "
              "in the contributions section")
    lines += format_hash(nxt, "Next challenge hash: ").split("\n")
    for i in range(last, 0, -1):
        c = contributions[i - 1]
        if i < last:
            if progress:
                progress(f"contribution #{i}")
            verify_contribution(c, prevs[i - 1], i)
            lines.append("Powers Of tau file OK!")
        lines += _describe(c, prevs[i - 1], i, response_hash(c))
    lines.append(SEPARATOR)
    if p.prepared:
        for what, group, pw, lag, top in (
                ("tauG1", G1, p.tau_g1, p.lagrange_tau_g1, p.power + 1),
                ("tauG2", G2, p.tau_g2, p.lagrange_tau_g2, p.power),
                ("alphaTauG1", G1, p.alpha_tau_g1, p.lagrange_alpha_tau_g1, p.power),
                ("betaTauG1", G1, p.beta_tau_g1, p.lagrange_beta_tau_g1, p.power)):
            if progress:
                progress(f"phase 2 values of {what}")
            verify_lagrange(group, pw, lag, top, what)
    lines.append("Powers of Tau Ok!")
    return PtauReport(lines, p.prepared)


def _describe(c: PtauContribution, prev, i: int, resp: bytes) -> list[str]:
    """printContribution's lines."""
    out = [SEPARATOR, f"Contribution #{i}: {c.name or ''}"]
    out += format_hash(c.next_challenge, "Next Challenge: ").split("\n")
    out += format_hash(resp, "Response Hash:").split("\n")
    out += format_hash(prev.next_challenge, "Response Hash:").split("\n")
    if c.type == 1:
        out.append(f"Beacon generator: {bytes(c.beacon_hash or b'').hex()}")
        out.append(f"Beacon iterations Exp: {c.num_iterations_exp}")
    return out
