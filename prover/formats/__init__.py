"""Readers and writers for the iden3/snarkjs file formats (.r1cs, .wtns, .zkey, .ptau, JSON).

Every parse error is a `FormatError` (a `ValueError`) whose message names the file and reason.
"""

# (from their numpy-free sources: `zkprove groth16 verify` loads the JSON readers without numpy)
from prover.constants import Q as BN254_Q
from prover.constants import R as BN254_R
from prover.errors import FormatError

__all__ = ["BN254_Q", "BN254_R", "FormatError"]
