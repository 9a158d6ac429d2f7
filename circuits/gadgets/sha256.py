"""SHA-256 (FIPS 180-4) in constraints, and its truncation to a field element.

Bits travel in transmission order: byte 0 first, each byte most significant bit first
(`bytes_to_bits_native`); the digest comes back the same way. Input bits must already be
boolean-constrained by the caller: the gates rely on it.

``sha256_field = int.from_bytes(sha256(data), "big") mod 2**253``, what the rollup contract
computes (``uint256(sha256(data)) & ((1 << 253) - 1)``); injective on its range, 2**253 < r.

Every gate is one constraint per bit (xor of three by ``(2r - y) * y == 3r - 2y``, maj by
``(y - 4m) * y == y - 6m``, with y = a + b + c): 17,576 per block when nothing is constant,
30,035 for 512 bits against 59,281 for circomlib's Sha256(512). Derivations: docs/circuits.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, R, as_lc, lin
from .bits import to_bits

# first 32 bits of the fractional parts of the cube roots of the first 64 primes
K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
]
# first 32 bits of the fractional parts of the square roots of the first 8 primes
H0 = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
]

TRUNC_BITS = 253

Word = list  # 32 LCs, index i = bit i (least significant first)


# -- witness hints (module level: cheap to record, replayable) ----------------------------------


def _parity(y: int) -> int:
    return y & 1


def _majority(y: int) -> int:
    return 1 if y >= 2 else 0


# -- bit gates with constant folding --------------------------------------------------------------


def _split(xs):
    k, vs = [], []
    for x in xs:
        (k if x.is_constant() else vs).append(x)
    return [x.constant() for x in k], vs


def _sum3(cs, vs) -> LC:
    t: dict[int, int] = {}
    for x in vs:
        for w, k in x.terms.items():
            t[w] = t.get(w, 0) + k
    return LC({w: k % R for w, k in t.items() if k % R}, cs)


def xor3(cs: ConstraintSystem, a: LC, b: LC, c: LC) -> LC:
    """a ^ b ^ c for bits: 1 constraint with three variable inputs, 1 with two, 0 otherwise."""
    ks, vs = _split((a, b, c))
    flip = sum(ks) & 1
    if not vs:
        return cs.const(flip)
    if len(vs) == 1:
        r = vs[0]
    elif len(vs) == 2:
        r = vs[0] + vs[1] - 2 * (vs[0] * vs[1])
    else:
        y = _sum3(cs, vs)
        r = cs.hint(_parity, y)
        yt, ri = y.terms, r.wire
        a_t = {w: R - k for w, k in yt.items()}  # 2r - y
        a_t[ri] = 2
        c_t = {w: (-2 * k) % R for w, k in yt.items()}  # 3r - 2y
        c_t[ri] = 3
        cs.constrain_terms(a_t, yt, c_t)
    return 1 - r if flip else r


def maj(cs: ConstraintSystem, a: LC, b: LC, c: LC) -> LC:
    """Majority of three bits: 1 constraint unless constants make it linear."""
    ks, vs = _split((a, b, c))
    if not vs:
        return cs.const(1 if sum(ks) >= 2 else 0)
    if len(vs) == 1:
        return cs.const(ks[0]) if ks[0] == ks[1] else vs[0]
    if len(vs) == 2:
        p = vs[0] * vs[1]
        return vs[0] + vs[1] - p if ks[0] else p
    y = _sum3(cs, vs)
    m = cs.hint(_majority, y)
    yt, mi = y.terms, m.wire
    a_t = dict(yt)  # y - 4m
    a_t[mi] = R - 4
    c_t = dict(yt)  # y - 6m
    c_t[mi] = R - 6
    cs.constrain_terms(a_t, yt, c_t)
    return m


def ch(cs: ConstraintSystem, e: LC, f: LC, g: LC) -> LC:
    """``f if e else g`` bitwise: ``g + e (f - g)`` (1 constraint unless folded)."""
    return g + e * (f - g)


# -- words ----------------------------------------------------------------------------------------


def const_word(cs: ConstraintSystem, v: int) -> Word:
    return [cs.const((v >> i) & 1) for i in range(32)]


def _rotr(x: Word, n: int) -> Word:
    return [x[(i + n) % 32] for i in range(32)]


def _shr(cs: ConstraintSystem, x: Word, n: int) -> Word:
    zero = cs.const(0)
    return [x[i + n] if i + n < 32 else zero for i in range(32)]


def _not(x: Word) -> Word:
    return [1 - b for b in x]


def _xor3_words(cs, a: Word, b: Word, c: Word) -> Word:
    return [xor3(cs, a[i], b[i], c[i]) for i in range(32)]


def big_sigma0(cs, x: Word) -> Word:
    return _xor3_words(cs, _rotr(x, 2), _rotr(x, 13), _rotr(x, 22))


def big_sigma1(cs, x: Word) -> Word:
    return _xor3_words(cs, _rotr(x, 6), _rotr(x, 11), _rotr(x, 25))


def small_sigma0(cs, x: Word) -> Word:
    return _xor3_words(cs, _rotr(x, 7), _rotr(x, 18), _shr(cs, x, 3))


def small_sigma1(cs, x: Word) -> Word:
    return _xor3_words(cs, _rotr(x, 17), _rotr(x, 19), _shr(cs, x, 10))


def add_words(cs: ConstraintSystem, words: Sequence[Word], k: int = 0) -> Word:
    """``(sum(words) + k) mod 2**32``: bitlen(max sum) constraints (result bits and carries)."""
    total = lin([(1 << i, b) for w in words for i, b in enumerate(w)] + [(1, k)], cs)
    bound = k
    for w in words:
        bound += sum((b.constant() if b.is_constant() else 1) << i for i, b in enumerate(w))
    if total.is_constant():
        return const_word(cs, total.constant())
    return to_bits(cs, total, bound.bit_length())[:32]


# -- compression and hashing ----------------------------------------------------------------------


def compress(cs: ConstraintSystem, state: Sequence[Word], block: Sequence[Word]) -> list[Word]:
    """One SHA-256 compression: 8 state words and 16 message words (big-endian words, each as
    little-endian bits) to the next 8 state words."""
    if len(state) != 8 or len(block) != 16:
        raise ValueError("compress takes 8 state words and 16 block words")
    w = list(block)
    with cs.component("schedule"):
        for t in range(16, 64):
            s0 = small_sigma0(cs, w[t - 15])
            s1 = small_sigma1(cs, w[t - 2])
            w.append(add_words(cs, [s1, w[t - 7], s0, w[t - 16]]))
    a, b, c, d, e, f, g, h = state
    for t in range(64):
        with cs.component(f"round{t}"):
            s1 = big_sigma1(cs, e)
            chv = [ch(cs, e[i], f[i], g[i]) for i in range(32)]
            s0 = big_sigma0(cs, a)
            mj = [maj(cs, a[i], b[i], c[i]) for i in range(32)]
            # a' = T1 + T2 is summed directly (6 words + K: 35 bits); then
            # e' = d + T1 = a' - s0 - mj + d = a' + ~s0 + ~mj + d + 2 (mod 2**32) has 4 words
            # and needs 34 bits, one fewer than summing d + T1 directly. T1 is never split.
            new_a = add_words(cs, [h, s1, chv, w[t], s0, mj], K[t])
            new_e = add_words(cs, [new_a, _not(s0), _not(mj), d], 2)
        h, g, f, e, d, c, b, a = g, f, e, new_e, c, b, a, new_a
    with cs.component("final"):
        return [add_words(cs, [s, x]) for s, x in zip(state, (a, b, c, d, e, f, g, h),
                                                          strict=True)]


def pad_bits(cs: ConstraintSystem, bits: Sequence[LC | int]) -> list[LC]:
    """Message bits followed by SHA-256 padding (constant bits) to a multiple of 512."""
    n = len(bits)
    padded = [as_lc(b) for b in bits] + [cs.const(1)]
    padded += [cs.const(0)] * ((448 - len(padded)) % 512)
    padded += [cs.const((n >> (63 - i)) & 1) for i in range(64)]
    return padded


def sha256_bits(cs: ConstraintSystem, bits: Sequence[LC | int]) -> list[LC]:
    """SHA-256 of a bit string (boolean-constrained bits, transmission order); 256 digest bits
    in the same order."""
    with cs.component("sha256"):
        padded = pad_bits(cs, bits)
        state = [const_word(cs, v) for v in H0]
        for blk in range(len(padded) // 512):
            chunk = padded[512 * blk: 512 * (blk + 1)]
            # word j = bits 32j..32j+31, most significant first
            words = [[chunk[32 * j + 31 - i] for i in range(32)] for j in range(16)]
            with cs.component(f"block{blk}"):
                state = compress(cs, state, words)
        return [state[j][31 - i] for j in range(8) for i in range(32)]


def digest_to_field(bits: Sequence[LC], cs: ConstraintSystem | None = None) -> LC:
    """The truncated digest: big-endian value of the 256 digest bits mod 2**253 (linear)."""
    if len(bits) != 256:
        raise ValueError("a digest has 256 bits")
    return lin(((1 << (255 - k), bits[k]) for k in range(256 - TRUNC_BITS, 256)), cs)


def sha256_field(cs: ConstraintSystem, bits: Sequence[LC | int]) -> LC:
    """``int(sha256(message), big-endian) mod 2**253`` as a field element (free after hashing)."""
    return digest_to_field(sha256_bits(cs, bits), cs)


def sha256_bytes(cs: ConstraintSystem, data: Sequence[LC | int]) -> list[LC]:
    """SHA-256 of byte-valued signals: each byte is range-checked by an 8-bit decomposition
    (8 constraints per non-constant byte), then hashed. Returns the 256 digest bits."""
    with cs.component("bytes"):
        bits = []
        for byte in data:
            bits.extend(reversed(to_bits(cs, byte, 8)))
    return sha256_bits(cs, bits)


# -- native twins ---------------------------------------------------------------------------------


def bytes_to_bits_native(data: bytes) -> list[int]:
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def bits_to_bytes_native(bits: Sequence[int]) -> bytes:
    if len(bits) % 8:
        raise ValueError("bit length must be a multiple of 8")
    return bytes(
        sum(bits[8 * j + i] << (7 - i) for i in range(8)) for j in range(len(bits) // 8)
    )


def sha256_native(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_bits_native(data: bytes) -> list[int]:
    return bytes_to_bits_native(sha256_native(data))


def sha256_field_native(data: bytes) -> int:
    """``int.from_bytes(sha256(data), "big") % 2**253``: what the circuit and contract compute."""
    return int.from_bytes(sha256_native(data), "big") % (1 << TRUNC_BITS)
