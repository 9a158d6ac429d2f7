"""Shared fixtures for the settlement tests (real batch and exit proofs on Rollup.sol; no tests
here).

`story` (session): the engine's side of a small rollup history, proven once with the real circuits
(1 slot, accounts depth 4) and our Groth16 prover from development keys set up once per session:
    genesis   bob (account 1) holds 1,000 tokens
    queue 0   alice deposits 5,000 tokens on L1 (depositor ALICE)
    batch 1   consumes it: alice's account 2 is created with 5,000
    batch 2   alice withdraws 1,500 to ALICE (an L1 record)
    exits     at batch 2's root: alice 3,500 to ALICE, bob 1,000 to BOB
`world` (module, py-evm and Anvil): a fresh chain with the contracts deployed where the proofs
expect them, and queue entry 0 made. Both chains get the same accounts (Anvil's well-known
development mnemonic), the same chain id and so the same addresses: one set of proofs verifies
on either. The development keys and the proofs are cached in a folder that parallel test workers
share, or in $ZKDERIV_TEST_KEYS when set (to keep them between local runs).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rollup.chain import node
from rollup.chain.contracts import transact
from rollup.chain.devnet import Deployment, deploy_devnet, devnet_rollup_address
from rollup.chain.layout import ASSET_TOKEN, KIND_DEPOSIT, ZERO32, QueueEntry
from rollup.settlement.relayer import StoredBatch

DEPTH, SLOTS = 4, 1
DEADLINE = 3 * 24 * 3600
# Anvil's first accounts from its development mnemonic (node.ANVIL_MNEMONIC); never for value.
OPERATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CAROL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
SEEDS = {"alice": b"settlement-alice".ljust(32, b"\0"), "bob": b"settlement-bob".ljust(32, b"\0")}
ALICE_ID, BOB_ID = 2, 1
BOB_GENESIS, ALICE_DEPOSIT, ALICE_WITHDRAWAL = 1_000, 5_000, 1_500


def addr_int(a: str) -> int:
    return int(a, 16)


@dataclass
class Story:
    batch_keys: object
    exit_keys: object
    chain_id: int
    rollup_address: str
    genesis_root: bytes
    genesis_state: object  # engine State before batch 1
    alice_pk: tuple[int, int]
    entry0: QueueEntry
    deposit: object  # the engine's Deposit for queue entry 0
    batches: list  # rollup.settlement.batch.Batch, batch 1 and 2
    stored: list[StoredBatch]  # the same with their proofs
    exits: dict[int, tuple[str, int, list[int]]]  # account -> (owner, token amount, proof)
    final_root: bytes
    seconds: dict[str, float] = field(default_factory=dict)
    witnesses: list[list[int]] = field(default_factory=list)  # batch 1 and 2, in wire order


def _root(x: int) -> bytes:
    return x.to_bytes(32, "big")


def _proof(cache: Path, keys, cs, public_input: int) -> list[int]:
    """prove_for_chain, kept in `cache` under the verification key's hash and the public input:
    a second worker (or run) reads the first one's proof instead of proving again."""
    from rollup.devkeys import prove_for_chain

    vk = hashlib.sha256(keys.vk_path.read_bytes()).hexdigest()[:16]
    path = cache / f"proof-{vk}-{public_input:064x}.json"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return json.loads(path.read_text())
        proof = prove_for_chain(keys, cs, public_input)
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps(proof))
        tmp.replace(path)
    return proof


def make_story(cache: Path) -> Story:
    from circuits import eddsa_public_key
    from circuits.babyjubjub import pack_point
    from rollup.devkeys import dev_keys
    from rollup.engine.sequencer import Sequencer
    from rollup.recovery.exit import exit_circuit, exit_inputs, sign_exit
    from rollup.settlement.batch import build_batch
    from rollup.state.state import State
    from rollup.transactions import Deposit, Domain, Withdrawal

    secs: dict[str, float] = {}
    t = time.perf_counter()
    batch_keys = dev_keys("batch", slots=SLOTS, depth=DEPTH, cache=cache)
    exit_keys = dev_keys("exit", depth=DEPTH, cache=cache)
    secs["keys"] = time.perf_counter() - t

    chain_id = node.EMBEDDED_CHAIN_ID
    rollup_address = devnet_rollup_address(OPERATOR)
    dom = Domain(chain_id, addr_int(rollup_address))
    pks = {n: eddsa_public_key(s) for n, s in SEEDS.items()}
    seq = Sequencer(State(account_depth=DEPTH), dom)
    seq.submit(Deposit(0, pks["bob"], 0))  # the fee account (the batch circuit credits fees)
    seq.submit(Deposit(BOB_ID, pks["bob"], BOB_GENESIS))
    seq.records.clear()  # genesis is not a batch
    genesis_state = seq.state.clone()
    genesis_root = _root(seq.state.root)

    entry0 = QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, ALICE_ID, ALICE, ALICE_DEPOSIT,
                        pack_point(pks["alice"]))
    deposit = Deposit(ALICE_ID, pks["alice"], ALICE_DEPOSIT)
    withdrawal = Withdrawal(ALICE_ID, ALICE_WITHDRAWAL, addr_int(ALICE), 0, 10**9).signed(
        SEEDS["alice"], dom)
    batches, stored, witnesses = [], [], []
    queue_before, consumed = ZERO32, 0
    for number, (req, queue) in enumerate([(deposit, [entry0]), (withdrawal, [])], start=1):
        pre = seq.clone()
        seq.submit(req)
        t = time.perf_counter()
        b = build_batch(pre, [req], slots=SLOTS, batch_number=number, queue=queue,
                        queue_before=queue_before)
        assert b.new_root == seq.state.root
        cs = b.circuit()
        witnesses.append(cs.witness())
        proof = _proof(cache, batch_keys, cs, b.public_input)
        secs[f"batch{number}_witness_and_proof"] = time.perf_counter() - t
        batches.append(b)
        stored.append(StoredBatch.from_batch(b, proof, queue_count_before=consumed))
        queue_before, consumed = b.queue_after, consumed + b.queue_consumed

    exits = {}
    for name, acc_id, owner in (("alice", ALICE_ID, ALICE), ("bob", BOB_ID, BOB)):
        t = time.perf_counter()
        claim = exit_inputs(seq.state, dom, acc_id, addr_int(owner),
                            sign_exit(SEEDS[name], dom, acc_id, addr_int(owner)))
        proof = _proof(cache, exit_keys, exit_circuit(seq.state, claim), claim.public_input)
        secs[f"exit_{name}_witness_and_proof"] = time.perf_counter() - t
        exits[acc_id] = (owner, claim.token_amount, proof)
    return Story(batch_keys, exit_keys, chain_id, rollup_address, genesis_root, genesis_state,
                 pks["alice"], entry0, deposit, batches, stored, exits, _root(seq.state.root),
                 secs, witnesses)




CHAIN_KINDS = ["py-evm", "anvil"]


def open_same_chain(kind: str) -> node.Chain:
    """py-evm or Anvil with Anvil's accounts and py-evm's chain id (skips without Anvil)."""
    if kind == "py-evm":
        return node.embedded(mnemonic=node.ANVIL_MNEMONIC)
    if node.anvil_path() is None:
        pytest.skip("anvil is not installed (npm ci installs @foundry-rs/anvil-linux-amd64)")
    return node.anvil(chain_id=node.EMBEDDED_CHAIN_ID)


@dataclass
class World:
    chain: node.Chain
    d: Deployment
    story: Story

    @property
    def rollup(self):
        return self.d.rollup

    def nonce(self, who: str = OPERATOR) -> int:
        return self.chain.w3.eth.get_transaction_count(who)


def open_world(kind: str, story: Story) -> World:
    ch = open_same_chain(kind)
    assert ch.accounts[:4] == [OPERATOR, ALICE, BOB, CAROL]
    assert ch.w3.eth.chain_id == story.chain_id
    d = deploy_devnet(ch, batch_vk=story.batch_keys.vk, exit_vk=story.exit_keys.vk,
                      genesis_root=story.genesis_root, priority_deadline=DEADLINE,
                      first_account_id=ALICE_ID, account_limit=1 << DEPTH,
                      accounts_depth=DEPTH, genesis_collateral=BOB_GENESIS)
    assert d.rollup.address == story.rollup_address
    tok = d.token.functions
    transact(ch, tok.mint(ALICE, 10**6))
    transact(ch, tok.approve(d.rollup.address, 2**256 - 1), sender=ALICE)
    d.rollup.deposit_token(story.entry0.l2_key, ALICE_DEPOSIT, sender=ALICE)
    return World(ch, d, story)
