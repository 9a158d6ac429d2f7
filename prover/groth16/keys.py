"""Keys: the proving key is a snarkjs `.zkey` (prover.formats.zkey.Zkey); the verification key
is the subset a verifier needs, exported as snarkjs's verification_key.json."""

from __future__ import annotations

import os

from prover.formats.snarkjs_json import VerificationKey, dump_vk, vk_from_zkey
from prover.formats.zkey import Zkey, read_zkey


def verification_key(zkey: Zkey | str | os.PathLike) -> VerificationKey:
    """alpha1, beta2, gamma2, delta2, IC and e(alpha1, beta2) in snarkjs's layout."""
    if not isinstance(zkey, Zkey):
        zkey = read_zkey(zkey)
    return vk_from_zkey(zkey)


def export_verification_key(zkey: Zkey | str | os.PathLike, path: str | os.PathLike) -> None:
    """What `snarkjs zkey export verificationkey` writes."""
    dump_vk(verification_key(zkey), path)
