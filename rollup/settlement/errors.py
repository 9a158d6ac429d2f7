"""The relayer's typed errors (ChainErrors): each says in one line why the relayer or its store
refused to go on."""

from __future__ import annotations

from rollup.chain.errors import ChainError, ContractRevert


class RelayerError(ChainError):
    """The relayer refused to go on; the message says why in one line."""


class StoreError(RelayerError):
    """The store is unusable, locked by another process, or holds conflicting data."""


class RootMismatch(RelayerError):
    """The next stored batch does not start from the chain's state root (or the chain finalized
    a different batch under a number the store holds)."""

    def __init__(self, number: int, chain_root: bytes, stored_root: bytes, what: str = "old"):
        self.number, self.chain_root, self.stored_root = number, chain_root, stored_root
        super().__init__(f"batch {number}: chain root 0x{chain_root.hex()}, stored {what} root "
                         f"0x{stored_root.hex()}")


class PublicInputMismatch(RelayerError):
    """The chain would compute another public input than the stored batch was proven for."""


class ExodusActive(RelayerError):
    """The rollup is in exodus mode: no batch will ever be accepted again."""


class BatchRejected(RelayerError):
    """The contract reverted a stored batch. `reason` is the custom error's name."""

    def __init__(self, number: int, revert: ContractRevert):
        self.number = number
        self.revert = revert
        self.reason = revert.name or "revert"
        super().__init__(f"batch {number} rejected: {revert}")


class QueueMismatch(RelayerError):
    """The PriorityRequest events do not chain to the contract's queue hashes (an event missed,
    out of order, or decoded differently from the contract's encoding)."""
