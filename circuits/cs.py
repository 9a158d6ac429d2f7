"""A rank-1 constraint system builder over BN254's scalar field.

Signals get ids in creation order (0 = the constant one) and are renumbered at export into the
iden3 wire order: one, public outputs, public inputs, private inputs, internal wires. With
``compute_witness=True`` every value is computed while building (hints compute the wires they
allocate) and every step is recorded, so `solve` replays them for new input values.

Only quadratic constraints with two non-constant factors are emitted: linear equalities are
substituted away at finalization (one internal wire each, the one in the fewest constraints, as
circom --O2 does); inputs and outputs are never eliminated, and `check` still verifies the
eliminated equalities. ``with cs.component(name):`` nests names; `component_counts` counts the
final constraints per component. Details: docs/circuits.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain

from .lc import LC, ONE, R, as_lc

ONE_KIND, PUB_OUT, PUB_IN, PRV_IN, INTERNAL = 0, 1, 2, 3, 4
_KIND_NAMES = {PUB_OUT: "public output", PUB_IN: "public input", PRV_IN: "private input"}


class ConstraintError(AssertionError):
    """Raised by `ConstraintSystem.assert_satisfied` with the list of violations."""

    def __init__(self, violations):
        self.violations = violations
        head = "\n".join(str(v) for v in violations[:5])
        more = f"\n... and {len(violations) - 5} more" if len(violations) > 5 else ""
        super().__init__(f"{len(violations)} constraint(s) violated:\n{head}{more}")


@dataclass(frozen=True)
class Violation:
    """One unsatisfied constraint: ``a * b != c`` (kind 'quadratic') or ``a != 0`` (kind
    'linear', an equality that was substituted away; b is 1 and c is 0 then)."""

    kind: str
    index: int
    component: str
    a: int
    b: int
    c: int

    def __str__(self) -> str:
        where = self.component or "<root>"
        if self.kind == "linear":
            return f"linear equality #{self.index} in {where}: lhs - rhs = {self.a} != 0"
        return (
            f"constraint #{self.index} in {where}: A.w * B.w != C.w with "
            f"A.w={self.a}, B.w={self.b}, C.w={self.c}"
        )


class _Final:
    """The finalized system: substitutions resolved, constraints over internal ids."""

    __slots__ = ("a", "b", "c", "comp", "lin", "resolved", "wire_ids", "wire_of", "n_pub_out",
                 "n_pub_in", "n_prv_in")


def _reduce(terms: dict[int, int], subst: dict[int, dict[int, int]]) -> dict[int, int]:
    """Replace every substituted wire in `terms` until none is left."""
    while True:
        hit = [w for w in terms if w in subst]
        if not hit:
            return terms
        t = dict(terms)
        for w in hit:
            k = t.pop(w)
            for v, c in subst[w].items():
                s = (t.get(v, 0) + k * c) % R
                if s:
                    t[v] = s
                else:
                    t.pop(v, None)
        terms = t


def _is_const(t: dict[int, int]) -> bool:
    return not t or (len(t) == 1 and ONE in t)


class ConstraintSystem:
    """Builds an R1CS and (optionally) its witness; see the module docstring."""

    def __init__(self, *, compute_witness: bool = True, prime: int = R):
        if prime != R:
            raise ValueError("only BN254's scalar field is supported")
        self.prime = prime
        self.compute_witness = compute_witness
        self.kind = bytearray([ONE_KIND])
        self.values: list[int | None] = [1]
        self.names: dict[str, int] = {}
        # quadratic constraints as parallel lists of term dicts, plus their component index
        self._a: list[dict[int, int]] = []
        self._b: list[dict[int, int]] = []
        self._c: list[dict[int, int]] = []
        self._comp: list[int] = []
        # linear equalities awaiting substitution: (terms, component index)
        self._lin: list[tuple[dict[int, int], int]] = []
        # witness-generation steps: (fn, argument LCs, first output id, n_out or 0 for a single
        # value); fn None means a product of the two arguments
        self._steps: list[tuple[Callable | None, tuple, int, int]] = []
        self._comp_names: list[str] = [""]
        self._comp_index: dict[str, int] = {"": 0}
        self._cur = 0
        self._final: _Final | None = None

    # -- signals ------------------------------------------------------------------------------

    @property
    def one(self) -> LC:
        return LC({ONE: 1}, self)

    def const(self, c: int) -> LC:
        c %= R
        return LC({ONE: c} if c else {}, self)

    def _new(self, kind: int, value) -> int:
        i = len(self.kind)
        self.kind.append(kind)
        self.values.append(value)
        self._final = None
        return i

    def _input(self, kind: int, name: str, value: int | None) -> LC:
        if name in self.names:
            raise ValueError(f"duplicate signal name {name!r}")
        if self.compute_witness:
            if value is None:
                raise ValueError(f"input {name!r} needs a value when computing the witness")
            value %= R
        i = self._new(kind, value)
        self.names[name] = i
        return LC({i: 1}, self)

    def public_input(self, name: str, value: int | None = None) -> LC:
        return self._input(PUB_IN, name, value)

    def private_input(self, name: str, value: int | None = None) -> LC:
        return self._input(PRV_IN, name, value)

    def public_output(self, name: str, lc: LC | int) -> LC:
        """A public output wire equal to `lc` (the equality is substituted away when `lc` has an
        internal wire, so an output usually costs no constraint)."""
        lc = as_lc(lc)
        if name in self.names:
            raise ValueError(f"duplicate signal name {name!r}")
        i = self._new(PUB_OUT, self.eval(lc) if self.compute_witness else None)
        self.names[name] = i
        self._steps.append((_identity, (lc,), i, 0))
        out = LC({i: 1}, self)
        self.assert_equal(out, lc)
        return out

    def hint(self, fn: Callable, *args, n_out: int | None = None):
        """Allocate private internal wire(s) whose values are ``fn(*values_of_args)``.

        The wires are unconstrained: the caller must constrain them. With `n_out` set, `fn`
        returns a sequence of that many ints and a list of LCs is returned.
        """
        args = tuple(a if isinstance(a, LC) else as_lc(a) for a in args)
        first = len(self.kind)
        if n_out is None:
            v = fn(*[self.eval(a) for a in args]) % R if self.compute_witness else None
            self.kind.append(INTERNAL)
            self.values.append(v)
            self._steps.append((fn, args, first, 0))
            self._final = None
            return LC({first: 1}, self)
        if self.compute_witness:
            vals = [v % R for v in fn(*[self.eval(a) for a in args])]
            if len(vals) != n_out:
                raise ValueError(f"hint returned {len(vals)} values, expected {n_out}")
        else:
            vals = [None] * n_out
        self.kind.extend([INTERNAL] * n_out)
        self.values.extend(vals)
        self._steps.append((fn, args, first, n_out))
        self._final = None
        return [LC({i: 1}, self) for i in range(first, first + n_out)]

    def eval(self, lc: LC | int) -> int | None:
        if isinstance(lc, int):
            return lc % R
        vals = self.values
        s = 0
        try:
            for w, c in lc.terms.items():
                s += c * vals[w]
        except TypeError:
            return None
        return s % R

    # -- constraints ----------------------------------------------------------------------------

    def mul(self, a: LC | int, b: LC | int) -> LC:
        """``a * b`` as an LC; allocates a wire and one constraint only when neither is constant."""
        a, b = as_lc(a), as_lc(b)
        if a.is_constant():
            return b.scale(a.constant())
        if b.is_constant():
            return a.scale(b.constant())
        v = None
        if self.compute_witness:
            v = self.eval(a) * self.eval(b) % R
        i = self._new(INTERNAL, v)
        self._steps.append((None, (a, b), i, 0))
        self._add(a.terms, b.terms, {i: 1})
        return LC({i: 1}, self)

    def _add(self, a: dict, b: dict, c: dict) -> None:
        self._a.append(a)
        self._b.append(b)
        self._c.append(c)
        self._comp.append(self._cur)
        self._final = None

    def constrain_terms(self, a: dict[int, int], b: dict[int, int], c: dict[int, int]) -> None:
        """Fast path for gadgets: record ``a * b == c`` from term dicts (coefficients in
        [1, R), never mutated afterwards) with no constant folding; a and b must not be
        constant."""
        self._add(a, b, c)

    def constrain(self, a: LC | int, b: LC | int, c: LC | int) -> None:
        """Record ``a * b == c``; a constant factor makes it a linear equality (substituted)."""
        a, b, c = as_lc(a), as_lc(b), as_lc(c)
        if a.is_constant():
            self.assert_equal(b.scale(a.constant()), c)
        elif b.is_constant():
            self.assert_equal(a.scale(b.constant()), c)
        else:
            self._add(a.terms, b.terms, c.terms)

    def assert_equal(self, x: LC | int, y: LC | int) -> None:
        """Record ``x == y`` (linear; substituted away at finalization, see module docstring)."""
        d = as_lc(x) - as_lc(y)
        if d.is_constant():
            if d.constant():
                raise ValueError(
                    f"constant equality fails in {self.component_name or '<root>'}: "
                    f"difference {d.constant()}"
                )
            return
        self._lin.append((d.terms, self._cur))
        self._final = None

    def assert_zero(self, x: LC | int) -> None:
        self.assert_equal(x, 0)

    def assert_bool(self, x: LC | int) -> None:
        """``x * (x - 1) == 0``: one constraint (none for a constant 0/1)."""
        x = as_lc(x)
        if x.is_constant():
            if x.constant() not in (0, 1):
                raise ValueError(f"constant {x.constant()} is not a bit")
            return
        self._add(x.terms, (x - 1).terms, {})

    # -- components ---------------------------------------------------------------------------

    @property
    def component_name(self) -> str:
        return self._comp_names[self._cur]

    @contextmanager
    def component(self, name: str):
        """Nest constraints under ``name`` (joined with '/' to the enclosing component)."""
        if "/" in name:
            raise ValueError("component names must not contain '/'")
        saved = self._cur
        parent = self._comp_names[saved]
        path = f"{parent}/{name}" if parent else name
        idx = self._comp_index.get(path)
        if idx is None:
            idx = len(self._comp_names)
            self._comp_names.append(path)
            self._comp_index[path] = idx
        self._cur = idx
        try:
            yield self
        finally:
            self._cur = saved

    # -- finalization -------------------------------------------------------------------------

    def _finalize(self) -> _Final:
        if self._final is not None:
            return self._final
        n = len(self.kind)
        kind = self.kind
        A = list(self._a)
        B = list(self._b)
        C = list(self._c)
        comp = list(self._comp)
        # occurrences in every constraint and equality: eliminating a wire costs fill-in there
        # (Counter.update over chained key iterators counts in C)
        occ: Counter[int] = Counter()
        for lst in (A, B, C):
            occ.update(chain.from_iterable(lst))
        occ.update(chain.from_iterable(t for t, _ in self._lin))
        subst: dict[int, dict[int, int]] = {}
        order: list[int] = []
        lin_all = list(self._lin)  # every eliminated/kept equality, checked by `check`
        pending = list(self._lin)
        kept: list[tuple[dict[int, int], int]] = []
        while pending:
            new_subst = False
            for terms, ci in pending:
                d = _reduce(terms, subst)
                if not d:
                    continue
                best = None
                for w in d:
                    if kind[w] == INTERNAL and (
                        best is None or occ[w] < occ[best] or (occ[w] == occ[best] and w > best)
                    ):
                        best = w
                if best is None:
                    # no internal wire to eliminate: the R1CS form of a linear equality
                    kept.append((d, ci))
                    continue
                inv = pow(R - d[best], -1, R)  # best = -(d - c*best)/c
                subst[best] = {w: c * inv % R for w, c in d.items() if w != best}
                order.append(best)
                new_subst = True
            pending = []
            if not new_subst:
                break
            # substitute into quadratics; those that became linear go back to elimination
            keep = []
            for i in range(len(A)):
                a, b, c = A[i], B[i], C[i]
                if not subst.keys().isdisjoint(a):
                    a = _reduce(a, subst)
                if not subst.keys().isdisjoint(b):
                    b = _reduce(b, subst)
                if not subst.keys().isdisjoint(c):
                    c = _reduce(c, subst)
                if _is_const(a) or _is_const(b):
                    k_a, k_b = a.get(ONE, 0), b.get(ONE, 0)
                    if _is_const(a) and _is_const(b):
                        lhs = {ONE: k_a * k_b % R} if k_a * k_b % R else {}
                    elif _is_const(a):
                        lhs = {w: v * k_a % R for w, v in b.items() if v * k_a % R}
                    else:
                        lhs = {w: v * k_b % R for w, v in a.items() if v * k_b % R}
                    d = dict(lhs)
                    for w, v in c.items():
                        s = (d.get(w, 0) - v) % R
                        if s:
                            d[w] = s
                        else:
                            d.pop(w, None)
                    if d:  # an empty difference is a tautology and is dropped
                        pending.append((d, comp[i]))
                        lin_all.append((d, comp[i]))
                    continue
                A[i], B[i], C[i] = a, b, c
                keep.append(i)
            if len(keep) != len(A):
                A = [A[i] for i in keep]
                B = [B[i] for i in keep]
                C = [C[i] for i in keep]
                comp = [comp[i] for i in keep]
        for d, ci in kept:
            A.append(d)
            B.append({ONE: 1})
            C.append({})
            comp.append(ci)
        # resolve substitutions back to surviving wires (later eliminations first)
        resolved: dict[int, dict[int, int]] = {}
        for w in reversed(order):
            resolved[w] = _reduce(subst[w], resolved)
        # wire order
        groups: dict[int, list[int]] = {PUB_OUT: [], PUB_IN: [], PRV_IN: [], INTERNAL: []}
        for i in range(1, n):
            if i not in resolved:
                groups[kind[i]].append(i)
        wire_ids = [0] + groups[PUB_OUT] + groups[PUB_IN] + groups[PRV_IN] + groups[INTERNAL]
        f = _Final()
        f.a, f.b, f.c, f.comp = A, B, C, comp
        f.lin = lin_all
        f.resolved = resolved
        f.wire_ids = wire_ids
        f.wire_of = {i: k for k, i in enumerate(wire_ids)}
        f.n_pub_out = len(groups[PUB_OUT])
        f.n_pub_in = len(groups[PUB_IN])
        f.n_prv_in = len(groups[PRV_IN])
        self._final = f
        return f

    # -- results ------------------------------------------------------------------------------

    @property
    def n_constraints(self) -> int:
        return len(self._finalize().a)

    @property
    def n_wires(self) -> int:
        return len(self._finalize().wire_ids)

    @property
    def n_signals(self) -> int:
        return len(self.kind)

    def wire_index(self, x: LC | int) -> int:
        """Exported wire index of a signal (raises if it was substituted away)."""
        i = x.wire if isinstance(x, LC) else x
        if i is None:
            raise ValueError("not a single signal")
        f = self._finalize()
        if i not in f.wire_of:
            raise KeyError(f"signal {i} was substituted away")
        return f.wire_of[i]

    def constraints(self) -> list[tuple[dict[int, int], dict[int, int], dict[int, int]]]:
        """Final constraints with wires renumbered to the export order."""
        f = self._finalize()
        m = f.wire_of
        return [
            ({m[w]: c for w, c in a.items()}, {m[w]: c for w, c in b.items()},
             {m[w]: c for w, c in cc.items()})
            for a, b, cc in zip(f.a, f.b, f.c, strict=True)
        ]

    def witness(self, values: Sequence[int] | None = None) -> list[int]:
        """The witness in wire order, from the build-time values or from `solve`'s output."""
        vals = self.values if values is None else values
        ids = self._finalize().wire_ids
        out = [vals[i] for i in ids]
        if any(v is None for v in out):
            raise ValueError("witness values are missing (built without compute_witness?)")
        return out

    def solve(self, inputs: dict[str, int]) -> list[int]:
        """Recompute every signal's value from input values by replaying the recorded steps.

        Returns the values indexed by internal id (pass them to `witness` or `check`).
        """
        vals: list[int | None] = [None] * len(self.kind)
        vals[0] = 1
        for name, i in self.names.items():
            if self.kind[i] in (PUB_IN, PRV_IN):
                if name not in inputs:
                    raise KeyError(f"missing input {name!r}")
                vals[i] = inputs[name] % R

        def ev(lc):
            s = 0
            for w, c in lc.terms.items():
                s += c * vals[w]
            return s % R

        for fn, args, first, n_out in self._steps:
            if fn is None:
                vals[first] = ev(args[0]) * ev(args[1]) % R
            elif n_out == 0:
                vals[first] = fn(*[ev(a) for a in args]) % R
            else:
                res = list(fn(*[ev(a) for a in args]))
                if len(res) != n_out:
                    raise ValueError(f"hint returned {len(res)} values, expected {n_out}")
                vals[first:first + n_out] = [v % R for v in res]
        return vals

    def check(self, witness: Sequence[int] | None = None, *,
              values: Sequence[int] | None = None, limit: int | None = None,
              only: str | None = None) -> list[Violation]:
        """Every violated constraint, with its component and the values of A.w, B.w, C.w.

        `witness` is a full witness in wire order (as `witness()` returns, possibly tampered);
        substituted signals then take the values their substitutions give. `values` is instead
        indexed by internal id (as `self.values` / `solve`), and the substituted equalities are
        checked too. With neither, the build-time values are checked. Empty list = satisfied.
        `only` restricts the check to one component path and its sub-components.
        """
        f = self._finalize()
        if witness is not None:
            if len(witness) != len(f.wire_ids):
                raise ValueError(f"witness has {len(witness)} values, expected {len(f.wire_ids)}")
            if witness[0] % R != 1:
                return [Violation("quadratic", -1, "<wire 0 must be 1>", witness[0], 1, 1)]
            vals: list = [None] * len(self.kind)
            for k, i in enumerate(f.wire_ids):
                vals[i] = witness[k] % R
            for w, t in f.resolved.items():
                vals[w] = sum(c * vals[v] for v, c in t.items()) % R
            check_lin = False
        else:
            vals = self.values if values is None else values
            if any(v is None for v in vals):
                raise ValueError("values are missing (built without compute_witness?)")
            check_lin = True
        out: list[Violation] = []
        names = self._comp_names

        def ev(t):
            s = 0
            for w, c in t.items():
                s += c * vals[w]
            return s % R

        keep = None
        if only is not None:
            keep = {k for k, n in enumerate(names) if n == only or n.startswith(only + "/")}
        for i in range(len(f.a)):
            if keep is not None and f.comp[i] not in keep:
                continue
            av, bv, cv = ev(f.a[i]), ev(f.b[i]), ev(f.c[i])
            if av * bv % R != cv:
                out.append(Violation("quadratic", i, names[f.comp[i]], av, bv, cv))
                if limit and len(out) >= limit:
                    return out
        if check_lin:
            for j, (t, ci) in enumerate(f.lin):
                if keep is not None and ci not in keep:
                    continue
                dv = ev(t)
                if dv:
                    out.append(Violation("linear", j, names[ci], dv, 1, 0))
                    if limit and len(out) >= limit:
                        return out
        return out

    def assert_satisfied(self, witness=None, *, values=None) -> None:
        v = self.check(witness, values=values, limit=20)
        if v:
            raise ConstraintError(v)

    def component_counts(self) -> dict[str, int]:
        """Final constraint count per component path, inclusive of sub-components ("" = all)."""
        f = self._finalize()
        own = [0] * len(self._comp_names)
        for ci in f.comp:
            own[ci] += 1
        total: dict[str, int] = {}
        for ci, k in enumerate(own):
            if not k:
                continue
            path = self._comp_names[ci]
            total[""] = total.get("", 0) + k
            if path:
                parts = path.split("/")
                for j in range(1, len(parts) + 1):
                    p = "/".join(parts[:j])
                    total[p] = total.get(p, 0) + k
        total.setdefault("", 0)
        return total

    def component_tree(self, max_depth: int | None = None) -> str:
        """Printable tree of constraint counts (children sorted by name)."""
        counts = self.component_counts()
        lines = [f"<root>: {counts['']}"]
        def natural(path: str):
            # component by component, numbers compared as numbers (round2 before round10)
            return [[int(t) if t.isdigit() else t for t in re.split(r"(\d+)", part)]
                    for part in path.split("/")]

        for path in sorted((p for p in counts if p), key=natural):
            depth = path.count("/") + 1
            if max_depth is not None and depth > max_depth:
                continue
            lines.append(f"{'  ' * depth}{path.rsplit('/', 1)[-1]}: {counts[path]}")
        return "\n".join(lines)

    def stats(self) -> dict[str, int]:
        f = self._finalize()
        return {
            "constraints": len(f.a),
            "wires": len(f.wire_ids),
            "signals": len(self.kind),
            "substituted": len(f.resolved),
            "public_outputs": f.n_pub_out,
            "public_inputs": f.n_pub_in,
            "private_inputs": f.n_prv_in,
            "nnz": sum(len(t) for lst in (f.a, f.b, f.c) for t in lst),
        }

    # -- export -------------------------------------------------------------------------------

    def to_r1cs(self):
        """The system as `prover.formats.r1cs.R1CS` (labels = internal signal ids)."""
        import numpy as np  # lazy: building needs no numpy

        from prover.formats.r1cs import R1CS  # lazy: Numba kernels; building needs no export

        f = self._finalize()
        wire_of = np.full(len(self.kind), -1, dtype=np.int64)  # internal id -> wire
        wire_of[f.wire_ids] = np.arange(len(f.wire_ids))
        return R1CS.from_lcs(f.a, f.b, f.c, wire_of=wire_of, n_wires=len(f.wire_ids),
                             n_pub_out=f.n_pub_out, n_pub_in=f.n_pub_in, n_prv_in=f.n_prv_in,
                             prime=R, n_labels=len(self.kind), wire_to_label=f.wire_ids)

    def write_r1cs(self, path) -> None:
        """The system as an .r1cs file, written a chunk of constraints at a time (what
        `to_r1cs` then `write_r1cs` would write, without the whole R1CS in memory)."""
        import numpy as np  # lazy: building needs no numpy

        from prover.formats.r1cs import write_r1cs_lcs  # lazy: Numba kernels, as in to_r1cs

        f = self._finalize()
        wire_of = np.full(len(self.kind), -1, dtype=np.int64)  # internal id -> wire
        wire_of[f.wire_ids] = np.arange(len(f.wire_ids))
        write_r1cs_lcs(path, f.a, f.b, f.c, wire_of=wire_of, n_wires=len(f.wire_ids),
                       n_pub_out=f.n_pub_out, n_pub_in=f.n_pub_in, n_prv_in=f.n_prv_in,
                       prime=R, n_labels=len(self.kind), wire_to_label=f.wire_ids)

    def write_wtns(self, path, witness: Sequence[int] | None = None) -> None:
        """Write `witness` (wire order; default: the build-time witness) as a .wtns file."""
        from prover.formats.wtns import write_wtns  # lazy: numpy; building needs no export

        write_wtns(path, self.witness() if witness is None else list(witness), prime=R)


def _identity(x):
    return x
