"""The scenario rule in the batch circuit under forged witnesses: the scenario-update stage
(chunks out of order, another asset's last chunk) and the row range (-2**60 is published and
proven), forged into honest batches."""

from __future__ import annotations

import pytest

from circuits.batch import build_batch_circuit
from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, DOMAIN, PUT
from rollup.settlement.batch import build_batch
from rollup.state.encoding import encode
from rollup.transactions import ScenarioChunk, scenario_chunks

pytestmark = pytest.mark.adversarial
SLOTS, DEPTH = 2, 4


@pytest.fixture(scope="module")
def venue():
    return tn.venue(n_accounts=2, depth=DEPTH, deposit=10**9)


@pytest.fixture(scope="module")
def cs():
    return build_batch_circuit(SLOTS, DEPTH, l1_slots=0)


def failing(cs, values) -> set[str]:
    return {v.component for v in cs.check(values=cs.solve(values))}


def _last_two(venue, asset, rows, t=30):
    """An honest batch of chunks 4 and 5 of an update (chunks 0..3 applied before it)."""
    seq = venue.clone()
    chunks = [c.signed(tn.ORACLE_KEY, DOMAIN) for c in scenario_chunks(asset, t, rows)]
    for c in chunks[:4]:
        seq.submit(c)
    return build_batch(seq.clone(), chunks[4:], slots=SLOTS, batch_number=1, l1_slots=0)


def _put_chunk(v, p, req: ScenarioChunk) -> None:
    (r8x, r8y), s = req.sig
    v.update({p + "asset": req.asset, p + "chunk": req.chunk, p + "otime": req.time,
              p + "sa_r8x": r8x, p + "sa_r8y": r8y, p + "sa_s": s,
              **{f"{p}dv{i}": encode(x) for i, x in enumerate(req.dv)}})


def test_rows_at_minus_two_to_the_60_are_proven(venue, cs):
    # the circuit's range (61-bit signed) takes dV = -2**60, as the engine does
    rows = list(venue.state.oracle[CALL].rows)
    rows[25] = -(1 << 60)
    assert failing(cs, _last_two(venue, CALL, rows).values) == set()


def test_a_restarted_update_cannot_finish_with_the_old_stage(venue, cs):
    # slot 0 re-signed as a chunk 0 (a new update), slot 1 the honest chunk 5: refused
    rows = list(venue.state.oracle[CALL].rows)
    rows[0] += 1
    b = _last_two(venue, CALL, rows)
    v = dict(b.values)
    first = scenario_chunks(CALL, 30, rows)[0].signed(tn.ORACLE_KEY, DOMAIN)
    _put_chunk(v, "s0_", first)
    assert "slot1/rules" in failing(cs, v)


def test_the_last_chunk_of_another_asset_is_refused(venue, cs):
    # slot 1 re-signed as chunk 5 of the put (the stage holds the call's update)
    rows = list(venue.state.oracle[CALL].rows)
    rows[0] += 1
    b = _last_two(venue, CALL, rows)
    v = dict(b.values)
    other = scenario_chunks(PUT, 30, rows)[5].signed(tn.ORACLE_KEY, DOMAIN)
    _put_chunk(v, "s1_", other)
    assert "slot1/rules" in failing(cs, v)
