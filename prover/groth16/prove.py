"""Groth16 proving from a snarkjs `.zkey` and a witness, reproducing snarkjs's conventions.

With the witness w (w_0 = 1, then the public signals, then the private wires):
1. A.w and B.w on the n-point domain from zkey section 4; C.w = (A.w)*(B.w) pointwise;
2. H: iNTT, coefficient j times g^j (g a primitive 2n-th root of unity), NTT: A*B - C on the odd
   points of the 2n-domain, whose Lagrange points over delta section 9 holds, so their MSM is
   [h(tau) Z(tau) / delta]_1 with no division by Z (the backend may run the other four MSMs
   meanwhile: they need only the witness);
3. with r, s uniform in Fr (CSPRNG):
     pi_a = A + alpha1 + r delta1,   pi_b = B2 + beta2 + s delta2,
     pi_c = C + H + s pi_a + r (B1 + beta1 + s delta1) - r s delta1
   where C sums the private wires only (section 8 starts at wire nPublic + 1).
Below SMALL_DOMAIN rows the CPU path runs on plain ints (`prove_ints.py`): loading the
compiled kernels would cost more than the proof. Details: docs/prover.md.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from prover.constants import R
from prover.errors import NonCanonicalError, WitnessError
from prover.formats._limbs import (
    check_canonical,
    g1_from_mont,
    g2_from_mont,
    ints_to_limbs,
    limbs_to_ints,
)
from prover.formats.container import ensure_aligned
from prover.formats.snarkjs_json import Proof
from prover.formats.wtns import read_wtns
from prover.formats.zkey import Zkey, read_zkey
from prover.groth16.prove_ints import SMALL_DOMAIN, SMALL_DOMAIN_NATIVE, prove_ints
from prover.groth16.steps import evaluate_abc, odd_shift  # noqa: F401 (steps 1, 2 by hand)

# lazy: Numba, the backends and the kernels load in the functions that run them, so a small
# proof (plain ints) never loads them (about a second in a fresh process).
if TYPE_CHECKING:
    from prover.backend import Backend, BackendName

log = logging.getLogger(__name__)

WitnessLike = np.ndarray | Sequence[int] | str | os.PathLike


@dataclass
class ProveResult:
    proof: Proof
    public_signals: list[int]
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds, in order
    engine: str = ""  # what computed it: "ints", or the backend's name ("cpu", "cuda")
    # inside "A.w, B.w, H and MSMs": thread seconds per part (A.w and B.w, H, each MSM, their
    # digits); the parts overlap on the CPU backend, so they add up to more than the phase's
    # wall time
    work: dict[str, float] = field(default_factory=dict)
    device: str = ""  # the backend's device_name, e.g. "CPU, native kernels (2 threads)"


# The phases `prove` reports, in order (a progress display can size itself from this).
PHASES = ("zkey read", "witness read", "A.w, B.w, H and MSMs", "combine")
PHASES_INTS = ("zkey read", "witness read", "proof (ints)")  # the small path's


class _Timer:
    def __init__(self, on_phase: Callable[[str, float], None] | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()
        self._on_phase = on_phase

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self._t
        self._t = now
        log.debug("%s: %.3f s", phase, self.timings[phase])
        if self._on_phase is not None:
            self._on_phase(phase, self.timings[phase])


# --- witness -------------------------------------------------------------------------------

def load_witness(witness: WitnessLike) -> np.ndarray:
    """Canonical (n, 4) uint64 limbs from a .wtns path, a limb array, or a list of ints."""
    if isinstance(witness, str | os.PathLike):
        return ensure_aligned(read_wtns(witness))
    if isinstance(witness, np.ndarray) and witness.dtype != object:
        arr = ensure_aligned(np.ascontiguousarray(witness))
        if arr.ndim != 2 or arr.shape[1] != 4 or arr.dtype != np.uint64:
            raise WitnessError(f"witness array must be uint64 of shape (n, 4), got "
                               f"{arr.dtype} {arr.shape}")
        check_canonical(arr, R)
        return arr
    vals = [int(v) for v in witness]
    for i, v in enumerate(vals):
        if not 0 <= v < R:
            raise NonCanonicalError(f"witness value #{i} is not in [0, r): {v}")
    return ints_to_limbs(vals)


def check_witness(zkey: Zkey, w: np.ndarray) -> None:
    if len(w) != zkey.n_vars:
        raise WitnessError(f"witness has {len(w)} values, the proving key expects {zkey.n_vars}")
    if tuple(int(x) for x in w[0]) != (1, 0, 0, 0):
        got = limbs_to_ints(w[0])[0]
        raise WitnessError(f"witness[0] must be 1 (the constant wire), got {got}")


# --- the QAP part: A.w, B.w, C.w and the H scalars -----------------------------------------

def h_scalars(a: np.ndarray, b: np.ndarray, c: np.ndarray,
              backend: Backend | None = None) -> np.ndarray:
    """A*B - C on the odd points (Montgomery form), from A, B, C on the n-domain (coefficients
    by iNTT, then evaluation on the coset w_2n * H); a, b, c are overwritten."""
    from prover.backend import get_backend

    return (backend or get_backend("cpu")).h_evaluations(a, b, c, odd_shift(a.shape[0]))


# --- the prover ----------------------------------------------------------------------------

def _rand_fr() -> int:
    return secrets.randbelow(R)


def uses_kernels(zkey: Zkey, backend, kernels: bool | None = None) -> bool:
    """Whether `prove` runs the compiled kernels (else plain ints): always for CUDA or a
    Backend object other than the CPU's; below SMALL_DOMAIN rows (SMALL_DOMAIN_NATIVE when
    the native library is already built: it loads in milliseconds) the CPU and "auto" run on
    ints (a GPU would not pay there either); `kernels` True/False forces the choice."""
    if kernels is not None:
        return kernels
    name = backend if isinstance(backend, str) else getattr(backend, "name", "?")
    if name not in ("cpu", "auto") or zkey.domain_size > SMALL_DOMAIN:
        return True
    if zkey.domain_size <= SMALL_DOMAIN_NATIVE:
        return False
    from prover.kernels import native

    return native.load(build=False) is not None


def prove(zkey: Zkey | str | os.PathLike, witness: WitnessLike, *,
          r: int | None = None, s: int | None = None,
          backend: Backend | BackendName = "cpu", kernels: bool | None = None,
          native: bool | None = None,
          on_phase: Callable[[str, float], None] | None = None) -> ProveResult:
    """A Groth16 proof and the public signals (witness[1..nPublic]).

    `backend` runs the MSMs and NTTs: "cpu", "cuda", "auto" (CUDA when a GPU is present) or a
    Backend object; the protocol code is the same for all of them. Small circuits on the CPU
    run on plain ints instead (`uses_kernels`; `kernels=True` forces the kernels). The CPU
    backend runs the native kernels when they load, else Numba's; `native` True / False
    requires / refuses the native ones (for a backend named by string).
    `on_phase(name, seconds)` is called as each phase ends (progress displays).

    `r` and `s` are the blinding scalars; leave them out (they are drawn from `secrets`).
    Fixed values exist for tests that compare against a reference computation.
    """
    timer = _Timer(on_phase)
    if not isinstance(zkey, Zkey):
        zkey = read_zkey(zkey)
        timer.lap("zkey read")
    w = load_witness(witness)
    check_witness(zkey, w)
    timer.lap("witness read")
    r = _rand_fr() if r is None else r % R
    s = _rand_fr() if s is None else s % R
    public = limbs_to_ints(w[1 : zkey.n_public + 1])
    if not uses_kernels(zkey, backend, kernels):
        proof = prove_ints(zkey, limbs_to_ints(w), r, s)
        timer.lap("proof (ints)")
        return ProveResult(proof, public, timer.timings, "ints")
    from prover.backend import get_backend

    be = get_backend(backend, native=native) if isinstance(backend, str) else backend
    msms, work = be.groth16_msms(zkey, w)
    timer.lap("A.w, B.w, H and MSMs")
    proof = combine(zkey, msms, r, s, be.kernels)
    timer.lap("combine")
    return ProveResult(proof, public, timer.timings, be.name, work, be.device_name)


def combine(zkey: Zkey, msms: dict[str, np.ndarray], r: int, s: int, kernels) -> Proof:
    """The proof from the five MSMs (Jacobian; kernels.combine) and r, s."""
    out_a = np.zeros((1, 2, 4), dtype=np.uint64)
    out_b = np.zeros((1, 2, 2, 4), dtype=np.uint64)
    out_c = np.zeros((1, 2, 4), dtype=np.uint64)

    def pt(x):
        return np.ascontiguousarray(x, dtype=np.uint64)[None]

    def limbs(x: int) -> tuple:
        return tuple(np.uint64(v) for v in ints_to_limbs([x % R])[0])

    kernels.combine(pt(msms["A"]), pt(msms["B1"]), pt(msms["B2"]), pt(msms["C"]), pt(msms["H"]),
                    pt(zkey.alpha1), pt(zkey.beta1), pt(zkey.beta2), pt(zkey.delta1),
                    pt(zkey.delta2), limbs(r), limbs(s), limbs(r * s), out_a, out_b, out_c)
    return Proof(g1_from_mont(out_a)[0], g2_from_mont(out_b)[0], g1_from_mont(out_c)[0])
