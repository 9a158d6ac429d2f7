"""``select_record``: the state-diff chunk of a slot is the bits of the record whose type flag is
set, packed into field chunks and decomposed once; the same bits the per-bit gating gave."""

from __future__ import annotations

import random

import pytest

from circuits.batch.gadgets import RECORD_CHUNK, select_record
from circuits.dsl import ConstraintSystem
from circuits.gadgets.bits import to_bits
from tests.support.gadgets import failing_components, forged

WIDTH = 8 * 59  # a two-chunk width (the second chunk shorter), as DIFF_BYTES's


def _system(active: int | None, lengths=(472, 300, 8, 260), seed=1):
    """Records of random bits (the first bits constant, as a record's type byte is), the flag
    of record `active` set (none for None); returns (cs, out bits, the expected bits)."""
    rng = random.Random(seed)
    cs = ConstraintSystem()
    records, expect = [], [0] * WIDTH
    for r, n in enumerate(lengths):
        vals = [rng.randrange(2) for _ in range(n)]
        bits = [cs.const(v) for v in vals[:8]]
        for k in range(8, n, 200):  # proven bits, as the fields' to_bits are
            part = vals[k:k + 200]
            x = cs.private_input(f"x{r}_{k}", int("".join(map(str, part)), 2))
            bits += list(reversed(to_bits(cs, x, len(part))))
        flag = cs.private_input(f"f{r}", int(r == active))
        cs.assert_bool(flag)
        records.append((flag, bits))
        if r == active:
            expect[:n] = vals
    with cs.component("select"):
        out = select_record(cs, records, WIDTH)
    return cs, out, expect


@pytest.mark.parametrize("active", [0, 1, 2, 3, None])
def test_the_active_records_bits_zero_padded(active):
    cs, out, expect = _system(active)
    assert cs.check() == []
    assert [cs.eval(b) for b in out] == expect and len(out) == WIDTH
    # one product per non-constant record chunk, one constraint per bit
    assert cs.component_counts()["select"] <= WIDTH + 4 * 2


@pytest.mark.adversarial
@pytest.mark.parametrize("active", [1, None])
def test_a_published_bit_other_than_the_records_fails(active):
    """Flipping any output bit (one inside the record, one in its zero padding, one in the
    second chunk) breaks the chunk's decomposition."""
    cs, out, _ = _system(active)
    for k in (3, 299, 400, RECORD_CHUNK, WIDTH - 1):
        b = out[k]
        for v in (1 - cs.eval(b), 2):
            bad = failing_components(cs, forged(cs, b, v))
            assert bad and all(c == "select" or c.startswith("select/") for c in bad), (k, bad)
    assert cs.check() == []
