"""Hashes and point encodings of the powers-of-tau transcript, as snarkjs 0.7.6 computes them.

Every hash is BLAKE2b-512. Points enter hashes "uncompressed" (x || y, canonical big-endian, an
Fq2 coordinate as c1 || c0; infinity all zeros) or "compressed" (x only, top byte | 0x80 when
y > (q - 1)/2, infinity 0x40 then zeros; Fq2 signs: c1's, or c0's when c1 = 0).
A contribution stores the state of its response hasher before its public key is hashed: the
216-byte layout of @noble/hashes 1.x (misc.js toPartialHash): the 128-byte block buffer
(including stale bytes past `pos`), h0..h7 little-endian, then u32 (length - pos), 0, pos, 0
and 8 zero bytes. NobleBlake2b reproduces noble's buffering so the stale bytes match.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from prover.constants import Q
from prover.curves import G1, G2, CurveGroup
from prover.fields import Fq
from prover.kernels.cpu import blake2b as kb

BLOCK = 128
PARTIAL_HASH_BYTES = 216
_HALF_Q = (Q - 1) // 2


class NobleBlake2b:
    """BLAKE2b-512 whose state is @noble/hashes's: same buffering, so `partial()` is byte for
    byte what snarkjs stores, and `from_partial` resumes a stored state."""

    def __init__(self) -> None:
        self.h = kb.IV.copy()
        self.h[0] ^= np.uint64(0x01010000 | 64)  # digest length 64, no key, fanout = depth = 1
        self.buffer = np.zeros(BLOCK, dtype=np.uint8)
        self.pos = 0
        self.length = 0

    def update(self, data) -> NobleBlake2b:
        """noble's BLAKE2.update for data starting 4-byte aligned (a fresh Uint8Array): full
        blocks are compressed straight from the data except the last one, which (as every
        partial block) is copied into the buffer over what was there."""
        d = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else \
            np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        n, pos = len(d), 0
        while pos < n:
            if self.pos == BLOCK:
                kb.compress_blocks(self.h, self.buffer.view("<u8"), 1, self.length - BLOCK)
                self.pos = 0
            take = min(BLOCK - self.pos, n - pos)
            if take == BLOCK and pos + take < n:  # aligned: offsets are multiples of 32 here
                blocks = (n - pos - 1) // BLOCK
                words = np.ascontiguousarray(d[pos : pos + blocks * BLOCK]).view("<u8")
                kb.compress_blocks(self.h, words, blocks, self.length)
                self.length += blocks * BLOCK
                pos += blocks * BLOCK
                continue
            self.buffer[self.pos : self.pos + take] = d[pos : pos + take]
            self.pos += take
            self.length += take
            pos += take
        return self

    def digest(self) -> bytes:
        last = self.buffer.copy()
        last[self.pos :] = 0
        h = self.h.copy()
        kb.compress_last(h, last.view("<u8"), self.length)
        return h.astype("<u8").tobytes()

    def partial(self) -> bytes:
        tail = struct.pack("<IIII", (self.length - self.pos) & 0xFFFFFFFF, 0, self.pos, 0)
        return self.buffer.tobytes() + self.h.astype("<u8").tobytes() + tail + bytes(8)

    @classmethod
    def from_partial(cls, raw: bytes) -> NobleBlake2b:
        """misc.js fromPartialHash: length = (length - pos) + pos, 32-bit words as stored."""
        if len(raw) != PARTIAL_HASH_BYTES:
            raise ValueError(f"a partial hash has {PARTIAL_HASH_BYTES} bytes, not {len(raw)}")
        s = cls()
        s.buffer = np.frombuffer(raw[:BLOCK], dtype=np.uint8).copy()
        s.h = np.frombuffer(raw[BLOCK : BLOCK + 64], dtype="<u8").astype(np.uint64)
        w = struct.unpack("<4I", raw[BLOCK + 64 : BLOCK + 80])
        s.pos = w[2] + (w[3] << 32)
        s.length = w[0] + (w[1] << 32) + s.pos
        return s


def _canonical(group: CurveGroup, aff: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(aff, dtype=np.uint64)
    return Fq.from_montgomery(a.reshape(-1, 4)).reshape(a.shape).reshape(-1, 2, group.degree, 4)


def _be(coords: np.ndarray) -> np.ndarray:
    """(n, degree, 4) canonical limbs -> (n, 32 * degree) big-endian bytes, c1 before c0."""
    n = coords.shape[0]
    return coords[:, ::-1, ::-1].astype(">u8").view(np.uint8).reshape(n, -1)


def uncompressed(group: CurveGroup, aff: np.ndarray) -> bytes:
    """ffjavascript LEMtoU of every point, concatenated."""
    return np.ascontiguousarray(_be_points(group, aff)).tobytes()


def _be_points(group: CurveGroup, aff: np.ndarray) -> np.ndarray:
    c = _canonical(group, aff)
    return np.concatenate([_be(c[:, 0]), _be(c[:, 1])], axis=1)


def _gt_half_q(limbs: np.ndarray) -> np.ndarray:
    """value > (q - 1)/2 for canonical limbs (..., 4)."""
    b = [(_HALF_Q >> (64 * i)) & 0xFFFFFFFFFFFFFFFF for i in range(4)]
    greater = np.zeros(limbs.shape[:-1], dtype=bool)
    equal = np.ones(limbs.shape[:-1], dtype=bool)
    for k in range(3, -1, -1):
        greater |= equal & (limbs[..., k] > np.uint64(b[k]))
        equal &= limbs[..., k] == np.uint64(b[k])
    return greater


def compressed(group: CurveGroup, aff: np.ndarray) -> bytes:
    """ffjavascript LEMtoC of every point, concatenated."""
    c = _canonical(group, aff)
    out = _be(c[:, 0]).copy()
    y = c[:, 1]
    if group.degree == 1:
        neg = _gt_half_q(y[:, 0])
    else:
        c1_zero = ~y[:, 1].any(axis=-1)
        neg = np.where(c1_zero, _gt_half_q(y[:, 0]), _gt_half_q(y[:, 1]))
    inf = ~np.ascontiguousarray(aff, dtype=np.uint64).reshape(len(out), -1).any(axis=1)
    out[neg & ~inf, 0] |= 0x80
    out[inf] = 0
    out[inf, 0] = 0x40
    return out.tobytes()


HASH_CHUNK = 1 << 16  # points per hashing step: bounds the temporary byte strings


def hash_points(h, group: CurveGroup, aff: np.ndarray, encode=uncompressed) -> None:
    """h.update(encode(points)) in chunks."""
    for i in range(0, len(aff), HASH_CHUNK):
        h.update(encode(group, aff[i : i + HASH_CHUNK]))


def first_challenge(power: int) -> bytes:
    """calculateFirstChallengeHash: BLAKE2b(BLAKE2b("") || U(g1) x (2^(power+1) - 1) ||
    U(g2) x 2^power || U(g1) x 2^power x 2 || U(g2)) - the hash of `powersoftau new`'s file."""
    u1 = uncompressed(G1, G1.generator()[None])
    u2 = uncompressed(G2, G2.generator()[None])
    h = hashlib.blake2b(digest_size=64)
    h.update(hashlib.blake2b(digest_size=64).digest())
    n = 1 << power
    for unit, count in ((u1, 2 * n - 1), (u2, n), (u1, n), (u1, n)):
        block = unit * min(count, 1 << 14)
        full, rest = divmod(count, 1 << 14)
        for _ in range(full):
            h.update(block)
        h.update(unit * rest)
    h.update(u2)
    return h.digest()
