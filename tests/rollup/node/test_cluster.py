"""The prover pool on a local Ray cluster (num_cpus=2, no dashboard, a small object store): two
workers, one of them holding a (declared) GPU, prove the story's batches out of order into the
same files the process pool writes; a worker SIGKILLed mid-proof loses nothing; a worker whose
proving key has another hash refuses to start. No GPU here: the GPU worker's CUDA path falls
back to the CPU backend (its kernels are tested under the simulator in tests/prover/)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest

from rollup.node.cluster import KeyMismatch, RayProverPool, install_key, sha256_file
from rollup.node.provers import LocalProverPool, ProofJob, UnknownShape
from tests.support.snark import tiny_key


@pytest.fixture(scope="module")
def built(story, tmp_path_factory):
    """The story's two batches as the batcher leaves them: batch-N.json and batch-N.wtns."""
    from prover.formats.wtns import write_wtns

    folder = tmp_path_factory.mktemp("built")
    for b, witness in zip(story.batches, story.witnesses, strict=True):
        stem = folder / f"batch-{b.batch_number:06d}"
        write_wtns(stem.with_suffix(".wtns"), witness)
        stem.with_suffix(".json").write_text(json.dumps(
            {"number": b.batch_number, "witness": stem.with_suffix(".wtns").name,
             "public_input": str(b.public_input)}))
    return folder


def _copy(built, dest):
    shutil.copytree(built, dest)
    return [ProofJob(n, str(dest / f"batch-{n:06d}.json")) for n in (1, 2)]


def _verifies(story, json_path) -> bool:
    from prover.formats.snarkjs_json import load_proof, load_public, load_vk
    from prover.groth16 import verify

    stem = str(json_path).removesuffix(".json")
    return verify(load_vk(story.batch_keys.vk_path), load_public(stem + ".public.json"),
                  load_proof(stem + ".proof.json"))


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
             object_store_memory=400 << 20, namespace="zkderiv-tests")
    yield ray
    ray.shutdown()


def test_a_worker_with_another_key_refuses_to_start(cluster, tmp_path):
    node_key, stale = tmp_path / "batch.zkey", tmp_path / "stale.zkey"
    node_key.write_bytes(b"the node's proving key")  # hashed, never loaded: refused before
    stale.write_bytes(b"an older proving key")  # what an operator left on a worker machine
    pool = RayProverPool(node_key, workers=1, key_path=str(stale),
                         key_cache=str(tmp_path / "cache"))
    try:
        with pytest.raises(KeyMismatch, match="stale.zkey has SHA-256"):
            pool.wait_ready(120)
        with pytest.raises(KeyMismatch):
            pool.submit(ProofJob(1, str(tmp_path / "batch-000001.json"))).result(5)
    finally:
        pool.close()
    assert not (tmp_path / "cache").exists()  # nothing fetched for a worker that refused
    # bytes fetched through the object store are checked the same way before they are cached
    with pytest.raises(KeyMismatch, match="fetched"):
        install_key(sha256_file(node_key), b"truncated", tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.zkey"))


def test_the_configuration_picks_the_ray_pool(cluster, tmp_path):
    from rollup.config import load
    from rollup.node.cluster import make_pool
    from tests.support.operator import write_config

    cfg = load(write_config(tmp_path / "op", node_cluster="embedded", node_provers=1,
                            node_gpu_provers=1, node_prover_cpus=1))
    key = tmp_path / "batch.zkey"
    key.write_bytes(b"a proving key")
    pool = make_pool(cfg, key)  # Ray is up already: the pool joins it
    try:
        assert isinstance(pool, RayProverPool) and pool.workers == 2
        assert pool.sha256 == sha256_file(key)
    finally:
        pool.close()
    assert cluster.is_initialized()  # a pool closes only the Ray it started


def test_a_worker_holds_every_shapes_key_and_proves_with_the_batchs(cluster, tmp_path,
                                                                   monkeypatch):
    from rollup.node import cluster as C

    main, other = tiny_key(tmp_path / "batch.zkey", 1), tiny_key(tmp_path / "b-2x1.zkey", 2)
    keys = [{"shape": [4, 1], "sha256": sha256_file(main), "key_path": None, "vk_json": None},
            {"shape": [2, 1], "sha256": sha256_file(other), "key_path": str(tmp_path / "gone"),
             "vk_json": (tmp_path / "b-2x1_vk.json").read_text()}]
    w = C.ProverWorker(keys, str(tmp_path / "cache"), "cpu")
    assert w.load() == {"missing": [k["sha256"] for k in keys]}  # both fetched, then cached
    info = w.load([k["sha256"] for k in keys], main.read_bytes(), other.read_bytes())
    assert info["backend"] == "cpu"
    assert sorted(p.name for p in (tmp_path / "cache").glob("*.zkey")) == sorted(
        f"{k['sha256']}.zkey" for k in keys)
    used = []
    monkeypatch.setattr(C, "prove_witness", lambda meta, witness, key, vk=None, backend=None:
                        used.append((key.n_vars, key.domain_size, vk is not None)) or
                        C.Proven(meta["number"], "[]", "{}", 0.5))
    w.prove({"number": 1, "slots": 2, "l1_slots": 1}, None)
    w.prove({"number": 2, "slots": 4, "l1_slots": 1}, None)
    assert [u[2] for u in used] == [True, False]  # the shape's key (with its vk), the main one
    assert w.loaded[(2, 1)][0].h is not w.loaded[(4, 1)][0].h
    with pytest.raises(UnknownShape, match="3x1"):  # never another shape's key
        w.prove({"number": 3, "slots": 3, "l1_slots": 1}, None)
    assert len(used) == 2


def test_a_ray_pool_loads_the_named_shapes(cluster, tmp_path):
    from rollup.config import load
    from rollup.node.cluster import make_pool
    from tests.support.operator import write_config

    cfg = load(write_config(tmp_path / "op", node_cluster="embedded", node_provers=1,
                            node_prover_cpus=1, slots=1, batch_l1_slots=1,
                            batch_shapes=["2x1"]))
    cfg.keys_dir.mkdir(parents=True)
    main = tiny_key(cfg.keys_dir / "batch.zkey", 1)
    tiny_key(cfg.keys_dir / "batch-2x1.zkey", 2)
    tiny_key(cfg.keys_dir / "batch-3x1.zkey", 3)  # not on the contract: not loaded
    pool = make_pool(cfg, main)
    try:
        assert [k["shape"] for k in pool.keys] == [[1, 1], [2, 1]]
        assert pool.wait_ready(120)[0]["key"] == str(main)  # both found at the node's paths
    finally:
        pool.close()


@pytest.fixture(scope="module")
def pool(cluster, story, tmp_path_factory):
    """A CPU worker and a GPU worker; neither finds the key at key_path, so it is fetched once
    for this machine into the key cache."""
    cache = tmp_path_factory.mktemp("key-cache")
    p = RayProverPool(story.batch_keys.zkey, vk=story.batch_keys.vk_path, workers=1,
                      gpu_workers=1, key_path=str(cache / "absent.zkey"), key_cache=str(cache))
    p.cache = cache
    yield p
    p.close()


@pytest.mark.slow  # a Ray instance, two workers fetching a 180 MB key, three proofs
def test_two_workers_prove_out_of_order_into_the_process_pools_files(pool, built, story,
                                                                     tmp_path):
    infos = pool.wait_ready(300, every=True)
    assert sorted((i["backend"], i["gpus"]) for i in infos) == [("cpu", []), ("cpu", ["0"])]
    cached = list(pool.cache.glob("*.zkey"))  # one copy for the machine, shared by both
    assert [p.name for p in cached] == [f"{pool.sha256}.zkey"]
    assert {i["key"] for i in infos} == {str(cached[0])}

    ray_jobs = _copy(built, tmp_path / "ray")
    futs = {j.number: pool.submit(j) for j in reversed(ray_jobs)}  # 2 before 1
    done = {n: f.result(300) for n, f in futs.items()}
    assert {n: d.number for n, d in done.items()} == {1: 1, 2: 2}
    assert done[1].worker != done[2].worker  # both workers at once

    local_job = _copy(built, tmp_path / "local")[1]  # one proof is enough to compare files
    local = LocalProverPool(story.batch_keys.zkey, vk=story.batch_keys.vk_path, workers=1,
                            backend="cpu")
    try:
        local.submit(local_job).result(300)
    finally:
        local.close()
    public = [j.batch_json.replace(".json", ".public.json") for j in (ray_jobs[1], local_job)]
    assert open(public[0], "rb").read() == open(public[1], "rb").read()
    for j in ray_jobs:
        assert json.load(open(j.batch_json.replace(".json", ".public.json"))) == [
            str(story.batches[j.number - 1].public_input)]
        assert _verifies(story, j.batch_json)
    assert _verifies(story, local_job.batch_json)


@pytest.mark.slow  # a proof, a worker killed, the proof again elsewhere, a new worker
def test_a_worker_killed_mid_proof_loses_nothing(pool, built, story, tmp_path):
    pool.wait_ready(300, every=True)
    job = _copy(built, tmp_path / "kill")[0]
    lost, retried = pool.lost, pool.retried
    fut = pool.submit(job)
    deadline = time.time() + 60
    while job.number not in pool.busy():
        assert time.time() < deadline, "the job never started"
        time.sleep(0.01)
    victim = pool.busy()[job.number]["pid"]
    time.sleep(0.3)  # into the proof (a second or more here)
    os.kill(victim, signal.SIGKILL)
    done = fut.result(300)
    assert done.number == job.number and done.worker != victim
    assert (pool.lost, pool.retried) == (lost + 1, retried + 1)
    assert _verifies(story, job.batch_json)
    infos = pool.wait_ready(300, every=True)  # a new worker took the dead one's place
    assert len(infos) == 2 and victim not in {i["pid"] for i in infos}
