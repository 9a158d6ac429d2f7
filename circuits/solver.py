"""A ConstraintSystem's witness steps compiled to arrays and replayed by a Numba kernel.

``compile_solver(cs)`` turns the steps ``cs.solve`` replays (products of two LCs and hints)
into flat arrays over Fr Montgomery limbs; ``Solver.solve(inputs)`` returns the same values
as ``cs.solve(inputs)`` (canonical limbs, indexed by signal id) and ``Solver.witness(values)``
the same wire order as ``cs.witness``. Hints the kernel knows (bit splits, SHA-256 parity and
majority, field division, is-zero) run natively; any other hint is called in Python with the
same argument values. ``Solver.check`` evaluates the finalized constraints and the substituted
linear equalities like ``cs.check(values=...)`` (compiled only with ``constraints=True``).
The solver keeps no reference to the system: it is built once per circuit shape and reused.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from prover.fields import Fr, limbs_to_ints
from prover.kernels.cpu.field import U0, U1, load, store
from prover.kernels.cpu.fr import FR_ONE, fr_add, fr_inv, fr_mul, fr_sub

from .cs import PRV_IN, PUB_IN, ConstraintSystem, Violation, _identity
from .gadgets.babyjubjub import _div
from .gadgets.comparators import _inv_or_zero, _is_zero_value
from .gadgets.sha256 import _majority, _parity

# step kinds; BITS is ``to_bits``'s split (its width is the step's output count)
MUL, COPY, PARITY, MAJORITY, BITS, DIV, INV0, ISZERO, PYTHON = range(9)
_NATIVE = {_identity: COPY, _parity: PARITY, _majority: MAJORITY, _div: DIV,
           _inv_or_zero: INV0, _is_zero_value: ISZERO}
_ZERO = (U0, U0, U0, U0)
_PLAIN_ONE = (U1, U0, U0, U0)  # mont_mul(x, 1) = x * 2^-256: the canonical value of x


def _kind(fn) -> int:
    if fn is None:
        return MUL
    if getattr(fn, "split_bits", None) is not None:
        return BITS
    return _NATIVE.get(fn, PYTHON)


class _Terms:
    """LCs as CSR rows: row k is terms ptr[k]..ptr[k+1] of (wire, coefficient index); index 0
    is the coefficient 1 (no multiplication)."""

    def __init__(self, coefs: dict[int, int]):
        self.coefs = coefs
        self.wires: list[int] = []
        self.cidx: list[int] = []
        self.ptr = [0]

    def add(self, terms: Mapping[int, int]) -> None:
        coefs = self.coefs
        for w, c in terms.items():
            k = coefs.get(c)
            if k is None:
                k = coefs[c] = len(coefs)
            self.wires.append(w)
            self.cidx.append(k)
        self.ptr.append(len(self.wires))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.ptr, dtype=np.int64), np.asarray(self.wires, dtype=np.int64),
                np.asarray(self.cidx, dtype=np.int32))


class Solver:
    """See the module docstring; built by `compile_solver`."""

    def __init__(self, cs: ConstraintSystem, constraints: bool):
        coefs: dict[int, int] = {1: 0}
        args = _Terms(coefs)
        kinds, first, n_out, step_arg = [], [], [], [0]
        self._python: dict[int, object] = {}
        for s, (fn, lcs, out, n) in enumerate(cs._steps):
            k = _kind(fn)
            kinds.append(k)
            first.append(out)
            n_out.append(n or 1)
            if k == PYTHON:
                self._python[s] = (fn, n)
            for lc in lcs:
                args.add(lc.terms)
            step_arg.append(len(args.ptr) - 1)
        self.kind = np.asarray(kinds, dtype=np.int8)
        self.first = np.asarray(first, dtype=np.int64)
        self.n_out = np.asarray(n_out, dtype=np.int64)
        self.step_arg = np.asarray(step_arg, dtype=np.int64)
        self.arg_ptr, self.arg_wire, self.arg_coef = args.arrays()
        self.n_signals = cs.n_signals
        self.inputs = {n: i for n, i in cs.names.items() if cs.kind[i] in (PUB_IN, PRV_IN)}
        self._input_ids = np.fromiter(self.inputs.values(), dtype=np.int64,
                                      count=len(self.inputs))
        f = cs._finalize()
        self.wire_ids = np.asarray(f.wire_ids, dtype=np.int64)
        self.n_constraints = len(f.a)
        self.has_constraints = constraints
        if constraints:
            rows = _Terms(coefs)
            for a, b, c in zip(f.a, f.b, f.c, strict=True):
                rows.add(a)
                rows.add(b)
                rows.add(c)
            lin = _Terms(coefs)
            for t, _ in f.lin:
                lin.add(t)
            self.q_ptr, self.q_wire, self.q_coef = rows.arrays()
            self.l_ptr, self.l_wire, self.l_coef = lin.arrays()
            self.q_comp = np.asarray(f.comp, dtype=np.int32)
            self.l_comp = np.asarray([ci for _, ci in f.lin], dtype=np.int32)
            self.comp_names = list(cs._comp_names)
        # every coefficient once, in Montgomery form, in index order
        self.coef = Fr.from_ints(sorted(coefs, key=coefs.__getitem__))

    # -- solving --------------------------------------------------------------------------------

    def solve(self, inputs: Mapping[str, int]) -> np.ndarray:
        """Every signal's canonical value (uint64 (n_signals, 4), by signal id) from the input
        values: ``cs.solve(inputs)`` as limbs."""
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise KeyError(f"missing input {missing[0]!r}")
        vals = np.zeros((self.n_signals, 4), dtype=np.uint64)
        vals[0] = FR_ONE
        vals[self._input_ids] = Fr.from_ints((inputs[n] for n in self.inputs), reduce=True)
        s, n = 0, len(self.kind)
        while s < n:
            s = _run(s, self.kind, self.first, self.n_out, self.step_arg, self.arg_ptr,
                     self.arg_wire, self.arg_coef, self.coef, vals)
            if s < n:  # a hint the kernel does not know: called as cs.solve calls it
                self._call(s, vals)
                s += 1
        return Fr.from_montgomery(vals)

    def _call(self, s: int, vals: np.ndarray) -> None:
        fn, n = self._python[s]
        lo, hi = self.step_arg[s], self.step_arg[s + 1]
        args = Fr.to_ints(_eval_rows(lo, hi, self.arg_ptr, self.arg_wire, self.arg_coef,
                                     self.coef, vals))
        out = fn(*args)
        res = [out] if n == 0 else list(out)
        if len(res) != max(n, 1):
            raise ValueError(f"hint returned {len(res)} values, expected {n}")
        o = int(self.first[s])
        vals[o:o + len(res)] = Fr.from_ints(res, reduce=True)

    def witness(self, values: np.ndarray) -> np.ndarray:
        """The witness in wire order (uint64 (n_wires, 4) canonical limbs) from `solve`'s
        output, for ``prover.formats.wtns.write_wtns`` or the prover."""
        return values[self.wire_ids]

    def witness_ints(self, values: np.ndarray) -> list[int]:
        return limbs_to_ints(self.witness(values))

    # -- checking -------------------------------------------------------------------------------

    def check(self, values: np.ndarray, *, limit: int | None = None) -> list[Violation]:
        """``cs.check(values=...)`` on `solve`'s output: every violated quadratic constraint,
        then every violated substituted equality (at most `limit`)."""
        if not self.has_constraints:
            raise ValueError("compiled without constraints (compile_solver(cs, "
                             "constraints=True))")
        mont = Fr.to_montgomery(values)
        cap = limit or (self.n_constraints + len(self.l_comp))
        q = _violations(self.q_ptr, self.q_wire, self.q_coef, 3, self.coef, mont, cap)
        out = []
        for i in q:
            a, b, c = Fr.to_ints(_eval_rows(3 * i, 3 * i + 3, self.q_ptr, self.q_wire,
                                            self.q_coef, self.coef, mont))
            out.append(Violation("quadratic", int(i), self.comp_names[self.q_comp[i]], a, b, c))
        if len(out) < cap:
            for j in _violations(self.l_ptr, self.l_wire, self.l_coef, 1, self.coef, mont,
                                 cap - len(out)):
                (d,) = Fr.to_ints(_eval_rows(j, j + 1, self.l_ptr, self.l_wire, self.l_coef,
                                             self.coef, mont))
                out.append(Violation("linear", int(j), self.comp_names[self.l_comp[j]], d, 1, 0))
        return out


def compile_solver(cs: ConstraintSystem, *, constraints: bool = False) -> Solver:
    """The solver of `cs` (built with or without a witness: only its steps and shape are read);
    ``constraints=True`` also compiles the finalized constraints for `Solver.check`."""
    return Solver(cs, constraints)


# -- kernels --------------------------------------------------------------------------------------


@njit(cache=True)
def _eval(lo, hi, wire, cidx, coef, vals):
    """sum over terms lo..hi of coef * value (Montgomery)."""
    acc = _ZERO
    for k in range(lo, hi):
        x = load(vals, wire[k])
        c = cidx[k]
        if c != 0:
            x = fr_mul(load(coef, c), x)
        acc = fr_add(acc, x)
    return acc


@njit(cache=True)
def _eval_rows(lo, hi, ptr, wire, cidx, coef, vals):
    out = np.empty((hi - lo, 4), dtype=np.uint64)
    for r in range(lo, hi):
        store(out, r - lo, _eval(ptr[r], ptr[r + 1], wire, cidx, coef, vals))
    return out


@njit(cache=True)
def _is_zero(x):
    return (x[0] | x[1] | x[2] | x[3]) == U0


@njit(cache=True)
def _bit(flag):
    return FR_ONE if flag else _ZERO


@njit(cache=True)
def _run(start, kind, first, n_out, step_arg, ptr, wire, cidx, coef, vals):
    """Steps start.. in order until one that must run in Python (its index) or the end."""
    n = kind.shape[0]
    for s in range(start, n):
        k = kind[s]
        if k == PYTHON:
            return s
        a = step_arg[s]
        x = _eval(ptr[a], ptr[a + 1], wire, cidx, coef, vals)
        o = first[s]
        if k == MUL:
            store(vals, o, fr_mul(x, _eval(ptr[a + 1], ptr[a + 2], wire, cidx, coef, vals)))
        elif k == COPY:
            store(vals, o, x)
        elif k == DIV:  # n / d, 0 for d = 0 (babyjubjub._div)
            d = _eval(ptr[a + 1], ptr[a + 2], wire, cidx, coef, vals)
            store(vals, o, _ZERO if _is_zero(d) else fr_mul(x, fr_inv(d)))
        elif k == INV0:
            store(vals, o, _ZERO if _is_zero(x) else fr_inv(x))
        elif k == ISZERO:
            store(vals, o, _bit(_is_zero(x)))
        else:  # hints of the canonical integer value
            p = fr_mul(x, _PLAIN_ONE)
            if k == PARITY:  # y & 1
                store(vals, o, _bit((p[0] & U1) == U1))
            elif k == MAJORITY:  # y >= 2
                store(vals, o, _bit((p[1] | p[2] | p[3]) != U0 or p[0] >= np.uint64(2)))
            else:  # BITS: (y >> i) & 1 for i < n_out
                for i in range(n_out[s]):
                    limb = p[i // 64]
                    store(vals, o + i, _bit(((limb >> np.uint64(i % 64)) & U1) == U1))
    return n


@njit(cache=True)
def _violations(ptr, wire, cidx, per, coef, vals, cap):
    """Indices of the rows (groups of `per` LCs: a, b, c or one difference) that fail:
    a * b != c, or d != 0; at most `cap`."""
    n = (ptr.shape[0] - 1) // per
    out = np.empty(min(n, cap), dtype=np.int64)
    m = 0
    for i in range(n):
        r = per * i
        a = _eval(ptr[r], ptr[r + 1], wire, cidx, coef, vals)
        if per == 3:
            b = _eval(ptr[r + 1], ptr[r + 2], wire, cidx, coef, vals)
            c = _eval(ptr[r + 2], ptr[r + 3], wire, cidx, coef, vals)
            d = fr_sub(fr_mul(a, b), c)
        else:
            d = a
        if not _is_zero(d):
            out[m] = i
            m += 1
            if m == cap:
                break
    return out[:m]

