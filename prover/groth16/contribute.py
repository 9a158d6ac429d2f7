"""Phase-2 contribution to a Groth16 zkey, in snarkjs's format (`snarkjs zkey verify` checks it),
and the beacon contribution (`zkey beacon`), whose secret is derived from a public value.

A contributor with secret x in Fr moves delta to x*delta (delta1, delta2 times x; the C and H
sections times x^-1) and records a proof of knowledge of x in section 10 as snarkjs does:
g1_s, g1_sx = x g1_s and g2_spx = x g2_sp, with g2_sp = hashToG2(transcript) and the transcript
a BLAKE2b-512 over csHash and the earlier contributions. A verifier checks
e(g1_s, g2_spx) = e(g1_sx, g2_sp) and e(delta_before, g2_spx) = e(deltaAfter, g2_sp).
hashToG2 is ffjavascript's `G2.fromRng` driven by its ChaCha20 generator seeded with the
transcript's first 32 bytes: every step must match it bit for bit, or the verifier derives
another g2_sp. The transcript layout: docs/prover.md.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct

import numpy as np

from prover.constants import G2_B, Q, R
from prover.curves import G1, G2
from prover.fields import Fq2
from prover.formats.zkey import SEC_CONTRIBUTIONS, Zkey, parse_contributions, read_zkey, write_zkey
from prover.groth16.setup import _uncompressed
from prover.kernels.cpu import points as kp

G2_COFACTOR = 0x30644E72E131A029B85045B68181585E06CEECDA572A2489345F2299C0F9FA8D
_COFACTOR_LIMBS = np.array([[(G2_COFACTOR >> (64 * i)) & (2**64 - 1) for i in range(4)]],
                           dtype=np.uint64)
_MASK32 = 0xFFFFFFFF
_R_INV_Q = pow(1 << 256, -1, Q)
_R_INV_R = pow(1 << 256, -1, R)


class ChaCha20Rng:
    """The ChaCha20 block function as a stream of u32 words: key = 8 seed words, block counter in
    words 12..15 (carrying upward), 10 double rounds, output = rounds(state) + state."""

    def __init__(self, seed: list[int]):
        self.state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *seed, 0, 0, 0, 0]
        self.buf: list[int] = []
        self.idx = 16

    @staticmethod
    def _qr(s, a, b, c, d):
        def rotl(v, n):
            return ((v << n) | (v >> (32 - n))) & _MASK32
        s[a] = (s[a] + s[b]) & _MASK32
        s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & _MASK32
        s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & _MASK32
        s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & _MASK32
        s[b] = rotl(s[b] ^ s[c], 7)

    def _block(self) -> None:
        x = list(self.state)
        for _ in range(10):
            for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                               (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
                self._qr(x, a, b, c, d)
        self.buf = [(x[i] + self.state[i]) & _MASK32 for i in range(16)]
        self.idx = 0
        for i in range(12, 16):  # 128-bit block counter
            self.state[i] = (self.state[i] + 1) & _MASK32
            if self.state[i]:
                break

    def next_u32(self) -> int:
        if self.idx == 16:
            self._block()
        v = self.buf[self.idx]
        self.idx += 1
        return v

    def next_u64(self) -> int:
        hi = self.next_u32()
        return (hi << 32) | self.next_u32()

    def next_bool(self) -> bool:
        return bool(self.next_u32() & 1)


def _fq_from_rng(rng: ChaCha20Rng) -> int:
    """Four u64 words (least significant first), masked to 254 bits, rejected if >= q; the words
    are the element's Montgomery representation, so its value is v * 2^-256."""
    while True:
        v = 0
        for i in range(4):
            v |= rng.next_u64() << (64 * i)
        v &= (1 << Q.bit_length()) - 1
        if v < Q:
            return v * _R_INV_Q % Q


def _fq_negative(v: int) -> bool:
    return v > (Q - 1) // 2


def _fq2_negative(c: tuple[int, int]) -> bool:
    return _fq_negative(c[1]) if c[1] else _fq_negative(c[0])


def hash_to_g2(transcript: bytes):
    """snarkjs's hashToG2: a G2 point (py_ecc-style ints) from a 64-byte transcript."""
    from py_ecc.optimized_bn128 import FQ2

    rng = ChaCha20Rng(list(struct.unpack(">8I", transcript[:32])))
    b = FQ2(list(G2_B))
    while True:
        x = (_fq_from_rng(rng), _fq_from_rng(rng))
        greatest = rng.next_bool()
        fx = FQ2(list(x))
        rhs = fx * fx * fx + b
        root, ok = Fq2.sqrt(Fq2.from_ints([(int(rhs.coeffs[0]), int(rhs.coeffs[1]))]))
        if ok.all():
            break
    y = Fq2.to_ints(root)[0]
    if _fq2_negative(y) != greatest:  # the root whose sign bit is `greatest`
        y = ((Q - y[0]) % Q, (Q - y[1]) % Q)
    # clear the cofactor: a plain 256-bit multiple (G2.mul would reduce the scalar mod r)
    jac = G2.empty_jacobian(1)
    kp.arr_mul(G2.from_ints([(x, y)], check=False), _COFACTOR_LIMBS, jac)
    return G2.to_ints(G2.to_affine(jac))[0]


def _pubkey_bytes(c) -> bytes:
    return (_uncompressed(G1, c.delta_after) + _uncompressed(G1, c.g1_s)
            + _uncompressed(G1, c.g1_sx) + _uncompressed(G2, c.g2_spx) + bytes(c.transcript))


def _random_scalar(entropy: bytes | None) -> int:
    """Non-zero x from the OS CSPRNG, with the caller's entropy mixed in when given."""
    while True:
        seed = secrets.token_bytes(64)
        if entropy:
            seed = hashlib.blake2b(seed + entropy, digest_size=64).digest()
        x = int.from_bytes(seed, "little") % R
        if x:
            return x


def _fr_from_rng(rng: ChaCha20Rng) -> int:
    """ffjavascript's Fr.fromRng: as _fq_from_rng, modulo r (254 bits, Montgomery words)."""
    while True:
        v = 0
        for i in range(4):
            v |= rng.next_u64() << (64 * i)
        v &= (1 << R.bit_length()) - 1
        if v < R:
            return v * _R_INV_R % R


def _g1_from_rng(rng: ChaCha20Rng) -> tuple[int, int]:
    """ffjavascript's G1.fromRng: x from the rng until x^3 + 3 is a square, then the root
    whose sign (y > (q-1)/2) is the rng's next bit; G1 has no cofactor."""
    while True:
        x = _fq_from_rng(rng)
        greatest = rng.next_bool()
        rhs = (x * x * x + 3) % Q
        if pow(rhs, (Q - 1) // 2, Q) == 1 or rhs == 0:
            break
    y = pow(rhs, (Q + 1) // 4, Q)  # q = 3 mod 4
    if _fq_negative(y) != greatest:
        y = (Q - y) % Q
    return x, y


def beacon_rng(beacon_hash: bytes, num_iterations_exp: int) -> ChaCha20Rng:
    """snarkjs's rngFromBeaconParams: SHA-256 iterated 2^exp times, its 8 big-endian words
    seed ChaCha20."""
    cur = bytes(beacon_hash)
    for _ in range(1 << num_iterations_exp):
        cur = hashlib.sha256(cur).digest()
    return ChaCha20Rng(list(struct.unpack(">8I", cur)))


def beacon_key(beacon_hash: bytes, num_iterations_exp: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(x, g1_s, g1_sx) of a beacon contribution: x = Fr.fromRng, g1_s = G1.fromRng, in that
    order from the beacon's rng, g1_sx = x g1_s (affine Montgomery arrays)."""
    rng = beacon_rng(beacon_hash, num_iterations_exp)
    x = _fr_from_rng(rng)
    g1_s = G1.from_ints([_g1_from_rng(rng)], check=False)
    return x, g1_s[0], G1.to_affine(G1.mul(g1_s, [x]))[0]


def _apply(zkey: Zkey, x: int, g1_s: np.ndarray, record_tail: bytes) -> Zkey:
    """zkey with one more contribution of secret x: the transcript over the chain so far and
    g1_s, g1_sx = x g1_s; delta times x, L and H times x^-1; section 10 gets the record
    (deltaAfter, g1_s, g1_sx, g2_spx, transcript) + record_tail (type, parameters)."""
    if zkey.contributions is None:
        raise ValueError("zkey has no contributions section (10)")
    cs_hash, previous = parse_contributions(zkey.contributions)
    x_inv = pow(x, -1, R)
    h = hashlib.blake2b(digest_size=64)
    h.update(cs_hash)
    for c in previous:
        h.update(_pubkey_bytes(c))
    g1_s = np.asarray(g1_s)[None]
    g1_sx = G1.to_affine(G1.mul(g1_s, [x]))
    h.update(_uncompressed(G1, g1_s) + _uncompressed(G1, g1_sx))
    transcript = h.digest()
    g2_sp = G2.from_ints([hash_to_g2(transcript)])
    g2_spx = G2.to_affine(G2.mul(g2_sp, [x]))

    delta1 = G1.to_affine(G1.mul(np.asarray(zkey.delta1)[None], [x]))[0]
    delta2 = G2.to_affine(G2.mul(np.asarray(zkey.delta2)[None], [x]))[0]

    def scaled(points: np.ndarray) -> np.ndarray:  # x^-1 * P for every point
        if len(points) == 0:
            return np.asarray(points).copy()
        return G1.to_affine(G1.mul(np.ascontiguousarray(points), [x_inv] * len(points)))

    record = (np.ascontiguousarray(delta1, "<u8").tobytes() + g1_s.astype("<u8").tobytes()
              + g1_sx.astype("<u8").tobytes() + g2_spx.astype("<u8").tobytes() + transcript
              + record_tail)
    section10 = (cs_hash + struct.pack("<I", len(previous) + 1)
                 + bytes(zkey.contributions[68:]) + record)
    return Zkey(zkey.n8q, zkey.q, zkey.n8r, zkey.r, zkey.n_vars, zkey.n_public,
                zkey.domain_size, zkey.alpha1, zkey.beta1, zkey.beta2, zkey.gamma2, delta1,
                delta2, zkey.ic, zkey.coeffs, zkey.a, zkey.b1, zkey.b2, scaled(zkey.c),
                scaled(zkey.h), section10, tuple(range(1, SEC_CONTRIBUTIONS + 1)))


def _name_param(name: str | None) -> bytes:
    if not name:
        return b""
    raw = name[:64].encode("utf-8")
    return bytes([1, len(raw)]) + raw


def contribute(zkey: Zkey, name: str | None = None, entropy: bytes | None = None) -> Zkey:
    """A new zkey with one more phase-2 contribution (random x; the secret is not kept)."""
    x = _random_scalar(entropy)
    g1_s = G1.to_affine(G1.mul(G1.generator()[None], [_random_scalar(None)]))[0]
    params = _name_param(name)
    return _apply(zkey, x, g1_s, struct.pack("<II", 0, len(params)) + params)


BEACON_MIN_EXP, BEACON_MAX_EXP = 10, 63  # snarkjs's bounds on numIterationsExp


def beacon(zkey: Zkey, beacon_hash: bytes, num_iterations_exp: int,
           name: str | None = None) -> Zkey:
    """`snarkjs zkey beacon`: the contribution whose secret anyone derives from a public
    beacon value (SHA-256 iterated 2^exp times), byte for byte the zkey snarkjs writes."""
    if not 0 < len(beacon_hash) < 256:
        raise ValueError("the beacon hash must be 1 to 255 bytes")
    if not BEACON_MIN_EXP <= num_iterations_exp <= BEACON_MAX_EXP:
        raise ValueError(f"numIterationsExp must be between {BEACON_MIN_EXP} and "
                         f"{BEACON_MAX_EXP}")
    x, g1_s, _ = beacon_key(beacon_hash, num_iterations_exp)
    params = (_name_param(name) + bytes([2, num_iterations_exp, 3, len(beacon_hash)])
              + bytes(beacon_hash))
    return _apply(zkey, x, g1_s, struct.pack("<II", 1, len(params)) + params)


def contribution_hash(zkey: Zkey) -> bytes:
    """BLAKE2b-512 of the last contribution's public key (the hash snarkjs prints)."""
    last = zkey.contribution_list()[-1]
    return hashlib.blake2b(_pubkey_bytes(last), digest_size=64).digest()


def contribute_file(zkey_in: str | os.PathLike, zkey_out: str | os.PathLike,
                    name: str | None = None, entropy: bytes | None = None) -> Zkey:
    z = contribute(read_zkey(zkey_in), name, entropy)
    write_zkey(z, zkey_out)
    return z


def beacon_file(zkey_in: str | os.PathLike, zkey_out: str | os.PathLike, beacon_hash: bytes,
                num_iterations_exp: int, name: str | None = None) -> Zkey:
    z = beacon(read_zkey(zkey_in), beacon_hash, num_iterations_exp, name)
    write_zkey(z, zkey_out)
    return z
