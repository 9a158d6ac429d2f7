"""`rollup node run` end to end on Anvil: traders through the HTTP API and `rollup l1`, batches
built, proven and finalized with no manual step, kill -9 of the node at five points (after a
batch closes, while proving, while submitting, at random), nothing acknowledged lost, no batch
submitted twice, and `rollup recover` rebuilding the node's root from L1 alone (with the
genesis `rollup genesis export` wrote)."""

from __future__ import annotations

import json
import os
import random
import shutil
import time

import pytest

from rollup.chain import node as chain_node
from rollup.chain.contracts import contract_at, transact
from rollup.chain.layout import ASSET_TOKEN
from rollup.chain.rollup import RollupClient
from rollup.config import Market, load
from rollup.durability.journal import Journal
from rollup.keys import SCHEME
from rollup.transactions import BUY, POST_ONLY, SELL, Cancel, Order
from tests.support.operator import Client, ServerProcess, run, trader, wait_until, write_config

needs_anvil = pytest.mark.skipif(chain_node.anvil_path() is None, reason="anvil is not installed")
FAR = 10**9  # order expiry (oracle time)


def _marked(mark: str) -> list[int]:
    """The live processes whose environment carries MARK (the node and everything it spawned)."""
    out = []
    needle = f"ZKDERIV_TEST_NODE_MARK={mark}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as f:
                zombie = f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        if needle in env and not zombie and int(pid) != os.getpid():
            out.append(int(pid))
    return out


def _status(cfg) -> dict | None:
    try:
        return json.loads((cfg.data / "node-status.json").read_text())
    except (OSError, ValueError):
        return None


def _submissions(chain, rollup: str) -> dict[int, int]:
    """batch number -> how many submitBatch transactions were mined for it (any outcome)."""
    c = contract_at(chain, "Rollup", rollup)
    out: dict[int, int] = {}
    w3 = chain.w3
    for n in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True).transactions:
            if tx["to"] and tx["to"].lower() == rollup.lower():
                fn, args = c.decode_function_input(tx["input"])
                if fn.fn_name == "submitBatch":
                    num = int(args["newBatchNumber"])
                    out[num] = out.get(num, 0) + 1
    return out


@needs_anvil
@pytest.mark.slow  # a few minutes: every batch is proven, the node restarts five times
def test_node_settles_on_its_own_and_survives_kill_9(story, tmp_path, monkeypatch,  # noqa: F811
                                                     capsys):
    rng = random.Random(7)
    mark = f"{os.getpid()}-{time.time_ns()}"
    with chain_node.anvil() as chain:
        folder = tmp_path / "op"
        path = write_config(
            folder, n_traders=3, depth=4, slots=1, batch_l1_slots=1, batch_assets=8,
            node=chain.url, chain_id=chain.w3.eth.chain_id, batch_time_limit=1.0,
            markets=[Market(1, "perp", 50_000, 30_000, name="ETH-PERP", price=2_000)],
            node_oracle="off", node_poll=0.2, node_l1_poll=0.3, node_provers=1)
        keys = folder / "data" / "keys"
        keys.mkdir(parents=True)
        shutil.copy(story.batch_keys.zkey, keys / "batch.zkey")
        shutil.copy(story.batch_keys.vk_path, keys / "batch_vk.json")
        code, out, err = run(monkeypatch, capsys, "chain", "deploy", "--rpc", chain.url,
                             "--config", path, "--batch-vk", keys / "batch_vk.json",
                             "--exit-vk", story.exit_keys.vk_path)
        assert code == 0, err
        deployed = json.loads(out)
        cfg = load(path)
        dom = cfg.domain()
        client_l1 = RollupClient(chain, cfg.rollup_address)
        user = chain.accounts[5]

        log = tmp_path / "node.log"
        # inherited by the node and the workers it spawns (Anvil is already running)
        monkeypatch.setenv("ZKDERIV_TEST_NODE_MARK", mark)
        proc = ServerProcess(path, log, command=("node", "run")).start(timeout=300)
        try:
            acked: dict[int, dict] = {}  # journal row -> the request's JSON, for each 200 answer

            def post(req) -> None:
                c = Client(proc.url)
                try:
                    status, out = c.post(req.signed(trader(req.account), dom))
                finally:
                    c.close()
                assert status == 200, out
                acked[out["seq"]] = req.signed(trader(req.account), dom).to_json()

            oid = iter(range(1, 10**6))

            def trade() -> None:
                """A resting sell, a buy that takes it, a far order and its cancel: one trade."""
                price = 2_000 + rng.randint(-5, 5)
                post(Order(1, 1, SELL, 1, price, next(oid), FAR, POST_ONLY))
                post(Order(2, 1, BUY, 1, price, next(oid), FAR))
                far = next(oid)
                post(Order(3, 1, SELL, 1, 9_000, far, FAR, POST_ONLY))
                post(Cancel(3, 1, far))

            def restart() -> None:
                nonlocal proc
                proc.kill(9)
                proc = ServerProcess(path, log, command=("node", "run")).start(timeout=300)

            def finalized() -> int:
                return client_l1.state().batch_number

            def built() -> int:
                st = _status(cfg)
                return st["batches"]["built"] if st else 0

            # L1, through `rollup l1` (node and Rollup from the configuration): a token deposit
            # to a new key, and trader 1's forced withdrawal to `user`, signed by its key file
            token = contract_at(chain, "TestToken", deployed["token"])
            transact(chain, token.functions.mint(user, 10**9), sender=user)
            key_files = {}
            for i in (1, 9):
                key_files[i] = tmp_path / f"trader{i}.json"
                key_files[i].write_text(json.dumps({"scheme": SCHEME,
                                                    "private_key": trader(i).hex()}))
            code, out, err = run(monkeypatch, capsys, "l1", "deposit", 5_000, "--to",
                                 key_files[9], "--config", path, "--from", user, "--json")
            assert code == 0, err
            assert json.loads(out)["account"] == 4  # the contract's next id after the genesis
            code, out, err = run(monkeypatch, capsys, "l1", "forced-withdraw", "--account", 1,
                                 "--amount", 100, "--l2-key", key_files[1], "--config", path,
                                 "--from", user)
            assert code == 0 and "queue entry 1" in out, err
            trade()

            # kill 1: right after a batch closes (its files written, not yet proven)
            wait_until(lambda: built() >= 1, timeout=240, step=0.05)
            restart()
            trade()
            # kill 2: while a proof is in flight
            wait_until(lambda: (_status(cfg) or {}).get("batches", {}).get("proving"), timeout=240,
                       step=0.05)
            restart()
            trade()
            # kill 3: while a proven batch waits for (or is in) its submission
            wait_until(lambda: (_status(cfg) or {}).get("batches", {}).get("awaiting_submission"),
                       timeout=300, step=0.02)
            restart()
            # kills 4 and 5: at random moments
            for _ in range(2):
                trade()
                time.sleep(rng.uniform(0.5, 6.0))
                restart()

            # everything acknowledged is journaled, at the row its answer named
            def journal_rows() -> dict[int, dict]:
                j = Journal(cfg.journal_path)
                try:
                    return {n: r.to_json() for n, r in j.requests_after(0)}
                finally:
                    j.close()

            rows = journal_rows()
            assert all(rows.get(n) == r for n, r in acked.items())

            # the node settles what remains with no manual step
            def settled() -> bool:
                st = _status(cfg)
                return (st is not None and st["batches"]["unbatched_requests"] == 0
                        and finalized() == st["batches"]["built"] == st["finalized"]["batch"] > 0)

            wait_until(settled, timeout=600, step=0.5)
            st = _status(cfg)
            assert st["local"]["root"] == "0x" + client_l1.state().state_root.hex()
            assert all(s["state"] != "error" for s in st["stages"].values()), st["stages"]
            # no batch was submitted twice, none skipped
            subs = _submissions(chain, cfg.rollup_address)
            assert subs == {n: 1 for n in range(1, finalized() + 1)}, subs
            # the forced withdrawal reached L1's pull payments
            assert client_l1.pending(user, ASSET_TOKEN) == 100
            # `rollup status --json` reports the node
            code, out, err = run(monkeypatch, capsys, "status", "--config", path, "--json")
            assert code == 0, err
            rep = json.loads(out)
            assert rep["node"]["finalized"]["batch"] == finalized()
            assert rep["onchain"]["root"] == st["local"]["root"]
        finally:  # a failed assertion must not leave the node running
            proc.kill(9)
        # six kill -9s of the node: none of its builder or prover processes outlives it
        wait_until(lambda: not _marked(mark), timeout=30, step=0.5)

        # `rollup l1 collect` pays the forced withdrawal out
        code, out, err = run(monkeypatch, capsys, "l1", "collect", "--config", path, "--from",
                             user, "--json")
        assert code == 0 and json.loads(out)["paid"] == {"token": 100}, err
        # recovery from L1 alone (and the genesis `rollup genesis export` wrote) rebuilds the
        # node's root
        code, out, err = run(monkeypatch, capsys, "genesis", "export", "--config", path)
        assert code == 0 and "from the journal" in out, err
        code, out, err = run(monkeypatch, capsys, "recover", "--config", path)
        assert code == 0, err
        assert out.splitlines()[0].startswith(f"recovered root {st['local']['root']}")
