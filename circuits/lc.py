"""Linear combinations over BN254's scalar field.

An `LC` is a sparse map ``wire -> coefficient`` with coefficients in ``[1, R)``; wire 0 is the
constant one, so ``{0: 5, 7: R-1}`` means ``5 - w7``. The term dictionary is never mutated after
construction, so LCs can share it freely (cheap copies, safe reuse in many constraints).

Arithmetic folds constants: ``lc * 3`` scales, ``lc * const_lc`` scales, and only a product of two
non-constant LCs reaches the constraint system (which allocates a wire and records one constraint).
"""

from __future__ import annotations

from collections.abc import Iterable

# BN254 (alt_bn128) scalar field, the field of every circuit signal.
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

ONE = 0  # wire index of the constant 1


class LC:
    """Sparse linear combination ``sum(coeff * wire)``; create through a ConstraintSystem."""

    __slots__ = ("terms", "cs")

    def __init__(self, terms: dict[int, int], cs=None):
        self.terms = terms
        self.cs = cs

    # -- inspection ---------------------------------------------------------------------------

    def is_constant(self) -> bool:
        t = self.terms
        return not t or (len(t) == 1 and ONE in t)

    def constant(self) -> int:
        """The constant term (the whole value when `is_constant()`)."""
        return self.terms.get(ONE, 0)

    @property
    def wire(self) -> int | None:
        """The wire index when this LC is exactly one wire with coefficient 1, else None."""
        t = self.terms
        if len(t) == 1:
            ((w, c),) = t.items()
            if c == 1 and w != ONE:
                return w
        return None

    @property
    def value(self) -> int | None:
        """The witness value (None when the system computes no witness)."""
        if self.is_constant():
            return self.constant()
        return self.cs.eval(self)

    def __repr__(self) -> str:
        parts = []
        for w, c in sorted(self.terms.items()):
            cc = c if c <= R // 2 else c - R
            parts.append(f"{cc}" if w == ONE else f"{cc}*w{w}")
        return "LC(" + (" + ".join(parts) if parts else "0") + ")"

    def __bool__(self):
        raise TypeError("an LC has no truth value; use is_constant()/constant() or cs.assert_*")

    # -- arithmetic -----------------------------------------------------------------------------

    def _coerce(self, other) -> LC:
        if isinstance(other, LC):
            return other
        if isinstance(other, int):
            other %= R
            return LC({ONE: other} if other else {}, None)
        return NotImplemented

    def __add__(self, other):
        if isinstance(other, int):
            other %= R
            if not other:
                return self
            t = dict(self.terms)
            c = t.get(ONE, 0) + other
            if c >= R:
                c -= R
            if c:
                t[ONE] = c
            else:
                del t[ONE]
            return LC(t, self.cs)
        if not isinstance(other, LC):
            return NotImplemented
        a, b = self.terms, other.terms
        if len(a) < len(b):
            a, b = b, a
        t = dict(a)
        for w, c in b.items():
            s = t.get(w, 0) + c
            if s >= R:
                s -= R
            if s:
                t[w] = s
            else:
                del t[w]
        return LC(t, self.cs or other.cs)

    __radd__ = __add__

    def __neg__(self):
        return LC({w: R - c for w, c in self.terms.items()}, self.cs)

    def __sub__(self, other):
        if isinstance(other, int):
            return self + (-other)
        if not isinstance(other, LC):
            return NotImplemented
        t = dict(self.terms)
        for w, c in other.terms.items():
            s = t.get(w, 0) - c
            if s < 0:
                s += R
            if s:
                t[w] = s
            else:
                del t[w]
        return LC(t, self.cs or other.cs)

    def __rsub__(self, other):
        return (-self) + other

    def scale(self, k: int) -> LC:
        k %= R
        if k == 1:
            return self
        if not k:
            return LC({}, self.cs)
        return LC({w: c * k % R for w, c in self.terms.items()}, self.cs)

    def __mul__(self, other):
        if isinstance(other, int):
            return self.scale(other)
        if not isinstance(other, LC):
            return NotImplemented
        if other.is_constant():
            return self.scale(other.constant())
        if self.is_constant():
            return other.scale(self.constant())
        return (self.cs or other.cs).mul(self, other)

    def __rmul__(self, other):
        if isinstance(other, int):
            return self.scale(other)
        return NotImplemented


def const(c: int) -> LC:
    """A constant LC (no system attached)."""
    c %= R
    return LC({ONE: c} if c else {}, None)


def as_lc(x) -> LC:
    if isinstance(x, LC):
        return x
    if isinstance(x, int):
        return const(x)
    raise TypeError(f"expected LC or int, got {type(x).__name__}")


def lin(pairs: Iterable[tuple[int, LC | int]], cs=None) -> LC:
    """``sum(k * x for k, x in pairs)`` in one pass (avoids quadratic copying in long sums)."""
    t: dict[int, int] = {}
    get = t.get
    for k, x in pairs:
        if isinstance(x, int):
            if x:
                t[ONE] = get(ONE, 0) + k * x
            continue
        if cs is None:
            cs = x.cs
        if k == 1:
            for w, c in x.terms.items():
                t[w] = get(w, 0) + c
        else:
            for w, c in x.terms.items():
                t[w] = get(w, 0) + k * c
    # one reduction per term at the end instead of one per addition
    out = {}
    for w, c in t.items():
        c %= R
        if c:
            out[w] = c
    return LC(out, cs)


def lsum(xs: Iterable[LC | int], cs=None) -> LC:
    """``sum(xs)`` in one pass."""
    return lin(((1, x) for x in xs), cs)
