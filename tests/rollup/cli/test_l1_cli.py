"""`rollup l1 deposit | forced-withdraw | activate-exodus | collect` end to end on Anvil, through
`rollup.cli.main`, against a Rollup deployed once for the module (no proofs are needed: none of
these calls a verifier). The tests run in file order, as one trader's story:

    deposits (an encrypted L1 key, a plaintext one, an unlocked account)
    -> forced withdrawals (signed here; signed elsewhere and relayed; a replay refused)
    -> exodus (refused while nothing is overdue, then activated)
    -> collect (deposits refunded, queue fees paid to the operator)

Anvil runs with chain id 4242, not a development chain, so plaintext key files draw a warning.
Every failure is one line on stderr (exit 1), and no output or log line carries a key or the
passphrase.
"""

from __future__ import annotations

import json
import logging
import sys

import pytest

from circuits.babyjubjub import pack_point
from rollup.chain import node
from rollup.chain.contracts import call, deploy, transact
from rollup.chain.rollup import RollupClient, deploy_signature_verifier
from rollup.cli import main
from rollup.config import Config, render
from rollup.keys import load_key, new_key
from rollup.keys.keystore import WrongPassphrase
from rollup.keys.l1 import load_l1_key, new_l1_key

pytestmark = pytest.mark.skipif(node.anvil_path() is None, reason="anvil is not installed")

CHAIN_ID = 4242
DEADLINE, SPACING, FEE, MIN_DEPOSIT = 3600, 60, 10**15, 100
PASS = "correct horse battery staple"
N = 16  # scrypt cost: keep the tests fast (real files use 2**18)


class World:
    def __init__(self, tmp):
        self.tmp = tmp
        self.chain = node.anvil(chain_id=CHAIN_ID)
        ch = self.chain
        self.operator = ch.accounts[0]
        self.token = deploy(ch, "TestToken")
        sig = deploy_signature_verifier(ch)
        # the verifiers are never called here: any address will do
        self.rollup = RollupClient.deploy(
            ch, batch_verifier=self.token.address, exit_verifier=self.token.address,
            token=self.token.address, operator=self.operator, genesis_root=b"\x11" * 32,
            priority_deadline=DEADLINE, first_account_id=1, account_limit=1 << 16,
            accounts_depth=16, signature_verifier=sig, queue_fee=FEE, queue_spacing=SPACING,
            min_deposit=MIN_DEPOSIT)
        self.pwfile = tmp / "passphrase.txt"
        self.pwfile.write_text(PASS + "\n")
        # the trader: an encrypted L1 key (funded from Anvil's first account) and L2 keys
        self.l1_key = tmp / "trader-l1.json"
        self.trader = new_l1_key(self.l1_key, passphrase=PASS, n=N)
        self.dev_l1 = tmp / "dev-l1.json"  # plaintext: development only
        self.dev = new_l1_key(self.dev_l1)
        self.alice = tmp / "alice.json"  # encrypted L2 key
        new_key(self.alice, passphrase=PASS, n=N)
        self.bob = tmp / "bob.json"  # plaintext L2 key
        new_key(self.bob)
        for who in (self.trader, self.dev):
            ch.w3.eth.send_transaction({"from": self.operator, "to": who, "value": 10**19})
            transact(ch, self.token.functions.mint(who, 10**6))
        self.secrets = [PASS, bytes(load_l1_key(self.l1_key, PASS).account.key).hex(),
                        bytes(load_l1_key(self.dev_l1).account.key).hex(),
                        load_key(self.alice, PASS).private_key.hex(),
                        load_key(self.bob).private_key.hex()]
        self.seen: list[str] = []  # every line printed, checked for secrets at the end
        (tmp / "op").mkdir()
        self.config = tmp / "op" / "rollup.toml"
        self.config.write_text(render(Config(
            path=self.config, node=ch.url, chain_id=CHAIN_ID,
            rollup_address=self.rollup.address, l1_key=str(self.l1_key),
            passphrase_env="", passphrase_file=str(self.pwfile))))

    def pending(self, who: str, asset: int) -> int:
        return self.rollup.pending(who, asset)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("l1"))
    yield world
    world.chain.close()


@pytest.fixture
def run(w, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("ROLLUP_PASSPHRASE", raising=False)
    monkeypatch.chdir(w.tmp)  # no ./rollup.toml there unless a test names --config

    def rollup(*args, env: dict | None = None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(sys, "argv", ["rollup", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code
        finally:
            for k in env or {}:
                monkeypatch.delenv(k)
        out = capsys.readouterr()
        w.seen += [out.out, out.err]
        return code, out.out, out.err

    yield rollup
    # nothing printed or logged carries a private key or the passphrase
    text = "\n".join([*w.seen, caplog.text])
    assert "error: " in text or "queue entry" in text
    for secret in w.secrets:
        assert secret not in text


def node_args(w):
    return ["--rpc", w.chain.url, "--rollup", w.rollup.address]


def one_error(err: str, kind: str) -> str:
    assert err.count("\n") == 1 and err.startswith(f"error: {kind}: "), err
    return err


def test_deposits(w, run):
    alice_pk = load_key(w.alice, PASS).public_key
    # an encrypted L1 key, unlocked from a passphrase file; the token approved first
    code, out, err = run("l1", "deposit", 5_000, "--to", w.alice, *node_args(w), "--key",
                         w.l1_key, "--passphrase-file", w.pwfile, "--json")
    assert (code, err) == (0, ""), err
    d = json.loads(out)
    assert out.count("\n") == 1
    assert (d["account"], d["queue_index"], d["amount"], d["asset"]) == (1, 0, 5_000, "token")
    assert d["approve_tx"] and d["from"] == w.trader
    assert w.rollup.account_of(pack_point(alice_pk)) == 1
    assert call(w.token.functions.balanceOf(w.rollup.address)) == 5_000
    # everything from the configuration: node, rollup, L1 key and its passphrase file
    code, out, err = run("l1", "deposit", 700, "--to", w.alice, "--config", w.config)
    assert (code, err) == (0, ""), err
    assert out.startswith("deposit of 700 token to account 1: queue entry 1, due by ")
    # a plaintext L1 key on a chain that is not a development chain: one warning line; an
    # ETH deposit to bob's key given as a compressed public key
    bob = pack_point(load_key(w.bob).public_key).hex()
    code, out, err = run("l1", "deposit", 10**9, "--asset", "eth", "--to", bob, *node_args(w),
                         "--key", w.dev_l1)
    assert code == 0 and "to account 2: queue entry 2" in out
    assert err.count("\n") == 1 and "plaintext key file" in err
    # an account unlocked on the node
    code, out, err = run("l1", "deposit", 200, "--to", w.bob, *node_args(w), "--from",
                         w.operator, "--json")
    assert code == 1 and "holds 0 tokens" in one_error(err, "InsufficientFunds")

    # failures: a revert with its reason, missing funds, a bad passphrase, no key, no node
    code, out, err = run("l1", "deposit", MIN_DEPOSIT - 1, "--to", w.alice, *node_args(w),
                         "--key", w.dev_l1)
    assert code == 1 and out == ""
    assert "deposit reverted: DepositTooSmall: below the minimum deposit of 100" in one_error(
        err.splitlines()[-1] + "\n", "Reverted")
    code, out, err = run("l1", "deposit", 10**7, "--to", w.alice, *node_args(w), "--key",
                         w.l1_key, "--passphrase-file", w.pwfile)
    assert code == 1 and "holds 994300 tokens, not 10000000" in one_error(err,
                                                                          "InsufficientFunds")
    code, out, err = run("l1", "deposit", 500, "--to", w.alice, *node_args(w), "--key",
                         w.l1_key, env={"ROLLUP_PASSPHRASE": "not it"})
    assert code == 1 and "wrong passphrase" in one_error(err, "WrongPassphrase")
    code, out, err = run("l1", "deposit", 500, "--to", w.alice, *node_args(w), "--key",
                         w.l1_key)
    assert code == 1 and "ROLLUP_PASSPHRASE" in one_error(err, "NoPassphrase")
    with pytest.raises(WrongPassphrase) as ei:  # --debug: the exception, no secret in it
        run("--debug", "l1", "deposit", 500, "--to", w.alice, *node_args(w), "--key", w.l1_key,
            env={"ROLLUP_PASSPHRASE": "not it"})
    w.seen.append(str(ei.value))
    code, out, err = run("l1", "deposit", 500, "--to", w.alice, *node_args(w))
    assert code == 1 and "no L1 key" in one_error(err, "NoSender")
    code, out, err = run("l1", "deposit", 500, "--to", w.alice, "--rpc", "http://127.0.0.1:9",
                         "--rollup", w.rollup.address, "--key", w.dev_l1)
    assert code == 1 and "cannot reach the node at http://127.0.0.1:9" in one_error(
        err, "NodeUnreachable")
    code, out, err = run("l1", "deposit", 500, "--to", w.alice, "--rpc", w.chain.url,
                         "--rollup", w.trader, "--key", w.dev_l1)
    assert code == 1 and "no contract at" in one_error(err, "WrongDeployment")
    assert w.rollup.state().queue_length == 3


@pytest.mark.adversarial
def test_forced_withdrawals(w, run, tmp_path):
    # signed here by alice's encrypted L2 key, sent by the trader's L1 key (both opened with
    # the passphrase from the environment)
    env = {"ROLLUP_PASSPHRASE": PASS}
    code, out, err = run("l1", "forced-withdraw", "--account", 1, "--amount", 1_000,
                         "--l2-key", w.alice, *node_args(w), "--key", w.l1_key, "--json",
                         env=env)
    assert (code, err) == (0, ""), err
    d = json.loads(out)
    assert (d["account"], d["amount"], d["to"], d["nonce"], d["queue_index"]) == (
        1, 1_000, w.trader, 0, 3)
    # signed elsewhere (--sign-only needs no L1 key), relayed by another account
    signed = tmp_path / "fw.json"
    code, out, err = run("l1", "forced-withdraw", "--account", 1, "--amount", 50, "--to",
                         w.dev, "--l2-key", w.alice, *node_args(w), "--sign-only", env=env)
    assert code == 0 and out.count("\n") == 1
    signed.write_text(out)
    assert json.loads(out)["nonce"] == 1
    code, out, err = run("l1", "forced-withdraw", "--signed", signed, *node_args(w), "--from",
                         w.operator)
    assert code == 0, err
    assert f"from account 1 to {w.dev} (nonce 1): queue entry 4" in out
    # the same signed request again: its nonce is used, refused before any gas is spent
    length = w.rollup.state().queue_length
    code, out, err = run("l1", "forced-withdraw", "--signed", signed, *node_args(w), "--from",
                         w.operator)
    assert code == 1 and "nonce 1 of account 1's key was already used (a replay); the key's " \
        "next nonce is 2" in one_error(err, "ForcedNonceUsed")
    # an explicit old nonce: the same
    code, out, err = run("l1", "forced-withdraw", "--account", 1, "--amount", 50, "--l2-key",
                         w.alice, "--nonce", 0, *node_args(w), "--from", w.operator, env=env)
    assert code == 1 and "was already used" in err
    assert w.rollup.state().queue_length == length
    # an account L1 never assigned: the contract's reason
    code, out, err = run("l1", "forced-withdraw", "--account", 9, "--amount", 1, "--l2-key",
                         w.bob, *node_args(w), "--from", w.operator)
    assert code == 1 and "UnknownAccount: account 9 has not been assigned on L1" in \
        err.splitlines()[-1]
    # a wrong passphrase for the L2 key
    code, out, err = run("l1", "forced-withdraw", "--account", 1, "--amount", 1, "--l2-key",
                         w.alice, *node_args(w), "--from", w.operator,
                         env={"ROLLUP_PASSPHRASE": "wrong"})
    assert code == 1 and str(w.alice) in one_error(err, "WrongPassphrase")
    # a request signed for another deployment
    other = json.loads(signed.read_text())
    other["rollup"] = w.trader
    signed.write_text(json.dumps(other))
    code, out, err = run("l1", "forced-withdraw", "--signed", signed, *node_args(w), "--from",
                         w.operator)
    assert code == 1 and "signed for chain 4242" in one_error(err, "WrongDeployment")


def test_exodus_then_collect(w, run):
    args = [*node_args(w), "--key", w.dev_l1]
    code, out, err = run("l1", "activate-exodus", *args)
    assert code == 1 and "activate-exodus reverted: NotOverdue: no priority request is " \
        "overdue yet (the oldest is due at 20" in err.splitlines()[-1]
    w.chain.increase_time(DEADLINE + 1)
    code, out, err = run("l1", "activate-exodus", *args, "--json")
    assert code == 0, err
    d = json.loads(out.splitlines()[-1])
    assert (d["last_batch"], d["overdue_index"], d["state_root"]) == (0, 0, "0x" + "11" * 32)
    assert w.rollup.state().exodus
    code, out, err = run("l1", "activate-exodus", *args)
    assert code == 1 and "ExodusActive" in err.splitlines()[-1]
    code, out, err = run("l1", "deposit", 500, "--to", w.alice, *args)
    assert code == 1 and "is in exodus" in err.splitlines()[-1]

    # the trader's two token deposits (5,000 + 700), never consumed: refunded, then paid
    before = call(w.token.functions.balanceOf(w.trader))
    code, out, err = run("l1", "collect", "--config", w.config, "--json")
    assert (code, err) == (0, ""), err
    d = json.loads(out)
    assert d["paid"] == {"token": 5_700} and d["refunded"] == [0, 1]
    assert call(w.token.functions.balanceOf(w.trader)) == before + 5_700
    code, out, err = run("l1", "collect", "--config", w.config)
    assert (code, out) == (0, f"nothing to collect for {w.trader}\n")
    # the ETH deposit's depositor gets its wei back; the operator collects the queue fees
    # (3 deposits + 2 forced withdrawals)
    code, out, err = run("l1", "collect", "--asset", "eth", *args)
    assert code == 0 and out.startswith(f"collected 1000000000 eth to {w.dev} (refunded "
                                        "deposits [2])")
    code, out, err = run("l1", "collect", *node_args(w), "--from", w.operator, "--json")
    assert code == 0 and json.loads(out)["paid"] == {"eth": 5 * FEE}
    assert w.pending(w.operator, 0) == 0


def test_relayer_reads_the_configuration(w, run, tmp_path):
    """`relayer run` takes the node and the Rollup from rollup.toml (and its L1 key)."""
    store = tmp_path / "relayer.db"
    code, out, err = run("relayer", "run", "--once", "--config", w.config, "--store", store,
                         "--confirmations", 0)
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert [(x["index"], x["kind"]) for x in lines] == [
        (0, "deposit"), (1, "deposit"), (2, "deposit"), (3, "forced_withdrawal"),
        (4, "forced_withdrawal")]
    assert "EXODUS" in err
    # a flag overrides the file
    code, out, err = run("relayer", "run", "--once", "--config", w.config, "--store", store,
                         "--rollup", w.trader)
    assert code == 1 and "no contract at" in one_error(err, "RelayerError")
    code, out, err = run("batch", "submit", 1, "--config", w.config, "--store", store)
    assert code == 1 and "batch 1 is not in" in one_error(err, "StoreError")
