"""Montgomery constants of a 4-limb prime field, derived once from the modulus."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASK64 = (1 << 64) - 1


def int_to_limbs(x: int) -> tuple:
    """Little-endian uint64 limbs of a 256-bit non-negative integer."""
    return tuple(np.uint64((x >> (64 * i)) & MASK64) for i in range(4))


@dataclass(frozen=True)
class MontParams:
    modulus: int
    p: tuple  # limbs of the modulus
    pinv: np.uint64  # -p^-1 mod 2^64 (CIOS reduction factor)
    one: tuple  # 2^256 mod p: 1 in Montgomery form
    r2: tuple  # 2^512 mod p: multiplying by it enters Montgomery form
    pm2: tuple  # p - 2: Fermat inverse exponent

    @classmethod
    def of(cls, modulus: int) -> MontParams:
        assert modulus.bit_length() <= 254, "the no-carry CIOS variant needs p < 2^254"
        return cls(
            modulus=modulus,
            p=int_to_limbs(modulus),
            pinv=np.uint64((-pow(modulus, -1, 1 << 64)) & MASK64),
            one=int_to_limbs((1 << 256) % modulus),
            r2=int_to_limbs((1 << 512) % modulus),
            pm2=int_to_limbs(modulus - 2),
        )
