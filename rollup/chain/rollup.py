"""A thin client of contracts/Rollup.sol: deployment, requests, batches, payouts, exodus.

Every write returns the TxResult (receipt, gas); reverts raise ContractRevert with the decoded
custom error (WrongOldRoot, WrongBatchNumber, InvalidProof, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

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


class RollupClient:
    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.contract = contract_at(chain, "Rollup", address)
        self.address = self.contract.address

    @classmethod
    def deploy(cls, chain: Chain, *, batch_verifier: str, exit_verifier: str, token: str,
               operator: str, genesis_root: bytes, priority_deadline: int,
               first_account_id: int = 1, account_limit: int = 2**32 - 1,
               sender: str | None = None) -> RollupClient:
        """`first_account_id`: the id the first new key gets (ids below belong to the genesis
        state); `account_limit`: 2**depth of the accounts tree the circuits prove."""
        c = deploy(chain, "Rollup", batch_verifier, exit_verifier, token, operator,
                   genesis_root, priority_deadline, first_account_id, account_limit,
                   sender=sender)
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

    def owner_of(self, account_id: int) -> str:
        return call(self.f.ownerOf(account_id))

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

    def deposit_eth(self, l2_key: bytes, value: int, *, sender: str) -> TxResult:
        return self._tx(self.f.depositEth(l2_key), sender, value)

    def deposit_token(self, l2_key: bytes, amount: int, *, sender: str) -> TxResult:
        return self._tx(self.f.depositToken(l2_key, amount), sender)

    def request_forced_withdrawal(self, account_id: int, asset: int, amount: int, *,
                                  sender: str) -> TxResult:
        return self._tx(self.f.requestForcedWithdrawal(account_id, asset, amount), sender)

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
