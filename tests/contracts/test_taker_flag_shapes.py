"""Review of fees22: Rollup.sol's shape rule after the chunk went 59 -> 52 bytes. Lengths
4 + 41 l1 + 52 N are accepted at deployment; the old 59-byte lengths are refused, except where
59 N = 52 M (N a multiple of 52: the same length is then a 59k-slot shape of the new circuit)."""

from __future__ import annotations

import pytest

from circuits.batch import DIFF_BYTES, L1_RECORD_BYTES
from rollup.chain import layout
from rollup.chain.contracts import deploy
from rollup.chain.errors import ContractRevert
from rollup.chain.rollup import deploy_signature_verifier
from rollup.chain.verifier import deploy_verifier
from tests.support.snark import needs_node

GENESIS = b"\x11" * 32
DEADLINE = 3 * 24 * 3600


def old_bytes(slots: int, l1: int) -> int:
    return 4 + L1_RECORD_BYTES * l1 + 59 * slots


def test_layout_uses_52_byte_chunks():
    assert DIFF_BYTES == 52
    for slots, l1 in ((1, 0), (1, 1), (4, 4), (64, 4), (128, 4)):
        assert layout.public_data_bytes(slots, l1) == 4 + 41 * l1 + 52 * slots


@needs_node
@pytest.mark.adversarial
def test_old_59_byte_shapes_refused_new_accepted(chain, standin):
    a = deploy_verifier(chain, standin.vk).address
    token = deploy(chain, "TestToken")
    sig = deploy_signature_verifier(chain)

    def dep(shapes):
        cfg = (a, a, sig, token.address, chain.accounts[0], GENESIS, DEADLINE, 1, 2**32 - 1, 32,
               0, 1, 0, 0, shapes)
        return deploy(chain, "Rollup", cfg)

    for slots, l1 in ((1, 1), (4, 4), (64, 4), (128, 4)):
        with pytest.raises(ContractRevert, match="not 4 \\+ 41 l1Slots \\+ 52 N"):
            dep([(l1, old_bytes(slots, l1), a)])
    dep([(l1, layout.public_data_bytes(slots, l1), a) for slots, l1 in ((64, 4), (128, 4))])
    # the one ambiguity: an old 52-slot length is a new 59-slot length (the key decides)
    assert old_bytes(52, 4) == layout.public_data_bytes(59, 4)
    dep([(4, old_bytes(52, 4), a)])
