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

``keys``: every account signs with one key (``shared``) or with its own (``own``); a key that
signs often gets a per-key table in the signature kernel, so the two differ. ``stages``: the
batch runs also record the server's CPU per order by stage of its path (``_Stages``).

The server runs in this process as ``rollup sequencer run`` does (uvicorn on its thread, the
sequencer's worker thread); the clients run in a child process (one keep-alive connection per
client thread), so they do not share the server's interpreter lock. The machines are shared:
compare numbers measured in the same run (``label`` tags every record, e.g. with the code
measured, so runs of two versions can sit side by side in one file).
"""

from __future__ import annotations

import contextlib
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


def _signer(account: int, keys: str) -> bytes:
    """The key account ``account`` signs with: testnet key 1 for every account (``shared``: one
    key to derive and to sign with) or its own testnet key (``own``)."""
    from rollup.engine import testnet as tn

    return tn.key(1 if keys == "shared" else account)


def _config(folder: Path, n_accounts: int, keys: str = "shared"):
    """A data folder: one perpetual priced at genesis, accounts 1..n funded, each holding the
    key ``_signer`` gives it; rate limits far above the load (their check is timed, never
    refuses)."""
    from rollup.config import Config, GenesisAccount, Market, render
    from rollup.engine import testnet as tn
    from rollup.keys import compress

    cfg = Config(path=folder / "rollup.toml", chain_id=tn.DOMAIN.chain_id,
                 rollup_address=f"0x{tn.DOMAIN.rollup_address:040x}", tree_depth=16,
                 api_port=0, api_rate=1e6, api_burst=10**6,
                 oracle_key=compress(tn.public_key(tn.ORACLE_KEY)),
                 operator_key=compress(tn.public_key(tn.key(0))),
                 markets=[Market(tn.PERP, "perp", 50_000, 30_000, maker_fee=100, taker_fee=500,
                                 liquidation_fee=10_000, price=tn.PERP_PRICE)],
                 genesis_accounts=[GenesisAccount(i, 10**13,
                                                  pk=compress(tn.public_key(_signer(i, keys))))
                                   for i in range(1, n_accounts + 1)])
    folder.mkdir(parents=True, exist_ok=True)
    cfg.path.write_text(render(cfg))
    return cfg.path


def _stream(n: int, n_accounts: int, signed: bool, seed: int = 1,
            keys: str = "shared") -> list[dict]:
    """Limit orders around the price from random accounts (about half cross), as JSON."""
    from benchmarks.engine import _order_stream
    from rollup.engine import testnet as tn

    out = []
    for o in _order_stream(n, n_accounts, seed, max_size=5):
        d = (o.signed(_signer(o.account, keys), tn.DOMAIN) if signed else o).to_json()
        if not signed:
            d["sig"] = [[0, 0], 0]
        out.append(d)
    return out


def _clients() -> None:
    """Child process: stdin {"url", "path", "clients": [[body, ...], ...]}; each client posts
    its bodies in order on its own connection; prints {"seconds", "statuses", "latencies",
    "times"} (``times``: each request's [sent, answered], ``time.perf_counter``: on Linux the
    system-wide CLOCK_MONOTONIC, the server's clock too)."""
    import http.client
    import threading

    job = json.load(sys.stdin)
    host, port = job["url"].removeprefix("http://").split(":")
    statuses: list[int] = []
    latencies: list[float] = []
    times: list[list[float]] = []
    lock = threading.Lock()
    go = threading.Barrier(len(job["clients"]) + 1)

    def run(bodies: list[str]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        conn.connect()
        go.wait()
        got, lat, at = [], [], []
        for b in bodies:
            data = b.encode()
            t0 = time.perf_counter()
            conn.request("POST", job["path"], body=data,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            out = r.read()
            t1 = time.perf_counter()
            lat.append(t1 - t0)
            at.append([t0, t1])
            if job["path"].endswith("/batch") and r.status == 200:
                got += [x["status"] for x in json.loads(out)]
            else:
                got.append(r.status)
        conn.close()
        with lock:
            statuses.extend(got)
            latencies.extend(lat)
            times.extend(at)

    ts = [threading.Thread(target=run, args=(c,)) for c in job["clients"]]
    for t in ts:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    print(json.dumps({"seconds": time.perf_counter() - t0, "statuses": statuses,
                      "latencies": latencies, "times": times}))


def _ws_clients() -> None:
    """Child process, the ``ws`` mode: stdin {"url", "maker", "rest": [[side, size, price], ...],
    "asset", "takers": [[body, ...], ...]}. The maker's client (the SDK) rests its orders and
    holds an authenticated stream of its ``fills`` and ``orders``; a second, anonymous stream
    follows the public ``trades``; each taker posts its crossing orders one at a time on its own
    keep-alive connection. Every time is this process's ``perf_counter``. Prints, per order,
    {"sent", "acked", "fill", "maker_fill", "trade"} (seconds; None: no event came), and
    ``fill_wire``: when the fill's frame reached the process (the WebSocket library's reader
    thread, before the SDK's ``recv`` hands it over)."""
    import functools
    import http.client
    import threading

    from websockets.frames import Opcode
    from websockets.sync.client import ClientConnection, connect

    import rollup.client.stream as sdk
    from rollup.client import Client, Stream
    from rollup.engine import testnet as tn

    wire: list[tuple[float, bytes]] = []

    class Timed(ClientConnection):
        def process_event(self, event) -> None:
            if getattr(event, "opcode", None) is Opcode.TEXT:
                wire.append((time.perf_counter(), event.data))
            super().process_event(event)

    sdk.connect = functools.partial(connect, create_connection=Timed)
    job = json.load(sys.stdin)
    host, port = job["url"].removeprefix("http://").split(":")
    arrivals: dict[tuple[str, int], float] = {}  # (channel, fill id) -> first arrival
    stop = threading.Event()

    def follow(stream) -> None:
        while not stop.is_set():
            try:
                m = stream.recv(timeout=0.2)
            except TimeoutError:
                continue
            t = time.perf_counter()
            kind = m.get("type")
            if kind in ("fill", "trade"):
                arrivals.setdefault((m["channel"], m["id"]), t)
            elif kind == "maker_fill":
                arrivals.setdefault(("maker_fill", m["fill_id"]), t)

    with Client(job["url"], key=tn.key(1), account=job["maker"]) as maker:
        for side, size, price in job["rest"]:
            assert maker.order(job["asset"], side, size, price)["resting"]
        private, public = maker.stream(), Stream(job["url"])
        for ch in ("fills", "orders"):
            private.subscribe(ch, job["maker"])
            private._expect("subscribed")
        public.subscribe("trades", job["asset"])
        public._expect("subscribed")
        readers = [threading.Thread(target=follow, args=(s,), daemon=True)
                   for s in (private, public)]
        for t in readers:
            t.start()
        rows: list[dict] = []
        lock = threading.Lock()
        go = threading.Barrier(len(job["takers"]) + 1)

        def take(bodies: list[str]) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=600)
            conn.connect()
            go.wait()
            mine = []
            for b in bodies:
                t0 = time.perf_counter()
                conn.request("POST", "/v1/requests", body=b.encode(),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                out = r.read()
                t1 = time.perf_counter()
                assert r.status == 200, out
                ids = [f["id"] for f in json.loads(out)["fills"]]
                mine.append({"sent": t0, "acked": t1, "fill_id": ids[0] if ids else None})
            conn.close()
            with lock:
                rows.extend(mine)

        ts = [threading.Thread(target=take, args=(c,)) for c in job["takers"]]
        for t in ts:
            t.start()
        go.wait()
        for t in ts:
            t.join()
        want = [(ch, r["fill_id"]) for r in rows if r["fill_id"] is not None
                for ch in ("fills", "maker_fill", "trades")]
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and not all(w in arrivals for w in want):
            time.sleep(0.01)
        stop.set()
        for t in readers:
            t.join()
        private.close()
        public.close()
    on_wire: dict[int, float] = {}
    for t, data in wire:
        m = json.loads(data)
        if m.get("channel") == "fills" and m.get("type") == "fill":
            on_wire.setdefault(m["id"], t)
    for r in rows:
        fid = r.pop("fill_id")
        for ch, name in (("fills", "fill"), ("maker_fill", "maker_fill"), ("trades", "trade")):
            r[name] = arrivals.get((ch, fid)) if fid is not None else None
        r["fill_wire"] = on_wire.get(fid)
    print(json.dumps(rows))


class _TimedCommits:
    """The journal's connection with each durable commit timed: an explicit COMMIT, or a
    statement run outside a transaction (an autocommit INSERT), while ``synchronous=FULL``
    (the receipts' transactions switch it off and are not journal commits)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.times, self._full = db, [], True
        self.spans: list[tuple[float, float]] = []  # (start, end) of each timed commit

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
                t1 = time.perf_counter()
                self.times.append(t1 - t0)
                self.spans.append((t0, t1))

    def __getattr__(self, name: str):
        return getattr(self.db, name)


class _Stages:
    """Thread CPU time (``time.thread_time``) of the batch path's stages while entered: each
    point is wrapped where it is looked up at call time, and put back on exit; a point the code
    measured lacks is skipped. Stages nest (a point's time includes the points it calls);
    ``per_order`` gives each one's own share in microseconds per order."""

    # (module, attribute path, label, the labels of the points it calls directly)
    POINTS = [
        ("rollup.api.codec", "decode_batch", "decode", ()),
        ("rollup.engine.sequencer", "Sequencer.preverify", "signatures: Python",
         ("message hash (H10)", "challenge hash (H5)", "key tables built", "curve check")),
        ("rollup.transactions", "request_messages", "message hash (H10)", ()),
        ("circuits.eddsa_batch", "hash_ints", "challenge hash (H5)", ()),
        ("circuits.eddsa_batch", "_key_table", "key tables built", ()),
        ("circuits.eddsa_batch", "_verify_rows", "curve check", ()),
        ("circuits.eddsa_batch", "_verify_keyed", "curve check", ()),
        ("rollup.api.service", "SequencerService.admit", "rate limits", ()),
        ("rollup.api.service", "_Submits.__init__", "idempotency keys", ()),
        ("rollup.api.service", "SequencerService._run_group", "receipts, bookkeeping",
         ("matching, state apply",)),
        ("rollup.engine.sequencer", "Sequencer.submit_many", "matching, state apply",
         ("journal write + commit",)),
        ("rollup.durability.journal", "Journal.append_many", "journal write + commit", ()),
        ("rollup.state.state", "State.flush", "state root (beside the commit)", ()),
        ("rollup.api.service", "SequencerService._settle", "receipts stored, history", ()),
        ("rollup.api.app", "_response", "answer encoded", ()),
    ]

    def __init__(self) -> None:
        import threading

        self.cpu: dict[str, float] = {}
        self._saved: list[tuple[object, str, object]] = []
        self._local = threading.local()

    def _wrap(self, fn, label: str):
        import functools

        local, cpu = self._local, self.cpu

        @functools.wraps(fn)
        def timed(*args, **kw):
            inside = getattr(local, "inside", None)
            if inside is None:
                inside = local.inside = set()
            if label in inside:  # a recursive call: counted once
                return fn(*args, **kw)
            inside.add(label)
            t0 = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                cpu[label] = cpu.get(label, 0.0) + time.thread_time() - t0
                inside.discard(label)

        return timed

    def __enter__(self) -> _Stages:
        import importlib

        for mod, path, label, _ in self.POINTS:
            owner = importlib.import_module(mod)
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part, None)
            fn = getattr(owner, name, None) if owner is not None else None
            if fn is None:
                continue
            self._saved.append((owner, name, fn))
            setattr(owner, name, self._wrap(fn, label))
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, fn in reversed(self._saved):
            setattr(owner, name, fn)
        self._saved.clear()

    def per_order(self, n: int) -> dict[str, float]:
        own = dict(self.cpu)
        for _, _, label, inner in self.POINTS:
            if label in own:
                own[label] -= sum(self.cpu.get(x, 0.0) for x in inner)
        return {label: round(own[label] / n * 1e6, 1) for _, _, label, _ in self.POINTS
                if label in own}


class _Trace:
    """Time stamps (``time.perf_counter``, the clients' clock too) at the entry and exit of each
    point of a lone order's path, from the client's send to its answer; ``segments`` splits each
    request's time between consecutive milestones. Each stamp costs ~1 us (a wrapper call, two
    clock reads): the traced ack is ~20-30 us slower than an untraced one."""

    # (module, attribute path, label, unused); wrapped as in ``_Stages``
    POINTS = [
        ("uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol.data_received", "recv", ()),
        ("rollup.api.codec", "decode_request", "decode", ()),
        ("rollup.api.service", "SequencerService.enqueue", "enqueue", ()),
        ("rollup.api.service", "SequencerService._run_group", "writer", ()),
        ("rollup.api.service", "SequencerService.preverify", "signature", ()),
        ("rollup.engine.sequencer", "Sequencer.submit", "submit", ()),
        ("rollup.durability.journal", "Journal.write", "journal row", ()),
        ("rollup.durability.journal", "Pending.commit", "commit", ()),
        ("rollup.state.state", "State.commit", "state hash", ()),
        ("rollup.api.service", "SequencerService._receipt", "receipt", ()),
        ("rollup.api.service", "_Submits.resolve", "resolve", ()),
        ("rollup.api.app", "_response", "answer", ()),
        ("uvicorn.protocols.http.httptools_impl", "RequestResponseCycle.send", "write", ()),
        ("rollup.api.service", "SequencerService._settle", "settle", ()),
    ]
    # (segment, from milestone, to milestone): a milestone is "label>" (entry) or "label<"
    # (exit, the last one of the request); "sent" and "answered" are the client's
    SEGMENTS = [
        ("client send -> server loop reads it (loopback, loop wake-up)", "sent", "recv>"),
        ("HTTP parse, ASGI, Starlette routing, body", "recv>", "decode>"),
        ("decode (msgspec, typed request)", "decode>", "decode<"),
        ("handler -> enqueue", "decode<", "enqueue>"),
        ("enqueue (idempotency key, queue put)", "enqueue>", "enqueue<"),
        ("writer thread wake-up", "enqueue<", "writer>"),
        ("writer -> signature", "writer>", "signature>"),
        ("signature check (one request's batch)", "signature>", "signature<"),
        ("rate limit, idempotency lookup", "signature<", "submit>"),
        ("engine: validation, matching", "submit>", "journal row>"),
        ("journal row (SQLite INSERT)", "journal row>", "journal row<"),
        ("journal row -> commit", "journal row<", "commit>"),
        ("commit: fsync, state hashing beside", "commit>", "commit<"),
        ("book changes", "commit<", "submit<"),
        ("receipt", "submit<", "receipt<"),
        ("receipt -> future answered", "receipt<", "resolve<"),
        ("event loop wake-up, handler resumes", "resolve<", "answer>"),
        ("answer encoded (msgspec, Response)", "answer>", "answer<"),
        ("uvicorn writes the answer", "answer<", "write<"),
        ("server write -> client has it (loopback, client wake-up)", "write<", "answered"),
    ]

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self._saved: list[tuple[object, str, object]] = []

    def _wrap(self, fn, label: str):
        import functools
        import inspect

        ev, clock = self.events.append, time.perf_counter
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args, **kw):
                ev((clock(), label + ">"))
                try:
                    return await fn(*args, **kw)
                finally:
                    ev((clock(), label + "<"))

            return timed_async

        @functools.wraps(fn)
        def timed(*args, **kw):
            ev((clock(), label + ">"))
            try:
                return fn(*args, **kw)
            finally:
                ev((clock(), label + "<"))

        return timed

    __enter__ = _Stages.__enter__
    __exit__ = _Stages.__exit__

    def segments(self, times: list[list[float]], commits: list[tuple[float, float]]) -> dict:
        """Per segment: p50 and mean (us) over the requests; with the fsync (the COMMIT
        statement) and the state hashing that runs beside it, inside the commit."""
        events = sorted(self.events)
        settles, start = [], None  # the writer's bookkeeping after its answers (any request's)
        for t, m in events:
            if m == "settle>":
                start = t
            elif m == "settle<" and start is not None:
                settles.append((start, t))
        k = 0
        per: dict[str, list[float]] = {name: [] for name, _, _ in self.SEGMENTS}
        fsync, hashing, waited = [], [], []
        for sent, answered in sorted(times):
            first: dict[str, float] = {"sent": sent, "answered": answered}
            while k < len(events) and events[k][0] < sent:
                k += 1
            while k < len(events) and events[k][0] <= answered:
                t, m = events[k]
                if m.endswith(">"):
                    first.setdefault(m, t)
                else:
                    first[m] = t
                k += 1
            if "enqueue<" in first and "writer>" in first:  # the writer busy settling
                a, b = first["enqueue<"], first["writer>"]
                waited.append(sum(max(0.0, min(b, y) - max(a, x)) for x, y in settles))
            if "state hash>" in first:
                hashing.append(first["state hash<"] - first["state hash>"])
            spans = [b - a for a, b in commits if sent <= a <= answered]
            if spans:
                fsync.append(spans[-1])
            for name, a, b in self.SEGMENTS:
                if a in first and b in first:
                    per[name].append(first[b] - first[a])

        def us(xs: list[float]) -> dict:
            return {"p50_us": round(_pct(xs, 0.5) * 1e6, 1),
                    "mean_us": round(statistics.fmean(xs) * 1e6, 1), "n": len(xs)}

        out = {name: us(xs) for name, xs in per.items() if xs}
        if fsync:
            out["(inside the commit) COMMIT statement: fsync"] = us(fsync)
        if hashing:
            out["(inside the commit, beside the fsync) state hashing"] = us(hashing)
        if waited:
            out["(inside the wake-up) the writer storing earlier receipts"] = us(waited)
        if settles:
            out["(off the path) storing receipts, each time"] = us([y - x for x, y in settles])
        return out


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


@contextlib.contextmanager
def _served(work: Path, mode: str, n_accounts: int, verify: bool, loop: str = "uvloop",
            http: str = "httptools", keys: str = "shared"):
    """(service, server, the journal's timed commits) on a fresh data folder, as `rollup
    sequencer run` serves it; stopped on exit."""
    folder = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=work))
    svc, server = _serve(_config(folder, n_accounts, keys), verify, loop, http)
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
        timed = svc.call(lambda s: setattr(s.journal, "db", _TimedCommits(s.journal.db))
                         or s.journal.db)
        yield svc, server, timed
    finally:
        server.shutdown()
        server.server_close()
        svc.close()
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _child(fn: str, job: dict):
    """``benchmarks.api.<fn>()`` in a child process fed ``job``; its JSON answer."""
    proc = subprocess.run([sys.executable, "-c", f"from benchmarks.api import {fn}; {fn}()"],
                          input=json.dumps(job), capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"the clients' process failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def bench_mode(records: list[dict], mode: str, reqs: list[dict], n_clients: int,
               batch_size: int, n_accounts: int, verify: bool, work: Path,
               loop: str = "uvloop", http: str = "httptools", keys: str = "shared",
               stages: bool = False) -> None:
    """One measured run. ``stages``: the server's CPU per order by stage of its path
    (``_Stages``) is recorded as ``stages_us``."""
    probe = _Stages() if stages else contextlib.nullcontext()
    with _served(work, mode, n_accounts, verify, loop, http, keys) as (svc, server, timed), \
            probe:
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
        cpu0 = time.process_time()
        res = _child("_clients", {"url": server.url, "path": path, "clients": bodies})
        cpu = time.process_time() - cpu0
        st1 = svc.status()
    n = len(reqs)
    statuses = res["statuses"]
    assert len(statuses) == n, (len(statuses), n)
    accepted = statuses.count(200)
    assert st1["seq"] - st0["seq"] == accepted
    g = st1["group_commits"]
    lat = res["latencies"]
    rec = dict(op="api", mode=mode, verify=verify, clients=n_clients, stack=f"{loop}+{http}",
               keys=keys, batch_size=batch_size if mode == "batch" else None, requests=n,
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
    if stages:
        rec["stages_us"] = probe.per_order(n)
        rec["stages_us"]["other (HTTP, threads, the rest)"] = round(
            rec["server_cpu_us"] - sum(rec["stages_us"].values()), 1)
    _record(records, **rec)


def bench_trace(records: list[dict], reqs: list[dict], n_accounts: int, work: Path,
                keys: str = "shared") -> None:
    """The ``trace`` mode: one client, signatures checked; where each microsecond of a lone
    order's ack goes (``_Trace``), recorded as ``segments_us`` beside the ack p50."""
    trace = _Trace()
    with _served(work, "trace", n_accounts, True, keys=keys) as (svc, server, timed), trace:
        bodies = [[json.dumps(r) for r in reqs]]
        res = _child("_clients", {"url": server.url, "path": "/v1/requests", "clients": bodies})
    lat = res["latencies"]
    assert res["statuses"].count(200) == len(reqs), res["statuses"][:10]
    seg = trace.segments(res["times"], timed.spans)
    named = [v["p50_us"] for k, v in seg.items() if not k.startswith("(")]
    rec = dict(op="api", mode="trace", verify=True, clients=1, stack="uvloop+httptools",
               keys=keys, requests=len(reqs), ack_p50_ms=round(_pct(lat, 0.5) * 1e3, 3),
               ack_p99_ms=round(_pct(lat, 0.99) * 1e3, 3),
               ack_mean_ms=round(statistics.fmean(lat) * 1e3, 4),
               commit_p50_ms=round(_pct(timed.times, 0.5) * 1e3, 3) if timed.times else None,
               segments_p50_sum_ms=round(sum(named) / 1e3, 3), segments_us=seg)
    _record(records, **rec)


def bench_ws(records: list[dict], n: int, n_takers: int, work: Path) -> None:
    """The ``ws`` mode: account 1 rests one large sell at the price; takers 2..K+1 send buys of
    1 crossing it, each filled at once; per order: send -> ack, ack -> the maker's ``fills``
    event (and its ``orders`` one, ``maker_fill``), send -> the public ``trades`` event."""
    from rollup.engine import testnet as tn
    from rollup.transactions import BUY, SELL, Order

    takers = [[json.dumps(Order(acc, tn.PERP, BUY, 1, tn.PERP_PRICE, oid, 10**9)
                          .signed(tn.key(1), tn.DOMAIN).to_json())
               for oid in range(1, -(-n // n_takers) + 1)] for acc in range(2, n_takers + 2)]
    k = 0
    for t in takers:  # n orders in all, spread as evenly as the split allows
        del t[max(0, min(len(t), n - k)):]
        k += len(t)
    with _served(work, "ws", n_takers + 1, True) as (svc, server, timed):
        st0 = svc.status()
        rows = _child("_ws_clients", {"url": server.url, "maker": 1, "asset": tn.PERP,
                                      "rest": [[SELL, n + 1, tn.PERP_PRICE]], "takers": takers})
        st1 = svc.status()
    assert len(rows) == n and st1["seq"] - st0["seq"] >= n, (len(rows), n)

    def stat(name: str, xs: list[float]) -> dict:
        return {f"{name}_p50_ms": round(_pct(xs, 0.5) * 1e3, 3),
                f"{name}_p99_ms": round(_pct(xs, 0.99) * 1e3, 3)} if xs else {}

    got = [r for r in rows if None not in (r["fill"], r["maker_fill"], r["trade"])]
    rec = dict(op="api", mode="ws", verify=True, clients=n_takers, stack="uvloop+httptools",
               requests=n, events_missing=n - len(got),
               **stat("ack", [r["acked"] - r["sent"] for r in rows]),
               **stat("fill_after_ack", [r["fill"] - r["acked"] for r in got]),
               **stat("fill_wire_after_ack", [r["fill_wire"] - r["acked"] for r in got
                                              if r["fill_wire"] is not None]),
               **stat("maker_fill_after_ack", [r["maker_fill"] - r["acked"] for r in got]),
               **stat("trade", [r["trade"] - r["sent"] for r in got]))
    if timed.times:
        rec["commit_p50_ms"] = round(_pct(timed.times, 0.5) * 1e3, 3)
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


MODES = ("ack", "batch", "stack", "ws", "trace")


def run(quick: bool = False, json_path=None, clients: int = 16, batch_size: int = 500,
        n_accounts: int = 64, work_dir: str | None = None, label: str | None = None,
        modes: tuple[str, ...] = MODES, keys: str = "shared",
        stages: bool = False) -> list[dict]:
    """``work_dir``: where the data folders go (the disk whose fsync is measured); ``modes``:
    which of ``MODES`` run (the fsync probe always does); ``keys``: ``_signer``'s choice for
    the HTTP modes; ``stages``: the batch runs record their CPU per stage."""
    records: list[dict] = []
    n_ack = 60 if quick else 400  # orders per latency run (split among the clients)
    n_batch = 200 if quick else 4000
    n_trace = 100 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="bench-api-", dir=work_dir) as tmp:
        work = Path(tmp)
        fsync = bench_fsync(records, work)
        signed = fast = []
        if {"ack", "batch", "stack"} & set(modes):
            signed = _stream(max(n_ack * 2, n_batch), n_accounts, signed=True, keys=keys)
            fast = _stream(max(n_ack * 2, n_batch), n_accounts, signed=False)
        for verify, stream in ((True, signed), (False, fast)):
            if "ack" in modes:
                bench_mode(records, "ack", stream[:n_ack], 1, 0, n_accounts, verify, work,
                           keys=keys)
                bench_mode(records, "ack", stream[:n_ack * 2], clients, 0, n_accounts, verify,
                           work, keys=keys)
            if "batch" in modes:
                bench_mode(records, "batch", stream[:n_batch], 4, batch_size, n_accounts,
                           verify, work, keys=keys, stages=stages)
        if "stack" in modes:
            bench_mode(records, "ack", fast[:n_ack], 1, 0, n_accounts, False, work,
                       loop="asyncio", http="h11", keys=keys)
        if "trace" in modes:
            bench_trace(records, _stream(n_trace, n_accounts, signed=True, keys=keys, seed=2),
                        n_accounts, work, keys=keys)
        if "ws" in modes:
            bench_ws(records, n_ack, 1, work)
            bench_ws(records, n_ack * 2, clients, work)
    for r in records:
        if r.get("ack_p50_ms") is not None:
            r["ack_p50_vs_fsync"] = round(r["ack_p50_ms"] / fsync, 2)
        if r["op"] == "api":
            r["fsync_p50_ms"] = round(fsync, 3)
        if label is not None:
            r["label"] = label
    write_json(records, json_path)
    return records


HTTP_COLUMNS = [
    ("mode", "mode"), ("verify", "verify"), ("clients", "clients"), ("stack", "stack"),
    ("requests", "requests"), ("accepted", "accepted"), ("per_second", "requests/s"),
    ("ack_p50_ms", "ack p50 ms"), ("ack_p99_ms", "ack p99 ms"),
    ("ack_p50_vs_fsync", "p50/fsync"), ("commit_p50_ms", "commit p50 ms"),
    ("ack_p50_vs_commit", "p50/commit"), ("mean_group", "mean group")]
WS_COLUMNS = [
    ("clients", "takers"), ("requests", "orders"), ("ack_p50_ms", "ack p50"),
    ("ack_p99_ms", "ack p99"), ("fill_after_ack_p50_ms", "ack->fill p50"),
    ("fill_after_ack_p99_ms", "ack->fill p99"), ("fill_wire_after_ack_p50_ms", "ack->wire p50"),
    ("maker_fill_after_ack_p50_ms", "ack->maker_fill p50"), ("trade_p50_ms", "send->trade p50"),
    ("trade_p99_ms", "send->trade p99"), ("fsync_p50_ms", "fsync p50"),
    ("commit_p50_ms", "commit p50"), ("events_missing", "missing")]


def main(json_path=None, quick: bool = False, **kw) -> list[dict]:
    records = run(quick, json_path, **kw)
    api = [r for r in records if r["op"] == "api"]
    http = [r for r in api if r["mode"] != "ws"]
    ws = [r for r in api if r["mode"] == "ws"]
    if http:
        print_table("sequencer API over loopback HTTP", http, HTTP_COLUMNS)
    if ws:
        print_table("WebSocket fill events (ms; one clock, the clients' process)", ws,
                    WS_COLUMNS)
    for r in (r for r in http if r.get("segments_us")):
        print_table(f"a lone order's ack by segment (ack p50 {r['ack_p50_ms']} ms, fsync p50 "
                    f"{r.get('fsync_p50_ms')} ms)",
                    [{"segment": k, **v} for k, v in r["segments_us"].items()],
                    [("segment", "segment"), ("p50_us", "p50 us"), ("mean_us", "mean us")])
    staged = [r for r in http if r.get("stages_us")]
    if staged:
        names = list(dict.fromkeys(k for r in staged for k in r["stages_us"]))
        rows = [{"stage": k, **{f"r{i}": r["stages_us"].get(k) for i, r in enumerate(staged)}}
                for k in names]
        print_table("batch endpoint: server CPU per order by stage (us)", rows,
                    [("stage", "stage"), *[(f"r{i}", f"verify={r['verify']}, {r['keys']}")
                                           for i, r in enumerate(staged)]])
    return records


if __name__ == "__main__":  # python -m benchmarks api [--quick] [RESULTS.json]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else None, quick="--quick" in sys.argv)
