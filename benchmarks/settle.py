"""Settlement throughput: batches of real trades proven by each prover pool, then submitted in
order on Anvil, and a model of N workers built from the measured inputs.

A data folder with funded traders and one perpetual; --batches x slots trades (a resting sell
and the buy that takes it) through the sequencer service; the batcher's builds (full batches
only); then for each pool (the node's process pool and Ray workers, 1 and 2 of each) a warm-up
proof (the key loaded, the kernels compiled), then every batch proven at once: proofs/s and
trades/s over the wall time, and the seconds per proof each worker reported. Finally the proven
batches go to a fresh Rollup on Anvil through the relayer, one transaction at a time.

The model (one record, "model"): the batcher and the relayer are serial, the provers parallel,
so with N workers of the measured speed, trades/s = trades_per_batch x min(N / t_proof,
1 / t_build, 1 / t_submit), and reaching a target takes N = target x t_proof / trades_per_batch
workers while t_build and t_submit stay under trades_per_batch / target.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_json

ROOT = Path(__file__).resolve().parent.parent


def _log(m: str) -> None:
    print(m, file=sys.stderr, flush=True)


def _trades(cfg, seeds: dict[int, bytes], n: int) -> list[int]:
    """N trades through the sequencer service (as the API would hand them); the takers' rows."""
    from rollup.api.service import SequencerService
    from rollup.transactions import BUY, POST_ONLY, SELL, Order

    dom = cfg.domain()
    svc = SequencerService(cfg, log=lambda m: None).start()
    rows = []
    try:
        oid = 0
        for k in range(n):
            maker, taker = 2 * (k % (len(seeds) // 2)) + 1, 2 * (k % (len(seeds) // 2)) + 2
            for acc, side, flags in ((maker, SELL, POST_ONLY), (taker, BUY, 0)):
                oid += 1
                out = svc.submit(Order(acc, 1, side, 1, 2_000, oid, 10**9, flags).signed(
                    seeds[acc], dom))
                if side == BUY:
                    rows.append(out["seq"])
    finally:
        svc.close()
    return rows


def _prove_all(pool_spec: str, cfg, zkey: Path, vk: Path, numbers: list[int], rows: list[int],
               ncpu: int) -> dict:
    from rollup.node.provers import LocalProverPool, ProofJob
    from rollup.settlement import files as F

    kind, workers = pool_spec.split(":")
    workers = int(workers)

    def clear(ns) -> None:
        for n in ns:
            stem = F.batch_stem(cfg, n)
            for suffix in (".proof.json", ".public.json"):
                stem.with_suffix(suffix).unlink(missing_ok=True)

    def job(n):
        return ProofJob(n, str(F.batch_stem(cfg, n).with_suffix(".json")))

    t0 = time.perf_counter()
    if kind == "local":
        pool = LocalProverPool(zkey, vk=vk, workers=workers, backend="cpu")
        cpus = None
    else:
        from rollup.node.cluster import RayProverPool

        cpus = max(1, ncpu // workers)  # Ray reserves them; the worker's Numba threads follow
        pool = RayProverPool(zkey, vk=vk, workers=workers, cpus=cpus,
                             init={"num_cpus": ncpu, "object_store_memory": 512 << 20})
    try:
        # warm-up: every worker loads the key and compiles or loads its kernels
        warm = [pool.submit(job(numbers[i % len(numbers)])) for i in range(workers)]
        for f in warm:
            f.result()
        t_ready = time.perf_counter() - t0
        clear(numbers)
        t1 = time.perf_counter()
        futs = [pool.submit(job(n)) for n in numbers]
        done = [f.result() for f in futs]
        wall = time.perf_counter() - t1
    finally:
        pool.close()
    per = [d.seconds for d in done]
    return {"bench": "settle", "what": "prove", "pool": kind, "workers": workers,
            "cpus_per_worker": cpus, "batches": len(numbers), "trades": len(rows),
            "start_and_warm_up_s": round(t_ready, 2), "wall_s": round(wall, 2),
            "proofs_per_s": round(len(numbers) / wall, 4),
            "trades_per_s": round(len(rows) / wall, 4),
            "seconds_per_proof_mean": round(statistics.fmean(per), 2),
            "seconds_per_proof_min": round(min(per), 2),
            "seconds_per_proof_max": round(max(per), 2),
            "workers_used": len({(d.host, d.worker) for d in done})}


def main(json_path: str | None, slots: int, depth: int, batches: int, pools: list[str],
         keys_cache: str, target: float) -> list[dict]:
    from circuits import eddsa_public_key
    from rollup.chain.node import AnvilNode, rpc
    from rollup.chain.rollup import RollupClient
    from rollup.config import Config, GenesisAccount, Market, load, render
    from rollup.devkeys import dev_keys
    from rollup.keys import compress
    from rollup.settlement import files as F
    from rollup.settlement.relayer import BatchStore, Relayer
    from rollup.settlement.stage import PreState, build_next, stored_batch

    ncpu = os.cpu_count() or 1
    _log(f"keys: batch {slots} slots depth {depth} (cached in {keys_cache}; the first run makes "
         "them: minutes)")
    bk = dev_keys("batch", slots=slots, depth=depth, l1_slots=1, cache=keys_cache, on_setup=_log)
    ek = dev_keys("exit", depth=depth, cache=keys_cache, on_setup=_log)
    work = Path(tempfile.mkdtemp(prefix="bench-settle-"))
    seeds = {i: hashlib.sha256(f"bench-trader-{i}".encode()).digest() for i in range(1, 9)}
    anvil = AnvilNode().start()
    records: list[dict] = []
    try:
        cfg = Config(path=work / "rollup.toml", node=anvil.url, tree_depth=depth,
                     batch_slots=slots, batch_l1_slots=1, api_port=0, node_oracle="off",
                     oracle_key=compress(eddsa_public_key(b"\x01" * 32)),
                     operator_key=compress(eddsa_public_key(b"\x02" * 32)),
                     markets=[Market(1, "perp", 50_000, 30_000, name="ETH-PERP", price=2_000)],
                     genesis_accounts=[GenesisAccount(i, 10**12, pk=compress(eddsa_public_key(s)))
                                       for i, s in seeds.items()])
        cfg.path.write_text(render(cfg))
        keys = work / "data" / "keys"
        keys.mkdir(parents=True)
        shutil.copy(bk.zkey, keys / "batch.zkey")
        shutil.copy(bk.vk_path, keys / "batch_vk.json")
        subprocess.run([sys.executable, "-m", "rollup.cli", "chain", "deploy", "--rpc",
                        anvil.url, "--config", str(cfg.path), "--batch-vk",
                        str(keys / "batch_vk.json"), "--exit-vk", str(ek.vk_path)],
                       check=True, capture_output=True, cwd=ROOT)
        cfg = load(cfg.path)

        # trades, then the batcher's full batches (it leaves the rows after the last one)
        rows = _trades(cfg, seeds, (batches + 1) * slots)
        cache, numbers, build_s = PreState(), [], []
        while len(numbers) < batches:
            built = build_next(cfg, check=False, full_only=True, cache=cache)
            if built is None:
                break
            numbers.append(built.meta["number"])
            build_s.append(built.seconds_replay + built.seconds_circuit)
        metas = [F.read_batch(cfg, n) for n in numbers]
        batch_rows = [r for r in rows if any(m["first_seq"] <= r <= m["last_seq"]
                                             for m in metas)]
        per_batch = len(batch_rows) / len(numbers)
        _log(f"{len(numbers)} batches of {slots} slots, {len(batch_rows)} trades "
             f"({per_batch:.2f} per batch), {metas[0]['constraints']:,} constraints; build "
             f"{statistics.fmean(build_s):.2f} s per batch (the first replays the journal)")

        for spec in pools:
            _log(f"proving with {spec}")
            rec = _prove_all(spec, cfg, keys / "batch.zkey", keys / "batch_vk.json", numbers,
                             batch_rows, ncpu)
            rec.update(slots=slots, depth=depth, constraints=metas[0]["constraints"],
                       cpus=ncpu, load_average=round(os.getloadavg()[0], 2))
            print(json.dumps(rec), flush=True)
            records.append(rec)

        # the relayer: stored in order, one submitBatch at a time (Anvil mines each at once)
        chain = rpc(anvil.url)
        store = BatchStore(work / "relayer.db")
        rel = Relayer(RollupClient(chain, cfg.rollup_address), store)
        sub_s, gas = [], []
        for n in numbers:
            store.put(stored_batch(cfg, n))
            t = time.perf_counter()
            (s,) = rel.submit_pending(max_batches=1)
            sub_s.append(time.perf_counter() - t)
            gas.append(s.gas_used)
        store.close()
        rec = {"bench": "settle", "what": "submit", "chain": "anvil", "batches": len(numbers),
               "seconds_per_submission_mean": round(statistics.fmean(sub_s), 3),
               "seconds_per_submission_max": round(max(sub_s), 3),
               "gas_per_batch_mean": round(statistics.fmean(gas)),
               "gas_per_trade": round(sum(gas) / len(batch_rows))}
        print(json.dumps(rec), flush=True)
        records.append(rec)
        records.append(_model(records, per_batch, statistics.fmean(build_s[1:] or build_s),
                              rec["seconds_per_submission_mean"], target, ncpu))
        print(json.dumps(records[-1]), flush=True)
        write_json(records, json_path)
        return records
    finally:
        anvil.stop()
        shutil.rmtree(work, ignore_errors=True)


def _model(records: list[dict], per_batch: float, t_build: float, t_submit: float,
           target: float, ncpu: int) -> dict:
    """N workers, each proving like the best single-worker run here (a whole machine of NCPU
    cores), behind one serial batcher and one serial relayer."""
    provers = [r for r in records if r.get("what") == "prove"]
    one = min((r for r in provers if r["workers"] == 1),
              key=lambda r: r["seconds_per_proof_mean"])
    t_proof = one["seconds_per_proof_mean"]

    def trades_per_s(n: int) -> float:
        return per_batch * min(n / t_proof, 1 / t_build, 1 / t_submit)

    ceiling = per_batch * min(1 / t_build, 1 / t_submit)
    return {"bench": "settle", "what": "model",
            "inputs": {"trades_per_batch": per_batch, "t_proof_s": t_proof,
                       "t_proof_from": f"{one['pool']}:1 ({ncpu} cores)",
                       "t_build_s": round(t_build, 3), "t_submit_s": t_submit},
            "formula": "trades/s = trades_per_batch * min(N / t_proof, 1 / t_build, "
                       "1 / t_submit)",
            "trades_per_s": {str(n): round(trades_per_s(n), 3) for n in (1, 2, 4, 8, 16, 64)},
            "worker_seconds_per_trade": round(t_proof / per_batch, 3),
            "target_trades_per_s": target,
            "workers_for_target": math.ceil(target * t_proof / per_batch),
            "serial_stage_limit_s": round(per_batch / target, 4),  # t_build, t_submit under it
            "serial_ceiling_trades_per_s": round(ceiling, 2),
            "target_reachable_with_this_batch_size": ceiling >= target}
