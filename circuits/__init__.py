"""Circuit toolkit: a constraint-system DSL, gadgets, and the native twins of the gadgets.

This package states rules; it never imports `rollup`.
"""

# --- constraint-system DSL (circuits.dsl) ---------------------------------------------------------
from .dsl import LC, ConstraintError, ConstraintSystem, Violation  # noqa: E402,F401
