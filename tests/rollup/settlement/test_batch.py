"""The batch's witness from the compiled solver (what the batcher writes) is the reference's:
random batches of withdrawals, transfers and trades (random accounts, sizes, prices, order ids,
fees), built once with the circuit computing its witness (`Batch.circuit`) and once with the
shape's kept solver (`Batch.solver`): same wires, same public input, same .wtns bytes."""

from __future__ import annotations

import random

import pytest

from prover.fields import limbs_to_ints
from prover.formats.wtns import write_wtns
from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, DOMAIN, FAR, PERP
from rollup.settlement.batch import build_batch
from rollup.transactions import BUY, SELL, Transfer, Withdrawal

SLOTS, L1, DEPTH = 3, 1, 4


@pytest.fixture(scope="module")
def venue():
    return tn.venue(n_accounts=4, depth=DEPTH, deposit=10**10)


def _random_batch(venue, rng: random.Random):
    seq = venue.clone()
    a, b = rng.sample(range(1, 5), 2)
    asset, price = rng.choice([(PERP, rng.randrange(59_000, 61_000)),
                               (CALL, rng.randrange(2_900, 3_100))])
    size = rng.randrange(1, 40)
    seq.submit(tn.order(a, SELL, size, price, rng.randrange(1, 200), asset=asset))  # resting
    pre = seq.clone()
    w = rng.randrange(1, 5)
    reqs = [Withdrawal(w, rng.randrange(1, 10**6), rng.randrange(1 << 160), 0, FAR).signed(
                tn.key(w), DOMAIN),
            tn.order(b, BUY, rng.randrange(1, size + 1), price + rng.randrange(0, 50),
                     rng.randrange(200, 400), asset=asset)]
    if rng.random() < 0.5:
        s, r = rng.sample(range(1, 5), 2)
        reqs.append(Transfer(s, r, rng.randrange(1, 10**6), 0, FAR).signed(tn.key(s), DOMAIN))
    for q in reqs:
        seq.submit(q)
    return build_batch(pre, reqs, slots=SLOTS, batch_number=rng.randrange(1, 1000), l1_slots=L1)


@pytest.mark.parametrize("seed", [1, 2])
def test_solver_witness_is_the_reference_witness(venue, seed, tmp_path):
    batch = _random_batch(venue, random.Random(seed))
    assert len(batch.records) >= 2  # the withdrawal and the fill at least
    ref = batch.circuit().witness()
    solver = batch.solver()
    assert batch.solver() is solver  # kept for the shape
    fast = solver.witness(solver.solve(batch.values))
    assert limbs_to_ints(fast) == ref
    assert ref[1] == batch.public_input
    write_wtns(tmp_path / "ref.wtns", ref)
    write_wtns(tmp_path / "fast.wtns", fast)
    assert (tmp_path / "ref.wtns").read_bytes() == (tmp_path / "fast.wtns").read_bytes()
