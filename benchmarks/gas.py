"""Gas of the settlement contracts with real proofs: submitBatch with proven 1-slot (and 2-slot)
batches, the batch verifier alone, deposits, a withdrawal, the exodus path and an exit; and
(``--per-trade``) gas per finalized trade of full batches of trades at each batch size, proven
under a stand-in key (the verifier's gas does not depend on its key).

Per slot count: development keys (cached, `rollup.devkeys`), a fresh chain (Anvil by default),
the devnet deployment (`rollup.chain.devnet`), and a short history proven with our prover:
genesis with one funded account; an L1 token deposit; batch 1 consumes it (1 slot: the deposit
alone, then batch 2 a withdrawal; 2 slots: the deposit and a withdrawal together); the withdrawer
collects; then on the 1-slot chain a forced withdrawal is left unprocessed, exodus opens and an
account exits with an exit-circuit proof. Every record carries gasUsed and its split: 21,000
base, calldata (EIP-2028 4/16 per byte) and execution.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from benchmarks.common import print_table, write_json

DEPTH = 4
DEADLINE = 3600
SEEDS = {"alice": b"gas-alice".ljust(32, b"\0"), "bob": b"gas-bob".ljust(32, b"\0")}


def _record(records: list[dict], chain_kind: str, op: str, res, **extra) -> None:
    rec = {"op": op, "chain": chain_kind, "gas_used": res.gas_used,
           "calldata_bytes": len(res.calldata), "calldata_gas": res.calldata_gas,
           "execution_gas": res.execution_gas, **extra}
    records.append(rec)
    print(json.dumps(rec), flush=True)


def _open(chain_kind: str):
    from rollup.chain import node

    if chain_kind == "anvil":
        return node.anvil()
    return node.embedded(mnemonic=node.ANVIL_MNEMONIC)


def run_slots(slots: int, chain_kind: str, cache: Path, records: list[dict], log,
              with_exit: bool) -> None:
    from circuits import eddsa_public_key
    from circuits.babyjubjub import pack_point
    from rollup.chain.contracts import transact
    from rollup.chain.devnet import deploy_devnet, devnet_rollup_address
    from rollup.chain.layout import (
        ASSET_ETH,
        ASSET_TOKEN,
        DEFAULT_QUEUE_FEE,
        DEFAULT_QUEUE_SPACING,
        KIND_DEPOSIT,
        QueueEntry,
    )
    from rollup.devkeys import dev_keys, prove_for_chain
    from rollup.engine.sequencer import Sequencer
    from rollup.settlement.batch import build_batch
    from rollup.state.state import State
    from rollup.transactions import Deposit, Domain, Withdrawal

    t0 = time.perf_counter()
    bkeys = dev_keys("batch", slots=slots, depth=DEPTH, cache=cache, on_setup=log)
    ekeys = dev_keys("exit", depth=DEPTH, cache=cache, on_setup=log) if with_exit else None
    log(f"{slots} slot(s): keys in {time.perf_counter() - t0:.1f} s "
        f"({bkeys.n_constraints:,} constraints)")
    chain = _open(chain_kind)
    try:
        acc = chain.accounts
        operator, alice, bob, carol = acc[:4]
        dom = Domain(chain.w3.eth.chain_id, int(devnet_rollup_address(operator), 16))
        pks = {n: eddsa_public_key(s) for n, s in SEEDS.items()}
        seq = Sequencer(State(account_depth=DEPTH), dom)
        seq.submit(Deposit(0, pks["bob"], 0))  # the fee account
        seq.submit(Deposit(1, pks["bob"], 1_000))
        d = deploy_devnet(chain, batch_vk=bkeys.vk,
                          exit_vk=(ekeys or bkeys).vk, genesis_root=seq.state.root,
                          priority_deadline=DEADLINE, first_account_id=2,
                          account_limit=1 << DEPTH, accounts_depth=DEPTH,
                          genesis_collateral=1_000,  # backs bob's genesis balance
                          queue_fee=DEFAULT_QUEUE_FEE, queue_spacing=DEFAULT_QUEUE_SPACING)
        r, tok = d.rollup, d.token.functions
        transact(chain, tok.mint(alice, 10**9))
        transact(chain, tok.approve(r.address, 2**256 - 1), sender=alice)
        key = pack_point(pks["alice"])
        _record(records, chain.kind, "depositToken (first)", r.deposit_token(key, 5_000,
                                                                             sender=alice))
        entry = QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, 2, alice, 5_000, key)
        deposit = Deposit(2, pks["alice"], 5_000)
        withdrawal = Withdrawal(2, 1_500, int(alice, 16), 0, 10**9).signed(SEEDS["alice"], dom)
        plan = [([deposit], [entry], "deposit"), ([withdrawal], [], "withdrawal")] if slots == 1 \
            else [([deposit, withdrawal], [entry], "deposit + withdrawal")]
        queue_before, consumed = bytes(32), 0
        for number, (reqs, queue, what) in enumerate(plan, start=1):
            pre = seq.clone()
            for q in reqs:
                seq.submit(q)
            t = time.perf_counter()
            b = build_batch(pre, reqs, slots=slots, batch_number=number, queue=queue,
                            queue_before=queue_before)
            proof = prove_for_chain(bkeys, b.circuit(), b.public_input)
            log(f"{slots} slot(s): batch {number} ({what}) witness and proof in "
                f"{time.perf_counter() - t:.1f} s")
            consumed += b.queue_consumed
            if number == 1:  # the verifier alone, same proof and input
                fn = d.batch_verifier.functions.verifyProof(proof, b.public_input)
                _record(records, chain.kind, "Groth16Verifier.verifyProof (1 input)",
                        transact(chain, fn, gas=1_000_000), slots=slots)
            res = r.submit_batch(number, b.old_root.to_bytes(32, "big"),
                                 b.new_root.to_bytes(32, "big"), consumed, b.public_data, proof,
                                 sender=operator)
            _record(records, chain.kind, f"submitBatch {slots}-slot ({what})", res, slots=slots,
                    public_data_bytes=len(b.public_data), constraints=bkeys.n_constraints)
            queue_before = b.queue_after
        assert r.state().state_root == seq.state.root.to_bytes(32, "big")
        _record(records, chain.kind, "withdraw (token)", r.withdraw(ASSET_TOKEN, sender=alice))
        if not with_exit:
            return
        _record(records, chain.kind, "depositToken", r.deposit_token(key, 100, sender=alice))
        _record(records, chain.kind, "depositEth", r.deposit_eth(key, 10**15, sender=carol))
        _record(records, chain.kind, "requestForcedWithdrawal",
                r.request_forced_withdrawal(2, ASSET_TOKEN, 5, private_key=SEEDS["alice"],
                                            sender=alice))
        chain.increase_time(DEADLINE + 1)
        _record(records, chain.kind, "activateExodus", r.activate_exodus(sender=carol))
        from rollup.recovery.exit import exit_circuit, exit_inputs, sign_exit

        t = time.perf_counter()
        claim = exit_inputs(seq.state, dom, 2, int(alice, 16),
                            sign_exit(SEEDS["alice"], dom, 2, int(alice, 16)))
        proof = prove_for_chain(ekeys, exit_circuit(seq.state, claim), claim.public_input)
        log(f"exit witness and proof in {time.perf_counter() - t:.1f} s")
        _record(records, chain.kind, "exit", r.exit(2, alice, 0, claim.token_amount, proof,
                                                    sender=carol),
                constraints=ekeys.n_constraints)
        _record(records, chain.kind, "withdraw (token, after exit)",
                r.withdraw(ASSET_TOKEN, sender=alice))
        _record(records, chain.kind, "refundDeposit (ETH)", r.refund_deposit(
            2, QueueEntry(KIND_DEPOSIT, ASSET_ETH, 0, carol, 10**15, key), sender=carol))
    finally:
        chain.close()


def run(slots: list[int], chain_kind: str = "anvil", cache: str | os.PathLike | None = None,
        json_path: str | os.PathLike | None = None, log=print) -> list[dict]:
    cache = Path(cache or Path.home() / ".cache" / "zkderiv" / "keys").expanduser()
    records: list[dict] = []
    for i, n in enumerate(slots):
        run_slots(n, chain_kind, cache, records, log, with_exit=i == 0)
    write_json(records, json_path)
    return records


def main(slots: list[int], chain_kind: str, cache: str | None, json_path: str | None) -> None:
    records = run(slots, chain_kind, cache, json_path)
    print_table(f"gas on {chain_kind} (real proofs, accounts depth {DEPTH})", records,
                [("op", "operation"), ("gas_used", "gasUsed"), ("calldata_bytes", "calldata B"),
                 ("calldata_gas", "calldata gas"), ("execution_gas", "execution gas")])


# --- gas per trade at each batch size ---------------------------------------------------------

def _standin_key():
    """A one-input key whose proofs verify for any public input (the input is in no
    constraint: w * w = w2 only). The contract's gas does not depend on the key (a 1-input
    Groth16Verifier costs the same for every key), so it stands in for a batch circuit's key
    whose setup would take minutes and gigabytes at 64 slots."""
    from prover.formats.r1cs import R1CS
    from prover.groth16.keys import verification_key
    from prover.groth16.setup import dev_setup

    r1 = R1CS.from_constraints([({2: 1}, {2: 1}, {3: 1})], n_wires=4, n_pub_out=1, n_pub_in=0,
                               n_prv_in=1)
    z = dev_setup(r1)
    return z, verification_key(z)


def _trading_batch(slots: int, l1_slots: int, depth: int, seed: int = 7):
    """A venue (rollup.engine.testnet) and the first full batch of a stream of trades between
    many accounts, sizes and prices drawn at random: (Batch, trades in it)."""
    import random

    from rollup.engine import testnet as tn
    from rollup.settlement.batch import build_batch, plan_batches
    from rollup.transactions import BUY, POST_ONLY, SELL, Order

    rng = random.Random(seed)
    n_acc = 2 * slots
    seq = tn.venue(n_accounts=n_acc, depth=depth, shared_key=True)
    pre = seq.clone()
    reqs, oid = [], 0
    for _ in range(slots + 2):  # a trade per slot, and some left over
        maker, taker = rng.sample(range(1, n_acc + 1), 2)
        size, price = rng.randint(1, 5_000), tn.PERP_PRICE + rng.randint(-3_000, 3_000)
        for acc, side, flags in ((maker, SELL, POST_ONLY), (taker, BUY, 0)):
            oid += 1
            o = Order(acc, tn.PERP, side, size, price, oid, tn.FAR, flags).signed(tn.key(1),
                                                                                   tn.DOMAIN)
            seq.submit(o)
            reqs.append(o)
    first = plan_batches(pre, reqs, slots=slots, l1_slots=l1_slots, first_only=True)[0]
    b = build_batch(pre, first, slots=slots, l1_slots=l1_slots, batch_number=1)
    return b, sum(1 for r in first if r.side == BUY)


def run_per_trade(slots_list: list[int], chain_kind: str, records: list[dict], log,
                  l1_slots: int = 4, depth: int = 16) -> None:
    """submitBatch of a full batch of trades at each size, on a single-shape deployment whose
    verifier holds a stand-in key (``_standin_key``): real public data, calldata priced."""
    from prover.groth16.prove import prove
    from rollup.chain.contracts import deploy
    from rollup.chain.rollup import RollupClient
    from rollup.chain.verifier import deploy_verifier, proof_evm

    zkey, vk = _standin_key()
    chain = _open(chain_kind)
    try:
        verifier = deploy_verifier(chain, vk).address
        token = deploy(chain, "TestToken").address
        for slots in slots_list:
            t = time.perf_counter()
            b, trades = _trading_batch(slots, min(l1_slots, slots), depth)
            log(f"{slots} slots: {trades} trades built in {time.perf_counter() - t:.1f} s")
            r = RollupClient.deploy(chain, batch_verifier=verifier, exit_verifier=verifier,
                                    token=token, operator=chain.accounts[0],
                                    genesis_root=b.old_root.to_bytes(32, "big"),
                                    priority_deadline=DEADLINE, accounts_depth=depth,
                                    account_limit=1 << depth)
            old, new = b.old_root.to_bytes(32, "big"), b.new_root.to_bytes(32, "big")
            x = r.public_input(1, old, new, 0, b.public_data)
            res = prove(zkey, [1, x, 5, 25])
            out = r.submit_batch(1, old, new, 0, b.public_data, proof_evm(res.proof),
                                 sender=chain.accounts[0])
            _record(records, chain.kind, f"submitBatch {slots}-slot (trades)", out,
                    slots=slots, l1_slots=min(l1_slots, slots), trades=trades,
                    public_data_bytes=len(b.public_data),
                    gas_per_trade=round(out.gas_used / trades),
                    calldata_gas_per_trade=round(out.calldata_gas / trades),
                    key="stand-in (a 1-input verifier costs the same for any key)")
    finally:
        chain.close()


def main_per_trade(slots: list[int], chain_kind: str, json_path: str | None) -> list[dict]:
    records: list[dict] = []
    run_per_trade(slots, chain_kind, records, log=lambda m: print(m, flush=True))
    write_json(records, json_path)
    print_table(f"gas per trade on {chain_kind} (full batches of trades, 4 L1 slots)", records,
                [("slots", "slots"), ("gas_used", "gasUsed"), ("calldata_gas", "calldata gas"),
                 ("execution_gas", "execution gas"), ("gas_per_trade", "gas/trade")])
    return records
