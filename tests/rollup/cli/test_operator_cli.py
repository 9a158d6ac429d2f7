"""`rollup init`, `rollup keys ...`, `rollup status`, `rollup sequencer run`'s start-up errors:
happy paths, and every main error as one line on stderr with a non-zero exit code."""

from __future__ import annotations

import json
import socket
import stat
import sys
import threading

import click
import pytest
from click.testing import CliRunner

from rollup import cli as cli_mod
from rollup.api.server import ApiServer
from rollup.api.service import SequencerService
from rollup.config import ConfigError, load
from rollup.keys import compress, load_key
from rollup.transactions import Order, Transfer, request_from_json
from tests.support.operator import (
    DOMAIN,
    OPERATOR,
    ORACLE,
    PERP,
    PRICE,
    one_line_error,
    pk,
    run,
    trader,
    write_config,
)

DOM = ["--chain-id", str(DOMAIN.chain_id), "--rollup-address", hex(DOMAIN.rollup_address)]


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help():
    runner = CliRunner()
    paths = list(_commands(cli_mod.cli))
    for p in [("init",), ("status",), ("keys", "sign", "order"), ("sequencer", "run"),
              ("batch", "build"), ("batch", "prove")]:
        assert p in paths
    for p in paths:
        out = runner.invoke(cli_mod.cli, [*p, "--help"])
        assert out.exit_code == 0 and "Usage:" in out.output, (p, out.output)


def test_init_writes_config_and_keys(tmp_path, monkeypatch, capsys):
    d = tmp_path / "op"
    code, out, err = run(monkeypatch, capsys, "init", d, "--depth", 8, "--slots", 2,
                         "--chain", "http://127.0.0.1:8545", "--chain-id", 5, "--port", 9000)
    assert code == 0, err
    cfg = load(d / "rollup.toml")
    assert (cfg.node, cfg.chain_id, cfg.tree_depth, cfg.batch_slots, cfg.api_port,
            cfg.api_host) == ("http://127.0.0.1:8545", 5, 8, 2, 9000, "127.0.0.1")
    assert [m.asset for m in cfg.markets] == [1] and cfg.markets[0].kind == "perp"
    keys = [cfg.data_path(cfg.oracle_key), cfg.data_path(cfg.operator_key)]
    for k in keys:
        assert stat.S_IMODE(k.stat().st_mode) == 0o600
    before = [k.read_text() for k in keys]
    # refuses to overwrite; --force rewrites the file and keeps the keys
    code, out, err = run(monkeypatch, capsys, "init", d)
    assert code == 1 and "--force" in one_line_error(err, "ConfigError")
    assert load(d / "rollup.toml").chain_id == 5
    code, out, err = run(monkeypatch, capsys, "init", d, "--force", "--no-markets")
    assert code == 0, err
    assert load(d / "rollup.toml").markets == [] and [k.read_text() for k in keys] == before
    # a bad value: nothing written
    code, out, err = run(monkeypatch, capsys, "init", tmp_path / "bad", "--depth", 99)
    assert code == 1 and "tree_depth" in one_line_error(err, "ConfigError")
    assert not (tmp_path / "bad").exists()
    # an existing oracle key given by its compressed public key
    code, out, err = run(monkeypatch, capsys, "init", tmp_path / "o2", "--oracle-key",
                         compress(pk(ORACLE)))
    assert code == 0, err
    cfg2 = load(tmp_path / "o2" / "rollup.toml")
    assert cfg2.oracle_key == compress(pk(ORACLE))
    assert not cfg2.data_path("keys/oracle.json").exists()


def test_config_round_trip_and_errors(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path / "a", n_traders=2, depth=6, slots=3)
    cfg = load(path)
    assert [(a.id, a.collateral) for a in cfg.genesis_accounts] == [(1, 10**12), (2, 10**12)]
    assert cfg.markets[0].maker_fee == 100 and cfg.domain() == DOMAIN
    bad = [
        ("[chain]\nchain_id = 'x'\n", "chain.chain_id: expected int"),
        ("[chain]\nnode = 'ftp://x'\n", "chain.node"),
        ("[nope]\n", "unknown section"),
        ("[api]\nportt = 1\n", "unknown key api.portt"),
        ("[api]\nws_send_timeout = 0\n", "api.ws_send_timeout must be"),
        ("[api]\nws_send_buffer = 1024\n", "api.ws_send_buffer must be"),
        ("[api]\nws_ping_interval = -1\n", "api.ws_ping_interval must be"),
        ("[api]\nws_ping_timeout = 0.0\n", "api.ws_ping_timeout must be"),
        ("[api]\nws_ping_timeout = 'soon'\n", "api.ws_ping_timeout: expected float"),
        ("[[markets]]\nasset = 1\nkind = 'swap'\nrisk_initial = 1\nrisk_maintenance = 1\n",
         "kind must be perp"),
        ("[[genesis_accounts]]\nid = 1\ncollateral = 5\n", "exactly one of key, pk"),
        ("this is = not toml ]", "Expected"),
    ]
    for text, what in bad:
        p = tmp_path / "bad.toml"
        p.write_text(text)
        with pytest.raises(ConfigError, match=what):
            load(p)
    code, out, err = run(monkeypatch, capsys, "status", "--config", tmp_path / "missing.toml")
    assert code == 1 and "rollup init" in one_line_error(err, "ConfigError")
    code, out, err = run(monkeypatch, capsys, "sequencer", "run", "--config", p)
    assert code == 1 and "Expected" in one_line_error(err, "ConfigError")
    # --debug: the traceback instead
    monkeypatch.setattr(sys, "argv", ["rollup", "--debug", "status", "--config", str(p)])
    with pytest.raises(ConfigError):
        cli_mod.main()


def test_keys_new_show_sign(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    kf = tmp_path / "me.json"
    code, out, err = run(monkeypatch, capsys, "keys", "new", kf)
    assert code == 0 and stat.S_IMODE(kf.stat().st_mode) == 0o600
    kp = load_key(kf)
    assert compress(kp.public_key) in out
    code, out, err = run(monkeypatch, capsys, "keys", "new", kf)
    assert code == 1 and "--force" in one_line_error(err, "KeyFileError")
    code, out, err = run(monkeypatch, capsys, "keys", "show", kf)
    assert code == 0 and hex(kp.public_key[0]) in out and compress(kp.public_key) in out
    code, out, err = run(monkeypatch, capsys, "keys", "show", "--json", kf)
    assert json.loads(out)["y"] == hex(kp.public_key[1])
    code, out, err = run(monkeypatch, capsys, "keys", "show", tmp_path / "none.json")
    assert code == 1 and "no key file" in one_line_error(err, "KeyFileError")

    # flags, domain from flags
    code, out, err = run(monkeypatch, capsys, "keys", "sign", "--key", kf, *DOM, "order",
                         "--account", 3, "--asset", 1, "--side", "sell", "--size", 2, "--price",
                         PRICE, "--order-id", 9, "--expiry", 777, "--post-only")
    assert code == 0, err
    req = request_from_json(json.loads(out))
    assert req == Order(3, 1, 1, 2, PRICE, 9, 777, 1, req.sig)
    assert req.verify(kp.public_key, DOMAIN)
    # JSON (a file, and stdin), type by name, domain from ./rollup.toml
    write_config(tmp_path, n_traders=1)
    src = tmp_path / "t.json"
    src.write_text(json.dumps({"type": "transfer", "sender": 3, "receiver": 4, "amount": 5,
                               "nonce": 0, "expiry": 99}))
    code, out, err = run(monkeypatch, capsys, "keys", "sign", "--key", kf, "json", src)
    assert code == 0, err
    t = request_from_json(json.loads(out))
    assert t == Transfer(3, 4, 5, 0, 99, t.sig) and t.verify(kp.public_key, DOMAIN)
    code, out2, err = run(monkeypatch, capsys, "keys", "sign", "--key", kf, "json",
                          stdin=src.read_text())
    assert code == 0 and request_from_json(json.loads(out2)).verify(kp.public_key, DOMAIN)
    for subcmd in (["cancel", "--account", 3, "--asset", 1, "--order-id", 9],
                   ["transfer", "--from", 3, "--to", 4, "--amount", 1, "--nonce", 0],
                   ["withdraw", "--account", 3, "--amount", 1, "--to", "0xab", "--nonce", 1]):
        code, out, err = run(monkeypatch, capsys, "keys", "sign", "--key", kf, *subcmd)
        assert code == 0, err
        assert request_from_json(json.loads(out)).verify(kp.public_key, DOMAIN)
    # errors: malformed JSON, no domain anywhere
    src.write_text('{"type": "deposit"}')
    code, out, err = run(monkeypatch, capsys, "keys", "sign", "--key", kf, "json", src)
    assert code == 1 and "unknown request type" in one_line_error(err, "SignError")
    (tmp_path / "rollup.toml").unlink()
    code, out, err = run(monkeypatch, capsys, "keys", "sign", "--key", kf, "cancel",
                         "--account", 3, "--asset", 1, "--order-id", 9)
    assert code == 1 and "no signing domain" in one_line_error(err, "SignError")


@pytest.fixture
def served(tmp_path):
    path = write_config(tmp_path / "srv", n_traders=2)
    svc = SequencerService(load(path), log=lambda m: None).start()
    server = ApiServer(svc, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield path, server
    server.shutdown()
    server.server_close()
    svc.close()


def test_sign_submit_and_status(served, tmp_path, monkeypatch, capsys):
    path, server = served
    kf = tmp_path / "t1.json"
    kf.write_text(json.dumps({"scheme": "eddsa-poseidon-babyjubjub",
                              "private_key": trader(1).hex()}))
    args = ["keys", "sign", "--key", kf, "--config", path, "--submit", server.url, "transfer",
            "--from", 1, "--to", 2, "--expiry", 10**9, "--amount", 10, "--nonce", 0]
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    receipt = json.loads(out)
    assert receipt["accepted"] and receipt["type"] == "Transfer"
    code, out, err = run(monkeypatch, capsys, *args)  # sent again: the same receipt
    assert code == 0 and json.loads(out) == receipt, err
    code, out, err = run(monkeypatch, capsys, *args[:-4], "--amount", 11, "--nonce", 0)
    assert code == 1 and "409" in one_line_error(err, "SubmitError") and "StaleNonce" in err
    # a second sequencer on the same data folder refuses to start
    code, out, err = run(monkeypatch, capsys, "sequencer", "run", "--config", path, "--port", 0)
    assert code == 1 and "another sequencer" in one_line_error(err, "ServiceError")

    # status reads the journal (while the sequencer runs) and says the chain is not reachable
    code, out, err = run(monkeypatch, capsys, "status", "--config", path, "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["local"]["root"] == receipt["root"]
    assert rep["local"]["journal_length"] == receipt["seq"] == rep["genesis_seq"] + 1
    assert rep["onchain"]["available"] is False
    code, out, err = run(monkeypatch, capsys, "status", "--config", path)
    assert code == 0 and receipt["root"] in out and f"{receipt['seq']} requests" in out


def test_status_without_journal_and_unreachable_chain(tmp_path, monkeypatch, capsys):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write_config(tmp_path, node=f"http://127.0.0.1:{port}")
    code, out, err = run(monkeypatch, capsys, "status", "--config", path)
    assert code == 0, err
    assert "none yet" in out and "on-chain    unreachable" in out


def test_onchain_status_from_a_deployed_rollup(tmp_path):
    from rollup.chain.node import embedded
    from rollup.chain.rollup import RollupClient
    from rollup.cli.operator import onchain_state

    chain = embedded()
    from rollup.chain.contracts import deploy

    acc = chain.accounts[0]
    genesis = bytes(range(32))
    code = deploy(chain, "TestToken").address  # the constructor wants code at each verifier
    rollup = RollupClient.deploy(chain, batch_verifier=code, exit_verifier=code, token=code,
                                 operator=acc, genesis_root=genesis, priority_deadline=3600)
    cfg = load(write_config(tmp_path, rollup_address=rollup.address))
    chain.close = lambda: None  # the opener's chain is reused below
    st = onchain_state(cfg, opener=lambda c: chain)
    assert st["available"] and st["batch_number"] == 0 and st["root"] == "0x" + genesis.hex()
    assert "warning" not in st or "chain id" in st["warning"]


def test_sequencer_run_port_taken(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code, out, err = run(monkeypatch, capsys, "sequencer", "run", "--config", path,
                             "--port", s.getsockname()[1])
    assert code == 1 and "in use" in one_line_error(err, "OSError")
    assert not (tmp_path / "data" / "journal.db").exists()  # failed before the journal


def test_genesis_accounts_and_oracle(served):
    path, server = served
    from tests.support.operator import Client

    c = Client(server.url)
    st = c.get("/v1/status")
    assert st["oracle_key"] == compress(pk(ORACLE)) and st["assets"] == [PERP]
    assert c.get("/v1/accounts/0")["public_key"]["compressed"] == compress(pk(OPERATOR))
    assert c.get("/v1/accounts/2")["collateral"] == 10**12
    c.close()
