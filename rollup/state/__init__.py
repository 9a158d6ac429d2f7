"""The committed state: sparse Poseidon trees of accounts, assets and oracle data, one root.

Exact encodings: docs/state.md (the constants: ``rollup.state.encoding``)."""

from rollup.state.state import FEE_ACCOUNT, Account, Asset, OracleEntry, State
from rollup.state.tree import SparseMerkleTree, root_from_proof, verify_proof

__all__ = ["FEE_ACCOUNT", "Account", "Asset", "OracleEntry", "SparseMerkleTree", "State",
           "root_from_proof", "verify_proof"]
