"""Phase 1 of a Groth16 setup: the powers-of-tau ceremony in snarkjs's .ptau format.

ceremony (new, contribute, beacon), lagrange (prepare phase2), verify, export (JSON); transcript
holds the hashes and encodings they share, keys the contribution keys. Design: docs/prover.md.
"""

from __future__ import annotations

from prover.kernels.cpu import blake2b as kb
from prover.kernels.cpu import group_fft as kf
from prover.kernels.cpu import msm as km
from prover.kernels.cpu import pairing as kpair
from prover.kernels.cpu import points as kp


def kernels_for(*commands: str) -> list[tuple[object, int]]:
    """(jitted kernel, signatures it needs) of the heavy kernels each command runs, for the
    first-use notice of the CLI."""
    table = {
        "new": [],
        "contribute": [(kf.mul_each, 2), (kf.to_affine, 2), (kb.compress_blocks, 1),
                       (kp.arr_mul, 2)],
        "prepare": [(kf.fft_stage, 2), (kf.mul_each, 2), (kf.bit_reverse_copy, 2),
                    (kf.to_affine, 2), (kp.arr_double, 2), (kp.arr_aff_to_jac, 2)],
        "verify": [(km.window_task, 2), (kpair.product_is_one, 1), (kp.arr_mul, 2),
                   (kb.compress_blocks, 1)],
    }
    return [k for c in commands for k in table.get(c, [])]
