"""The whole story on one chain, as a library: ``run(chain, cfg, keys_dir, log)`` -> summary.

1. Genesis (oracle key, fee account, a perpetual and a call, first prices): its records are
   published (``genesis.bin``) and its root is the one the Rollup contract is deployed with.
2. Keys for the batch and exit circuits: development setup (NOT a ceremony), cached.
3. Contracts: a collateral token, the two verifiers, Rollup; the signing domain is (chain id,
   Rollup address).
4. Deposits on L1, credited by the sequencer from the PriorityRequest events.
5. Quotes, perpetual and call trades, an oracle move, funding, a liquidation, a withdrawal.
6. Batches built, proven and finalized with ``Rollup.submitBatch``; the withdrawal collected.
7. The operator disappears: exodus, the state rebuilt from genesis and calldata alone
   (``rollup.recovery.recover``), every account exits with a proof of its value.
Every step checks its outcome (roots, balances, conservation) and raises DemoError if not.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from circuits import eddsa_public_key
from circuits.babyjubjub import pack_point, unpack_point
from circuits.batch import build_batch_circuit
from prover.groth16.prove import prove
from rollup.chain.contracts import call, deploy, transact
from rollup.chain.layout import (
    ASSET_ETH,
    ASSET_TOKEN,
    DEFAULT_QUEUE_FEE,
    DEFAULT_QUEUE_SPACING,
    KIND_DEPOSIT,
    ZERO32,
    QueueEntry,
)
from rollup.chain.rollup import RollupClient
from rollup.chain.verifier import deploy_verifier, proof_evm
from rollup.devkeys import dev_keys
from rollup.engine.sequencer import Sequencer
from rollup.margin.liquidation import MarginMatrix
from rollup.margin.risk import account_value
from rollup.margin.scenario import changed_rows
from rollup.recovery.exit import exit_circuit, exit_inputs, sign_exit
from rollup.recovery.recover import recover
from rollup.settlement.batch import build_batch, plan_batches
from rollup.state.encoding import KIND_CALL, KIND_PERP
from rollup.state.state import FEE_ACCOUNT, State
from rollup.transactions import (
    BUY,
    SELL,
    Deposit,
    Domain,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Order,
    SetOracleKey,
    Withdrawal,
    scenario_chunks,
)

DEMO_ASSETS = 4  # asset ids 1..3: the perpetual, a call, a put
DEMO_UNDERLYINGS = 1  # one perpetual: the scenario margin's one loss group


class DemoError(Exception):
    """An outcome of the story was not what it must be."""


@dataclass(frozen=True)
class DemoConfig:
    depth: int = 4
    slots: int = 4
    l1_slots: int = 2
    deadline: int = 3_600  # seconds a priority request may wait before exodus


@dataclass
class Trader:
    name: str
    seed: bytes
    pk: tuple[int, int]
    l1: str
    account: int | None = None


@dataclass
class Summary:
    config: dict
    keys: dict = field(default_factory=dict)
    batches: list = field(default_factory=list)
    events: list = field(default_factory=list)
    exits: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    constraints_per_slot: dict = field(default_factory=dict)
    seconds: float = 0.0


def run(chain, cfg: DemoConfig, keys_dir: Path, log: Callable[[str], None] = print,
        summary: Summary | None = None) -> Summary:  # noqa: C901 - the story, step by step
    t_start = time.perf_counter()
    s = summary or Summary(config=cfg.__dict__.copy())
    w3 = chain.w3
    accts = chain.accounts
    operator = accts[0]

    def check(cond: bool, what: str) -> None:
        if not cond:
            raise DemoError(what)
        s.checks.append(what)

    def seed(name: str) -> bytes:
        return hashlib.sha256(b"zkderiv demo " + name.encode()).digest()

    # -- 1. genesis ---------------------------------------------------------------------------
    PERP, CALL = 1, 2
    t0 = chain.timestamp()
    expiry = t0 + 30 * 24 * 3600
    oracle_seed = seed("oracle")
    seq = Sequencer(State(account_depth=cfg.depth), Domain(w3.eth.chain_id, 0))
    genesis = [SetOracleKey(eddsa_public_key(oracle_seed)),
               Deposit(FEE_ACCOUNT, eddsa_public_key(seed("operator")), 0),
               ListAsset(PERP, KIND_PERP, risk_initial=100_000, risk_maintenance=50_000,
                         maker_fee=200, taker_fee=500, liquidation_fee=20_000),
               ListAsset(CALL, KIND_CALL, risk_initial=150_000, risk_maintenance=100_000,
                         underlying=PERP, strike=2_000, expiry=expiry, short_initial=150_000,
                         short_maintenance=100_000, maker_fee=200, taker_fee=500,
                         liquidation_fee=20_000),
               OracleUpdate(PERP, 2_000, t0), OracleUpdate(CALL, 120, t0)]
    for req in genesis:  # the operator's own set-up: no signature needed before deployment
        seq.apply_verified(req)
    # the oracle's first scenario rows (docs/margin.md), six chunks per asset
    for a, dv in changed_rows(seq.state).items():
        for chunk in scenario_chunks(a, t0, dv):
            seq.apply_verified(chunk)
            genesis.append(chunk)
    genesis_records = b"".join(seq.records)
    seq.records.clear()
    genesis_root = seq.state.root
    s.events.append({"step": "genesis", "root": hex(genesis_root),
                     "records_bytes": len(genesis_records)})
    log(f"genesis: perpetual + call listed, root {genesis_root:#x}"[:60] + "…")

    # -- 2. keys --------------------------------------------------------------------------------
    bk = dev_keys("batch", slots=cfg.slots, l1_slots=cfg.l1_slots, depth=cfg.depth,
                  assets=DEMO_ASSETS, underlyings=DEMO_UNDERLYINGS, cache=keys_dir,
                  on_setup=log)
    ek = dev_keys("exit", depth=cfg.depth, cache=keys_dir, on_setup=log)
    s.keys = {"batch_constraints": bk.n_constraints, "exit_constraints": ek.n_constraints,
              "setup_seconds": round((bk.setup_seconds or 0.0) + (ek.setup_seconds or 0.0), 1),
              "cached": bk.setup_seconds is None and ek.setup_seconds is None}
    log(f"keys: batch circuit {bk.n_constraints:,} constraints, exit circuit "
        f"{ek.n_constraints:,} ({'cached' if s.keys['cached'] else 'set up'})")
    batch_cs = build_batch_circuit(cfg.slots, cfg.depth, l1_slots=cfg.l1_slots,
                                   assets=DEMO_ASSETS, underlyings=DEMO_UNDERLYINGS)
    counts = batch_cs.component_counts()
    s.constraints_per_slot = {"l1_slot": counts.get("slot0", 0),
                              "trading_slot": counts.get(f"slot{cfg.slots - 1}", 0),
                              "batch_total": bk.n_constraints}

    # -- 3. contracts -----------------------------------------------------------------------------
    token = deploy(chain, "TestToken", sender=operator)
    bver = deploy_verifier(chain, bk.vk_path, sender=operator)
    ever = deploy_verifier(chain, ek.vk_path, sender=operator)
    rollup = RollupClient.deploy(chain, batch_verifier=bver.address, exit_verifier=ever.address,
                                 token=token.address, operator=operator,
                                 genesis_root=genesis_root.to_bytes(32, "big"),
                                 priority_deadline=cfg.deadline,
                                 first_account_id=max(seq.state.accounts) + 1,
                                 account_limit=1 << cfg.depth, accounts_depth=cfg.depth,
                                 queue_fee=DEFAULT_QUEUE_FEE,
                                 queue_spacing=DEFAULT_QUEUE_SPACING, sender=operator)
    dom = Domain(w3.eth.chain_id, int(rollup.address, 16))
    seq.domain = dom
    log(f"deployed: Rollup {rollup.address}, verifiers, collateral token")

    # -- 4. deposits on L1 --------------------------------------------------------------------
    names = ["maker", "alice", "bob", "carol"]
    traders = {n: Trader(n, seed(n), eddsa_public_key(seed(n)), accts[1 + k])
               for k, n in enumerate(names)}
    # alice's 1,500 perps need 16% of their notional (the scenario rule's worst row)
    funds = {"maker": 20_000_000, "alice": 520_000, "bob": 2_000_000, "carol": 3_000_000}
    for t in traders.values():
        transact(chain, token.functions.mint(t.l1, funds[t.name]), sender=operator)
        transact(chain, token.functions.approve(rollup.address, 2**256 - 1), sender=t.l1)
        rollup.deposit_token(pack_point(t.pk), funds[t.name], sender=t.l1)
    entries = []
    for ev in sorted(rollup.contract.events.PriorityRequest().get_logs(from_block=0),
                     key=lambda e: e["args"]["index"]):
        a = ev["args"]
        entries.append(QueueEntry(a["kind"], a["asset"], a["accountId"], a["l1Address"],
                                  a["amount"], bytes(a["l2Key"])))
    requests = []
    for e in entries:  # the sequencer credits each L1 deposit to the account the contract named
        check(e.kind == KIND_DEPOSIT and e.asset == ASSET_TOKEN, "queue holds token deposits")
        req = Deposit(e.account_id, unpack_point(e.l2_key), e.amount)
        seq.submit(req)
        requests.append(req)
    for t in traders.values():
        t.account = rollup.account_of(pack_point(t.pk))
    check(rollup.pending(operator, ASSET_ETH) == len(traders) * DEFAULT_QUEUE_FEE,
          "each queue entry paid the operator its fee")
    log("deposits: " + ", ".join(f"{t.name} #{t.account} {funds[t.name]:,}"
                                 for t in traders.values()))

    # -- 5. trading -----------------------------------------------------------------------------
    far = t0 + 10**6
    oid = {n: 0 for n in names}

    def submit(req):
        receipt = seq.submit(req)
        requests.append(req)
        return receipt

    def order(name, asset, side, size, price, flags=0):
        oid[name] += 1
        t = traders[name]
        return Order(t.account, asset, side, size, price, oid[name], far, flags).signed(t.seed,
                                                                                     dom)

    def oracle_msg(cls, asset, value, when):
        return cls(asset, value, when).signed(oracle_seed, dom)

    mm = traders["maker"]
    submit(order("maker", PERP, SELL, 2_000, 2_010))
    submit(order("maker", PERP, BUY, 2_000, 1_990))
    submit(order("maker", CALL, SELL, 500, 125))
    r_alice = submit(order("alice", PERP, BUY, 1_500, 2_020))  # a 6x long
    r_bob = submit(order("bob", CALL, BUY, 100, 130))
    r_carol = submit(order("carol", PERP, SELL, 500, 1_980))
    fills = len(r_alice.fills) + len(r_bob.fills) + len(r_carol.fills)
    check(fills == 3, "three trades: alice and carol against the maker's perp quotes, bob "
                      "buys calls")
    log(f"trading: alice long {seq.state.account(traders['alice'].account).balance(PERP):,} "
        f"perp, bob long {seq.state.account(traders['bob'].account).balance(CALL)} calls, "
        f"carol short {-seq.state.account(traders['carol'].account).balance(PERP)} perp")
    t1 = t0 + 600
    # -10%: maintenance is half the initial requirement, 8% of the notional
    submit(oracle_msg(OracleUpdate, PERP, 1_800, t1))
    for a, dv in changed_rows(seq.state).items():  # the feeder's rows at the new price
        for chunk in scenario_chunks(a, t1, dv):
            submit(chunk.signed(oracle_seed, dom))
    submit(oracle_msg(FundingTick, PERP, 3, t1 + 1))  # longs pay shorts 3 per unit
    alice = traders["alice"]
    liq = [int(i) for i in MarginMatrix(seq.state).scan()]
    check(alice.account in liq, "alice is below maintenance after the price drop")
    size = seq.state.account(alice.account).balance(PERP) // 2
    submit(Liquidation(mm.account, alice.account, PERP, size, seq.state.account(
        mm.account).nonce, far).signed(mm.seed, dom))
    log(f"oracle: perp 2,000 -> 1,800, funding 3/unit; alice liquidated {size:,} units by the "
        "maker")
    bob = traders["bob"]
    wd_amount = 500_000
    submit(Withdrawal(bob.account, wd_amount, int(bob.l1, 16), 0, far).signed(bob.seed, dom))

    # -- 6. batches ---------------------------------------------------------------------------
    plan = plan_batches(_at_genesis(seq, genesis, cfg), requests, slots=cfg.slots,
                        l1_slots=cfg.l1_slots)
    replay = _at_genesis(seq, genesis, cfg)
    replay.domain = dom
    qpos, qhash = 0, ZERO32
    for number, reqs in enumerate(plan, start=1):
        pre = replay.clone()
        for r in reqs:
            replay.apply_verified(r)
        n_dep = sum(isinstance(r, Deposit) for r in reqs)
        t = time.perf_counter()
        batch = build_batch(pre, reqs, slots=cfg.slots, batch_number=number,
                            queue=entries[qpos:qpos + n_dep], queue_before=qhash,
                            l1_slots=cfg.l1_slots, assets=DEMO_ASSETS,
                            underlyings=DEMO_UNDERLYINGS)
        witness = batch_cs.witness(batch_cs.solve(batch.values))
        t_wit = time.perf_counter() - t
        t = time.perf_counter()
        res = prove(bk.zkey, witness)
        t_prove = time.perf_counter() - t
        check(res.public_signals[0] == batch.public_input, f"batch {number}: public input")
        tx = rollup.submit_batch(number, batch.old_root.to_bytes(32, "big"),
                                 batch.new_root.to_bytes(32, "big"), qpos + n_dep,
                                 batch.public_data, proof_evm(res.proof), sender=operator,
                                 gas=3_000_000)
        qpos += n_dep
        qhash = batch.queue_after
        onchain = rollup.state()
        check(onchain.batch_number == number and int.from_bytes(onchain.state_root, "big")
              == batch.new_root, f"batch {number} finalized on chain")
        kinds = sorted({type(r).__name__ for r in reqs})
        s.batches.append({"batch": number, "records": len(batch.records),
                          "requests": kinds, "old_root": hex(batch.old_root),
                          "new_root": hex(batch.new_root), "witness_seconds": round(t_wit, 2),
                          "proving_seconds": round(t_prove, 2), "gas": tx.gas_used,
                          "public_data_bytes": len(batch.public_data)})
        log(f"batch {number}: {len(batch.records)} records ({', '.join(kinds)}), witness "
            f"{t_wit:.1f} s, proof {t_prove:.1f} s, submitBatch {tx.gas_used:,} gas")
    check(replay.state.root == seq.state.root, "the batches end at the engine's root")
    pending = rollup.pending(bob.l1, ASSET_TOKEN)
    check(pending == wd_amount, "bob's withdrawal is credited on L1")
    before = call(token.functions.balanceOf(bob.l1))
    rollup.withdraw(ASSET_TOKEN, sender=bob.l1)
    check(call(token.functions.balanceOf(bob.l1)) - before == wd_amount,
          "bob collects exactly his withdrawal")
    log(f"withdrawal: bob collected {wd_amount:,} on L1")

    # -- 7. the operator disappears -------------------------------------------------------------
    carol = traders["carol"]
    rollup.request_forced_withdrawal(carol.account, ASSET_TOKEN, 0, private_key=carol.seed,
                                     sender=carol.l1)
    chain.increase_time(cfg.deadline + 60)
    rollup.activate_exodus(sender=carol.l1)
    check(rollup.state().exodus, "exodus is active after the forced withdrawal's deadline")
    log("operator gone: carol's forced withdrawal timed out, exodus activated")
    t = time.perf_counter()
    state = recover(rollup, genesis_records, cfg.depth)
    check(state.root == seq.state.root, "recovery from L1 data gives the last finalized root")
    s.events.append({"step": "recover", "root": hex(state.root),
                     "seconds": round(time.perf_counter() - t, 2)})
    log(f"recovery: state rebuilt from genesis + {len(plan)} batches' calldata, root matches")
    exit_cs = exit_circuit(cfg.depth)
    paid_total = 0
    owners = {t.account: t for t in traders.values()}
    for acc_id in sorted(state.accounts):
        if acc_id == FEE_ACCOUNT:
            continue
        t = owners[acc_id]
        value = max(account_value(state, state.account(acc_id)), 0)
        claim = exit_inputs(state, dom, acc_id, int(t.l1, 16),
                            sign_exit(t.seed, dom, acc_id, int(t.l1, 16)))
        check(claim.token_amount == value, f"{t.name}'s exit claims its value")
        tp = time.perf_counter()
        res = prove(ek.zkey, exit_cs.witness(exit_cs.solve(claim.values)))
        t_exit = time.perf_counter() - tp
        tx = rollup.exit(acc_id, t.l1, 0, claim.token_amount, proof_evm(res.proof),
                         sender=t.l1)
        before = call(token.functions.balanceOf(t.l1))
        rollup.withdraw(ASSET_TOKEN, sender=t.l1)
        got = call(token.functions.balanceOf(t.l1)) - before
        check(got == value, f"{t.name} is paid exactly its value")
        paid_total += got
        s.exits.append({"account": acc_id, "trader": t.name, "amount": got,
                        "proving_seconds": round(t_exit, 2), "gas": tx.gas_used})
        log(f"exit: {t.name} #{acc_id} paid {got:,} (proof {t_exit:.1f} s, {tx.gas_used:,} gas)")
    fee_value = account_value(state, state.account(FEE_ACCOUNT))
    left = call(token.functions.balanceOf(rollup.address))
    check(left == fee_value, "what stays in the contract is exactly the fee account's value")
    deposited = sum(funds.values())
    check(paid_total + wd_amount + fee_value == deposited,
          "conservation: exits + withdrawal + fees == deposits")
    s.seconds = round(time.perf_counter() - t_start, 1)
    return s


def _at_genesis(seq, genesis, cfg):
    """A sequencer holding only the genesis state (what batch 1 starts from)."""
    g = Sequencer(State(account_depth=cfg.depth), seq.domain)
    for req in genesis:
        g.apply_verified(req)
    g.records.clear()
    return g
