"""Gadgets: reusable sub-circuits, each with a plain-Python native twin (suffix ``_native``).

Every gadget takes the `ConstraintSystem` first and opens its own named component, so counts and
`check` failures point at it.
"""
