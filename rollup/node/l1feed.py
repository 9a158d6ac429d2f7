"""The L1 priority queue into the running sequencer: deposits, refunds, forced withdrawals.

``L1Feed(service).poll()`` reads new ``PriorityRequest`` events through the relayer's event
reader (re-chained against the contract's queue hashes, persisted cursor and entries in
``DATA/l1-feed.db``) and submits each entry's request to the sequencer, in queue order.

Exactly once, across crashes: the journal is the record of what the sequencer applied, so an
entry whose index is below the number of L1 requests already journaled (after the genesis) is
skipped instead of submitted again; the relayer's cursor only moves after the callback returns,
so nothing is skipped either. The entries stay in the store for the batch builder
(``rollup batch build`` reads them when no ``--queue`` file is given).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rollup.settlement.files import FEED_STORE as STORE_NAME
from rollup.settlement.files import L1_TYPES

# lazy: web3 and the relayer (~2 s) load on the feed's own thread at its first poll, where it
# also opens its connections: `rollup sequencer run --l1-poll` serves without waiting for them.

__all__ = ["L1_TYPES", "STORE_NAME", "FeedError", "L1Feed", "l1_requests_journaled"]


class FeedError(RuntimeError):
    """An L1 entry the sequencer cannot take (the feed stops before its cursor moves)."""


def l1_requests_journaled(journal, genesis_seq: int) -> int:
    """How many L1 requests the journal holds after the genesis rows."""
    return sum(isinstance(r, L1_TYPES) for _, r in journal.requests_after(genesis_seq))


class L1Feed:
    """SQLite connections belong to the thread that opened them, so the feed opens its store
    and node connection on the first poll, on the polling thread (and again if another thread
    polls)."""

    def __init__(self, service, *, from_block: int = 0, node: str | None = None,
                 confirmations: int | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        cfg = service.cfg
        self.node = node or cfg.node
        if not self.node.startswith(("http://", "https://")):
            raise FeedError("the L1 feed needs chain.node to be an http(s) URL")
        if not cfg.rollup_deployed:
            raise FeedError("the L1 feed needs chain.rollup_address (deploy first)")
        self.service = service
        self.cfg = cfg
        self.from_block = from_block
        self.confirmations = confirmations
        self.log = log or service.log
        self._owner: int | None = None
        self.chain = self.store = self.relayer = None
        self.applied = service.call(
            lambda s: l1_requests_journaled(s.journal, s.genesis_seq))
        self.exodus = False

    def _open(self) -> None:
        from rollup.chain.node import rpc
        from rollup.chain.rollup import RollupClient
        from rollup.settlement.relayer import BatchStore, Relayer

        if self._owner == threading.get_ident():
            return
        self.close()
        self.chain = rpc(self.node)
        self.store = BatchStore(self.cfg.data / STORE_NAME)
        self.relayer = Relayer(RollupClient(self.chain, self.cfg.rollup_address), self.store,
                               on_request=self._take, from_block=self.from_block,
                               confirmations=self.confirmations, log=self.log)
        self._owner = threading.get_ident()

    def _take(self, item) -> None:
        if item.index < self.applied:
            return  # journaled before a crash; the cursor had not moved yet
        if item.request is None:
            raise FeedError(f"queue entry {item.index}: {item.note}")
        self.service.submit(item.request)
        self.applied = item.index + 1
        self.log(f"L1 entry {item.index}: {type(item.request).__name__}"
                 + (f" ({item.note})" if item.note else ""))

    def poll(self) -> int:
        """Submit every new entry; returns how many were handed on. Once the contract is in
        exodus, the sequencer is told to refuse every request (ExodusActive)."""
        from rollup.chain.contracts import call

        self._open()
        if call(self.relayer.client.f.exodus()):  # one eth_call, not the whole state
            if not self.exodus:
                self.exodus = True
                self.service.call(lambda s: s.seq.enter_exodus("activated on L1"))
                self.log("L1 is in exodus: the sequencer refuses every request from now on")
            return 0
        return len(self.relayer.poll_events())

    def run(self, every: float, stop: threading.Event) -> None:
        """Poll every `every` seconds until `stop` is set; a failure is logged and retried."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # the node may be down for a while: keep trying
                self.log(f"L1 feed: {type(exc).__name__}: {exc}")
            stop.wait(every)
        self.close()

    def close(self) -> None:
        """Close the store and the node connection (on the thread that polled)."""
        if self.store is not None:
            self.store.close()
        if self.chain is not None:
            self.chain.close()
        self.chain = self.store = self.relayer = None
        self._owner = None
