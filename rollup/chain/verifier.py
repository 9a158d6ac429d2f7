"""snarkjs Groth16 objects -> the contracts' argument encoding, and verifier deployment.

snarkjs JSON writes an Fq2 element as [c0, c1] (real part first); the EVM precompiles (EIP-197)
and therefore Groth16Verifier/Groth16VerifierN take [c1, c0]. The swap happens here, once.
"""

from __future__ import annotations

import os

from prover.formats.snarkjs_json import Proof, VerificationKey, load_proof, load_vk

from .artifacts import load
from .contracts import deploy
from .node import Chain


def g2_evm(p) -> list[int]:
    """snarkjs-order G2 ((x0, x1), (y0, y1)) -> [x1, x0, y1, y0]; infinity -> zeros."""
    if p is None:
        return [0, 0, 0, 0]
    (x0, x1), (y0, y1) = p
    return [x1, x0, y1, y0]


def g1_evm(p) -> list[int]:
    return [0, 0] if p is None else [p[0], p[1]]


def proof_evm(proof: Proof | str | os.PathLike) -> list[int]:
    """A snarkjs proof (object or proof.json path) as the verifiers' uint256[8]."""
    if not isinstance(proof, Proof):
        proof = load_proof(proof)
    return g1_evm(proof.pi_a) + g2_evm(proof.pi_b) + g1_evm(proof.pi_c)


def vk_args(vk: VerificationKey) -> tuple:
    """Constructor arguments (alpha, beta, gamma, delta, ic) for either verifier."""
    ic = [c for p in vk.ic for c in g1_evm(p)]
    return (g1_evm(vk.alpha1), g2_evm(vk.beta2), g2_evm(vk.gamma2), g2_evm(vk.delta2), ic)


def deploy_verifier(chain: Chain, vk: VerificationKey | str | os.PathLike, *,
                    sender: str | None = None, general: bool = False):
    """Deploy a verifier for a snarkjs verification key (object or verification_key.json).

    One public input -> Groth16Verifier (vk in immutables) unless `general`; any other count ->
    Groth16VerifierN. Returns the bound web3 contract.
    """
    if not isinstance(vk, VerificationKey):
        vk = load_vk(vk)
    args = vk_args(vk)
    if vk.n_public == 1 and not general:
        return deploy(chain, "Groth16Verifier", *args, sender=sender)
    return deploy(chain, "Groth16VerifierN", *args, sender=sender)


def verifier_holds(chain: Chain, address: str, vk: VerificationKey) -> bool:
    """Whether ADDRESS runs exactly the Groth16Verifier of VK: its code is compared byte for
    byte with the runtime code the constructor returns for VK (an eth_call of the creation code
    with VK's arguments, which fills the immutables). One public input only (the batch's)."""
    if vk.n_public != 1:
        raise ValueError("verifier_holds checks one-input verifiers (Groth16Verifier)")
    from eth_abi import encode

    art = load("Groth16Verifier")
    (ctor,) = [f for f in art.abi if f["type"] == "constructor"]
    args = encode([i["type"] for i in ctor["inputs"]], list(vk_args(vk)))
    w3 = chain.w3
    want = bytes(w3.eth.call({"data": art.bytecode + args.hex()}))
    have = bytes(w3.eth.get_code(w3.to_checksum_address(address)))
    return bool(have) and have == want
