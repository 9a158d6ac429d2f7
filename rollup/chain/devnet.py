"""A development deployment of the rollup: the two verifiers, a test collateral token, the
signature verifier (Poseidon + EdDSA), Rollup.

    d = deploy_devnet(chain, batch_vk=..., exit_vk=..., genesis_root=root, priority_deadline=T)

Five contract creations (one more per further batch shape), one mint of the genesis
collateral to the Rollup's address, then the Rollup, from one deployer, always in the same
order, so the Rollup's address is known before deployment (`devnet_rollup_address`): batches
bind the rollup address into their public input, so the engine's domain and the proofs can be
made first. With the same deployer account and nonce on two chains
(`node.embedded(mnemonic=ANVIL_MNEMONIC)` and Anvil), both deployments get the same addresses.
The token is `contracts/test/TestToken.sol` (anyone mints): development only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import rlp
from eth_utils import keccak, to_checksum_address

from . import layout
from .contracts import deploy, transact
from .node import Chain
from .rollup import RollupClient, deploy_signature_verifier
from .verifier import deploy_verifier

# batch verifier, exit verifier, token, Poseidon, EdDSA verifier, the genesis mint, rollup
TRANSACTIONS = 7


def create_address(sender: str | bytes, nonce: int) -> str:
    """The address of the contract `sender` creates with transaction nonce `nonce` (CREATE)."""
    return to_checksum_address(keccak(rlp.encode([layout._addr(sender), nonce]))[12:])


def devnet_rollup_address(deployer: str, nonce: int = 0, shapes: int = 0) -> str:
    """Where `deploy_devnet` puts the Rollup when the deployer's next nonce is `nonce` (with
    `shapes` further batch shapes' verifiers)."""
    return create_address(deployer, nonce + TRANSACTIONS - 1 + shapes)


@dataclass
class Deployment:
    chain: Chain
    rollup: RollupClient
    token: object  # web3 contract
    batch_verifier: object
    exit_verifier: object
    operator: str
    shape_verifiers: dict = field(default_factory=dict)  # (slots, l1_slots) -> web3 contract


def deploy_devnet(chain: Chain, *, batch_vk, exit_vk, genesis_root: bytes | int,
                  priority_deadline: int, deployer: str | None = None,
                  operator: str | None = None, first_account_id: int = 1,
                  account_limit: int = 2**32 - 1, accounts_depth: int = 32,
                  genesis_collateral: int = 0, queue_fee: int = 0, queue_spacing: int = 0,
                  min_deposit: int = 1, shape_vks: Mapping | None = None) -> Deployment:
    """Deploy the contracts from `deployer` (default: the chain's first account); the
    operator defaults to the deployer. `shape_vks`: {(slots, l1_slots): verification key} of
    further batch shapes, each with its own verifier (`batch_vk` verifies the others).
    `genesis_collateral` test tokens are minted to the Rollup's address first, so the genesis
    balances are backed (the constructor checks it)."""
    deployer = deployer or chain.accounts[0]
    operator = operator or deployer
    shape_vks = dict(shape_vks or {})
    expected = devnet_rollup_address(deployer, chain.w3.eth.get_transaction_count(deployer),
                                     len(shape_vks))
    bv = deploy_verifier(chain, batch_vk, sender=deployer)
    ev = deploy_verifier(chain, exit_vk, sender=deployer)
    sv = {k: deploy_verifier(chain, vk, sender=deployer) for k, vk in sorted(shape_vks.items())}
    token = deploy(chain, "TestToken", sender=deployer)
    sig = deploy_signature_verifier(chain, sender=deployer)
    transact(chain, token.functions.mint(expected, genesis_collateral), sender=deployer)
    root = genesis_root.to_bytes(32, "big") if isinstance(genesis_root, int) else genesis_root
    rollup = RollupClient.deploy(chain, batch_verifier=bv.address, exit_verifier=ev.address,
                                 token=token.address, operator=operator, genesis_root=root,
                                 priority_deadline=priority_deadline,
                                 first_account_id=first_account_id,
                                 account_limit=account_limit, accounts_depth=accounts_depth,
                                 signature_verifier=sig, queue_fee=queue_fee,
                                 queue_spacing=queue_spacing, min_deposit=min_deposit,
                                 genesis_collateral=genesis_collateral,
                                 batch_shapes={k: v.address for k, v in sv.items()},
                                 sender=deployer)
    if rollup.address != expected:  # another transaction from the deployer got in between
        raise RuntimeError(f"Rollup deployed at {rollup.address}, expected {expected}")
    return Deployment(chain, rollup, token, bv, ev, operator, sv)
