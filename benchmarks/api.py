"""Sequencer API over loopback HTTP: single-order ack latency and batch throughput.

Measured in one run, on one data disk (``--dir``): this machine's fsync (p50 of single 128-byte
appends, each fsynced), then, each on a fresh data folder with the same genesis (and with the p50
of the journal's own durable commits during it, ``commit_p50_ms``: the disk work its acks waited
for, timed around SQLite's COMMIT, which includes taking the interpreter lock back after it; the
disk's speed moves within a run, so the ack is compared with both):

- ``ack``: ``POST /v1/requests`` one order at a time per client (keep-alive), 1 and 16 clients:
  p50 / p99 of the time from send to receipt (journaled; concurrent clients' orders share group
  commits), with signatures checked (``verify=True``) and with the sequencer's check replaced by
  one that accepts everything (``verify=False``: the API, matching and journal costs alone);
- ``batch``: ``POST /v1/requests/batch`` (``batch_size`` orders a call, 4 clients), orders/s
  with signatures checked, and without;
- ``stack``: the 1-client ack with uvicorn's pure-Python pair (asyncio loop, h11 parser) against
  uvloop + httptools.

The server runs in this process as ``rollup sequencer run`` does (uvicorn on its thread, the
sequencer's worker thread); the clients run in a child process (one keep-alive connection per
client thread), so they do not share the server's interpreter lock. The machines are shared:
compare numbers measured in the same run (``label`` tags every record, e.g. with the code
measured, so runs of two versions can sit side by side in one file).
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_json


def _record(records: list[dict], **rec) -> None:
    rec["load_average"] = round(os.getloadavg()[0], 2)
    records.append(rec)
    print(json.dumps(rec), flush=True)


def _config(folder: Path, n_accounts: int):
    """A data folder: one perpetual priced at genesis, accounts 1..n funded, all holding the
    testnet key 1 (one key to derive and to sign with); rate limits far above the load (their
    check is timed, never refuses)."""
    from rollup.config import Config, GenesisAccount, Market, render
    from rollup.engine import testnet as tn
    from rollup.keys import compress

    pk = compress(tn.public_key(tn.key(1)))
    cfg = Config(path=folder / "rollup.toml", chain_id=tn.DOMAIN.chain_id,
                 rollup_address=f"0x{tn.DOMAIN.rollup_address:040x}", tree_depth=16,
                 api_port=0, api_rate=1e6, api_burst=10**6,
                 oracle_key=compress(tn.public_key(tn.ORACLE_KEY)),
                 operator_key=compress(tn.public_key(tn.key(0))),
                 markets=[Market(tn.PERP, "perp", 50_000, 30_000, maker_fee=100, taker_fee=500,
                                 liquidation_fee=10_000, price=tn.PERP_PRICE)],
                 genesis_accounts=[GenesisAccount(i, 10**13, pk=pk)
                                   for i in range(1, n_accounts + 1)])
    folder.mkdir(parents=True, exist_ok=True)
    cfg.path.write_text(render(cfg))
    return cfg.path


def _stream(n: int, n_accounts: int, signed: bool, seed: int = 1) -> list[dict]:
    """Limit orders around the price from random accounts (about half cross), as JSON."""
    from benchmarks.engine import _order_stream
    from rollup.engine import testnet as tn

    out = []
    for o in _order_stream(n, n_accounts, seed, max_size=5):
        d = (o.signed(tn.key(1), tn.DOMAIN) if signed else o).to_json()
        if not signed:
            d["sig"] = [[0, 0], 0]
        out.append(d)
    return out


def _clients() -> None:
    """Child process: stdin {"url", "path", "clients": [[body, ...], ...]}; each client posts
    its bodies in order on its own connection; prints {"seconds", "statuses", "latencies"}."""
    import http.client
    import threading

    job = json.load(sys.stdin)
    host, port = job["url"].removeprefix("http://").split(":")
    statuses: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    go = threading.Barrier(len(job["clients"]) + 1)

    def run(bodies: list[str]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        conn.connect()
        go.wait()
        got, lat = [], []
        for b in bodies:
            data = b.encode()
            t0 = time.perf_counter()
            conn.request("POST", job["path"], body=data,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            out = r.read()
            lat.append(time.perf_counter() - t0)
            if job["path"].endswith("/batch") and r.status == 200:
                got += [x["status"] for x in json.loads(out)]
            else:
                got.append(r.status)
        conn.close()
        with lock:
            statuses.extend(got)
            latencies.extend(lat)

    ts = [threading.Thread(target=run, args=(c,)) for c in job["clients"]]
    for t in ts:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    print(json.dumps({"seconds": time.perf_counter() - t0, "statuses": statuses,
                      "latencies": latencies}))


class _TimedCommits:
    """The journal's connection with each durable commit timed: an explicit COMMIT, or a
    statement run outside a transaction (an autocommit INSERT), while ``synchronous=FULL``
    (the receipts' transactions switch it off and are not journal commits)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.times, self._full = db, [], True

    def execute(self, sql: str, *args):
        if sql.startswith("PRAGMA synchronous"):
            self._full = sql.endswith("FULL")
        timed = self._full and (sql == "COMMIT" or (
            sql.startswith("INSERT") and not self.db.in_transaction))
        t0 = time.perf_counter()
        try:
            return self.db.execute(sql, *args)
        finally:
            if timed:
                self.times.append(time.perf_counter() - t0)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


def _serve(cfg_path: Path, verify: bool, loop: str, http: str):
    from rollup.api.server import ApiServer
    from rollup.api.service import SequencerService
    from rollup.config import load

    svc = SequencerService(load(cfg_path), log=lambda m: None).start()
    if not verify:
        # the sequencer's signature check (its verify hook) accepting everything
        svc.call(lambda s: setattr(s.seq, "_verify", lambda req, pk, dom: True))
    return svc, ApiServer(svc, "127.0.0.1", 0, loop=loop, http=http).start()


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def bench_mode(records: list[dict], mode: str, reqs: list[dict], n_clients: int,
               batch_size: int, n_accounts: int, verify: bool, work: Path,
               loop: str = "uvloop", http: str = "httptools") -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=work))
    svc, server = _serve(_config(folder, n_accounts), verify, loop, http)
    from circuits.eddsa_batch import warm_up
    from rollup.engine import orderbook
    from rollup.engine.sequencer import tune_gc

    # as `rollup sequencer run` does before it listens: the kernels loaded (with a cold Numba
    # cache, compiled: tens of seconds that would land in the first run's latencies) and the
    # collector set for a long-lived state (put back after the run)
    warm_up()
    orderbook.warm_up()
    thresholds = gc.get_threshold()
    tune_gc()
    try:
        st0 = svc.status()
        timed = svc.call(lambda s: setattr(s.journal, "db", _TimedCommits(s.journal.db))
                         or s.journal.db)
        # request k goes to client k mod K, so each client's orders keep their account order
        shares = [reqs[c::n_clients] for c in range(n_clients)]
        if mode == "batch":
            bodies = [[json.dumps(s[i:i + batch_size]) for i in range(0, len(s), batch_size)]
                      for s in shares]
            path = "/v1/requests/batch"
        else:
            bodies = [[json.dumps(r) for r in s] for s in shares]
            path = "/v1/requests"
        job = json.dumps({"url": server.url, "path": path, "clients": bodies})
        cpu0 = time.process_time()
        proc = subprocess.run([sys.executable, "-c", "from benchmarks.api import _clients; "
                               "_clients()"], input=job, capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parent.parent)
        res = json.loads(proc.stdout)
        cpu = time.process_time() - cpu0
        st1 = svc.status()
    finally:
        server.shutdown()
        server.server_close()
        svc.close()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    n = len(reqs)
    statuses = res["statuses"]
    assert len(statuses) == n, (len(statuses), n)
    accepted = statuses.count(200)
    assert st1["seq"] - st0["seq"] == accepted
    g = st1["group_commits"]
    lat = res["latencies"]
    rec = dict(op="api", mode=mode, verify=verify, clients=n_clients, stack=f"{loop}+{http}",
               batch_size=batch_size if mode == "batch" else None, requests=n,
               accepted=accepted, seconds=round(res["seconds"], 3),
               server_cpu_us=round(cpu / n * 1e6, 1),
               per_second=round(n / res["seconds"], 1),
               mean_group=round(g["requests"] / g["groups"], 1) if g["groups"] else None)
    if timed.times:
        rec["commit_p50_ms"] = round(_pct(timed.times, 0.5) * 1e3, 3)
    if mode != "batch":
        rec.update(ack_p50_ms=round(_pct(lat, 0.5) * 1e3, 3),
                   ack_p99_ms=round(_pct(lat, 0.99) * 1e3, 3))
        if timed.times:
            rec["ack_p50_vs_commit"] = round(rec["ack_p50_ms"] / rec["commit_p50_ms"], 2)
    _record(records, **rec)


def bench_fsync(records: list[dict], work: Path, n: int = 300) -> float:
    """What one fsync costs where the journals are written: the floor of a durable ack."""
    path = work / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 128)
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    p50 = statistics.median(times) * 1e3
    _record(records, op="fsync", n=n, p50_ms=round(p50, 3),
            mean_ms=round(statistics.fmean(times) * 1e3, 3))
    return p50


def run(quick: bool = False, json_path=None, clients: int = 16, batch_size: int = 500,
        n_accounts: int = 64, work_dir: str | None = None, label: str | None = None
        ) -> list[dict]:
    """``work_dir``: where the data folders go (the disk whose fsync is measured)."""
    records: list[dict] = []
    n_ack = 60 if quick else 400  # orders per latency run (split among the clients)
    n_batch = 200 if quick else 4000
    with tempfile.TemporaryDirectory(prefix="bench-api-", dir=work_dir) as tmp:
        work = Path(tmp)
        fsync = bench_fsync(records, work)
        signed = _stream(max(n_ack * 2, n_batch), n_accounts, signed=True)
        fast = _stream(max(n_ack * 2, n_batch), n_accounts, signed=False)
        for verify, stream in ((True, signed), (False, fast)):
            bench_mode(records, "ack", stream[:n_ack], 1, 0, n_accounts, verify, work)
            bench_mode(records, "ack", stream[:n_ack * 2], clients, 0, n_accounts, verify, work)
            bench_mode(records, "batch", stream[:n_batch], 4, batch_size, n_accounts, verify,
                       work)
        bench_mode(records, "ack", fast[:n_ack], 1, 0, n_accounts, False, work,
                   loop="asyncio", http="h11")
    for r in records:
        if r.get("ack_p50_ms") is not None:
            r["ack_p50_vs_fsync"] = round(r["ack_p50_ms"] / fsync, 2)
        if label is not None:
            r["label"] = label
    write_json(records, json_path)
    return records


def main(json_path=None, quick: bool = False, **kw) -> list[dict]:
    records = run(quick, json_path, **kw)
    print_table("sequencer API over loopback HTTP", [r for r in records if r["op"] == "api"],
                [("mode", "mode"), ("verify", "verify"), ("clients", "clients"),
                 ("stack", "stack"), ("requests", "requests"), ("accepted", "accepted"),
                 ("per_second", "requests/s"), ("ack_p50_ms", "ack p50 ms"),
                 ("ack_p99_ms", "ack p99 ms"), ("ack_p50_vs_fsync", "p50/fsync"),
                 ("commit_p50_ms", "commit p50 ms"), ("ack_p50_vs_commit", "p50/commit"),
                 ("mean_group", "mean group")])
    return records


if __name__ == "__main__":  # python -m benchmarks api [--quick] [RESULTS.json]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else None, quick="--quick" in sys.argv)
