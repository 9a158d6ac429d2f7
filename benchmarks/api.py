"""Sequencer API throughput over HTTP: N orders from K concurrent clients.

Three ways of submitting the same request stream, each on a fresh data folder (same genesis):

- ``one_per_fsync``: ``POST /v1/requests``, every request journaled in its own transaction (the
  service with ``group_max=1``: one fsync per request, the behaviour without group commit);
- ``group_commit``: ``POST /v1/requests``, the submits queued together journaled as one group;
- ``batch``: ``POST /v1/requests/batch`` with ``batch_size`` requests a call.

The server (service + ``ApiServer``) runs in this process, as ``rollup sequencer run`` does; the
clients run in a child process (K threads, one keep-alive connection each), so they do not share
the server's interpreter lock. The machines are shared: compare modes measured in the same run.

Signature verification (pure Python, a few hundred per second on one core) dwarfs the journal
cost, so each mode is timed twice: ``verify=False`` with the sequencer's signature check
replaced by one that accepts everything (the API, matching and journal costs alone; requests
carry a dummy signature), and ``verify=True`` with real signatures over a smaller stream.
``signature_verify`` records the verification rate on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import print_table, write_json

MODES = ("one_per_fsync", "group_commit", "batch")


def _record(records: list[dict], **rec) -> None:
    rec["load_average"] = round(os.getloadavg()[0], 2)
    records.append(rec)
    print(json.dumps(rec), flush=True)


def _config(folder: Path, n_accounts: int):
    """A data folder: one perpetual priced at genesis, accounts 1..n funded, all holding the
    testnet key 1 (one key to derive and to sign with)."""
    from rollup.config import Config, GenesisAccount, Market, render
    from rollup.engine import testnet as tn
    from rollup.keys import compress

    pk = compress(tn.public_key(tn.key(1)))
    cfg = Config(path=folder / "rollup.toml", chain_id=tn.DOMAIN.chain_id,
                 rollup_address=f"0x{tn.DOMAIN.rollup_address:040x}", tree_depth=16,
                 api_port=0, oracle_key=compress(tn.public_key(tn.ORACLE_KEY)),
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
    its bodies in order on its own connection; prints {"seconds", "statuses"}."""
    import http.client

    job = json.load(sys.stdin)
    host, port = job["url"].removeprefix("http://").split(":")
    statuses: list[int] = []
    lock = threading.Lock()
    go = threading.Barrier(len(job["clients"]) + 1)

    def run(bodies: list[str]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        conn.connect()
        go.wait()
        got = []
        for b in bodies:
            conn.request("POST", job["path"], body=b.encode(),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if job["path"].endswith("/batch") and r.status == 200:
                got += [x["status"] for x in json.loads(data)]
            else:
                got.append(r.status)
        conn.close()
        with lock:
            statuses.extend(got)

    ts = [threading.Thread(target=run, args=(c,)) for c in job["clients"]]
    for t in ts:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    print(json.dumps({"seconds": time.perf_counter() - t0, "statuses": statuses}))


def _serve(cfg_path: Path, group_max: int, verify: bool):
    from rollup.api.server import ApiServer
    from rollup.api.service import SequencerService
    from rollup.config import load

    svc = SequencerService(load(cfg_path), log=lambda m: None, group_max=group_max).start()
    if not verify:
        # the sequencer's signature check (its verify hook) accepting everything
        svc.call(lambda s: setattr(s.seq, "_verify", lambda req, pk, dom: True))
    server = ApiServer(svc, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return svc, server


def bench_mode(records: list[dict], mode: str, reqs: list[dict], n_clients: int,
               batch_size: int, n_accounts: int, verify: bool, work: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=work))
    svc, server = _serve(_config(folder, n_accounts), 1 if mode == "one_per_fsync" else 512,
                         verify)
    from circuits.eddsa_batch import warm_up

    warm_up()  # as `rollup sequencer run` does before it listens
    try:
        st0 = svc.status()
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
        proc = subprocess.run([sys.executable, "-c", "from benchmarks.api import _clients; "
                               "_clients()"], input=job, capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parent.parent)
        res = json.loads(proc.stdout)
        st1 = svc.status()
    finally:
        server.shutdown()
        server.server_close()
        svc.close()
    n = len(reqs)
    statuses = res["statuses"]
    assert len(statuses) == n, (len(statuses), n)
    accepted = statuses.count(200)
    assert st1["seq"] - st0["seq"] == accepted
    g = st1["group_commits"]
    _record(records, op="api_submit", mode=mode, verify=verify, clients=n_clients,
            batch_size=batch_size if mode == "batch" else None, requests=n, accepted=accepted,
            seconds=round(res["seconds"], 3), per_second=round(n / res["seconds"], 1),
            groups=g["groups"], mean_group=round(g["requests"] / g["groups"], 1)
            if g["groups"] else None)


def bench_fsync(records: list[dict], work: Path, n: int = 200) -> None:
    """What one fsync costs where the journals are written: group commit saves one per
    request grouped, so its gain grows with this (a fast virtual disk gains little)."""
    path = work / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 128)
            os.fsync(fd)
        dt = time.perf_counter() - t0
    finally:
        os.close(fd)
        path.unlink()
    _record(records, op="fsync", n=n, ms_each=round(dt / n * 1e3, 3))


def bench_signatures(records: list[dict], reqs: list[dict]) -> None:
    from rollup.engine import testnet as tn
    from rollup.transactions import request_from_json

    rs = [request_from_json(r) for r in reqs]
    pk = tn.public_key(tn.key(1))
    t0 = time.perf_counter()
    assert all(r.verify(pk, tn.DOMAIN) for r in rs)
    dt = time.perf_counter() - t0
    _record(records, op="signature_verify", n=len(rs), seconds=round(dt, 3),
            per_second=round(len(rs) / dt, 1))


def run(quick: bool = False, json_path=None, n: int | None = None, n_verified: int | None = None,
        clients: int = 16, batch_size: int = 100, n_accounts: int = 64,
        work_dir: str | None = None) -> list[dict]:
    """``work_dir``: where the data folders go (the disk whose fsync is measured)."""
    records: list[dict] = []
    n = n or (400 if quick else 4000)
    n_verified = n_verified or (60 if quick else 600)
    with tempfile.TemporaryDirectory(prefix="bench-api-", dir=work_dir) as tmp:
        work = Path(tmp)
        bench_fsync(records, work)
        fast = _stream(n, n_accounts, signed=False)
        for mode in MODES:
            bench_mode(records, mode, fast, clients, batch_size, n_accounts, False, work)
        bench_mode(records, "one_per_fsync", fast, 1, batch_size, n_accounts, False, work)
        signed = _stream(n_verified, n_accounts, signed=True)
        bench_signatures(records, signed)
        for mode in MODES:
            bench_mode(records, mode, signed, clients, batch_size, n_accounts, True, work)
    base = {r["verify"]: r["per_second"] for r in records
            if r.get("mode") == "one_per_fsync" and r["clients"] == clients}
    for r in records:
        if r["op"] == "api_submit" and r["clients"] == clients:
            r["vs_one_per_fsync"] = round(r["per_second"] / base[r["verify"]], 2)
    write_json(records, json_path)
    return records


def main(json_path=None, quick: bool = False, **kw) -> list[dict]:
    records = run(quick, json_path, **kw)
    print_table("sequencer API over HTTP", [r for r in records if r["op"] == "api_submit"],
                [("mode", "mode"), ("verify", "verify"), ("clients", "clients"),
                 ("batch_size", "batch"), ("requests", "requests"), ("accepted", "accepted"),
                 ("per_second", "requests/s"), ("vs_one_per_fsync", "x one/fsync"),
                 ("mean_group", "mean group"), ("seconds", "s")])
    return records


if __name__ == "__main__":  # python -m benchmarks.api [--quick] [RESULTS.json]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else None, quick="--quick" in sys.argv)
