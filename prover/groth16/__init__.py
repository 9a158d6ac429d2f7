"""Groth16 over BN254, compatible with snarkjs's zkey, wtns and JSON files.

    result = prove("circuit.zkey", "witness.wtns")     # proof, public signals, phase timings
    verify(vk, result.public_signals, result.proof)    # True / False, typed error if malformed
"""

from prover.groth16.keys import export_verification_key, verification_key
from prover.groth16.prove import ProveResult, prove
from prover.groth16.verify import verify

__all__ = ["ProveResult", "export_verification_key", "prove", "verification_key", "verify"]
