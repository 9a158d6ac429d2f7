"""A phase-1 contribution's secrets (tau, alpha, beta) and their public key (keypair.js).

From a ChaCha20 stream: tau, alpha, beta = Fr.fromRng x 3; then for each, with personalization
0, 1, 2: g1_s = G1.fromRng, g1_sx = x g1_s, g2_sp = hashToG2(BLAKE2b(pers || challenge ||
U(g1_s) || U(g1_sx))), g2_spx = x g2_sp. A contribution seeds the stream from BLAKE2b(64 random
bytes || entropy) (misc.js getRandomRng); a beacon from SHA-256 iterated 2^exp times over the
beacon hash (rngFromBeaconParams), so anyone can re-derive a beacon's key.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from dataclasses import dataclass

import numpy as np

from prover.curves import G1, G2
from prover.formats.ptau import KEY_PARTS, PtauKeyPart
from prover.groth16.contribute import (
    ChaCha20Rng,
    _fr_from_rng,
    _g1_from_rng,
    beacon_rng,
    hash_to_g2,
)
from prover.powersoftau.transcript import uncompressed


@dataclass(frozen=True)
class PtauKey:
    secrets: dict[str, int]  # "tau", "alpha", "beta"
    public: dict[str, PtauKeyPart]


def g2_sp(personalization: int, challenge: bytes, g1_s: np.ndarray,
          g1_sx: np.ndarray) -> np.ndarray:
    """keypair.js getG2sp, affine."""
    h = hashlib.blake2b(digest_size=64)
    h.update(bytes([personalization]) + bytes(challenge))
    h.update(uncompressed(G1, np.asarray(g1_s)[None]) + uncompressed(G1, np.asarray(g1_sx)[None]))
    return G2.from_ints([hash_to_g2(h.digest())], check=False)[0]


def create_key(challenge: bytes, rng: ChaCha20Rng) -> PtauKey:
    """keypair.js createPTauKey."""
    xs = {p: _fr_from_rng(rng) for p in KEY_PARTS}
    public = {}
    for pers, p in enumerate(KEY_PARTS):
        g1_s = G1.from_ints([_g1_from_rng(rng)], check=False)
        g1_sx = G1.to_affine(G1.mul(g1_s, [xs[p]]))
        sp = g2_sp(pers, challenge, g1_s[0], g1_sx[0])
        g2_spx = G2.to_affine(G2.mul(sp[None], [xs[p]]))[0]
        public[p] = PtauKeyPart(g1_s[0], g1_sx[0], g2_spx)
    return PtauKey(xs, public)


def random_rng(entropy: str | None) -> ChaCha20Rng:
    """misc.js getRandomRng: ChaCha20 seeded with BLAKE2b(64 OS-random bytes || entropy)."""
    h = hashlib.blake2b(secrets.token_bytes(64) + (entropy or "").encode(), digest_size=64)
    return ChaCha20Rng(list(struct.unpack(">8I", h.digest()[:32])))


def beacon_key(challenge: bytes, beacon_hash: bytes, num_iterations_exp: int) -> PtauKey:
    """powersoftau_utils.js keyFromBeacon."""
    return create_key(challenge, beacon_rng(beacon_hash, num_iterations_exp))


def public_key_bytes(key: dict[str, PtauKeyPart]) -> bytes:
    """toPtauPubKeyRpr(montgomery = false): the six G1 points, then the three G2, uncompressed."""
    g1 = np.stack([getattr(key[p], f) for p in KEY_PARTS for f in ("g1_s", "g1_sx")])
    g2 = np.stack([key[p].g2_spx for p in KEY_PARTS])
    return uncompressed(G1, g1) + uncompressed(G2, g2)
