"""Fixtures of the batch-shape tests: one py-evm chain and three tiny keys per module."""

from __future__ import annotations

import pytest

from tests.support.snark import tiny_key


@pytest.fixture(scope="module")
def chain():
    from tests.support.contracts import open_chain

    ch = open_chain("py-evm")
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Three independent one-input keys (x^k = y for k = 1, 2, 3), each with its vk beside."""
    d = tmp_path_factory.mktemp("keys")
    return [tiny_key(d / f"k{k}.zkey", k) for k in (1, 2, 3)]
