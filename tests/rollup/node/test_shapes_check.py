"""The node's start-up check of its batch shapes against the deployed contract
(``rollup.node.node.check_batch_shapes``): a shape is proven only if the contract routes its
public data to a verifier holding the very key in the keys folder."""

from __future__ import annotations

import shutil

import pytest

from rollup.chain.verifier import deploy_verifier, verifier_holds
from rollup.node.node import NodeError, check_batch_shapes
from tests.support.shapes import deployed, vk_of


def test_verifier_holds_its_key_only(chain, keys):
    from prover.formats.snarkjs_json import load_vk

    a = deploy_verifier(chain, load_vk(vk_of(keys[0]))).address
    assert verifier_holds(chain, a, load_vk(vk_of(keys[0])))
    assert not verifier_holds(chain, a, load_vk(vk_of(keys[1])))
    assert not verifier_holds(chain, chain.accounts[1], load_vk(vk_of(keys[0])))  # no code


def test_shapes_the_contract_verifies_with_these_keys_pass(chain, keys, tmp_path):
    cfg, _ = deployed(chain, tmp_path, keys, main=keys[0], shapes={(2, 1): keys[1]},
                      listed=["2x1"])
    assert [s.name for s in check_batch_shapes(cfg, chain)] == ["1x1", "2x1"]


@pytest.mark.adversarial
def test_a_key_made_again_after_deployment_is_refused(chain, keys, tmp_path):
    cfg, _ = deployed(chain, tmp_path, keys, main=keys[0], shapes={(2, 1): keys[1]},
                      listed=["2x1"])
    for f in ("batch-2x1.zkey", "batch-2x1_vk.json"):  # both made again
        shutil.copy(keys[2].with_name(f.replace("batch-2x1", "k3")), cfg.keys_dir / f)
    with pytest.raises(NodeError, match="verifies 2x1 batches with another key"):
        check_batch_shapes(cfg, chain)
    shutil.copy(keys[1], cfg.keys_dir / "batch-2x1.zkey")
    shutil.copy(vk_of(keys[1]), cfg.keys_dir / "batch-2x1_vk.json")
    shutil.copy(keys[2], cfg.keys_dir / "batch.zkey")  # the configured shape's too
    shutil.copy(vk_of(keys[2]), cfg.keys_dir / "batch_vk.json")
    with pytest.raises(NodeError, match="verifies 1x1 batches with another key"):
        check_batch_shapes(cfg, chain)


@pytest.mark.adversarial
def test_keys_made_for_another_circuit_are_refused(chain, keys, tmp_path):
    import json

    cfg, _ = deployed(chain, tmp_path, keys, main=keys[0], shapes={(2, 1): keys[1]},
                      listed=["2x1"])
    params = {"circuit": "batch", "slots": 2, "l1_slots": 1, "depth": cfg.tree_depth,
              "assets": cfg.batch_assets, "underlyings": cfg.batch_underlyings}
    (cfg.keys_dir / "batch-2x1_circuit.json").write_text(json.dumps(params))
    assert len(check_batch_shapes(cfg, chain)) == 2  # what `rollup setup` wrote: the same
    (cfg.keys_dir / "batch-2x1_circuit.json").write_text(json.dumps({**params, "depth": 5}))
    with pytest.raises(NodeError, match="batch-2x1.zkey proves 2x1 batches at depth 5"):
        check_batch_shapes(cfg, chain)


@pytest.mark.adversarial
def test_keys_made_for_another_number_of_underlyings_are_refused(chain, keys, tmp_path):
    """The scenario margin's loss groups are part of the circuit: a key of `rollup setup
    --underlyings 2` (or of a setup before the parameter, which names none) proves another
    circuit than [batch] underlyings = 1 asks for. One line says so."""
    import json

    cfg, _ = deployed(chain, tmp_path, keys, main=keys[0], shapes={}, listed=[])
    params = {"circuit": "batch", "slots": 1, "l1_slots": 1, "depth": cfg.tree_depth,
              "assets": cfg.batch_assets, "underlyings": 1}
    path = cfg.keys_dir / "batch_circuit.json"
    path.write_text(json.dumps(params))
    assert cfg.batch_underlyings == 1 and len(check_batch_shapes(cfg, chain)) == 1
    for other in ({**params, "underlyings": 2}, {k: v for k, v in params.items()
                                                  if k != "underlyings"}):
        path.write_text(json.dumps(other))
        with pytest.raises(NodeError) as exc:
            check_batch_shapes(cfg, chain)
        msg = str(exc.value)
        assert "\n" not in msg and f"{other.get('underlyings')} underlyings" in msg
        assert "batch.zkey proves 1x1 batches" in msg and "1 ([batch])" in msg


@pytest.mark.adversarial
def test_a_shape_the_contract_refuses_is_refused(chain, keys, tmp_path):
    # no default verifier: the configured 1x1 shape has no verifier on the contract
    cfg, _ = deployed(chain, tmp_path, keys, main=None, shapes={(2, 1): keys[1]}, listed=["2x1"])
    with pytest.raises(NodeError, match="does not take 1x1 batches"):
        check_batch_shapes(cfg, chain)


@pytest.mark.adversarial
def test_a_listed_shape_without_keys_is_refused(chain, keys, tmp_path):
    cfg, _ = deployed(chain, tmp_path, keys, main=keys[0], shapes={(2, 1): keys[1]},
                      listed=["2x1"])
    (cfg.keys_dir / "batch-2x1.zkey").unlink()
    with pytest.raises(NodeError, match="2x1 is in \\[batch\\] shapes.*batch-2x1.zkey"):
        check_batch_shapes(cfg, chain)
