"""Attacks on Rollup.sol that must fail (py-evm and Anvil), one per finding of the security review:
forced withdrawals authorised by the L2 key alone (finding 1), paid queue entries with deadlines
that follow the queue's progress (5), deployment parameters checked in the constructor (6), exits
bound to one deployment (7), batch data readable from logs (8).

The stand-in verification key proves any public input, so these exercise the contract's own
checks; the circuit's side of finding 1 (a forced withdrawal pays only the account's own key) is
tests/circuits/test_batch_circuit.py.
"""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from circuits.babyjubjub import pack_point
from circuits.eddsa import eddsa_public_key, eddsa_sign
from rollup.chain import layout
from rollup.chain.contracts import call, deploy, transact
from rollup.chain.errors import ContractRevert
from rollup.chain.layout import ASSET_TOKEN, QueueEntry
from rollup.chain.rollup import RollupClient, deploy_signature_verifier
from rollup.chain.verifier import deploy_verifier, proof_evm
from tests.support.snark import HAVE_NODE

pytestmark = [pytest.mark.node, pytest.mark.adversarial,
              pytest.mark.skipif(not HAVE_NODE, reason="node tools not installed")]

DEADLINE = 3600
SPACING = 60
FEE = 10**15
VICTIM, ATTACKER = b"\x21" * 32, b"\x22" * 32


def revert_name(fn, *a, **k) -> str:
    with pytest.raises(ContractRevert) as ei:
        fn(*a, **k)
    return ei.value.name


@pytest.fixture(scope="module")
def env(chain, standin):  # noqa: F811
    v = deploy_verifier(chain, standin.vk).address
    sig = deploy_signature_verifier(chain)
    token = deploy(chain, "TestToken")
    return chain, v, sig, token, standin


def _rollup(env, **kw) -> RollupClient:
    ch, v, sig, token, _ = env
    args = dict(batch_verifier=v, exit_verifier=v, token=token.address,
                operator=ch.accounts[0], genesis_root=b"\x11" * 32,
                priority_deadline=DEADLINE, signature_verifier=sig, queue_fee=FEE,
                queue_spacing=SPACING, min_deposit=100, accounts_depth=16,
                account_limit=1 << 16)
    args.update(kw)
    r = RollupClient.deploy(ch, **args)
    for u in ch.accounts[1:4]:
        transact(ch, token.functions.mint(u, 10**12))
        transact(ch, token.functions.approve(r.address, 2**256 - 1), sender=u)
    return r


def test_front_running_deposit_grants_no_forced_withdrawal(env):
    """The old attack: deposit 1 wei to the victim's key before the victim does, become the
    account's L1 owner, force-withdraw its funds to yourself. Now a deposit grants nothing and a
    forced withdrawal needs the account key's signature over the payee."""
    ch = env[0]
    r = _rollup(env)
    victim, attacker = ch.accounts[1], ch.accounts[2]
    vpk, apk = eddsa_public_key(VICTIM), eddsa_public_key(ATTACKER)
    r.deposit_token(pack_point(vpk), 100, sender=attacker)  # front-runs the victim's deposit
    r.deposit_token(pack_point(vpk), 10**6, sender=victim)
    acc = r.account_of(pack_point(vpk))
    # the attacker cannot sign for the victim's key: a signature by its own key, presented as
    # the victim's, is refused
    m = r.forced_withdrawal_message(acc, ASSET_TOKEN, 10**6, attacker, pack_point(vpk))
    forged = eddsa_sign(ATTACKER, m)
    assert revert_name(r.request_forced_withdrawal, acc, ASSET_TOKEN, 10**6, public_key=vpk,
                       signature=forged, to=attacker, sender=attacker) == "BadSignature"
    # the victim's own signed request, re-sent with another payee or amount, is refused
    m = r.forced_withdrawal_message(acc, ASSET_TOKEN, 10**6, victim, pack_point(vpk))
    good = eddsa_sign(VICTIM, m)
    for to, amount in ((attacker, 10**6), (victim, 10**6 + 1)):
        assert revert_name(r.request_forced_withdrawal, acc, ASSET_TOKEN, amount,
                           public_key=vpk, signature=good, to=to,
                           sender=attacker) == "BadSignature"
    # an attacker's own key may queue a request naming the victim's account (the circuit pays
    # it 0: the entry records the attacker's key), and it does not use up the victim's nonce
    n0 = r.forced_nonce(acc, pack_point(vpk))
    res = r.request_forced_withdrawal(acc, ASSET_TOKEN, 10**6, private_key=ATTACKER,
                                      to=attacker, sender=attacker)
    ev = r.contract.events.PriorityRequest().process_receipt(res.receipt,
                                                             errors=DISCARD)[0]["args"]
    assert bytes(ev["l2Key"]) == pack_point(apk) and ev["l1Address"] == attacker
    assert r.forced_nonce(acc, pack_point(vpk)) == n0
    # the victim's request goes through, relayed by anyone; replaying it is refused
    res = r.request_forced_withdrawal(acc, ASSET_TOKEN, 10**6, public_key=vpk, signature=good,
                                      to=victim, sender=attacker)
    ev = r.contract.events.PriorityRequest().process_receipt(res.receipt,
                                                             errors=DISCARD)[0]["args"]
    assert (bytes(ev["l2Key"]), ev["l1Address"], ev["accountId"]) == (pack_point(vpk), victim,
                                                                      acc)
    assert revert_name(r.request_forced_withdrawal, acc, ASSET_TOKEN, 10**6, public_key=vpk,
                       signature=good, to=victim, sender=attacker) == "BadSignature"
    assert r.forced_nonce(acc, pack_point(vpk)) == n0 + 1
    # nothing in the contract records an L1 owner
    abi = {e["name"] for e in r.contract.abi if e.get("type") == "function"}
    assert "ownerOf" not in abi


def test_queue_entries_pay_the_operator(env):
    ch = env[0]
    r = _rollup(env)
    u = ch.accounts[1]
    op_before = r.pending(ch.accounts[0], layout.ASSET_ETH)
    assert revert_name(r.deposit_token, b"\x01" * 32, 10**6, sender=u, fee=0) == "FeeRequired"
    assert revert_name(r.deposit_token, b"\x01" * 32, 10**6, sender=u,
                       fee=FEE - 1) == "FeeRequired"
    assert revert_name(r.deposit_eth, b"\x01" * 32, 1, sender=u) == "DepositTooSmall"
    assert revert_name(r.deposit_token, b"\x01" * 32, 99, sender=u) == "DepositTooSmall"
    r.deposit_token(b"\x01" * 32, 10**6, sender=u)
    assert revert_name(r.request_forced_withdrawal, 1, ASSET_TOKEN, 5, private_key=VICTIM,
                       sender=u, fee=0) == "FeeRequired"
    r.request_forced_withdrawal(1, ASSET_TOKEN, 5, private_key=VICTIM, sender=u)
    assert r.pending(ch.accounts[0], layout.ASSET_ETH) == op_before + 2 * FEE
    assert ch.w3.eth.get_balance(r.address) == 2 * FEE


def test_queue_flood_cannot_trip_exodus(env, standin):  # noqa: F811
    """A flood of paid entries in one block: their deadlines are spaced SPACING apart, so an
    operator consuming them in order at that pace is never overdue."""
    ch = env[0]
    r = _rollup(env)
    u = ch.accounts[3]
    flood = 6
    for i in range(flood):
        r.deposit_token(bytes([0x30 + i]) * 32, 100, sender=u)
    deadlines = [e["args"]["deadline"] for e in sorted(
        r.contract.events.PriorityRequest().get_logs(from_block=0),
        key=lambda e: e["args"]["index"])]
    assert len(deadlines) == flood
    for a, b in zip(deadlines, deadlines[1:], strict=False):
        assert b >= a + SPACING
    # the operator consumes one entry per SPACING from the first deadline on: never overdue
    ch.increase_time(DEADLINE - 5)
    for k in range(1, flood + 1):
        st = r.state()
        data = layout.encode_public_data([], b"")
        x = r.public_input(st.batch_number + 1, st.state_root, (k).to_bytes(32, "big"), k, data)
        proof, _ = standin.prove({"x": x, "w": 5})
        r.submit_batch(st.batch_number + 1, st.state_root, (k).to_bytes(32, "big"), k, data,
                       proof_evm(proof), sender=ch.accounts[0])
        if k < flood:
            assert revert_name(r.activate_exodus, sender=u) == "NotOverdue"
        ch.increase_time(SPACING)
    assert revert_name(r.activate_exodus, sender=u) == "NothingOverdue"


def test_deployment_foot_guns_are_refused(env):
    ch, _, _, token, _ = env
    bad = [(dict(accounts_depth=16, account_limit=(1 << 16) + 1), "accountLimit above"),
           (dict(accounts_depth=0), "accountsDepth"),
           (dict(accounts_depth=33, account_limit=2**32 - 1), "accountsDepth"),
           (dict(first_account_id=0), "firstAccountId"),  # account 0 is the fee account
           (dict(first_account_id=(1 << 16) + 1), "firstAccountId"),
           (dict(min_deposit=0), "minDeposit"),
           (dict(genesis_collateral=10**6), "genesis collateral")]  # the contract holds none
    for kw, why in bad:
        with pytest.raises(ContractRevert) as ei:
            _rollup(env, **kw)
        assert why in str(ei.value), (kw, str(ei.value))
    # genesis collateral sent to the contract's address before it exists: accepted
    deployer = ch.accounts[0]
    from rollup.chain.devnet import create_address

    nonce = ch.w3.eth.get_transaction_count(deployer)
    transact(ch, token.functions.mint(create_address(deployer, nonce + 1), 10**6),
             sender=deployer)
    r = _rollup(env, genesis_collateral=10**6)
    assert call(token.functions.balanceOf(r.address)) == 10**6


def test_exit_proof_is_bound_to_its_deployment(env, standin):  # noqa: F811
    """Two deployments with the same root: an exit proven for one is refused by the other."""
    ch = env[0]
    r1, r2 = _rollup(env), _rollup(env)
    owner = ch.accounts[1]
    for r in (r1, r2):
        r.deposit_token(b"\x05" * 32, 100, sender=owner)
        ch.increase_time(DEADLINE + SPACING * 4)
        r.activate_exodus(sender=owner)
    x1 = layout.exit_public_input(b"\x11" * 32, ch.w3.eth.chain_id, r1.address, 1, owner,
                                  0, 100)
    assert call(r1.f.exitPublicInput(1, owner, 0, 100)) == x1
    proof, _ = standin.prove({"x": x1, "w": 5})
    assert revert_name(r2.exit, 1, owner, 0, 100, proof_evm(proof), sender=owner) \
        == "InvalidProof"
    r1.exit(1, owner, 0, 100, proof_evm(proof), sender=owner)


def test_batch_sent_through_a_contract_wallet_is_recoverable(env, standin):  # noqa: F811
    """Recovery reads public data from the contract's BatchData events, so a batch sent by a
    contract wallet (whose transaction input is the wallet's, not submitBatch's) is found."""
    from rollup.recovery.recover import finalized_batches

    ch = env[0]
    wallet = deploy(ch, "OperatorWallet")
    r = _rollup(env, operator=wallet.address)
    st = r.state()
    data = layout.encode_public_data([], b"\xab" * 40)
    x = r.public_input(1, st.state_root, b"\x02" * 32, 0, data)
    proof, _ = standin.prove({"x": x, "w": 5})
    call_data = r.f.submitBatch(1, st.state_root, b"\x02" * 32, 0, data,
                                proof_evm(proof))._encode_transaction_data()
    res = transact(ch, wallet.functions.exec(r.address, call_data), gas=2_000_000)
    ev = r.contract.events.BatchData().process_receipt(res.receipt, errors=DISCARD)[0]["args"]
    assert (ev["batchNumber"], bytes(ev["publicData"])) == (1, data)
    got = finalized_batches(r)
    assert [(b.number, b.public_data, b.new_root) for b in got] == [
        (1, data, int.from_bytes(b"\x02" * 32, "big"))]


def test_queue_entry_layout_of_a_forced_withdrawal(env):
    ch = env[0]
    r = _rollup(env, first_account_id=5)  # ids 1..4 belong to the genesis state
    u = ch.accounts[1]
    assert revert_name(r.request_forced_withdrawal, 5, ASSET_TOKEN, 77, private_key=VICTIM,
                       sender=u) == "UnknownAccount"  # not assigned: the tree may not hold it
    r.request_forced_withdrawal(4, ASSET_TOKEN, 77, private_key=VICTIM, to=ch.accounts[2],
                                sender=u)
    e = QueueEntry(2, ASSET_TOKEN, 4, ch.accounts[2], 77,
                   pack_point(eddsa_public_key(VICTIM)))
    assert r.queue_hash(1) == layout.queue_chain([e])[1]
