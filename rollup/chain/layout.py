"""Byte layouts shared with contracts/Rollup.sol (see docs/public-input.md). Pure Python.

All integers big-endian at fixed widths; addresses are 20 bytes; roots and hashes 32 bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

INPUT_BITS = 253
INPUT_MASK = (1 << INPUT_BITS) - 1

KIND_DEPOSIT = 1
KIND_FORCED_WITHDRAWAL = 2
ASSET_ETH = 0
ASSET_TOKEN = 1

# Queue economics defaults (Rollup.sol's queueFee, queueSpacing, minDeposit): an L1 slot costs
# the operator ~125,000 gas to consume, 10**15 wei at 8 gwei; a flood moves deadlines by 30 s an
# entry; the smallest deposit is one base unit (the fee is what makes spam cost).
DEFAULT_QUEUE_FEE = 10**15
DEFAULT_QUEUE_SPACING = 30
DEFAULT_MIN_DEPOSIT = 1

ENTRY_BYTES = 74
RECORD_BYTES = 41
ZERO32 = b"\x00" * 32


def _addr(a: str | bytes) -> bytes:
    b = bytes.fromhex(a[2:] if a.startswith("0x") else a) if isinstance(a, str) else bytes(a)
    if len(b) != 20:
        raise ValueError(f"address must be 20 bytes, got {len(b)}")
    return b


def _b32(v: bytes | int) -> bytes:
    if isinstance(v, int):
        return v.to_bytes(32, "big")
    if len(v) != 32:
        raise ValueError(f"expected 32 bytes, got {len(v)}")
    return bytes(v)


def truncate(digest: bytes) -> int:
    """The public input from a SHA-256 digest: uint256(digest) & (2^253 - 1) (< r)."""
    return int.from_bytes(digest, "big") & INPUT_MASK


@dataclass(frozen=True)
class QueueEntry:
    """A priority-queue entry: kind u8 | asset u8 | accountId u32 | l1Address 20 | amount u128 |
    l2Key bytes32 (74 bytes)."""

    kind: int
    asset: int
    account_id: int
    l1_address: str | bytes
    amount: int
    l2_key: bytes = ZERO32

    def encode(self) -> bytes:
        return (self.kind.to_bytes(1, "big") + self.asset.to_bytes(1, "big")
                + self.account_id.to_bytes(4, "big") + _addr(self.l1_address)
                + self.amount.to_bytes(16, "big") + _b32(self.l2_key))


def queue_next(prev: bytes, entry: QueueEntry) -> bytes:
    """H_{i+1} = sha256(H_i || entry_i); H_0 = 32 zero bytes."""
    return hashlib.sha256(_b32(prev) + entry.encode()).digest()


def queue_chain(entries: list[QueueEntry], start: bytes = ZERO32) -> list[bytes]:
    """[H_0, H_1, ..., H_n] starting from `start`."""
    out = [_b32(start)]
    for e in entries:
        out.append(queue_next(out[-1], e))
    return out


@dataclass(frozen=True)
class Withdrawal:
    """An L1-operations record: accountId u32 | asset u8 | to address 20 | amount u128."""

    account_id: int
    asset: int
    to: str | bytes
    amount: int

    def encode(self) -> bytes:
        return (self.account_id.to_bytes(4, "big") + self.asset.to_bytes(1, "big")
                + _addr(self.to) + self.amount.to_bytes(16, "big"))


def public_data_bytes(slots: int, l1_slots: int) -> int:
    """Length of the public data of a batch circuit of SLOTS slots, L1_SLOTS of them L1 slots:
    count u32 | L1_SLOTS records | SLOTS state-diff chunks (Rollup.sol's batch shapes)."""
    # lazy: the chunk size is the batch circuit's (its package loads Numba): deployments only
    from circuits.batch import DIFF_BYTES

    return 4 + RECORD_BYTES * l1_slots + DIFF_BYTES * slots


def encode_public_data(withdrawals: list[Withdrawal], state_diff: bytes = b"") -> bytes:
    """count u32 | records | opaque state-diff bytes."""
    return (len(withdrawals).to_bytes(4, "big") + b"".join(w.encode() for w in withdrawals)
            + bytes(state_diff))


def batch_preimage(chain_id: int, rollup: str | bytes, batch_number: int, old_root: bytes | int,
                   new_root: bytes | int, queue_before: bytes, queue_after: bytes,
                   public_data: bytes) -> bytes:
    """chainId u256 | rollup 20 | batchNumber u64 | oldRoot | newRoot | queueHashBefore |
    queueHashAfter | publicData  (188 fixed bytes, then the public data)."""
    return (chain_id.to_bytes(32, "big") + _addr(rollup) + batch_number.to_bytes(8, "big")
            + _b32(old_root) + _b32(new_root) + _b32(queue_before) + _b32(queue_after)
            + bytes(public_data))


def batch_public_input(*args, **kwargs) -> int:
    return truncate(hashlib.sha256(batch_preimage(*args, **kwargs)).digest())


def exit_preimage(root: bytes | int, chain_id: int, rollup: str | bytes, account_id: int,
                  owner: str | bytes, eth_amount: int, token_amount: int) -> bytes:
    """root 32 | chainId u64 | rollup 20 | accountId u32 | owner 20 | ethAmount u128 |
    tokenAmount u128 (116 bytes): the deployment's domain keeps an exit proof to one rollup."""
    return (_b32(root) + chain_id.to_bytes(8, "big") + _addr(rollup)
            + account_id.to_bytes(4, "big") + _addr(owner)
            + eth_amount.to_bytes(16, "big") + token_amount.to_bytes(16, "big"))


def exit_public_input(*args, **kwargs) -> int:
    return truncate(hashlib.sha256(exit_preimage(*args, **kwargs)).digest())


FORCED_WITHDRAWAL_TAG = b"zkderiv/forced-withdrawal/v1".ljust(32, b"\x00")
FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def forced_withdrawal_message(chain_id: int, rollup: str | bytes, account_id: int, asset: int,
                              amount: int, to: str | bytes, nonce: int) -> int:
    """The field element an L2 key signs to authorise a forced withdrawal (Rollup.sol's
    forcedWithdrawalMessage): keccak256(tag 32 | chainId u256 | rollup 20 | accountId u32 |
    asset u8 | amount u128 | to 20 | nonce u64) mod r."""
    from eth_utils import keccak  # lazy: eth_utils (~0.4 s); layout is read without a chain

    data = (FORCED_WITHDRAWAL_TAG + chain_id.to_bytes(32, "big") + _addr(rollup)
            + account_id.to_bytes(4, "big") + asset.to_bytes(1, "big")
            + amount.to_bytes(16, "big") + _addr(to) + nonce.to_bytes(8, "big"))
    return int.from_bytes(keccak(data), "big") % FIELD
