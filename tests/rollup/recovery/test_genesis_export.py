"""`rollup genesis export`: the records `rollup recover` replays, from the configuration before
the sequencer's first start and from its journal after (later rows left out), read back by
`load_genesis` and by `rollup recover` against a Rollup deployed on Anvil with that root."""

from __future__ import annotations

import json

import pytest

from rollup.api.service import SequencerService
from rollup.chain import node
from rollup.config import load
from rollup.recovery.genesis import config_records, load_genesis
from rollup.transactions import Transfer
from tests.support.operator import DOMAIN, one_line_error, run, trader, write_config

DEPTH = 8


def test_export_from_config_then_journal(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path / "op", n_traders=2, depth=DEPTH)
    cfg = load(path)
    out_file = cfg.data / "genesis-records.json"
    code, out, err = run(monkeypatch, capsys, "genesis", "export", "--config", path)
    assert code == 0, err
    assert out.count("\n") == 1 and "from the config" in out and str(out_file) in out
    before = json.loads(out_file.read_text())
    assert bytes.fromhex(before["records"][2:]) == config_records(cfg)
    g = load_genesis(out_file, DEPTH)
    assert f"0x{g.root:064x}" == before["root"] and g.first_free_id == 3
    assert (before["depth"], before["chain_id"]) == (DEPTH, DOMAIN.chain_id)

    # the sequencer journals the genesis, then a transfer: the export is the genesis alone
    svc = SequencerService(cfg, log=lambda m: None).start()
    try:
        r = svc.submit(Transfer(1, 2, 10, 0, 10**12).signed(trader(1), DOMAIN))
        assert r["seq"] > json.loads((cfg.data / "genesis.json").read_text())["seq"]
    finally:
        svc.close()
    code, out, err = run(monkeypatch, capsys, "genesis", "export", "--config", path, "--out",
                         tmp_path / "g.json")
    assert code == 0 and "from the journal" in out
    after = json.loads((tmp_path / "g.json").read_text())
    assert (after["records"], after["root"]) == (before["records"], before["root"])

    # a genesis record that the journal does not reproduce: one line, exit 1
    gj = cfg.data / "genesis.json"
    d = json.loads(gj.read_text())
    gj.write_text(json.dumps({**d, "root": "0x" + "12" * 32}))
    code, out, err = run(monkeypatch, capsys, "genesis", "export", "--config", path)
    assert code == 1 and "says 0x1212" in one_line_error(err, "GenesisError")


@pytest.mark.skipif(node.anvil_path() is None, reason="anvil is not installed")
def test_recover_reads_the_export(tmp_path, monkeypatch, capsys):
    from rollup.chain.contracts import deploy
    from rollup.chain.rollup import RollupClient, deploy_signature_verifier
    from rollup.config import set_rollup_address

    with node.anvil() as ch:
        path = write_config(tmp_path / "op", n_traders=2, depth=DEPTH, node=ch.url)
        code, out, err = run(monkeypatch, capsys, "genesis", "export", "--config", path)
        assert code == 0, err
        exported = load(path).data / "genesis-records.json"
        root = bytes.fromhex(json.loads(exported.read_text())["root"][2:])
        tok = deploy(ch, "TestToken")  # the verifiers are never called: any address will do
        r = RollupClient.deploy(ch, batch_verifier=tok.address, exit_verifier=tok.address,
                                token=tok.address, operator=ch.accounts[0], genesis_root=root,
                                priority_deadline=3600, first_account_id=3,
                                account_limit=1 << DEPTH, accounts_depth=DEPTH,
                                signature_verifier=deploy_signature_verifier(ch))
        code, out, err = run(monkeypatch, capsys, "recover", "--rpc", ch.url, "--rollup",
                             r.address, "--genesis", exported, "--depth", DEPTH)
        assert code == 0, err
        assert f"recovered root 0x{root.hex()} at batch 0" in out and "3 accounts:" in out
        # everything from the configuration (node, Rollup, depth, the exported genesis)
        set_rollup_address(path, r.address)
        code, out2, err = run(monkeypatch, capsys, "recover", "--config", path)
        assert (code, out2) == (0, out), err
        monkeypatch.chdir(tmp_path)  # no ./rollup.toml here
        code, out, err = run(monkeypatch, capsys, "recover", "--rpc", ch.url)
        assert code == 2 and "no genesis" in err
