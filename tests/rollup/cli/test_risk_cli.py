"""`rollup risk report` and the Greeks of `rollup status`, read from a node's journal: the
ranking, the JSON, a readable PNG, and one-line errors."""

from __future__ import annotations

import json

import pytest

from rollup.config import Market
from rollup.durability.journal import Journal
from rollup.engine.testnet import CALL, EXPIRY, PERP, PUT, STRIKE
from tests.support.operator import one_line_error, run, write_config
from tests.support.risk import RISKY, UNDERWATER, risky_book, underwater_book

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory):
    """A configured data folder whose journal holds ``risky_book``'s requests."""
    return _node_dir(tmp_path_factory.mktemp("risk"), risky_book)


def _node_dir(folder, book):
    markets = [Market(PERP, "perp", 50_000, 30_000)] + [
        Market(a, kind, 100_000, 50_000, underlying=PERP, strike=STRIKE, expiry=EXPIRY,
               short_initial=100_000, short_maintenance=60_000)
        for a, kind in ((CALL, "call"), (PUT, "put"))]
    path = write_config(folder, n_traders=0, markets=markets)
    from rollup.config import load

    cfg = load(path)
    cfg.data.mkdir(parents=True, exist_ok=True)
    j = Journal(cfg.journal_path)
    try:
        book(journal=j)
    finally:
        j.close()
    return path


def test_report_lists_a_liquidation_plan(tmp_path, monkeypatch, capsys):
    path = _node_dir(tmp_path / "under", underwater_book)
    monkeypatch.chdir(tmp_path)  # the text report draws its chart in the working directory
    code, out, err = run(monkeypatch, capsys, "risk", "report", "--config", path, "--json")
    assert code == 0, err
    rows = {x["account"]: x for x in json.loads(out)["nearest_to_liquidation"]}
    plan = rows[UNDERWATER]["plan"]
    assert plan["restores"] and plan["size"] > 0 and plan["excess_before"] < 0
    code, out, err = run(monkeypatch, capsys, "risk", "report", "--config", path)
    assert code == 0, err
    assert (f"plan: take over {plan['size']} of asset {plan['asset']} -> maintenance restored"
            in out)


def test_report_json_ranks_and_draws(node_dir, tmp_path, monkeypatch, capsys):
    png = tmp_path / "charts" / "risk.png"
    code, out, err = run(monkeypatch, capsys, "risk", "report", "--config", node_dir, "--json",
                         "--chart", png, "--top", 3)
    assert code == 0, err
    rep = json.loads(out)
    top = rep["nearest_to_liquidation"]
    assert len(top) == 3 and top[0]["account"] == RISKY
    assert top[0]["today"]["ratio"] >= top[1]["today"]["ratio"]
    assert set(top[0]["scenario"]) == {"requirement", "maintenance", "ratio", "liquidatable"}
    assert rep["greeks"]["net"]["1"]["delta"] == 0.0 and rep["greeks"]["long"]["1"]["delta"] > 0
    assert len(rep["scenario_grid"]) == 26 and set(rep["implied_vols"]) == {"2", "3"}
    data = png.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC) and rep["chart"] == str(png)


def test_report_text_and_status_greeks(node_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(monkeypatch, capsys, "risk", "report", "--config", node_dir,
                         "--by", "scenario")
    assert code == 0, err
    lines = out.splitlines()
    ranked = lines[lines.index(next(x for x in lines if x.startswith("nearest"))) + 2]
    assert ranked.split()[0] == str(RISKY)
    assert (tmp_path / "risk-report.png").read_bytes().startswith(PNG_MAGIC)
    code, out, err = run(monkeypatch, capsys, "status", "--config", node_dir, "--json")
    assert code == 0, err
    g = json.loads(out)["local"]["greeks"]
    assert g["net"]["1"] == {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0}
    assert g["long_delta"]["1"] > 3_000_000
    code, out, err = run(monkeypatch, capsys, "status", "--config", node_dir)
    assert code == 0 and "greeks    1 net delta 0" in out


def test_errors_are_one_line(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path / "empty", n_traders=1)
    code, out, err = run(monkeypatch, capsys, "risk", "report", "--config", path)
    assert code == 1 and "never started" in one_line_error(err, "NoJournal")
    code, out, err = run(monkeypatch, capsys, "risk", "report", "--config",
                         tmp_path / "missing.toml")
    assert code == 1
    one_line_error(err, "ConfigError")
