"""Rebuild the rollup state from L1 data alone: the genesis records and every finalized batch's
calldata (what a user does when the operator is gone).

The chain holds, for every finalized batch, a ``BatchFinalized(batchNumber, oldRoot, newRoot,
...)`` event and a ``BatchData(batchNumber, publicData)`` event emitted by the contract itself,
so the public data is found whatever sent the batch (an EOA or a contract wallet).
Replaying the genesis records (listings, oracle key, fee account: published with the deployment)
must give the genesis root, which is batch 1's ``oldRoot``; replaying each batch's records
(``rebuild.batch_records``) must then give that batch's ``newRoot``. Every root is checked, so
recovery either reproduces the finalized state exactly or says which batch disagrees.
"""

from __future__ import annotations

from dataclasses import dataclass

from circuits.batch import DIFF_BYTES
from rollup.chain.rollup import RollupClient
from rollup.state.rebuild import apply_in_transaction, batch_records, rebuild
from rollup.state.state import State
from rollup.transactions import decode_records


class RecoveryError(Exception):
    """The L1 data does not reproduce the finalized roots."""


@dataclass(frozen=True)
class FinalizedBatch:
    number: int
    old_root: int
    new_root: int
    public_data: bytes
    tx_hash: str


def finalized_batches(client: RollupClient, from_block: int = 0,
                      chunk: int = 10_000) -> list[FinalizedBatch]:
    """Every finalized batch, in order, with its public data read from the contract's
    BatchData events. Logs are read in windows of `chunk` blocks from `from_block` (the
    deployment's block is enough), since public nodes bound the range of one eth_getLogs call."""
    contract = client.contract
    head = client.chain.w3.eth.block_number

    def logs_of(event) -> list:
        got = []
        for lo in range(from_block, head + 1, chunk):
            got += event.get_logs(from_block=lo, to_block=min(lo + chunk - 1, head))
        return got

    data = {}
    for lg in logs_of(contract.events.BatchData()):
        # a batch number is finalized once; a log in the same transaction as its BatchFinalized
        data[(lg["args"]["batchNumber"], bytes(lg["transactionHash"]))] = \
            bytes(lg["args"]["publicData"])
    out = []
    for log in sorted(logs_of(contract.events.BatchFinalized()),
                      key=lambda lg: lg["args"]["batchNumber"]):
        a = log["args"]
        pd = data.get((a["batchNumber"], bytes(log["transactionHash"])))
        if pd is None:
            raise RecoveryError(f"batch {a['batchNumber']} has no BatchData event in its "
                                "transaction; its public data cannot be read back")
        out.append(FinalizedBatch(a["batchNumber"], int.from_bytes(a["oldRoot"], "big"),
                                  int.from_bytes(a["newRoot"], "big"), pd,
                                  log["transactionHash"].hex()))
    numbers = [b.number for b in out]
    if numbers != list(range(1, len(out) + 1)):
        raise RecoveryError(f"finalized batch numbers are not 1..n: {numbers}")
    return out


def recover(client: RollupClient, genesis: bytes, account_depth: int,
            from_block: int = 0) -> State:
    """The state at the last finalized root, from `genesis` (concatenated records) and the
    chain; raises RecoveryError where a root does not match."""
    st = rebuild(genesis, account_depth)
    batches = finalized_batches(client, from_block)
    onchain = client.state()
    if batches and st.root != batches[0].old_root:
        raise RecoveryError(f"the genesis records give root {st.root:#x}, the chain's first "
                            f"batch starts from {batches[0].old_root:#x}")
    if not batches and st.root != int.from_bytes(onchain.state_root, "big"):
        raise RecoveryError("the genesis records do not give the on-chain root")
    for b in batches:
        for t, f in decode_records(batch_records(b.public_data, DIFF_BYTES)):
            apply_in_transaction(st, t, f)
        if st.root != b.new_root:
            raise RecoveryError(f"batch {b.number}: replay gives {st.root:#x}, the chain "
                                f"finalized {b.new_root:#x}")
    if st.root != int.from_bytes(onchain.state_root, "big"):
        raise RecoveryError("the replayed root is not the contract's current root")
    return st
