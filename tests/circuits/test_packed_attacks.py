"""Packed positions words and the state-diff record selection: attacks on the two
preconditions each change rests on, shown to be load-bearing, and where the circuits enforce
them."""

from __future__ import annotations

import pytest

from circuits.batch import DIFF_BYTES
from circuits.batch.gadgets import select_record
from circuits.dsl import ConstraintSystem
from circuits.gadgets.bits import to_bits
from circuits.lc import R, lsum

WIDTH = 8 * DIFF_BYTES


def _records(cs, values, flags):
    """Records of given bit values (each bit a proven-boolean wire unless given as a raw
    private input), with flags as private inputs; the slot's "type" rule on the flags."""
    recs = []
    for r, (vals, f) in enumerate(zip(values, flags, strict=True)):
        bits = []
        for k, b in enumerate(vals):
            w = cs.private_input(f"b{r}_{k}", b)
            bits.append(w)
        flag = cs.private_input(f"f{r}", f)
        cs.assert_bool(flag)
        recs.append((flag, bits))
    return recs


@pytest.mark.adversarial
def test_two_flags_publish_the_sum_of_two_records_unless_the_type_rule_holds():
    """select_record trusts 'at most one flag': with two set, the chunk is the integer sum of two
    records, which decomposes into bits that are neither record (here 0b01 + 0b01 = 0b10).
    The slot's "type" component (sum of flags boolean) is what refuses it."""
    cs = ConstraintSystem()
    recs = _records(cs, [[0, 1], [0, 1]], [1, 1])
    for _, bits in recs:
        for b in bits:
            cs.assert_bool(b)
    with cs.component("select"):
        out = select_record(cs, recs, WIDTH)
    assert [cs.eval(b) for b in out[:2]] == [1, 0]  # neither record's bits
    assert cs.check() == []  # the gadget alone accepts it
    with cs.component("type"):
        cs.assert_bool(lsum([f for f, _ in recs], cs))
    assert {v.component for v in cs.check()} == {"type"}


@pytest.mark.adversarial
def test_a_non_boolean_record_bit_publishes_other_bits():
    """select_record trusts 'the records' bits are boolean': a record 'bit' of 2 at position k
    publishes a 1 at position k - 1 (a carry). Every record of slot() is built from to_bits /
    signed_bits / const_bits / an asserted boolean (easset), so this cannot be set up there."""
    cs = ConstraintSystem()
    recs = _records(cs, [[0, 2, 0]], [1])
    with cs.component("select"):
        out = select_record(cs, recs, WIDTH)
    assert [cs.eval(b) for b in out[:3]] == [1, 0, 0]
    assert cs.check() == []
    for b in recs[0][1]:
        cs.assert_bool(b)
    assert cs.check() != []


def test_chunk_decomposition_is_unique():
    """The chunks are 248 and 8 * DIFF_BYTES - 248 (168) bits < MAX_BITS = 253 < log2(r): one
    integer < 2**n per chunk, so to_bits has a single witness (a second one would be x + r >=
    2**253 > 2**248)."""
    assert (1 << 248) < R < (1 << 254) and 0 < 8 * DIFF_BYTES - 248 <= 248
    cs = ConstraintSystem()
    x = cs.private_input("x", (1 << 248) - 1)
    to_bits(cs, x, 248)
    assert cs.check() == []
    # the only other candidate sum for the same field element is x + r, which needs 254 bits
    assert ((1 << 248) - 1 + R) >> 248 > 0
