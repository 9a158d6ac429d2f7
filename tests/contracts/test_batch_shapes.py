"""Rollup.sol's batch shapes: each batch goes to the verifier of its shape, read from its public
data (the L1 count field and the length); a proof made under one shape's key is refused as
another's. Two independent keys of the stand-in circuit play two batch circuits' keys."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from rollup.chain import layout
from rollup.chain.contracts import deploy
from rollup.chain.errors import ContractRevert
from rollup.chain.layout import ASSET_TOKEN, Withdrawal
from rollup.chain.rollup import RollupClient
from rollup.chain.verifier import deploy_verifier, proof_evm
from tests.support.snark import needs_node

DEADLINE = 3 * 24 * 3600
GENESIS = b"\x11" * 32
ZERO = "0x" + "00" * 20
DIFF = 52  # the batch circuit's state-diff chunk (circuits.batch.DIFF_BYTES)
WIDE, NARROW = (2, 1), (1, 0)  # (slots, l1_slots): two batch shapes


def data_of(slots: int, l1_slots: int, to: str) -> bytes:
    """Public data of that shape: l1_slots records (a withdrawal first), zero chunks."""
    recs = [Withdrawal(3, ASSET_TOKEN, to, 5)][:l1_slots]
    recs += [Withdrawal(0, 0, ZERO, 0)] * (l1_slots - len(recs))
    return layout.encode_public_data(recs, bytes(DIFF * slots))


@pytest.fixture(scope="module")
def keys(chain, standin, standin_b):
    """(circuit, verifier address) of the two keys, deployed once per chain."""
    return {WIDE: (standin, deploy_verifier(chain, standin.vk).address),
            NARROW: (standin_b, deploy_verifier(chain, standin_b.vk).address)}


def deploy_rollup(chain, batch_verifier: str, shapes: dict) -> RollupClient:
    token = deploy(chain, "TestToken")
    return RollupClient.deploy(chain, batch_verifier=batch_verifier, exit_verifier=batch_verifier
                               if batch_verifier != ZERO else next(iter(shapes.values())),
                               token=token.address, operator=chain.accounts[0],
                               genesis_root=GENESIS, priority_deadline=DEADLINE,
                               batch_shapes=shapes)


def submit(rollup: RollupClient, data: bytes, circuit):
    """Batch 1 with this public data, proven under `circuit`'s key."""
    new_root = b"\x22" * 32
    x = rollup.public_input(1, GENESIS, new_root, 0, data)
    proof, _ = circuit.prove({"x": x, "w": 5})
    return rollup.submit_batch(1, GENESIS, new_root, 0, data, proof_evm(proof),
                               sender=rollup.chain.accounts[0])


def revert_name(fn, *a, **k) -> str:
    with pytest.raises(ContractRevert) as ei:
        fn(*a, **k)
    return ei.value.name


def test_public_data_bytes_is_the_circuits():
    from circuits.batch import DIFF_BYTES, L1_RECORD_BYTES

    assert (DIFF, layout.RECORD_BYTES) == (DIFF_BYTES, L1_RECORD_BYTES)
    for n, l1 in (WIDE, NARROW, (64, 4)):
        assert layout.public_data_bytes(n, l1) == len(data_of(n, l1, ZERO))


@needs_node
@pytest.mark.adversarial
def test_each_shape_verified_by_its_own_key(chain, keys):
    r = deploy_rollup(chain, ZERO, {s: a for s, (_, a) in keys.items()})
    to = chain.accounts[2]
    for shape, (_, address) in keys.items():
        data = data_of(*shape, to)
        assert r.batch_verifier_for(data) == address
        other = keys[NARROW if shape == WIDE else WIDE][0]
        # a proof for one shape's key submitted as the other shape: refused
        assert revert_name(submit, r, data, other) == "InvalidProof"
    submit(r, data_of(*WIDE, to), keys[WIDE][0])
    st = r.state()
    assert (st.batch_number, st.state_root) == (1, b"\x22" * 32)
    assert r.pending(to, ASSET_TOKEN) == 5  # the WIDE shape's L1 record was read


@needs_node
@pytest.mark.adversarial
def test_unknown_shape_without_a_default_reverts(chain, keys):
    r = deploy_rollup(chain, ZERO, {WIDE: keys[WIDE][1]})
    to = chain.accounts[2]
    # a shape nobody registered; the WIDE length with another count; too short for a count
    for data in (data_of(3, 1, to), data_of(*NARROW, to),
                 (0).to_bytes(4, "big") + data_of(*WIDE, to)[4:], b"\x00\x00\x01"):
        want = "PublicDataMalformed" if len(data) < 4 else "UnknownBatchShape"
        assert revert_name(submit, r, data, keys[WIDE][0]) == want
    assert r.state().batch_number == 0


@needs_node
@pytest.mark.adversarial
def test_default_verifier_takes_the_shapes_not_listed(chain, keys):
    r = deploy_rollup(chain, keys[NARROW][1], {WIDE: keys[WIDE][1]})
    to = chain.accounts[2]
    assert r.batch_verifier_for(data_of(3, 1, to)) == keys[NARROW][1]
    # a listed shape never falls back to the default key
    assert revert_name(submit, r, data_of(*WIDE, to), keys[NARROW][0]) == "InvalidProof"
    submit(r, data_of(3, 1, to), keys[NARROW][0])
    assert r.state().batch_number == 1


@needs_node
@pytest.mark.adversarial
def test_bad_shape_lists_refused_at_deployment(chain, keys):
    a = keys[WIDE][1]
    token = deploy(chain, "TestToken")
    base = dict(exit_verifier=a, token=token.address, operator=chain.accounts[0],
                genesis_root=GENESIS, priority_deadline=DEADLINE)

    def bad(batch_verifier, shapes) -> str:
        with pytest.raises(ContractRevert) as ei:
            RollupClient.deploy(chain, batch_verifier=batch_verifier, batch_shapes=shapes,
                                **base)
        return str(ei.value)

    assert "no batch verifier" in bad(ZERO, {})
    eoa = chain.accounts[3]  # an address without code: every verifyProof call would revert
    assert "shape verifier has no code" in bad(a, {WIDE: ZERO})
    assert "shape verifier has no code" in bad(a, {WIDE: eoa})
    assert "batchVerifier has no code" in bad(eoa, {WIDE: a})
    with pytest.raises(ContractRevert, match="exitVerifier has no code"):
        RollupClient.deploy(chain, batch_verifier=a, **{**base, "exit_verifier": eoa})
    # raw lists (the client computes consistent lengths): lengths that no batch circuit's public
    # data has (4 + 41 l1Slots + 52 N with 1 <= N and l1Slots <= N), and one shape twice

    def raw(shapes) -> str:
        from rollup.chain.rollup import deploy_signature_verifier

        sig = deploy_signature_verifier(chain)
        cfg = (a, a, sig, token.address, chain.accounts[0], GENESIS, DEADLINE, 1, 2**32 - 1, 32,
               0, 1, 0, 0, shapes)
        with pytest.raises(ContractRevert) as ei:
            deploy(chain, "Rollup", cfg)
        return str(ei.value)

    assert "holds no slot" in raw([(2, 4 + 2 * 41, a)])
    assert "holds no slot" in raw([(0, 4, a)])
    assert "not 4 + 41 l1Slots + 52 N" in raw([(1, 4 + 41 + DIFF + 1, a)])
    assert "not 4 + 41 l1Slots + 52 N" in raw([(2, 4 + 2 * 41 + DIFF, a)])  # N = 1 < l1Slots
    ok = layout.public_data_bytes(*WIDE)
    assert "shape twice" in raw([(1, ok, a), (1, ok, keys[NARROW][1])])


@needs_node
@pytest.mark.adversarial
def test_empty_l1_records_credit_nothing(chain, keys):
    """An L1 slot without a withdrawal publishes a zero record: no credit, no event (gas)."""
    r = deploy_rollup(chain, keys[NARROW][1], {})
    to = chain.accounts[2]
    recs = [Withdrawal(0, 0, ZERO, 0), Withdrawal(3, ASSET_TOKEN, to, 5),
            Withdrawal(4, ASSET_TOKEN, to, 0)]
    data = layout.encode_public_data(recs, bytes(DIFF * 3))
    res = submit(r, data, keys[NARROW][0])
    credited = r.contract.events.WithdrawalCredited().process_receipt(res.receipt, errors=DISCARD)
    assert [(e.args.accountId, e.args.amount) for e in credited] == [(3, 5)]
    assert r.pending(to, ASSET_TOKEN) == 5 and r.pending(ZERO, 0) == 0
