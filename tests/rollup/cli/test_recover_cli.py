"""`rollup chain deploy`, `rollup recover` and `rollup exit` on Anvil with real proofs (the
session's settlement story: bob holds 1,000 at genesis, alice deposits 5,000 and withdraws 1,500
in two finalized 1-slot batches), through `rollup.cli.main`: errors are one line and exit 1."""

from __future__ import annotations

import json
import sys

import pytest

from rollup.chain import node
from rollup.chain.contracts import call, contract_at
from rollup.chain.layout import ASSET_TOKEN
from rollup.cli import main
from tests.support.story import (
    ALICE,
    ALICE_ID,
    BOB,
    BOB_GENESIS,
    BOB_ID,
    DEADLINE,
    DEPTH,
    OPERATOR,
    SEEDS,
    addr_int,
    open_world,
)

needs_anvil = pytest.mark.skipif(node.anvil_path() is None, reason="anvil is not installed")


def genesis_records(story) -> bytes:  # noqa: F811
    """The story's genesis (fee account, bob's 1,000) as published records."""
    from circuits import eddsa_public_key
    from rollup.engine.sequencer import Sequencer
    from rollup.state.rebuild import rebuild
    from rollup.state.state import State
    from rollup.transactions import Deposit, Domain

    bob = eddsa_public_key(SEEDS["bob"])
    seq = Sequencer(State(account_depth=DEPTH), Domain(story.chain_id,
                                                       addr_int(story.rollup_address)))
    seq.submit(Deposit(0, bob, 0))
    seq.submit(Deposit(BOB_ID, bob, BOB_GENESIS))
    records = b"".join(seq.records)
    assert rebuild(records, DEPTH).root.to_bytes(32, "big") == story.genesis_root
    return records


def key_file(tmp_path, name: str):
    from rollup.keys import SCHEME, KeyPair, public_json

    kp = KeyPair.from_private(SEEDS[name])
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps({"scheme": SCHEME, "private_key": kp.private_key.hex(),
                             "public_key": public_json(kp.public_key)}))
    return p


def rollup_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["rollup", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def settled_world(story):  # noqa: F811
    """Anvil with the story's two batches finalized."""
    w = open_world("anvil", story)
    for b in story.stored:
        w.rollup.submit_batch(*b.submission(), sender=OPERATOR)
    assert w.rollup.state().state_root == story.final_root
    yield w
    w.chain.close()


@needs_anvil
@pytest.mark.slow  # the session's proofs first (about a minute with cached keys)
def test_recover_then_exit_in_exodus(settled_world, tmp_path, monkeypatch, capsys):
    w, s = settled_world, settled_world.story
    r, url = w.rollup, w.chain.url
    gen = tmp_path / "genesis.bin"
    gen.write_bytes(genesis_records(s))
    l1 = ["--rpc", url, "--rollup", s.rollup_address, "--genesis", gen, "--depth", DEPTH]

    def run(*args):
        return rollup_cli(monkeypatch, capsys, *args)

    # recover: the on-chain root, the batch count, each account's value
    snap = tmp_path / "state.json"
    code, out, err = run("recover", *l1, "--json", snap)
    assert code == 0, err
    assert f"recovered root 0x{s.final_root.hex()} at batch 2" in out
    assert "#1 " in out and "value            1,000" in out and "value            3,500" in out
    d = json.loads(snap.read_text())
    assert d["root"] == "0x" + s.final_root.hex() and d["batch_number"] == 2
    assert {a["id"]: a["value"] for a in d["accounts"]} == {0: 0, BOB_ID: 1_000, ALICE_ID: 3_500}

    # the same file in JSON form
    gen_json = tmp_path / "genesis.json"
    gen_json.write_text(json.dumps({"records": "0x" + gen.read_bytes().hex(),
                                    "root": "0x" + s.genesis_root.hex()}))
    code, out, _ = run("recover", *l1[:5], gen_json, "--depth", DEPTH)
    assert code == 0 and f"0x{s.final_root.hex()}" in out

    # a tampered genesis (bob's balance changed): one line, exit 1
    bad = bytearray(gen.read_bytes())
    i = bad.rfind(BOB_GENESIS.to_bytes(2, "big"))
    bad[i + 1] ^= 1
    tampered = tmp_path / "tampered.bin"
    tampered.write_bytes(bytes(bad))
    code, out, err = run("recover", *l1[:5], tampered, "--depth", DEPTH)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: RecoveryError: the genesis records give root")
    # a service genesis.json (root only) cannot be replayed
    root_only = tmp_path / "root.json"
    root_only.write_text(json.dumps({"seq": 2, "root": "0x" + s.genesis_root.hex()}))
    code, _, err = run("recover", *l1[:5], root_only, "--depth", DEPTH)
    assert code == 1 and err.startswith("error: GenesisError:") and err.count("\n") == 1

    keys = ["--zkey", s.exit_keys.zkey, "--vk", s.exit_keys.vk_path]
    alice_key = key_file(tmp_path, "alice")
    # not in exodus yet: refused before any proof
    code, _, err = run("exit", *l1, "--account", ALICE_ID, "--key", alice_key, *keys)
    assert code == 1 and err.startswith("error: NotInExodus:") and err.count("\n") == 1

    # alice collects her batch-2 withdrawal, so her exit is all that is pending for her
    r.withdraw(ASSET_TOKEN, sender=ALICE)

    # the operator disappears: alice's forced withdrawal times out, exodus
    r.request_forced_withdrawal(ALICE_ID, ASSET_TOKEN, 0, private_key=SEEDS["alice"],
                                sender=ALICE)
    w.chain.increase_time(DEADLINE + 10)
    r.activate_exodus(sender=BOB)
    token = contract_at(w.chain, "TestToken", w.d.token.address)
    before = call(token.functions.balanceOf(ALICE))

    # a key that is not the account's: refused
    code, _, err = run("exit", *l1, "--account", ALICE_ID, "--key", key_file(tmp_path, "bob"),
                       *keys)
    assert code == 1 and err.startswith("error: ExitRefused:") and "not the key" in err

    # alice exits to her own address (her key signs it), paid exactly her value once
    code, out, err = run("exit", *l1, "--account", ALICE_ID, "--key", alice_key, "--owner",
                         ALICE, *keys)
    assert code == 0, err
    assert out.strip().endswith(f"paid 3500 to {ALICE}")
    assert call(token.functions.balanceOf(ALICE)) - before == 3_500
    code, out, err = run("exit", *l1, "--account", ALICE_ID, "--key", alice_key, "--owner",
                         ALICE, *keys)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: AlreadyExited: account 2 has already exited")

    # no address given: the contract records no owner to default to; keys from the cache
    bob_key = key_file(tmp_path, "bob")
    cache = ["--keys-cache", s.exit_keys.zkey.parent]
    code, _, err = run("exit", *l1, "--account", BOB_ID, "--key", bob_key, *cache)
    assert code == 1 and "pass --owner" in err and err.count("\n") == 1
    before = call(token.functions.balanceOf(BOB))
    code, out, err = run("exit", *l1, "--account", BOB_ID, "--key", bob_key, "--owner", BOB,
                         "--from", OPERATOR, *cache)
    assert code == 0, err
    assert out.strip().endswith(f"paid 1000 to {BOB}")
    assert call(token.functions.balanceOf(BOB)) - before == 1_000


@needs_anvil
@pytest.mark.slow  # the session's development keys
def test_chain_deploy(story, tmp_path, monkeypatch, capsys):  # noqa: F811
    from rollup.chain.rollup import RollupClient
    from rollup.config import Config, load, render

    gen = tmp_path / "genesis.bin"
    gen.write_bytes(genesis_records(story))
    cfg = tmp_path / "rollup.toml"
    cfg.write_text(render(Config(path=cfg, chain_id=node.EMBEDDED_CHAIN_ID, tree_depth=DEPTH)))
    with node.anvil(chain_id=node.EMBEDDED_CHAIN_ID) as ch:
        args = ["chain", "deploy", "--rpc", ch.url, "--batch-vk", story.batch_keys.vk_path,
                "--exit-vk", story.exit_keys.vk_path]
        # no genesis, no depth: one line
        code, _, err = rollup_cli(monkeypatch, capsys, *args)
        assert code == 1 and err.startswith("error: DeployError:") and err.count("\n") == 1
        code, out, err = rollup_cli(monkeypatch, capsys, *args, "--genesis", gen,
                                    "--config", cfg, "--deadline", 3600)
        assert code == 0, err
        d = json.loads(out)
        r = RollupClient(ch, d["rollup"])
        assert r.state().state_root == story.genesis_root
        assert call(r.f.accountLimit()) == 1 << DEPTH == d["account_limit"]
        assert d["first_account_id"] == 2 and d["test_token"]
        assert call(r.f.token()) == d["token"] and call(r.f.priorityDeadline()) == 3600
        assert load(cfg).rollup_address == d["rollup"]
        # root only (the sequencer's genesis.json), an existing token
        code, out, err = rollup_cli(monkeypatch, capsys, *args, "--genesis-root",
                                    "0x" + story.genesis_root.hex(), "--first-account", 2,
                                    "--account-limit", 8, "--token", d["token"])
        assert code == 0, err
        d2 = json.loads(out)
        r2 = RollupClient(ch, d2["rollup"])
        assert r2.state().state_root == story.genesis_root and d2["token"] == d["token"]
        assert call(r2.f.accountLimit()) == 8
        # foot-guns refused before anything is deployed: a first account the genesis holds,
        # ids beyond the tree, a deadline users cannot act within
        for extra, why in ((["--first-account", 1], "first free id"),
                           (["--account-limit", (1 << DEPTH) + 1], "above 2**depth"),
                           (["--deadline", 60], "at least 3600")):
            code, out, err = rollup_cli(monkeypatch, capsys, *args, "--genesis", gen,
                                        "--config", cfg, *extra)
            assert code == 1 and out == "" and err.startswith("error: DeployError:"), err
            assert why in err and err.count("\n") == 1


def test_help_and_usage_errors(tmp_path, monkeypatch, capsys):
    for cmd in (["recover"], ["exit"], ["chain", "deploy"]):
        code, out, _ = rollup_cli(monkeypatch, capsys, *cmd, "--help")
        assert code == 0 and "--rpc" in out and "Usage:" in out
    gen = tmp_path / "g.bin"
    gen.write_bytes(b"\x01")
    code, out, err = rollup_cli(monkeypatch, capsys, "exit", "--rpc", "http://127.0.0.1:1",
                                "--rollup", "0x" + "11" * 20, "--genesis", gen, "--depth", 4,
                                "--account", 1, "--key", tmp_path / "k.json")
    assert code == 2 and "--keys-cache" in err and "Traceback" not in err


def test_genesis_files(tmp_path):
    from rollup.recovery.genesis import GenesisError, from_records, load_genesis

    g = from_records(b"", 4)
    assert g.first_free_id == 0
    p = tmp_path / "g.json"
    p.write_text(json.dumps({"seq": 2, "root": "0x05"}))
    assert load_genesis(p, 4).root == 5 and load_genesis(p, 4).records is None
    p.write_text(json.dumps({"records": "", "root": "0x05"}))
    with pytest.raises(GenesisError, match="the records give root"):
        load_genesis(p, 4)
    p.write_bytes(b"\xff" * 10)
    with pytest.raises(GenesisError, match="do not replay"):
        load_genesis(p, 4)
    with pytest.raises(GenesisError, match="cannot read"):
        load_genesis(tmp_path / "missing.bin", 4)


def test_genesis_from_config(tmp_path):
    from circuits import eddsa_public_key
    from rollup.config import Config, example_markets, set_rollup_address
    from rollup.config import render as render_cfg
    from rollup.keys import compress
    from rollup.recovery.genesis import config_records, from_records

    pk = compress(eddsa_public_key(SEEDS["bob"]))
    path = tmp_path / "rollup.toml"
    cfg = Config(path=path, tree_depth=DEPTH, oracle_key=pk, operator_key=pk,
                 markets=example_markets())
    path.write_text(render_cfg(cfg))
    g = from_records(config_records(cfg), DEPTH)
    assert g.first_free_id == 1 and g.state.oracle_pk == eddsa_public_key(SEEDS["bob"])
    assert set_rollup_address(path, "0x" + "ab" * 20).rollup_address == "0x" + "ab" * 20
