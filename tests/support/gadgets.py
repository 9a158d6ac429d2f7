"""Shared helpers for gadget tests: forging one wire of a witness and reading failures."""

from __future__ import annotations

from circuits.dsl import ConstraintSystem


def forged(cs: ConstraintSystem, signal, value: int) -> list[int]:
    """The system's witness with the wire of `signal` replaced by `value`."""
    w = cs.witness()
    w[cs.wire_index(signal)] = value
    return w


def failing_components(cs: ConstraintSystem, witness=None, values=None) -> set[str]:
    return {v.component for v in cs.check(witness, values=values)}
