"""The node's parts without a chain: the oracle feeder and its sources against a real sequencer
service, the [node] configuration, the settlement files, and `rollup node run`'s start-up
errors."""

from __future__ import annotations

import json
import sys

import pytest

from rollup.config import ConfigError, Market, load, render
from rollup.errors import BadSignature
from rollup.node.oracle import (
    CommandSource,
    FileSource,
    OracleError,
    OracleFeeder,
    WalkSource,
    make_source,
)
from rollup.settlement import files as F
from tests.support.operator import ORACLE, run, write_config


def test_walk_is_deterministic_and_bounded():
    a, b = WalkSource(31337), WalkSource(31337)
    prices = {1: 2_000, 2: 1}
    for _ in range(200):
        ra, rb = a.next(prices, {1}), b.next(prices, {1})
        assert ra == rb
        for r in ra:
            old = prices[r["asset"]]
            assert r["price"] >= 1 and abs(r["price"] - old) <= old * a.step_ppm // 1_000_000 + 1
            prices[r["asset"]] = r["price"]
    def walk(chain_id: int) -> list[int]:
        w, p, out = WalkSource(chain_id), {1: 2_000}, []
        for _ in range(20):
            p = {1: w.next(p, set())[0]["price"]}
            out.append(p[1])
        return out

    assert walk(1) == walk(1) != walk(2)  # seeded by the chain id
    # funding: the premium over the moving average, per perpetual only
    rows = a.funding({1: 10}, prices)
    assert [r["asset"] for r in rows] == [1] and isinstance(rows[0]["funding_index"], int)


def test_file_and_command_sources(tmp_path):
    f = tmp_path / "prices.jsonl"
    f.write_text('{"asset": 1, "price": 2100}\n\n[{"asset": 1, "funding_index": 5}]\n')
    src = make_source(f"file:{f}", 1)
    assert isinstance(src, FileSource)
    assert src.next({}, set()) == [{"asset": 1, "price": 2100}]
    assert src.next({}, set()) == [{"asset": 1, "funding_index": 5}]
    assert src.next({}, set()) == [] and src.done
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"asset": 1, "price": "2100"}\n')
    with pytest.raises(OracleError, match="not a price row"):
        FileSource(str(bad)).next({}, set())
    with pytest.raises(OracleError, match="oracle file"):
        FileSource(str(tmp_path / "missing"))
    broken = FileSource(_lines(tmp_path / "broken.jsonl", '{"asset": 1, "price": 1}', "{"))
    assert broken.next({}, set()) == [{"asset": 1, "price": 1}]
    broken.commit()
    with pytest.raises(OracleError, match="oracle file line 2"):
        broken.next({}, set())
    cmd = CommandSource(f"{sys.executable} -c 'import json; print(json.dumps([{{\"asset\": 1, "
                        f"\"price\": 7}}]))'")
    assert cmd.next({}, set()) == [{"asset": 1, "price": 7}]
    with pytest.raises(OracleError, match="oracle command"):
        CommandSource(f"{sys.executable} -c 'import sys; sys.exit(3)'").next({}, set())
    with pytest.raises(OracleError):
        make_source("sometimes", 1)


def _lines(path, *lines) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_file_source_goes_on_after_a_restart(tmp_path):
    """The position is kept on commit (after the sequencer acknowledged the line's requests) and
    survives a restart; another file, or a damaged position record, starts at line 0."""
    prices = _lines(tmp_path / "p.jsonl", *(f'{{"asset": 1, "price": {p}}}' for p in (10, 11, 12)))
    pos = tmp_path / "data" / "oracle-file.json"
    pos.parent.mkdir()
    src = make_source(f"file:{prices}", 1, pos.parent)
    assert src.next({}, set()) == [{"asset": 1, "price": 10}]
    src.commit()
    assert src.next({}, set()) == [{"asset": 1, "price": 11}]  # not committed: a crash now ...
    assert src.next({}, set()) == [{"asset": 1, "price": 12}]  # (in memory it goes on)
    again = make_source(f"file:{prices}", 1, pos.parent)
    assert again.next({}, set()) == [{"asset": 1, "price": 11}]  # ... sends it again
    again.commit()
    assert again.next({}, set()) == [{"asset": 1, "price": 12}]
    again.commit()
    assert again.next({}, set()) == [] and again.done
    again.commit()
    third = make_source(f"file:{prices}", 1, pos.parent)
    assert third.next({}, set()) == [] and third.done  # the whole file was sent
    other = _lines(tmp_path / "q.jsonl", '{"asset": 1, "price": 7}')
    assert make_source(f"file:{other}", 1, pos.parent).next({}, set()) == [{"asset": 1, "price": 7}]
    pos.write_text("not json")
    assert make_source(f"file:{prices}", 1, pos.parent).next({}, set())[0]["price"] == 10


def test_feeder_signs_prices_the_sequencer_accepts(tmp_path):
    from rollup.api.service import SequencerService
    from rollup.state.state import KIND_PERP

    path = write_config(tmp_path / "op", n_traders=1, depth=4,
                        markets=[Market(1, "perp", 50_000, 30_000, price=2_000)])
    cfg = load(path)
    service = SequencerService(cfg, log=lambda m: None).start()
    try:
        def market():
            def read(s):
                st = s.seq.state
                return (st.time, {a: st.oracle[a].price for a in st.assets},
                        {a: st.oracle[a].funding_index for a, x in st.assets.items()
                         if x.kind == KIND_PERP})
            return service.call(read)

        clock = [1_000.0]
        feeder = OracleFeeder(WalkSource(cfg.chain_id), ORACLE, cfg.domain(), service.submit,
                              market, funding_every=10.0, clock=lambda: clock[0])
        assert feeder.tick() == 1
        t1, p1, _ = market()
        assert t1 == 1_000 and p1 == {1: WalkSource(cfg.chain_id).next({1: 2_000}, {1})[0]["price"]}
        clock[0] = 500.0  # the wall clock goes back: oracle time still moves forward
        feeder.tick()
        assert market()[0] == t1 + 1
        clock[0] = 2_000.0  # a funding interval passed: a funding tick rides along
        assert feeder.tick() == 2 and feeder.sent == 4
        assert market()[0] == 2_000
        # a feeder with the wrong key changes nothing
        wrong = OracleFeeder(WalkSource(cfg.chain_id), b"\x01" * 32, cfg.domain(),
                             service.submit, market, clock=lambda: 3_000.0)
        before = service.status()["root"]
        with pytest.raises(BadSignature):
            wrong.tick()
        assert service.status()["root"] == before
    finally:
        service.close()


def test_feeder_publishes_changed_scenario_rows(tmp_path):
    """After a tick's prices, each asset whose scenario rows changed gets six signed chunks at
    the tick's time; the state then holds the rows the oracle computes at its prices."""
    from rollup.api.service import SequencerService
    from rollup.margin.scenario import changed_rows, perp_row

    path = write_config(tmp_path / "op", n_traders=1, depth=4,
                        markets=[Market(1, "perp", 50_000, 30_000, price=2_000)])
    cfg = load(path)
    service = SequencerService(cfg, log=lambda m: None).start()
    try:
        def market():
            return service.call(lambda s: (s.seq.state.time, {1: s.seq.state.oracle[1].price},
                                           {1: 0}))

        def scenarios():
            return service.call(lambda s: changed_rows(s.seq.state))

        feeder = OracleFeeder(WalkSource(cfg.chain_id), ORACLE, cfg.domain(), service.submit,
                              market, clock=lambda: 1_000.0, scenarios=scenarios)
        assert feeder.tick() == 1 + 6
        price = market()[1][1]
        rows = service.call(lambda s: s.seq.state.oracle[1].rows)
        assert rows == tuple(perp_row(price)) and scenarios() == {}
    finally:
        service.close()


def test_node_section_round_trips_and_is_checked(tmp_path):
    path = write_config(tmp_path / "op", node_provers=3, node_oracle="file:prices.jsonl",
                        node_metrics_port=9100, node_confirmations=0, node_funding_interval=0.0)
    cfg = load(path)
    assert (cfg.node_provers, cfg.node_oracle, cfg.node_metrics_port) == (3, "file:prices.jsonl",
                                                                          9100)
    assert load(path) == cfg and render(cfg) == path.read_text()
    assert (cfg.node_cluster, cfg.node_gpu_provers) == ("local", 0)  # no Ray unless asked
    for cluster in ("embedded", "auto", "head.example:6379", "ray://head.example:10001"):
        ray = write_config(tmp_path / "ray", node_cluster=cluster, node_gpu_provers=2,
                           node_prover_cpus=8)
        assert (load(ray).node_cluster, load(ray).node_gpu_provers) == (cluster, 2)
    for bad, msg in ((("provers", "0"), "node.provers"), (("backend", '"tpu"'), "node.backend"),
                     (("cluster", '"head.example"'), "node.cluster"),
                     (("cluster", '"ray://:10001"'), "node.cluster"),
                     (("gpu_provers", "1"), "0 when node.cluster is local"),
                     (("prover_cpus", "0"), "node.prover_cpus"),
                     (("oracle", '"sometimes"'), "node.oracle"),
                     (("poll", "0"), "must be positive"),
                     (("metrics_port", "70000"), "node.metrics_port"),
                     (("colour", '"red"'), "unknown key node.colour")):
        text = path.read_text()
        key, value = bad
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
        i = lines.index(next(ln for ln in lines if ln.startswith("[node]")))
        lines.insert(i + 1, f"{key} = {value}")
        p2 = tmp_path / f"bad-{key}.toml"
        p2.write_text("\n".join(lines) + "\n")
        with pytest.raises(ConfigError, match=msg):
            load(p2)


def test_batch_underlyings_round_trip_and_are_checked(tmp_path):
    path = write_config(tmp_path / "op", batch_underlyings=2)
    cfg = load(path)
    assert cfg.batch_underlyings == 2 and load(path) == cfg and render(cfg) == path.read_text()
    assert load(write_config(tmp_path / "one")).batch_underlyings == 1  # the default
    two = [Market(1, "perp", 50_000, 30_000), Market(2, "perp", 50_000, 30_000)]
    for kw, msg in (({"batch_underlyings": 0}, "batch.underlyings must be in 1..batch.assets-1"),
                    ({"batch_underlyings": 8}, "batch.underlyings must be in 1..batch.assets-1"),
                    ({"markets": two}, "2 perpetuals listed.*batch.underlyings = 1")):
        with pytest.raises(ConfigError, match=msg):
            load(write_config(tmp_path / "bad", **kw))
    assert load(write_config(tmp_path / "two", markets=two, batch_underlyings=2))


def test_batch_files_are_written_whole(tmp_path):
    cfg = load(write_config(tmp_path / "op"))
    assert F.built_numbers(cfg) == [] and F.last_batch(cfg) is None
    cfg.batches_dir.mkdir(parents=True)
    for n in (1, 2):
        F.write_atomic(F.batch_stem(cfg, n).with_suffix(".json"), json.dumps({"number": n}))
    (cfg.batches_dir / "batch-000003.json.tmp").write_text("{")  # a build killed midway
    (cfg.batches_dir / "batch-000003.wtns").write_bytes(b"x")
    assert F.built_numbers(cfg) == [1, 2] and F.last_batch(cfg) == {"number": 2}
    assert not F.is_proven(cfg, 2)
    F.write_atomic(F.proof_path(cfg, 2), "{}")
    assert F.is_proven(cfg, 2) and not list(cfg.batches_dir.glob("*.proof.json.tmp"))


def test_node_run_refuses_to_start_without_what_it_needs(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path / "op")  # node: embedded
    code, _, err = run(monkeypatch, capsys, "node", "run", "--config", path)
    assert code == 1 and "NodeError" in err and "http(s)" in err and "Traceback" not in err
    code, _, err = run(monkeypatch, capsys, "node", "run", "--config", path, "--rpc",
                       "http://127.0.0.1:9", "--port", "0")
    assert code == 1 and "NodeError: no proving key" in err and "--underlyings 1 " in err
    code, _, err = run(monkeypatch, capsys, "node", "status", "--config", path)
    assert code == 1 and "no node status" in err


def test_a_local_pool_starts_nothing_heavy(tmp_path):
    """cluster = "local" (the default) is the process pool, and Ray is never imported."""
    import subprocess

    path = write_config(tmp_path / "op")
    zkey = tmp_path / "batch.zkey"
    zkey.write_bytes(b"")  # workers start (and read it) on the first job only
    code = ("import sys; from rollup.config import load; from rollup.node.cluster import "
            "make_pool; from rollup.node.provers import LocalProverPool; "
            f"p = make_pool(load({str(path)!r}), {str(zkey)!r}); "
            "assert isinstance(p, LocalProverPool) and p.workers == 1; p.close(); "
            "assert 'ray' not in sys.modules, 'ray imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


ORPHAN = """
import os, sys, time
from rollup.node.provers import orphan_watch
print("watching", flush=True)
orphan_watch(int(sys.argv[1]))
print("alive", flush=True)
time.sleep(float(sys.argv[2]))
print("slept", flush=True)
"""


def test_a_worker_whose_node_died_before_its_initializer_exits():
    """A spawned builder or prover runs its initializer only after its imports: a node killed
    in between has already been replaced as the parent, so orphan_watch must exit there (before
    the fix such workers lived on, ~500 MB each, after every kill -9 of the node)."""
    import os
    import subprocess

    def child(parent: int, sleep: float) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", ORPHAN, str(parent), str(sleep)],
                              capture_output=True, text=True, timeout=60)

    gone = child(os.getpid() + 10**6, 30)  # "the node" is not the parent: it died already
    assert gone.returncode == 0 and gone.stdout.split() == ["watching"], gone
    ours = child(os.getpid(), 0.1)  # its parent is alive: it goes on
    assert ours.returncode == 0 and ours.stdout.split() == ["watching", "alive", "slept"], ours
