"""G1 and G2 of BN254 for Python callers, as arrays in Montgomery form.

Affine points: G1 (n, 2, 4), G2 (n, 2, 2, 4), with (0, 0) as the point at infinity (the zkey
convention). Jacobian points: G1 (n, 3, 4), G2 (n, 3, 2, 4), Z = 0 at infinity.
Python-int points use py_ecc's shapes: G1 (x, y), G2 ((x0, x1), (y0, y1)), None for infinity.

Inputs from outside are validated: coordinates canonical (< q), on the curve, and for G2 in the
order-r subgroup (`subgroup=True`, the default), else NonCanonicalError / NotOnCurveError /
NotInSubgroupError.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np

from prover.constants import G1_B, G1_GEN, G2_B, G2_GEN, R
from prover.errors import NotInSubgroupError, NotOnCurveError
from prover.fields import Fq, Fq2, Fr, ints_to_limbs
from prover.kernels.cpu import points as kp
from prover.kernels.cpu.params import int_to_limbs

_R_LIMBS = np.array(int_to_limbs(R), dtype=np.uint64)


class CurveGroup:
    def __init__(self, name: str, degree: int, b, generator):
        self.name = name
        self.degree = degree  # 1: coordinates in Fq, 2: in Fq2
        self.coord_shape = (4,) if degree == 1 else (2, 4)
        self._b_ints = b
        self._generator_ints = generator

    @functools.cached_property
    def b(self) -> np.ndarray:
        """The curve constant in Montgomery form (computed on first use: importing this module
        runs no kernel, which keeps a CLI's start-up short)."""
        return self._coords_from_ints([self._b_ints])[0]

    @functools.cached_property
    def _b_tuple(self):
        return self._as_tuple(self.b)

    # -- shapes and conversions -----------------------------------------------------------------

    def _coords_from_ints(self, coords: list) -> np.ndarray:
        if self.degree == 1:
            return Fq.from_ints(coords)
        return Fq2.from_ints(coords)

    def _coords_to_ints(self, a: np.ndarray) -> list:
        if self.degree == 1:
            return Fq.to_ints(a)
        return Fq2.to_ints(a)

    @staticmethod
    def _as_tuple(coord: np.ndarray):
        if coord.ndim == 1:
            return tuple(np.uint64(x) for x in coord)
        return tuple(tuple(np.uint64(x) for x in row) for row in coord)

    def _zero_coord(self):
        return (0, 0) if self.degree == 2 else 0

    def empty_affine(self, n: int) -> np.ndarray:
        return np.zeros((n, 2, *self.coord_shape), dtype=np.uint64)

    def empty_jacobian(self, n: int) -> np.ndarray:
        return np.zeros((n, 3, *self.coord_shape), dtype=np.uint64)

    def _rows(self, a: np.ndarray, k: int) -> np.ndarray:
        a = np.ascontiguousarray(a, dtype=np.uint64)
        want = (k, *self.coord_shape)
        if a.shape[-len(want) :] != want:
            raise ValueError(f"{self.name} array must end in shape {want}, got {a.shape}")
        return a.reshape(-1, *want)

    def from_ints(self, points: Iterable, *, check: bool = True, subgroup: bool = True):
        """Python-int points (None = infinity) -> affine array; validates unless check=False."""
        pts = list(points)
        z = self._zero_coord()
        coords = []
        for p in pts:
            x, y = (z, z) if p is None else p
            coords.extend([x, y])
        arr = self._coords_from_ints(coords).reshape(len(pts), 2, *self.coord_shape)
        if check:
            self.validate(arr, subgroup=subgroup)
        return arr

    def to_ints(self, aff: np.ndarray) -> list:
        rows = self._rows(aff, 2)
        flat = self._coords_to_ints(rows.reshape(-1, *self.coord_shape))
        zero = self._zero_coord()
        out = []
        for i in range(len(rows)):
            x, y = flat[2 * i], flat[2 * i + 1]
            out.append(None if (x == zero and y == zero) else (x, y))
        return out

    def generator(self) -> np.ndarray:
        return self.from_ints([self._generator_ints], check=False)[0]

    def random_points(self, n: int, seed: int = 0) -> np.ndarray:
        """n distinct-looking points of the group (affine), fast: cumulative sums of 16 random
        multiples of the generator. For tests and benchmarks, not for anything secret."""
        import random

        rng = random.Random(seed)
        if n == 0:
            return self.empty_affine(0)
        seeds = self.to_affine(self.mul(np.repeat(self.generator()[None], 16, 0),
                                        [rng.randrange(1, R) for _ in range(16)]))
        jac = self.empty_jacobian(n)
        kp.arr_chain_sums(seeds, jac)
        return self.to_affine(jac)

    # -- validation -----------------------------------------------------------------------------

    def is_on_curve(self, aff: np.ndarray) -> np.ndarray:
        rows = self._rows(aff, 2)
        return kp.arr_on_curve(rows, self._b_tuple).reshape(
            np.shape(aff)[: -1 - len(self.coord_shape)]
        )

    def in_subgroup(self, aff: np.ndarray) -> np.ndarray:
        """r * P == infinity. G1 has prime order r, so on-curve points always pass there."""
        rows = self._rows(aff, 2)
        if self.degree == 1:
            return self.is_on_curve(rows)
        return kp.arr_mul_is_inf(rows, _R_LIMBS) & kp.arr_on_curve(rows, self._b_tuple)

    def validate(self, aff: np.ndarray, *, subgroup: bool = True) -> None:
        on = self.is_on_curve(aff).reshape(-1)
        if not on.all():
            i = int(np.argmax(~on))
            raise NotOnCurveError(f"{self.name} point #{i} is not on the curve")
        if subgroup and self.degree == 2:
            ok = self.in_subgroup(aff).reshape(-1)
            if not ok.all():
                i = int(np.argmax(~ok))
                raise NotInSubgroupError(f"{self.name} point #{i} is not in the order-r subgroup")

    # -- group law ------------------------------------------------------------------------------

    def to_jacobian(self, aff: np.ndarray) -> np.ndarray:
        rows = self._rows(aff, 2)
        out = self.empty_jacobian(len(rows))
        kp.arr_aff_to_jac(rows, out)
        return out

    def to_affine(self, jac: np.ndarray) -> np.ndarray:
        """Batch normalization (one field inversion for the whole array)."""
        rows = self._rows(jac, 3)
        out = self.empty_affine(len(rows))
        kp.arr_to_affine(rows, out)
        return out

    def add(self, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
        """Jacobian + Jacobian, elementwise."""
        a, b = self._rows(P, 3), self._rows(Q, 3)
        out = self.empty_jacobian(len(a))
        kp.arr_add(a, b, out)
        return out

    def add_mixed(self, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
        """Jacobian + affine, elementwise."""
        a, b = self._rows(P, 3), self._rows(Q, 2)
        out = self.empty_jacobian(len(a))
        kp.arr_add_mixed(a, b, out)
        return out

    def double(self, P: np.ndarray) -> np.ndarray:
        a = self._rows(P, 3)
        out = self.empty_jacobian(len(a))
        kp.arr_double(a, out)
        return out

    def neg(self, aff: np.ndarray) -> np.ndarray:
        a = self._rows(aff, 2)
        out = self.empty_affine(len(a))
        kp.arr_neg_aff(a, out)
        return out

    def mul(self, aff: np.ndarray, scalars: Sequence[int]) -> np.ndarray:
        """k_i * P_i (Jacobian), scalars as Python ints reduced mod r."""
        a = self._rows(aff, 2)
        k = ints_to_limbs([s % R for s in scalars])
        if len(k) != len(a):
            raise ValueError("one scalar per point")
        out = self.empty_jacobian(len(a))
        kp.arr_mul(a, k, out)
        return out

    def mul_fr(self, aff: np.ndarray, scalars_mont: np.ndarray) -> np.ndarray:
        """k_i * P_i with scalars as an Fr array in Montgomery form."""
        a = self._rows(aff, 2)
        out = self.empty_jacobian(len(a))
        kp.arr_mul(a, Fr.from_montgomery(scalars_mont).reshape(-1, 4), out)
        return out


G1 = CurveGroup("G1", 1, G1_B, G1_GEN)
G2 = CurveGroup("G2", 2, G2_B, G2_GEN)
