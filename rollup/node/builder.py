"""The node's batch builder process: the next batch's files from the journal, one build at a
time, keeping the pre-state between builds.

It runs in a process of its own (spawned: the node has threads), which imports this module to
find `build`; so it imports only what a build needs, and neither web3 nor the API.
"""

from __future__ import annotations

from rollup.config import load
from rollup.node.provers import orphan_watch
from rollup.settlement.stage import PreState, build_next

_CACHE: PreState | None = None  # the pre-state between builds


def init(parent: int) -> None:
    """The process's initializer (``parent``: the node's pid): a kill -9 of the node takes the
    builder with it."""
    orphan_watch(parent)


def build(cfg_path: str, full_only: bool) -> dict | None:
    """The next batch's files, or None (not full yet)."""
    global _CACHE
    if _CACHE is None:
        _CACHE = PreState()
    # no constraint check here: the prover's proof is verified before it is written
    built = build_next(load(cfg_path), full_only=full_only, check=False, cache=_CACHE)
    return None if built is None else built.meta
