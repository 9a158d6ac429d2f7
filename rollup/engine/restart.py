"""Restart: the sequencer rebuilt from its journal and newest usable snapshot
(``rollup.durability.recovery``), with this engine's factories: an empty sequencer, and one
restored from a snapshot of the same domain and tree depth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rollup.durability.journal import Journal
from rollup.durability.recovery import recover as _recover
from rollup.engine.sequencer import Sequencer, journal_formats
from rollup.state.state import State
from rollup.transactions import Domain


def recover(path: str | Path | Journal, domain: Domain, account_depth: int = 32, *,
            use_snapshot: bool = True, upto: int | None = None,
            log: Callable[[str], None] | None = None) -> Sequencer:
    """A sequencer rebuilt from the newest usable snapshot plus the journal rows after it,
    attached to the journal again; JournalError if the journal was written under another state
format (``journal_formats``). ``upto`` stops the replay at that sequence number (and
    leaves the journal detached): for audits and tests."""
    return _recover(path, lambda: Sequencer(State(account_depth), domain),
                    lambda snap: Sequencer.from_snapshot(snap, domain, account_depth),
                    use_snapshot=use_snapshot, upto=upto, log=log, formats=journal_formats())

