"""The node under a sustained, bounded load on Anvil: `rollup node run` as operators run it.

A fresh Anvil, a deployed rollup (development keys of the chosen shape, cached in --keys-cache),
then `rollup node run` as a child process. K client threads each submit one trade (a resting
sell and the buy that takes it) every 1/rate seconds for --seconds; afterwards the node is given
until --drain seconds to finalize everything. Reported:

- ack latency p50/p99 (HTTP round trip of each accepted request, client side);
- ack -> L1 finality p50/p99 per trade (taker's ack to the moment the contract's batch number
  covered its journal row, polled every 0.2 s);
- finalized trades per second over the whole run (load + drain), and CPU seconds (node and its
  prover and builder processes) per finalized trade;
- the batch shape (slots, depth) and the batches finalized.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import write_json

ROOT = Path(__file__).resolve().parent.parent


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 4)


def main(json_path: str | None, seconds: float, rate: float, clients: int, slots: int,
         depth: int, provers: int, drain: float, keys_cache: str) -> dict:
    import hashlib
    import http.client

    from circuits import eddsa_public_key
    from rollup.chain.node import AnvilNode, rpc
    from rollup.chain.rollup import RollupClient
    from rollup.config import Config, GenesisAccount, Market, load, render
    from rollup.devkeys import dev_keys
    from rollup.keys import compress
    from rollup.transactions import BUY, POST_ONLY, SELL, Order

    def log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    log(f"keys: batch {slots} slots depth {depth}, exit depth {depth} (cached in {keys_cache}; "
        "the first run makes them: minutes)")
    bk = dev_keys("batch", slots=slots, depth=depth, l1_slots=1, cache=keys_cache,
                  on_setup=log)
    ek = dev_keys("exit", depth=depth, cache=keys_cache, on_setup=log)
    work = Path(tempfile.mkdtemp(prefix="bench-node-"))
    n_traders = 2 * clients
    seeds = {i: hashlib.sha256(f"bench-trader-{i}".encode()).digest()
             for i in range(1, n_traders + 1)}
    anvil = AnvilNode().start()
    node = None
    try:
        cfg = Config(path=work / "rollup.toml", node=anvil.url, tree_depth=depth,
                     batch_slots=slots, batch_l1_slots=1, batch_time_limit=2.0, api_port=0,
                     node_oracle="off", node_poll=0.2, node_provers=provers,
                     oracle_key=compress(eddsa_public_key(b"\x01" * 32)),
                     operator_key=compress(eddsa_public_key(b"\x02" * 32)),
                     markets=[Market(1, "perp", 50_000, 30_000, name="ETH-PERP", price=2_000)],
                     genesis_accounts=[GenesisAccount(i, 10**12,
                                                      pk=compress(eddsa_public_key(s)))
                                       for i, s in seeds.items()])
        cfg.path.write_text(render(cfg))
        keys = work / "data" / "keys"
        keys.mkdir(parents=True)
        shutil.copy(bk.zkey, keys / "batch.zkey")
        shutil.copy(bk.vk_path, keys / "batch_vk.json")
        rollup = [sys.executable, "-m", "rollup.cli"]
        subprocess.run([*rollup, "chain", "deploy", "--rpc", anvil.url, "--config", str(cfg.path),
                        "--batch-vk", str(keys / "batch_vk.json"), "--exit-vk", str(ek.vk_path)],
                       check=True, capture_output=True, cwd=ROOT)
        cfg = load(cfg.path)
        dom = cfg.domain()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        node = subprocess.Popen([*rollup, "node", "run", "--config", str(cfg.path), "--port", "0"],
                                cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=open(work / "node.log", "wb"), stdin=subprocess.DEVNULL)
        line = node.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the node did not start: {(work / 'node.log').read_text()[-2000:]}")
        host, port = line.split()[-1].removeprefix("http://").split(":")
        log(f"node up at {host}:{port}; load: {clients} clients x {rate} trades/s for {seconds} s")

        acks: list[float] = []
        trades: list[tuple[int, float]] = []  # (taker's journal row, ack time)
        lock = threading.Lock()
        stop_at = time.time() + seconds

        def client(k: int) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            maker, taker = 2 * k + 1, 2 * k + 2
            oid = 0
            nxt = time.time()
            while time.time() < stop_at:
                for acc, side, flags in ((maker, SELL, POST_ONLY), (taker, BUY, 0)):
                    oid += 1
                    req = Order(acc, 1, side, 1, 2_000, oid, 10**9, flags).signed(seeds[acc], dom)
                    t0 = time.time()
                    conn.request("POST", "/v1/requests", body=json.dumps(req.to_json()),
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    out = json.loads(r.read())
                    t1 = time.time()
                    if r.status == 200:
                        with lock:
                            acks.append(t1 - t0)
                            if side == BUY:
                                trades.append((out["seq"], t1))
                nxt += 1.0 / rate
                time.sleep(max(0.0, nxt - time.time()))
            conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        t_start = time.time()
        for t in threads:
            t.start()
        # finality: poll the contract; a batch's rows are in its file
        rc = RollupClient(rpc(anvil.url), cfg.rollup_address)
        final_at: dict[int, float] = {}  # batch -> time seen finalized
        last_row = max_row = 0
        deadline = t_start + seconds + drain
        while time.time() < deadline:
            n = rc.state().batch_number
            for b in range(len(final_at) + 1, n + 1):
                final_at[b] = time.time()
            with lock:
                max_row = max((s for s, _ in trades), default=0)
            if time.time() > stop_at and n:
                meta = json.loads((cfg.batches_dir / f"batch-{n:06d}.json").read_text())
                last_row = meta["last_seq"]
                if last_row >= max_row:
                    break
            time.sleep(0.2)
        t_end = time.time()
        for t in threads:
            t.join()
        ranges = {}
        for b in final_at:
            m = json.loads((cfg.batches_dir / f"batch-{b:06d}.json").read_text())
            ranges[b] = (m["first_seq"], m["last_seq"])
        finality = []
        for row, t_ack in trades:
            for b, (lo, hi) in ranges.items():
                if lo <= row <= hi:
                    finality.append(final_at[b] - t_ack)
                    break
        node.terminate()
        node.wait(60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rec = {"bench": "node", "chain": "anvil", "slots": slots, "depth": depth,
               "provers": provers, "clients": clients, "offered_trades_per_s": rate * clients,
               "load_seconds": seconds, "run_seconds": round(t_end - t_start, 1),
               "trades_acked": len(trades), "trades_finalized": len(finality),
               "batches_finalized": len(final_at),
               "ack_p50_s": _pct(acks, 0.5), "ack_p99_s": _pct(acks, 0.99),
               "ack_to_final_p50_s": _pct(finality, 0.5),
               "ack_to_final_p99_s": _pct(finality, 0.99),
               "finalized_trades_per_s": round(len(finality) / (t_end - t_start), 4),
               "cpu_s_per_finalized_trade": round(cpu / len(finality), 2) if finality else None,
               "ack_mean_s": round(statistics.fmean(acks), 4) if acks else None,
               "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)}
        print(json.dumps(rec), flush=True)
        write_json([rec], json_path)
        return rec
    finally:
        if node is not None and node.poll() is None:
            node.kill()
        anvil.stop()
        shutil.rmtree(work, ignore_errors=True)
