"""Rollup.sol on py-evm and on Anvil, with a stand-in circuit whose one public input we choose.

The stand-in verification key serves as both the batch and the exit verifier: it proves any
public input, so these tests exercise the contract's own checks (public-input recomputation,
queue prefix, batch order, roots, payouts, exodus), not a circuit's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from web3.logs import DISCARD

from circuits.babyjubjub import pack_point
from circuits.eddsa import eddsa_public_key
from rollup.chain import layout
from rollup.chain.contracts import call, deploy, transact
from rollup.chain.errors import ContractRevert
from rollup.chain.layout import ASSET_ETH, ASSET_TOKEN, QueueEntry, Withdrawal
from rollup.chain.rollup import RollupClient
from rollup.chain.verifier import deploy_verifier, proof_evm
from tests.support.contracts import record_gas
from tests.support.snark import needs_node

DEADLINE = 3 * 24 * 3600
GENESIS = b"\x11" * 32
ETH = 10**18
SK = [bytes([7 + i]) * 32 for i in range(3)]  # L2 keys of the three users
PK = [eddsa_public_key(k) for k in SK]
KEY = [pack_point(p) for p in PK]


def root(i: int) -> bytes:
    return i.to_bytes(32, "big")


@pytest.fixture(scope="module")
def verifier(chain, standin):  # noqa: F811
    return deploy_verifier(chain, standin.vk).address


@dataclass
class World:
    chain: object
    rollup: RollupClient
    token: object
    standin: object
    op: str
    users: list[str]

    def prove(self, x: int) -> list[int]:
        proof, _ = self.standin.prove({"x": x, "w": 5})
        return proof_evm(proof)

    def batch_args(self, new_root: bytes, queue_after: int | None = None, withdrawals=(),
                   diff: bytes = b"", number: int | None = None, old_root: bytes | None = None):
        st = self.rollup.state()
        number = st.batch_number + 1 if number is None else number
        old_root = st.state_root if old_root is None else old_root
        queue_after = st.queue_consumed if queue_after is None else queue_after
        data = layout.encode_public_data(list(withdrawals), diff)
        x = self.rollup.public_input(number, old_root, new_root, queue_after, data)
        return number, old_root, new_root, queue_after, data, self.prove(x)

    def submit(self, *args, sender=None):
        return self.rollup.submit_batch(*args, sender=sender or self.op)


@pytest.fixture
def world(chain, standin, verifier):  # noqa: F811
    acc = chain.accounts
    token = deploy(chain, "TestToken")
    rollup = RollupClient.deploy(chain, batch_verifier=verifier, exit_verifier=verifier,
                                 token=token.address, operator=acc[0], genesis_root=GENESIS,
                                 priority_deadline=DEADLINE)
    for u in acc[1:4]:
        transact(chain, token.functions.mint(u, 10**12))
        transact(chain, token.functions.approve(rollup.address, 2**256 - 1), sender=u)
    return World(chain, rollup, token, standin, acc[0], acc[1:4])


def revert_name(fn, *a, **k) -> str:
    with pytest.raises(ContractRevert) as ei:
        fn(*a, **k)
    return ei.value.name


# --- layout: Python and Solidity agree --------------------------------------------------------

def test_public_input_layout_matches_contract(chain, verifier):  # noqa: F811
    token = deploy(chain, "TestToken")
    r = RollupClient.deploy(chain, batch_verifier=verifier, exit_verifier=verifier,
                            token=token.address, operator=chain.accounts[0],
                            genesis_root=GENESIS, priority_deadline=DEADLINE)
    data = layout.encode_public_data([Withdrawal(7, 1, chain.accounts[2], 12345)], b"\xab" * 77)
    qb, qa = b"\x01" * 32, b"\x02" * 32
    want = layout.batch_public_input(chain.w3.eth.chain_id, r.address, 5, root(1), root(2), qb,
                                     qa, data)
    assert call(r.f.batchPublicInput(5, root(1), root(2), qb, qa, data)) == want
    assert want < 2**253
    want = layout.exit_public_input(GENESIS, chain.w3.eth.chain_id, r.address, 9,
                                    chain.accounts[3], 10, 20)
    assert call(r.f.exitPublicInput(9, chain.accounts[3], 10, 20)) == want
    m = layout.forced_withdrawal_message(chain.w3.eth.chain_id, r.address, 9, 1, 10**20,
                                         chain.accounts[3], 5)
    assert call(r.f.forcedWithdrawalMessage(9, 1, 10**20, chain.accounts[3], 5)) == m
    for pk in [*PK, (1, 2), (r_field() - 1, 0)]:
        assert bytes(call(r.f.packKey(*pk))) == pack_point(pk)


def r_field() -> int:
    return layout.FIELD


# --- deposits and the queue -------------------------------------------------------------------

@needs_node
def test_deposits_build_the_hash_chain(world):
    r, u = world.rollup, world.users
    key, key2 = KEY[0], b"\x43" * 32
    t1 = r.deposit_eth(key, ETH, sender=u[0])  # a new key: account 1
    t2 = r.deposit_token(key, 5_000_000, sender=u[1])  # the same key: still account 1
    t3 = r.request_forced_withdrawal(1, ASSET_TOKEN, 7, private_key=SK[0], sender=u[0])
    record_gas(world.chain.kind, "deposit_eth_first", t1.gas_used)
    record_gas(world.chain.kind, "deposit_token", t2.gas_used)
    record_gas(world.chain.kind, "request_forced_withdrawal", t3.gas_used)
    t4 = r.deposit_eth(key2, ETH, sender=u[2])
    record_gas(world.chain.kind, "deposit_eth", t4.gas_used)
    entries = [QueueEntry(1, ASSET_ETH, 1, u[0], ETH, key),
               QueueEntry(1, ASSET_TOKEN, 1, u[1], 5_000_000, key),
               QueueEntry(2, ASSET_TOKEN, 1, u[0], 7, key),
               QueueEntry(1, ASSET_ETH, 2, u[2], ETH, key2)]
    chain_hashes = layout.queue_chain(entries)
    assert [r.queue_hash(i) for i in range(5)] == chain_hashes
    assert (r.account_of(key), r.account_of(key2), r.account_of(b"\x44" * 32)) == (1, 2, 0)
    st = r.state()
    assert (st.queue_length, st.queue_consumed) == (4, 0)
    ev = r.contract.events.PriorityRequest().process_receipt(t3.receipt, errors=DISCARD)[0]["args"]
    assert (ev["index"], ev["kind"], ev["accountId"], bytes(ev["queueHash"])) == (
        2, 2, 1, chain_hashes[3])
    assert ev["deadline"] == world.chain.w3.eth.get_block(t3.receipt.blockNumber)["timestamp"] \
        + DEADLINE
    assert call(world.token.functions.balanceOf(r.address)) == 5_000_000
    assert revert_name(r.deposit_eth, key, 0, sender=u[0]) == "DepositTooSmall"
    assert revert_name(r.deposit_eth, key, 2**64, sender=u[0]) == "AmountTooLarge"
    assert revert_name(r.request_forced_withdrawal, 1, 2, 0, private_key=SK[0],
                       sender=u[0]) == "UnknownAsset"
    assert r.state().queue_length == 4


# --- batches ------------------------------------------------------------------------------------

@needs_node
def test_batch_finalizes_and_bad_batches_are_rejected(world):
    r, u = world.rollup, world.users
    r.deposit_eth(b"\x01" * 32, 3 * ETH, sender=u[0])
    r.deposit_eth(b"\x02" * 32, ETH, sender=u[1])
    wd = [Withdrawal(3, ASSET_ETH, u[2], ETH // 2)]
    args = world.batch_args(root(1), queue_after=1, withdrawals=wd, diff=b"\x07" * 50)
    # not the operator
    assert revert_name(world.submit, *args, sender=u[0]) == "NotOperator"
    # queue consumption beyond what is queued
    bad = world.batch_args(root(1), queue_after=3)
    assert revert_name(world.submit, *bad) == "QueueCountOutOfRange"
    t = time.perf_counter()
    res = world.submit(*args)
    record_gas(world.chain.kind, "submit_batch_seconds", round(time.perf_counter() - t, 3))
    st = r.state()
    assert (st.state_root, st.batch_number, st.queue_consumed) == (root(1), 1, 1)
    assert r.pending(u[2], ASSET_ETH) == ETH // 2
    ev = r.contract.events.BatchFinalized().process_receipt(res.receipt, errors=DISCARD)[0]["args"]
    assert ev["batchNumber"] == 1 and bytes(ev["newRoot"]) == root(1)
    assert bytes(ev["queueHash"]) == r.queue_hash(1)
    # replay of the same batch
    assert revert_name(world.submit, *args) == "WrongBatchNumber"
    # wrong old root (proof made for it, so only the root check can refuse it)
    bad = world.batch_args(root(2), old_root=root(9))
    assert revert_name(world.submit, *bad) == "WrongOldRoot"
    # wrong batch number
    bad = world.batch_args(root(2), number=3)
    assert revert_name(world.submit, *bad) == "WrongBatchNumber"
    # a proof for another batch: a valid proof of batch 2's input with another new root
    good = world.batch_args(root(2), queue_after=2)
    assert revert_name(world.submit, good[0], good[1], root(3), *good[3:]) == "InvalidProof"
    # same batch, different queue consumption or public data: the proof no longer matches
    assert revert_name(world.submit, *good[:3], 1, *good[4:]) == "InvalidProof"
    assert revert_name(world.submit, *good[:4], good[4] + b"\x00", good[5]) == "InvalidProof"
    # a proof element flipped
    p = list(good[5])
    p[6] ^= 1
    assert revert_name(world.submit, *good[:5], p) == "InvalidProof"
    world.submit(*good)
    st = r.state()
    assert (st.state_root, st.batch_number, st.queue_consumed) == (root(2), 2, 2)


@needs_node
def test_public_data_must_hold_its_records(world):
    args = list(world.batch_args(root(1)))
    # count says 2 records but the data holds none: the contract refuses to read past the end
    data = (2).to_bytes(4, "big") + b"\x00" * 10
    x = world.rollup.public_input(args[0], args[1], args[2], args[3], data)
    args[4], args[5] = data, world.prove(x)
    assert revert_name(world.submit, *args) == "PublicDataMalformed"


@needs_node
def test_batch_gas_fixed_and_per_byte(world):
    """submitBatch gas at several public-data sizes; fixed part and slope by least squares."""
    u = world.users
    world.submit(*world.batch_args(root(9)))  # warm-up: first writes of the counters slot
    sizes, gases = [], []
    for i, n in enumerate((0, 1000, 4000)):
        res = world.submit(*world.batch_args(root(10 + i), diff=bytes(range(256)) * (n // 256)
                                             + b"\x01" * (n % 256)))
        sizes.append(4 + n)
        gases.append(res.gas_used)
    slope = (gases[2] - gases[0]) / (sizes[2] - sizes[0])
    record_gas(world.chain.kind, "submit_batch_total_by_public_data_bytes",
               dict(zip(sizes, gases, strict=True)))
    record_gas(world.chain.kind, "submit_batch_fixed", gases[0])
    record_gas(world.chain.kind, "submit_batch_per_public_data_byte", round(slope, 2))
    # per withdrawal record (41 bytes + a new balance slot + an event)
    res1 = world.submit(*world.batch_args(root(20), withdrawals=[
        Withdrawal(1, ASSET_ETH, u[0], 1)]))
    res5 = world.submit(*world.batch_args(root(21), withdrawals=[
        Withdrawal(i, ASSET_TOKEN, world.chain.accounts[5 + i], 1) for i in range(5)]))
    record_gas(world.chain.kind, "submit_batch_per_withdrawal_new_slot",
               (res5.gas_used - res1.gas_used) // 4)
    assert gases[0] < 300_000


# --- payouts ----------------------------------------------------------------------------------

@needs_node
def test_withdraw_eth_and_token(world):
    r, u, w3 = world.rollup, world.users, world.chain.w3
    r.deposit_eth(b"\x01" * 32, 2 * ETH, sender=u[0])
    r.deposit_token(b"\x01" * 32, 700, sender=u[0])
    world.submit(*world.batch_args(root(1), queue_after=2, withdrawals=[
        Withdrawal(1, ASSET_ETH, u[1], ETH), Withdrawal(1, ASSET_TOKEN, u[1], 300)]))
    before = w3.eth.get_balance(u[1])
    res = r.withdraw(ASSET_ETH, sender=u[1])
    fee = res.gas_used * res.receipt.effectiveGasPrice
    assert w3.eth.get_balance(u[1]) == before + ETH - fee
    record_gas(world.chain.kind, "withdraw_eth", res.gas_used)
    tb = call(world.token.functions.balanceOf(u[1]))
    res = r.withdraw(ASSET_TOKEN, sender=u[1])
    record_gas(world.chain.kind, "withdraw_token", res.gas_used)
    assert call(world.token.functions.balanceOf(u[1])) == tb + 300
    assert r.pending(u[1], ASSET_ETH) == r.pending(u[1], ASSET_TOKEN) == 0
    assert revert_name(r.withdraw, ASSET_ETH, sender=u[1]) == "NothingToWithdraw"
    assert revert_name(r.withdraw, 5, sender=u[1]) == "UnknownAsset"


@needs_node
def test_reentrant_withdraw_fails(world):
    r, u, w3 = world.rollup, world.users, world.chain.w3
    attacker = deploy(world.chain, "ReentrantReceiver", r.address)
    r.deposit_eth(b"\x01" * 32, 5 * ETH, sender=u[0])
    world.submit(*world.batch_args(root(1), queue_after=1, withdrawals=[
        Withdrawal(9, ASSET_ETH, attacker.address, ETH)]))
    # re-entry propagates: the whole withdrawal reverts, nothing moves
    assert revert_name(transact, world.chain, attacker.functions.attack(),
                       gas=300_000) == "TransferFailed"
    assert r.pending(attacker.address, ASSET_ETH) == ETH
    assert w3.eth.get_balance(r.address) == 5 * ETH
    # re-entry swallowed: paid exactly once, the inner withdraw was refused
    transact(world.chain, attacker.functions.setSwallow(True))
    transact(world.chain, attacker.functions.attack(), gas=300_000)
    assert w3.eth.get_balance(attacker.address) == ETH
    assert w3.eth.get_balance(r.address) == 4 * ETH
    assert call(attacker.functions.reentryFailures()) == 1
    assert r.pending(attacker.address, ASSET_ETH) == 0


# --- the escape hatch ---------------------------------------------------------------------------

@needs_node
def test_exodus_story(world):
    r, u, ch, w3 = world.rollup, world.users, world.chain, world.chain.w3
    # two accounts funded and proven into a root by batch 1
    r.deposit_eth(b"\x0a" * 32, 4 * ETH, sender=u[0])
    r.deposit_token(b"\x0b" * 32, 9_000, sender=u[1])
    world.submit(*world.batch_args(root(5), queue_after=2))
    # a deposit the operator never processes, then the forced request it ignores
    r.deposit_eth(b"\x0c" * 32, ETH, sender=u[2])
    r.request_forced_withdrawal(1, ASSET_ETH, 0, private_key=SK[0], sender=u[0])
    assert revert_name(r.activate_exodus, sender=u[1]) == "NotOverdue"
    assert revert_name(r.exit, 1, u[0], 1, 0, world.prove(1), sender=u[0]) == "NotInExodus"
    ch.increase_time(DEADLINE + 10)
    # the operator is gone; anyone may switch to exodus
    res = r.activate_exodus(sender=u[2])
    record_gas(ch.kind, "activate_exodus", res.gas_used)
    assert r.state().exodus
    ev = r.contract.events.ExodusActivated().process_receipt(res.receipt, errors=DISCARD)[0]["args"]
    assert (ev["lastBatch"], bytes(ev["stateRoot"]), ev["overdueIndex"]) == (1, root(5), 2)
    assert revert_name(r.activate_exodus, sender=u[2]) == "ExodusActive"
    # no batch and no request after exodus
    assert revert_name(world.submit, *world.batch_args(root(6), queue_after=4)) == "ExodusActive"
    assert revert_name(r.deposit_eth, b"\x01" * 32, ETH, sender=u[0]) == "ExodusActive"
    # each account exits once, with exactly its value in the last root
    accounts = {1: (u[0], 4 * ETH, 0), 2: (u[1], 0, 9_000)}
    for acc_id, (owner, eth, tok) in accounts.items():
        x = layout.exit_public_input(root(5), ch.w3.eth.chain_id, r.address, acc_id, owner,
                                     eth, tok)
        proof = world.prove(x)
        # a proof of another amount is refused
        assert revert_name(r.exit, acc_id, owner, eth + 1, tok, proof, sender=u[2]) \
            == "InvalidProof"
        res = r.exit(acc_id, owner, eth, tok, proof, sender=u[2])
        record_gas(ch.kind, "exit", res.gas_used)
        assert revert_name(r.exit, acc_id, owner, eth, tok, proof, sender=u[2]) \
            == "AlreadyExited"
    # the unprocessed deposit goes back to its depositor; only once, only as it was queued
    entry = QueueEntry(1, ASSET_ETH, 0, u[2], ETH, b"\x0c" * 32)
    fake = QueueEntry(1, ASSET_ETH, 0, u[2], 2 * ETH, b"\x0c" * 32)
    assert revert_name(r.refund_deposit, 2, fake, sender=u[2]) == "NotARefundableDeposit"
    assert revert_name(r.refund_deposit, 0, QueueEntry(1, ASSET_ETH, 0, u[0], 4 * ETH,
                                                       b"\x0a" * 32), sender=u[2]) \
        == "NotARefundableDeposit"  # consumed by batch 1: its value is in the root
    r.refund_deposit(2, entry, sender=u[1])
    assert revert_name(r.refund_deposit, 2, entry, sender=u[2]) == "NotARefundableDeposit"
    # payouts: everybody gets exactly their value and the contract ends empty
    r.withdraw(ASSET_ETH, sender=u[0])
    r.withdraw(ASSET_TOKEN, sender=u[1])
    r.withdraw(ASSET_ETH, sender=u[2])
    assert w3.eth.get_balance(r.address) == 0
    assert call(world.token.functions.balanceOf(r.address)) == 0
    assert call(world.token.functions.balanceOf(u[1])) == 10**12


def test_no_admin_functions():
    """Every state-changing entry point is a user action, the operator's submitBatch, or
    permissionless exodus logic: nothing that sends funds anywhere a proof or queue entry does
    not name."""
    from rollup.chain.artifacts import load

    writes = sorted(e["name"] for e in load("Rollup").abi
                    if e["type"] == "function" and e["stateMutability"] in ("nonpayable",
                                                                             "payable"))
    assert writes == ["activateExodus", "depositEth", "depositToken", "exit", "refundDeposit",
                      "requestForcedWithdrawal", "submitBatch", "withdraw"]
