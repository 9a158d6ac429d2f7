"""Exit proofs from the engine's state: witness values, setup, proof, and the contract's call.

``exit_inputs(state, domain, account_id, owner, sig)`` opens everything the exit circuit
(`circuits.exit`) needs from a `State` whose root is the last finalized one; the amount owed is
the account's value at the committed oracle prices floored at zero (``rollup.margin.risk``'s
``account_value``, which the circuit recomputes), paid in the collateral token.
"""

from __future__ import annotations

from dataclasses import dataclass

from circuits.eddsa import eddsa_sign
from circuits.exit import (
    ORACLE_DEPTH,
    POSITION_SLOTS,
    build_exit_circuit,
    exit_message,
    input_names,
    root_of,
)
from circuits.poseidon import poseidon
from rollup.chain.layout import exit_public_input
from rollup.margin.risk import account_value
from rollup.state.encoding import encode
from rollup.state.state import State


@dataclass
class ExitClaim:
    account_id: int
    owner: int  # 160-bit L1 address
    eth_amount: int
    token_amount: int
    root: int
    public_input: int
    values: dict[str, int]

    @property
    def owner_address(self) -> bytes:
        return self.owner.to_bytes(20, "big")


def sign_exit(private_key: bytes, domain, account_id: int, owner: int):
    """The account key's authorisation to pay the exit of `account_id` to `owner` from the
    deployment `domain` (``rollup.transactions.Domain``: chain id, rollup address)."""
    msg = exit_message(domain.chain_id, domain.rollup_address, account_id, owner)
    return eddsa_sign(private_key, msg)


def exit_inputs(state: State, domain, account_id: int, owner: int, signature) -> ExitClaim:
    """The exit circuit's inputs for `account_id` at ``state.root`` (see circuits.exit), for
    the deployment `domain`."""
    root = state.root
    acc = state.account(account_id)
    (r8x, r8y), s = signature
    v: dict[str, int] = {
        "accounts_root": state.account_tree.root, "registry_root": state.registry_tree.root,
        "time": state.time, "oracle_root": state.oracle_tree.root,
        "oracle_pk_x": state.oracle_pk[0], "oracle_pk_y": state.oracle_pk[1],
        "stage": poseidon(state.stage.fields()), "account_id": account_id,
        "pk_x": acc.pk[0], "pk_y": acc.pk[1], "nonce": acc.nonce,
        "collateral": encode(acc.collateral), "orders_root": state.orders_root(account_id),
        "owner": owner, "sig_r8x": r8x, "sig_r8y": r8y, "sig_s": s,
        "chain_id": domain.chain_id, "rollup": domain.rollup_address,
    }
    for k, sib in enumerate(state.account_tree.proof(account_id)):
        v[f"account_sib{k}"] = sib
    for j in range(POSITION_SLOTS):
        asset, b, snap = acc.positions[j]
        o = state.oracle.get(asset) if asset else None
        fields = o.fields() if o is not None else [0, 0, 0, 0, 0]
        v.update({f"slot{j}_asset": asset, f"slot{j}_balance": encode(b),
                  f"slot{j}_snapshot": encode(snap), f"slot{j}_price": fields[0],
                  f"slot{j}_funding": fields[1], f"slot{j}_settlement": fields[2],
                  f"slot{j}_settled": fields[3], f"slot{j}_rows": fields[4]})
        for k, sib in enumerate(state.oracle_tree.proof(asset)):
            v[f"slot{j}_sib{k}"] = sib
    assert len(v) == len(input_names(state.account_depth))
    if root_of(v) != root:
        raise AssertionError("exit inputs do not open the state root")
    token = max(account_value(state, acc), 0)
    pub = exit_public_input(root, domain.chain_id, domain.rollup_address.to_bytes(20, "big"),
                            account_id, owner.to_bytes(20, "big"), 0, token)
    return ExitClaim(account_id, owner, 0, token, root, pub, v)


def exit_circuit(state_or_depth, claim: ExitClaim | None = None):
    """The exit circuit for a state's depth; with `claim`, its witness is computed too."""
    depth = state_or_depth.account_depth if isinstance(state_or_depth, State) else state_or_depth
    return build_exit_circuit(depth, None if claim is None else claim.values)


__all__ = ["ORACLE_DEPTH", "ExitClaim", "exit_circuit", "exit_inputs", "sign_exit"]
