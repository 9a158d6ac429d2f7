"""EdDSA-Poseidon on Baby Jubjub, as circomlibjs 0.1.7 ``eddsa.js`` (prv2pub, signPoseidon,
verifyPoseidon) and circomlib's ``EdDSAPoseidonVerifier`` define it.

    s  = pruned BLAKE-512(private key)[:32], little-endian;   A = (s >> 3) * base8
    r  = BLAKE-512(h[32:64] || M) mod l;  R8 = r * base8;  hm = Poseidon(R8x, R8y, Ax, Ay, M)
    S  = (r + hm * s) mod l;   valid iff R8, A on the curve, S < l, S*base8 == R8 + (8*hm)*A

Like circomlibjs, ``eddsa_verify`` does not require A or R8 to be in the prime-order subgroup,
so for a small-order key (e.g. the identity) S*base8 == R8 verifies any message; the circuit
rejects such keys. Use ``public_key_is_safe`` when registering keys: it rejects exactly those.
Details: docs/circuits.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from circuits import babyjubjub as bj
from circuits.blake512 import blake512
from circuits.poseidon import poseidon

__all__ = [
    "eddsa_public_key",
    "eddsa_sign",
    "eddsa_verify",
    "pack_signature",
    "public_key_is_safe",
    "unpack_signature",
]

R = bj.P  # messages are elements of BN254's scalar field
L = bj.SUBGROUP_ORDER

Signature = tuple[tuple[int, int], int]


def _check_bytes(private_key: bytes) -> bytes:
    if not isinstance(private_key, bytes | bytearray | memoryview):
        raise TypeError(f"private key must be bytes, got {type(private_key).__name__}")
    return bytes(private_key)


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int, got {type(value).__name__}")
    return value


def _expand(private_key: bytes) -> tuple[int, bytes]:
    """(pruned scalar s, nonce prefix h[32:64]) from BLAKE-512 of the private key."""
    h = bytearray(blake512(_check_bytes(private_key)))
    h[0] &= 0xF8
    h[31] &= 0x7F
    h[31] |= 0x40
    return int.from_bytes(h[:32], "little"), bytes(h[32:])


def eddsa_public_key(private_key: bytes) -> tuple[int, int]:
    """circomlibjs ``prv2pub``: the public key (Ax, Ay) of a private key (raw bytes, usually 32;
    like circomlibjs, any length is hashed)."""
    s, _ = _expand(private_key)
    return bj.mul_base8(s >> 3)


def eddsa_sign(private_key: bytes, message: int) -> Signature:
    """circomlibjs ``signPoseidon``: ((R8x, R8y), S) for a message in [0, r).

    circomlibjs reduces a larger message mod r; here that is a ValueError, since the circuit's M
    is a field element and a silent reduction would sign something other than what was asked.
    """
    message = _check_int(message, "message")
    if not (0 <= message < R):
        raise ValueError("message must be a field element in [0, r)")
    s, prefix = _expand(private_key)
    ax, ay = bj.mul_base8(s >> 3)
    r = int.from_bytes(blake512(prefix + message.to_bytes(32, "little")), "little") % L
    r8x, r8y = bj.mul_base8(r)
    hm = poseidon([r8x, r8y, ax, ay, message])
    return (r8x, r8y), (r + hm * s) % L


def _as_pair(value: object, what: str) -> tuple[int, int] | None:
    """A 2-sequence of ints, None for a wrong length; TypeError for a wrong Python type."""
    if not isinstance(value, tuple | list):
        raise TypeError(f"{what} must be a tuple or list, got {type(value).__name__}")
    if len(value) != 2:
        return None
    return _check_int(value[0], what), _check_int(value[1], what)


def _parse(public_key: object, message: object, signature: object
           ) -> tuple[tuple[int, int], tuple[int, int], int, int] | None:
    """``eddsa_verify``'s checks before any curve arithmetic, in its order: (A, R8, M, S), None
    where it returns False (wrong lengths, message outside [0, r)), its TypeErrors raised."""
    a = _as_pair(public_key, "public key")
    message = _check_int(message, "message")
    if not isinstance(signature, tuple | list):
        raise TypeError(f"signature must be a tuple or list, got {type(signature).__name__}")
    if len(signature) != 2:
        return None
    r8 = _as_pair(signature[0], "R8")
    s = _check_int(signature[1], "S")
    if a is None or r8 is None:
        return None
    if not (0 <= message < R):
        return None
    return a, r8, message, s


def eddsa_verify(
    public_key: Sequence[int], message: int, signature: tuple[Sequence[int], int]
) -> bool:
    """circomlibjs ``verifyPoseidon``: True iff the signature is valid; False (never an exception)
    for invalid or malformed values: coordinates or message outside [0, r), points off the
    curve, S >= l, wrong tuple lengths. Wrong Python types (not int / tuple / list) raise
    TypeError."""
    parsed = _parse(public_key, message, signature)
    if parsed is None:
        return False
    a, r8, message, s = parsed
    # Same order of checks as circomlibjs: R8 on curve, A on curve, S < l.
    if not bj.in_curve(r8) or not bj.in_curve(a):
        return False
    if not (0 <= s < L):
        return False
    hm = poseidon([r8[0], r8[1], a[0], a[1], message])
    # S * base8 == R8 + (8 * hm) * A, compared projectively (X1 Z2 == X2 Z1, Y1 Z2 == Y2 Z1).
    left = bj._ext_mul_base8(s)
    right = bj._ext_add(bj._to_ext(r8), bj._ext_mul(a, 8 * hm))
    p = bj.P
    return (left[0] * right[2] - right[0] * left[2]) % p == 0 and (
        left[1] * right[2] - right[1] * left[2]
    ) % p == 0


def public_key_is_safe(public_key: Sequence[int]) -> bool:
    """On the curve and not of small order (8*A != identity): the keys the circuit accepts.

    circomlibjs verifies signatures under small-order keys too (see the module docstring), so a
    key registry should refuse them."""
    a = _as_pair(public_key, "public key")
    if a is None or not bj.in_curve(a):
        return False
    return bj.mul(a, 8) != bj.IDENTITY


def pack_signature(signature: Signature) -> bytes:
    """circomlibjs ``packSignature``: packPoint(R8) || S as 32 bytes little-endian."""
    (r8x, r8y), s = signature
    if not (0 <= s < 2**256):
        raise ValueError("S does not fit in 32 bytes")
    return bj.pack_point((r8x, r8y)) + s.to_bytes(32, "little")


def unpack_signature(data: bytes) -> Signature | None:
    """circomlibjs ``unpackSignature``; None where R8 does not unpack."""
    if len(data) != 64:
        raise ValueError("a packed signature is 64 bytes")
    r8 = bj.unpack_point(bytes(data[:32]))
    if r8 is None:
        return None
    return r8, int.from_bytes(data[32:], "little")
