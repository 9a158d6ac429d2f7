"""Circuit toolkit: a constraint-system DSL, gadgets, and the native twins of the gadgets.

This package states rules; it never imports `rollup`.
"""

from circuits.poseidon import poseidon

__all__ = ["poseidon"]
