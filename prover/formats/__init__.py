"""Readers and writers for the iden3/snarkjs file formats (.r1cs, .wtns, .zkey, .ptau, JSON).

Every parse error is a `FormatError` (a `ValueError`) whose message names the file and reason.
"""

from ._limbs import BN254_Q, BN254_R
from .container import FormatError

__all__ = ["BN254_Q", "BN254_R", "FormatError"]
