"""Batch shapes under attack or misconfiguration: what the node's start-up check, the contract
and the batcher must refuse or handle (a verifier holding a key with one negated G2 point, a
proving key that is not the verification key's pair, shapes that cannot be listed from the
chain, a larger shape holding back batches it cannot make larger)."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import shutil

import pytest

from rollup.chain.contracts import deploy
from rollup.chain.rollup import RollupClient
from rollup.chain.verifier import deploy_verifier, proof_evm, verifier_holds
from rollup.config import load
from rollup.node.node import NodeError, check_batch_shapes
from tests.support.operator import DOMAIN, trader, write_config
from tests.support.shapes import deployed, vk_of

Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583


@pytest.mark.adversarial
def test_verifier_holds_refuses_a_key_with_a_negated_g2_point(chain, keys):
    """verifier_holds checks only the G2 points' x words: a verifier built with -delta (the same
    x, the other y) holds another key, on which the node's proofs fail, and still passes."""
    from prover.formats.snarkjs_json import load_vk
    from prover.formats.zkey import read_zkey
    from prover.groth16 import prove

    vk = load_vk(vk_of(keys[0]))
    (x0, x1), (y0, y1) = vk.delta2
    other = dataclasses.replace(vk, delta2=((x0, x1), (Q - y0, Q - y1)), alphabeta_12=None)
    honest = deploy_verifier(chain, vk)
    flipped = deploy_verifier(chain, other)
    res = prove(read_zkey(keys[0]), [1, 9, 3])  # x * x * 1 = y (tiny_key k = 1)
    p, x = proof_evm(res.proof), res.public_signals[0]
    assert honest.functions.verifyProof(p, x).call()
    assert not flipped.functions.verifyProof(p, x).call()  # another key: the proof fails
    assert not verifier_holds(chain, flipped.address, vk)


@pytest.mark.adversarial
def test_check_batch_shapes_checks_the_proving_key_the_provers_use(chain, keys, tmp_path):
    """The provers prove with batch-2x1.zkey; the check reads only batch-2x1_vk.json. A proving
    key made again (or a `setup --force` stopped between its zkey and vk renames) passes the
    check, and every 2x1 batch then fails its proof (locally, or on chain)."""
    cfg, _ = deployed(chain, tmp_path, keys, main=keys[0], shapes={(2, 1): keys[1]},
                      listed=["2x1"])
    shutil.copy(keys[2], cfg.keys_dir / "batch-2x1.zkey")  # the vk file is still the deployed one
    with pytest.raises(NodeError, match="2x1"):
        check_batch_shapes(cfg, chain)


@pytest.mark.adversarial
def test_registered_shapes_can_be_listed_from_the_chain(chain, keys):
    """An auditor reads batchVerifier and exitVerifier; shapeVerifier is a mapping keyed by
    (l1Slots, length), and the constructor registers shapes without an event, so a shape routed
    to another verifier (a key of the deployer's choosing) is found only by decoding the
    creation transaction's calldata."""
    from prover.formats.snarkjs_json import load_vk

    honest = deploy_verifier(chain, load_vk(vk_of(keys[0]))).address
    hidden = deploy_verifier(chain, load_vk(vk_of(keys[1]))).address
    token = deploy(chain, "TestToken")
    start = chain.w3.eth.block_number
    r = RollupClient.deploy(chain, batch_verifier=honest, exit_verifier=honest,
                            token=token.address, operator=chain.accounts[0],
                            genesis_root=b"\x11" * 32, priority_deadline=3 * 24 * 3600,
                            batch_shapes={(1000, 1): hidden})
    assert r.batch_verifier_for(bytes([0, 0, 0, 1]) + bytes(41 + 52 * 1000)) == hidden
    logs = chain.w3.eth.get_logs({"address": r.address, "fromBlock": start})
    needle = bytes.fromhex(hidden[2:].lower())
    in_logs = any(needle in b"".join([*map(bytes, lg["topics"]), bytes(lg["data"])])
                  for lg in logs)
    listing = [f for f in r.contract.abi if f.get("type") == "function"
               and "hape" in f.get("name", "") and f["name"] not in ("shapeVerifier",
                                                                     "batchVerifierFor")]
    assert in_logs or listing, "no event or getter lists the registered batch shapes"
    (ev,) = r.contract.events.BatchShapeRegistered().get_logs(from_block=start)
    assert (ev.args.l1Slots, ev.args.publicDataBytes, ev.args.verifier) == (
        1, 4 + 41 + 52 * 1000, hidden)


# --- the batcher's wait -----------------------------------------------------------------------

DEPTH, ASSETS = 4, 4


@pytest.fixture(scope="module")
def withdrawals(tmp_path_factory):
    """Two L2 withdrawals pending (each needs an L1 slot); the configured shape is 1x1 and a
    listed 4x1 shape has keys (empty files: building reads no key)."""
    from rollup.api.service import SequencerService
    from rollup.transactions import Withdrawal

    path = write_config(tmp_path_factory.mktemp("wd"), n_traders=2, depth=DEPTH, slots=1,
                        batch_l1_slots=1, batch_assets=ASSETS, batch_shapes=["4x1"])
    cfg = load(path)
    svc = SequencerService(cfg, log=lambda m: None).start()
    try:
        for i in (1, 2):
            svc.submit(Withdrawal(i, 10, 0xAB, 0, 10**9).signed(trader(i), DOMAIN))
    finally:
        svc.close()
    cfg.keys_dir.mkdir(parents=True, exist_ok=True)
    for n in ("batch-4x1.zkey", "batch-4x1_vk.json"):
        (cfg.keys_dir / n).write_bytes(b"")
    return cfg


class _Inline:
    def submit(self, fn, *a):
        f = cf.Future()
        f.set_result(fn(*a))
        return f


@pytest.mark.adversarial
def test_a_larger_shape_does_not_hold_back_batches_it_cannot_grow(withdrawals, monkeypatch):
    """Two withdrawals pending: every shape's batch takes one (one L1 slot each), so a batch is
    full now and the configured 1x1 shape alone would close it at once. With the 4x1 shape
    listed the batcher waits for 4 rows or the time limit (60 s) before each batch: adding a
    larger shape cuts L1 throughput to l1_slots per time limit below 4 pending rows."""
    from rollup.node import builder
    from rollup.node.node import Node

    monkeypatch.setattr(builder, "_CACHE", None)
    node = Node.__new__(Node)
    node.cfg, node.log, node.exodus = withdrawals, lambda m: None, False
    node.stages = {n: type("S", (), {"ok": lambda self, *a: None})() for n in ("batcher",)}
    node.closed_at, node.in_flight, node.pool = {}, {}, None
    node._builder, node._pending_since, node._next_try = _Inline(), None, 0
    from rollup.settlement.shapes import batch_shapes

    node._min_slots = min(s.slots for s in batch_shapes(withdrawals))  # as Node.__init__ sets it
    assert node._min_slots == 1
    monkeypatch.setattr(Node, "_dispatch_proofs", lambda self: None)
    node._batch_pass()
    assert node.closed_at, "a full batch (one withdrawal, the L1 slot used) was not built"
