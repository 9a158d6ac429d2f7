"""Circuit toolkit: a constraint-system DSL, gadgets, and the native twins of the gadgets.

This package states rules; it never imports `rollup`.
"""

from circuits.eddsa import eddsa_public_key, eddsa_sign, eddsa_verify
from circuits.poseidon import poseidon

__all__ = ["eddsa_public_key", "eddsa_sign", "eddsa_verify", "poseidon"]

# --- constraint-system DSL (circuits.dsl) ---------------------------------------------------------
from circuits.dsl import LC, ConstraintError, ConstraintSystem, Violation  # noqa: E402

__all__ += ["LC", "ConstraintError", "ConstraintSystem", "Violation"]

# --- sparse Merkle tree (circuits.merkle): native twin of circuits.gadgets.merkle --------------
from circuits.merkle import SparseMerkleTree, compute_root, empty_root, zero_hashes  # noqa: E402

__all__ += ["SparseMerkleTree", "compute_root", "empty_root", "zero_hashes"]
