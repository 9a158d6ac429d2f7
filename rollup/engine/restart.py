"""Restart: the sequencer rebuilt from its journal and newest snapshot
(``rollup.durability.journal.replay``),
with the factory of an empty sequencer for a fresh journal."""

from __future__ import annotations

from pathlib import Path

from rollup.durability.journal import replay
from rollup.engine.sequencer import Sequencer
from rollup.state.state import State
from rollup.transactions import Domain


def recover(path: str | Path, domain: Domain, account_depth: int = 32, *,
            use_snapshot: bool = True, upto: int | None = None) -> Sequencer:
    """A sequencer rebuilt from the newest good snapshot plus the journal rows after it,
    attached to the journal again. ``upto`` stops the replay at that sequence number (and
    leaves the journal detached): for audits and tests."""
    return replay(path, lambda: Sequencer(State(account_depth), domain),
                  use_snapshot=use_snapshot, upto=upto)
