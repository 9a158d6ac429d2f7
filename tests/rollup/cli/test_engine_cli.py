"""`rollup engine ...` and the engine benchmark at toy sizes (the real figures: benchmarks/)."""

from click.testing import CliRunner

from benchmarks import engine as bench
from benchmarks.cli import bench as bench_cli
from rollup.cli import cli
from rollup.durability.journal import Journal
from rollup.engine import testnet as tn
from rollup.margin.sizing import plan
from tests.support.risk import UNDERWATER, underwater_book


def test_engine_greeks_cli():
    out = CliRunner().invoke(cli, ["engine", "greeks", "42", "40", "0.5", "--rate", "0.1",
                                   "--vol", "0.2"])
    assert out.exit_code == 0, out.output
    assert "price 4.759" in out.output
    out = CliRunner().invoke(cli, ["engine", "greeks", "42", "40", "0.5", "--rate", "0.1",
                                   "--put"])
    assert "price 0.808" in out.output


def test_engine_recover_and_scan_cli(tmp_path):
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=2, journal=Journal(path), depth=8)
    root = seq.state.root
    seq.journal.close()
    args = ["--depth", "8", "--chain-id", str(tn.DOMAIN.chain_id), "--rollup-address",
            hex(tn.DOMAIN.rollup_address)]
    out = CliRunner().invoke(cli, ["engine", "recover", str(path), *args])
    assert out.exit_code == 0, out.output
    assert f"root 0x{root:064x}" in out.output
    out = CliRunner().invoke(cli, ["engine", "scan", str(path), *args])
    assert out.exit_code == 0 and "0 liquidatable" in out.output


def test_engine_scan_sizes_each_liquidation(tmp_path):
    path = tmp_path / "j.db"
    seq = underwater_book(journal=Journal(path))
    p = plan(seq.state, UNDERWATER)
    seq.journal.close()
    out = CliRunner().invoke(cli, ["engine", "scan", str(path), "--depth", "8", "--chain-id",
                                   str(tn.DOMAIN.chain_id), "--rollup-address",
                                   hex(tn.DOMAIN.rollup_address)])
    assert out.exit_code == 0, out.output
    assert f"1 liquidatable: {UNDERWATER}" in out.output
    assert (f"account {UNDERWATER}: liquidate {p.size:,} of asset {p.asset} (maintenance "
            "restored)") in out.output


def test_bench_engine_toy_sizes():
    records: list[dict] = []
    bench.bench_matching(records, 300, 5, n_accounts=20)
    bench.bench_state_updates(records, [8], 20, 5, 20)
    bench.bench_poseidon(records, 20)
    bench.bench_liquidation_scan(records, 300)
    bench.bench_greeks(records, 1000)
    ops = [r["op"] for r in records]
    assert ops == ["sequencer_orders_core", "sequencer_orders_core",
                   "sequencer_orders_one_by_one", "sequencer_orders_root_each",
                   "sequencer_orders_journaled", "account_updates", "account_updates",
                   "poseidon", "poseidon", "poseidon", "liquidation_scan", "greeks"]
    assert all(r.get("per_second", 1) > 0 for r in records)
    # the core and the Python path matched the same stream alike, the core on its own
    core, python = records[0], records[2]
    assert core["fills"] == python["fills"] > 0 and core["handed_back"] == 0
    assert "engine" in CliRunner().invoke(bench_cli, ["--help"]).output
