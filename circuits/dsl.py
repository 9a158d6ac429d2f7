"""The circuit DSL: one import for building constraint systems.

    from circuits.dsl import ConstraintSystem
    cs = ConstraintSystem()
    x = cs.private_input("x", 3)
    y = x * x * x + x + 5          # two constraints (x*x, then (x*x)*x); the rest is linear
    cs.public_output("y", y)
    cs.assert_satisfied()

See `circuits.cs` for the system (wire order, substitution of linear equalities, components,
checking, export) and `circuits.lc` for linear combinations.
"""

from .cs import ConstraintError, ConstraintSystem, Violation
from .lc import LC, ONE, R, as_lc, const, lin, lsum

__all__ = [
    "LC", "ONE", "R", "ConstraintError", "ConstraintSystem", "Violation", "as_lc", "const", "lin",
    "lsum",
]
