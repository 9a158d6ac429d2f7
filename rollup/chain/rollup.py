"""A thin client of contracts/Rollup.sol: deployment, requests, batches, payouts, exodus.

Every write returns the TxResult (receipt, gas); reverts raise ContractRevert with the decoded
custom error (WrongOldRoot, WrongBatchNumber, InvalidProof, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eth_utils import keccak

from circuits.babyjubjub import pack_point
from circuits.eddsa import eddsa_public_key, eddsa_sign

from . import layout
from .contracts import TxResult, call, contract_at, deploy, transact
from .node import Chain


@dataclass(frozen=True)
class RollupState:
    state_root: bytes
    batch_number: int
    queue_length: int
    queue_consumed: int
    exodus: bool


def deploy_signature_verifier(chain: Chain, *, sender: str | None = None) -> str:
    """Deploy circomlibjs's Poseidon contract and the EdDSA-Poseidon verifier that reads it;
    returns the verifier's address (two contract creations)."""
    pos = deploy(chain, "PoseidonT6", sender=sender)
    return deploy(chain, "EdDSAPoseidonVerifier", pos.address, sender=sender).address


class RollupClient:
    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.contract = contract_at(chain, "Rollup", address)
        self.address = self.contract.address

    @classmethod
    def deploy(cls, chain: Chain, *, batch_verifier: str, exit_verifier: str, token: str,
               operator: str, genesis_root: bytes, priority_deadline: int,
               first_account_id: int = 1, account_limit: int = 2**32 - 1,
               accounts_depth: int = 32, signature_verifier: str | None = None,
               queue_fee: int = 0, min_deposit: int = 1, queue_spacing: int = 0,
               genesis_collateral: int = 0,
               batch_shapes: Mapping[tuple[int, int], str] | None = None,
               sender: str | None = None) -> RollupClient:
        """`first_account_id`: the id the first new key gets (ids below belong to the genesis
        state); `account_limit`: at most 2**`accounts_depth`, the depth the circuits prove;
        `signature_verifier`: an EdDSAPoseidonVerifier (None: deploy one, two creations);
        `queue_fee` wei per queue entry, `min_deposit`, `queue_spacing` seconds: the queue's
        economics (contract comment); `genesis_collateral`: token the contract must already
        hold for the genesis balances; `batch_shapes`: {(slots, l1_slots): verifier} for the
        batch shapes with a key of their own, `batch_verifier` (may be the zero address then)
        verifying every other shape."""
        if signature_verifier is None:
            signature_verifier = deploy_signature_verifier(chain, sender=sender)
        cfg = (batch_verifier, exit_verifier, signature_verifier, token, operator, genesis_root,
               priority_deadline, first_account_id, account_limit, accounts_depth, queue_fee,
               min_deposit, queue_spacing, genesis_collateral,
               [(l1, layout.public_data_bytes(n, l1), v)
                for (n, l1), v in sorted((batch_shapes or {}).items())])
        c = deploy(chain, "Rollup", cfg, sender=sender)
        return cls(chain, c.address)

    @property
    def f(self):
        return self.contract.functions

    # --- reads ----------------------------------------------------------------------------
    def state(self) -> RollupState:
        f = self.f
        return RollupState(bytes(call(f.stateRoot())), call(f.batchNumber()),
                           call(f.queueLength()), call(f.queueConsumed()), call(f.exodus()))

    def account_of(self, l2_key: bytes) -> int:
        """The account id the contract assigned to a compressed key (0 = none yet)."""
        return call(self.f.accountOf(l2_key))

    def batch_verifier_for(self, public_data: bytes) -> str:
        """The verifier the contract sends a batch with this public data to (its shape's)."""
        return call(self.f.batchVerifierFor(public_data))

    def queue_fee(self) -> int:
        return call(self.f.queueFee())

    def forced_nonce(self, account_id: int, l2_key: bytes) -> int:
        """Forced withdrawals the key `l2_key` (packed) has signed for `account_id` so far."""
        return call(self.f.forcedNonce(keccak(account_id.to_bytes(4, "big") + bytes(l2_key))))

    def queue_hash(self, i: int) -> bytes:
        return bytes(call(self.f.queueHash(i)))

    def pending(self, owner: str, asset: int) -> int:
        return call(self.f.pendingWithdrawal(owner, asset))

    def public_input(self, batch_number: int, old_root: bytes, new_root: bytes,
                     queue_count_after: int, public_data: bytes) -> int:
        """The batch public input computed here from on-chain queue hashes (no eth_call)."""
        consumed = call(self.f.queueConsumed())
        return layout.batch_public_input(
            self.chain.w3.eth.chain_id, self.address, batch_number, old_root, new_root,
            self.queue_hash(consumed), self.queue_hash(queue_count_after), public_data)

    # --- writes ---------------------------------------------------------------------------
    def _tx(self, fn, sender, value=0, gas=None, on_sent=None) -> TxResult:
        return transact(self.chain, fn, sender=sender, value=value, gas=gas, on_sent=on_sent)

    def deposit_eth(self, l2_key: bytes, value: int, *, sender: str,
                    fee: int | None = None) -> TxResult:
        """Deposit `value` wei; the queue fee (read from the contract unless given) is added."""
        fee = self.queue_fee() if fee is None else fee
        return self._tx(self.f.depositEth(l2_key), sender, value + fee)

    def deposit_token(self, l2_key: bytes, amount: int, *, sender: str,
                      fee: int | None = None) -> TxResult:
        fee = self.queue_fee() if fee is None else fee
        return self._tx(self.f.depositToken(l2_key, amount), sender, fee)

    def forced_withdrawal_message(self, account_id: int, asset: int, amount: int, to: str,
                                  l2_key: bytes) -> int:
        """What the L2 key signs for this request now (its next nonce)."""
        return layout.forced_withdrawal_message(
            self.chain.w3.eth.chain_id, self.address, account_id, asset, amount, to,
            self.forced_nonce(account_id, l2_key))

    def request_forced_withdrawal(self, account_id: int, asset: int, amount: int, *,
                                  private_key: bytes | None = None, to: str | None = None,
                                  public_key: tuple[int, int] | None = None,
                                  signature=None, sender: str,
                                  fee: int | None = None) -> TxResult:
        """Queue a forced withdrawal to `to` (default: the sender), signed by the L2 key
        `private_key` (or pass `public_key` and a ready `signature` ((R8x, R8y), S))."""
        to = to or sender
        if public_key is None:
            if private_key is None:
                raise ValueError("a forced withdrawal needs the account's L2 key")
            public_key = eddsa_public_key(private_key)
        if signature is None:
            m = self.forced_withdrawal_message(account_id, asset, amount, to,
                                               pack_point(public_key))
            signature = eddsa_sign(private_key, m)
        (r8x, r8y), s = signature
        fee = self.queue_fee() if fee is None else fee
        return self._tx(self.f.requestForcedWithdrawal(account_id, asset, amount, to,
                                                       list(public_key), [r8x, r8y, s]),
                        sender, fee)

    def submit_batch(self, batch_number: int, old_root: bytes, new_root: bytes,
                     queue_count_after: int, public_data: bytes, proof: list[int], *,
                     sender: str, gas: int | None = 2_000_000, on_sent=None) -> TxResult:
        return self._tx(self.f.submitBatch(batch_number, old_root, new_root, queue_count_after,
                                           public_data, proof), sender, gas=gas, on_sent=on_sent)

    def withdraw(self, asset: int, *, sender: str) -> TxResult:
        return self._tx(self.f.withdraw(asset), sender)

    def activate_exodus(self, *, sender: str) -> TxResult:
        return self._tx(self.f.activateExodus(), sender)

    def exit(self, account_id: int, owner: str, eth_amount: int, token_amount: int,
             proof: list[int], *, sender: str, gas: int | None = 1_000_000) -> TxResult:
        return self._tx(self.f.exit(account_id, owner, eth_amount, token_amount, proof), sender,
                        gas=gas)

    def refund_deposit(self, index: int, entry: layout.QueueEntry, *, sender: str) -> TxResult:
        return self._tx(self.f.refundDeposit(index, entry.asset, entry.l1_address, entry.amount,
                                             entry.l2_key), sender)
