"""Does a witness satisfy an R1CS? (A.w) * (B.w) = C.w row by row, what `snarkjs wtns check`
decides, with the prover's Numba kernels: A.w, B.w and C.w in one parallel pass each.

A coefficient c is taken to c*R^2 (R = 2^256), so a Montgomery product with a canonical witness
value gives c*w*R, the Montgomery form of c*w; sums stay in Montgomery form and the row check is
mont(A.w, B.w) == C.w.
"""

from __future__ import annotations

import numba
import numpy as np

from prover.errors import WitnessError
from prover.fields import Fr, limbs_to_ints
from prover.formats.container import ensure_aligned
from prover.formats.r1cs import R1CS, SparseMatrix
from prover.groth16 import kernels as kg
from prover.groth16.steps import chunk_starts


def _evaluate(m: SparseMatrix, w: np.ndarray, n_rows: int) -> np.ndarray:
    """m.w on every row, Montgomery form, (n_rows, 4)."""
    out = np.zeros((n_rows, 4), dtype=np.uint64)
    if m.nnz == 0:
        return out
    values = np.ascontiguousarray(Fr.to_montgomery(Fr.to_montgomery(m.coeff), check=False))
    row = np.ascontiguousarray(m.row, dtype=np.int64)
    col = np.ascontiguousarray(m.col, dtype=np.int64)
    if len(row) > 1 and not bool(np.all(row[1:] >= row[:-1])):
        starts = np.array([0, len(row)], dtype=np.int64)  # unsorted: one chunk, no races
    else:
        starts = chunk_starts(row, 8 * numba.get_num_threads())
    # the layout of zkey section 4 (kernels.eval_ab): matrix 0, row, wire, value halves
    rec = np.zeros((len(row), 11), dtype=np.uint32)
    rec[:, 1], rec[:, 2] = row, col
    rec[:, 3:] = values.view(np.uint32).reshape(-1, 8)
    rec.flags.writeable = False  # the type the prover's calls compiled
    kg.eval_ab(rec, w, starts, out, out)
    return out


def unsatisfied(r1cs: R1CS, witness: np.ndarray) -> np.ndarray:
    """Indices of the constraints the witness (canonical limbs, (n_wires, 4)) violates."""
    if len(witness) != r1cs.n_wires:
        raise WitnessError(f"witness has {len(witness)} values, the circuit has "
                           f"{r1cs.n_wires} wires")
    w = ensure_aligned(np.ascontiguousarray(witness, dtype=np.uint64))
    Fr.check_canonical(w)
    n = r1cs.n_constraints
    a, b, c = (_evaluate(m, w, n) for m in (r1cs.A, r1cs.B, r1cs.C))
    return np.flatnonzero(~Fr.equal(Fr.mul(a, b), c)) if n else np.zeros(0, np.int64)


def first_unsatisfied(r1cs: R1CS, witness: np.ndarray) -> int | None:
    """The index of the first violated constraint, or None when all hold."""
    bad = unsatisfied(r1cs, witness)
    return int(bad[0]) if len(bad) else None


def check_satisfied(r1cs: R1CS, witness: np.ndarray) -> None:
    """Raise WitnessError naming the first violated constraint (or a wrong constant wire)."""
    bad = unsatisfied(r1cs, witness)
    if len(bad):
        raise WitnessError(f"the witness does not satisfy constraint #{int(bad[0])} "
                           f"(of {r1cs.n_constraints}; {len(bad)} unsatisfied)")
    if r1cs.n_wires and tuple(int(x) for x in witness[0]) != (1, 0, 0, 0):
        raise WitnessError(f"witness[0] must be 1 (the constant wire), got "
                           f"{limbs_to_ints(witness[0])[0]}")
