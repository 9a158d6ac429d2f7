"""BLAKE-512, the SHA-3 finalist (Aumasson, Henzen, Meier, Phan: "SHA-3 proposal BLAKE", v1.3).

Not BLAKE2b. circomlibjs derives EdDSA keys and nonces with it (npm ``blake-hash``), and Python's
hashlib does not provide it. Section references are to the specification.

* 64-bit words, big-endian; 128-byte blocks; 16 rounds (the final-round tweak, 2.2.2).
* IV: the SHA-512 IV (fractional parts of the square roots of the first 8 primes).
* Constants c_0..c_15: the first 1024 bits of the fractional part of pi (2.2.1).
* Both are computed here from their definitions rather than listed.
"""

from __future__ import annotations

from math import isqrt

__all__ = ["Blake512", "blake512"]

_MASK = (1 << 64) - 1


def _pi_fraction_bits(nbits: int) -> int:
    """floor(frac(pi) * 2^nbits), by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239)."""
    guard = 64
    one = 1 << (nbits + guard)

    def atan_inv(x: int) -> int:  # atan(1/x) * one, Taylor series
        total, term, k, x2 = 0, one // x, 1, x * x
        while term:
            total += term // k if (k // 2) % 2 == 0 else -(term // k)
            term //= x2
            k += 2
        return total

    pi = 16 * atan_inv(5) - 4 * atan_inv(239)
    return (pi >> guard) - (3 << nbits)


def _sqrt_fraction_word(n: int) -> int:
    """First 64 bits of the fractional part of sqrt(n)."""
    return isqrt(n << 128) & _MASK


_PI = _pi_fraction_bits(1024)
C = tuple((_PI >> (64 * (15 - i))) & _MASK for i in range(16))
IV = tuple(_sqrt_fraction_word(p) for p in (2, 3, 5, 7, 11, 13, 17, 19))

# The ten permutations sigma_0..sigma_9 of {0..15} (2.1.2); round r uses sigma_(r mod 10).
SIGMA = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
    (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
    (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
    (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
    (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
    (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
    (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
    (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
    (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0),
)
ROUNDS = 16

# G_0..G_3 on the columns, G_4..G_7 on the diagonals of the 4x4 state (2.2.2).
_STEPS = (
    (0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
    (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14),
)
# For each round, G_i's (a, b, c, d, m[s(2i)] ^ c[s(2i+1)] indices): precomputed index lists.
_SCHEDULE = tuple(
    tuple(
        (a, b, c, d, SIGMA[r % 10][2 * i], SIGMA[r % 10][2 * i + 1])
        for i, (a, b, c, d) in enumerate(_STEPS)
    )
    for r in range(ROUNDS)
)


def _compress(h: list[int], block: bytes, counter: int, salt: tuple[int, ...]) -> list[int]:
    """The compression function (2.2.2): h' = h ^ s ^ v[0:8] ^ v[8:16] after 16 rounds."""
    m = [int.from_bytes(block[8 * i : 8 * i + 8], "big") for i in range(16)]
    t0, t1 = counter & _MASK, (counter >> 64) & _MASK
    c = C
    v = [
        *h,
        salt[0] ^ c[0], salt[1] ^ c[1], salt[2] ^ c[2], salt[3] ^ c[3],
        t0 ^ c[4], t0 ^ c[5], t1 ^ c[6], t1 ^ c[7],
    ]
    mask = _MASK
    for steps in _SCHEDULE:
        for a, b, cc, d, j, k in steps:
            va, vb, vc, vd = v[a], v[b], v[cc], v[d]
            va = (va + vb + (m[j] ^ c[k])) & mask
            x = vd ^ va
            vd = ((x >> 32) | (x << 32)) & mask
            vc = (vc + vd) & mask
            x = vb ^ vc
            vb = ((x >> 25) | (x << 39)) & mask
            va = (va + vb + (m[k] ^ c[j])) & mask
            x = vd ^ va
            vd = ((x >> 16) | (x << 48)) & mask
            vc = (vc + vd) & mask
            x = vb ^ vc
            vb = ((x >> 11) | (x << 53)) & mask
            v[a], v[b], v[cc], v[d] = va, vb, vc, vd
    return [h[i] ^ salt[i % 4] ^ v[i] ^ v[i + 8] for i in range(8)]


class Blake512:
    """Incremental BLAKE-512 (update/digest, like hashlib objects). Salt defaults to zero."""

    digest_size = 64
    block_size = 128
    name = "blake512"

    def __init__(self, data: bytes = b"", salt: bytes = bytes(32)) -> None:
        if len(salt) != 32:
            raise ValueError("BLAKE-512 salt is 32 bytes")
        self._salt = tuple(int.from_bytes(salt[8 * i : 8 * i + 8], "big") for i in range(4))
        self._h = list(IV)
        self._buffer = b""
        self._bits = 0  # message bits compressed so far
        self.update(data)

    def update(self, data: bytes) -> Blake512:
        data = bytes(data)
        buf = self._buffer + data
        # Keep the last (possibly full) block: the final block is compressed by digest(),
        # which needs to know whether it holds message bits.
        while len(buf) > 128:
            self._bits += 1024
            self._h = _compress(self._h, buf[:128], self._bits, self._salt)
            buf = buf[128:]
        self._buffer = buf
        return self

    def copy(self) -> Blake512:
        other = Blake512.__new__(Blake512)
        other._salt, other._h = self._salt, list(self._h)
        other._buffer, other._bits = self._buffer, self._bits
        return other

    def digest(self) -> bytes:
        # Padding (2.2.1 / 2.1.1): append bit 1, zeros until the length is 895 mod 1024, a 1 bit,
        # then the 128-bit big-endian message length. The counter of each block is the number of
        # message bits hashed up to and including it; a block holding padding only gets 0.
        h, bits, buf = list(self._h), self._bits, self._buffer
        total = bits + 8 * len(buf)
        pad_len = (111 - len(buf)) % 128 + 1  # bytes from the 0x80 marker through the 0x01 bit
        pad = bytearray(pad_len)
        pad[0] |= 0x80
        pad[-1] |= 0x01
        tail = buf + bytes(pad) + total.to_bytes(16, "big")
        assert len(tail) in (128, 256)
        for i in range(0, len(tail), 128):
            block_msg_bits = 8 * max(0, min(128, len(buf) - i))
            bits += block_msg_bits
            h = _compress(h, tail[i : i + 128], bits if block_msg_bits else 0, self._salt)
        return b"".join(x.to_bytes(8, "big") for x in h)

    def hexdigest(self) -> str:
        return self.digest().hex()


def blake512(data: bytes) -> bytes:
    """The 64-byte BLAKE-512 digest of data (zero salt)."""
    return Blake512(data).digest()
