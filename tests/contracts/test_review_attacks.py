"""Adversarial review of the security fixes (forced withdrawals signed by the L2 key, paid and
paced queue, deployment checks, exits bound to their deployment).

Passing tests add coverage of attacks that are refused: a differential test of
contracts/EdDSAPoseidonVerifier.sol against circuits/eddsa.py (and circomlibjs, when node is
installed) on random and edge inputs (torsion components, the identity as R8, 8A = +-B8 so that
the Shamir table holds the identity or a doubling, small-order keys, non-canonical values), and
packKey against circomlib's packPoint at the sign boundary.

Failing tests (marked ``adversarial``) demonstrate problems the review found:
* a forced withdrawal may name any u32 account id; with an accounts tree of depth < 32 an id at
  or above 2**depth can never be consumed by the batch circuit, so one paid request (queueFee)
  stops the queue and opens exodus;
* the operator receives every queue fee, so its own flood of entries costs it only gas while
  pushing a user's forced-withdrawal deadline out by queueSpacing per entry;
* the constructor accepts a zero priority deadline and a signature verifier without code.
"""

from __future__ import annotations

import random

import pytest
from web3.logs import DISCARD

from circuits import babyjubjub as bj
from circuits.eddsa import eddsa_public_key, eddsa_sign, eddsa_verify, public_key_is_safe
from circuits.poseidon import poseidon
from rollup.chain import layout
from rollup.chain.contracts import call, deploy
from rollup.chain.errors import ContractRevert
from rollup.chain.layout import ASSET_TOKEN
from rollup.chain.rollup import RollupClient, deploy_signature_verifier

P = bj.P
L = bj.SUBGROUP_ORDER
U256 = 1 << 256
T8 = bj.mul(bj.GENERATOR, L)  # a point of order 8
TORSION = [bj.mul(T8, k) for k in range(8)]  # the 8 points of small order
DEADLINE, SPACING, FEE = 3600, 60, 10**15


# --- EdDSA-Poseidon: the contract against the reference ----------------------------------------

@pytest.fixture(scope="module")
def verifier(chain):  # noqa: F811
    pos = deploy(chain, "PoseidonT6")
    return deploy(chain, "EdDSAPoseidonVerifier", pos.address)


def _contract(v, a, r8, s, m) -> bool:
    return call(v.functions.verify(a[0], a[1], r8[0], r8[1], s, m))


def _reference(a, r8, s, m) -> bool:
    """What the contract promises: circomlibjs's verifyPoseidon (circuits/eddsa.py) plus the
    circuit's rule that a key is not of small order."""
    ok = all(0 <= c < P for c in (*a, *r8))
    return ok and eddsa_verify(a, m, (r8, s)) and public_key_is_safe(a)


def _forge(a_scalar: int, a_point, m: int, r: int, r8=None):
    """A signature valid for the key a_point whenever 8 * a_point == 8 * a_scalar * B8:
    S = r + 8 * hm * a mod l (the signer knows the discrete log of 8A)."""
    r8 = bj.mul_base8(r) if r8 is None else r8
    hm = poseidon([r8[0], r8[1], a_point[0], a_point[1], m])
    return r8, (r + 8 * hm * a_scalar) % L, hm


def _cases():
    rng = random.Random(0xEDD5A)
    out = []  # (name, A, R8, S, M)
    # honest signatures, messages at the edges, hm with and without bit 253
    top = {0: 0, 1: 0}
    for i in range(40):
        sk = rng.randbytes(32)
        pk = eddsa_public_key(sk)
        m = (0, 1, P - 1)[i] if i < 3 else rng.randrange(P)
        r8, s = eddsa_sign(sk, m)
        bit = poseidon([*r8, *pk, m]) >> 253
        if i < 3 or top[bit] < 2:
            top[bit] += 1
            out.append((f"honest m={m}", pk, r8, s, m))
        if i >= 3 and min(top.values()) >= 2:
            break
    assert min(top.values()) >= 2, "want hm both above and below 2**253"
    sk = rng.randbytes(32)
    pk = eddsa_public_key(sk)
    m = rng.randrange(P)
    r8, s = eddsa_sign(sk, m)
    out += [
        ("S + l", pk, r8, s + L, m), ("S = l", pk, r8, L, m), ("S = l - 1", pk, r8, L - 1, m),
        ("S = 0", pk, r8, 0, m), ("S = 2**256 - 1", pk, r8, U256 - 1, m),
        ("m = r", pk, r8, s, P), ("m + r", pk, r8, s, m + P if m + P < U256 else m),
        ("m = 2**256 - 1", pk, r8, s, U256 - 1),
        ("R8x + r", pk, (r8[0] + P, r8[1]), s, m), ("R8y + r", pk, (r8[0], r8[1] + P), s, m),
        ("Ax + r", (pk[0] + P, pk[1]), r8, s, m), ("Ay + r", (pk[0], pk[1] + P), r8, s, m),
        ("-R8", pk, bj.neg(r8), s, m), ("-A", bj.neg(pk), r8, s, m),
        ("R8 = A", pk, pk, s, m), ("R8 = identity", pk, (0, 1), s, m),
        ("R8 = B8", pk, bj.BASE8, s, m), ("A = B8", bj.BASE8, r8, s, m),
        ("R8 off curve", pk, (r8[0], (r8[1] + 1) % P), s, m),
        ("A off curve", (pk[0], (pk[1] + 1) % P), r8, s, m),
        ("A = (0, 0)", (0, 0), r8, s, m), ("R8 = (0, 0)", pk, (0, 0), s, m),
    ]
    for k in range(1, 8):
        out.append((f"R8 + T{k}", pk, bj.add(r8, TORSION[k]), s, m))
    # random junk: points of the subgroup, random S
    for _ in range(4):
        out.append(("random", bj.mul_base8(rng.randrange(1, L)), bj.mul_base8(rng.randrange(L)),
                    rng.randrange(L), rng.randrange(P)))
    # keys with a torsion component, signed by whoever knows log(8A): valid for both
    a = rng.randrange(1, L)
    a0 = bj.mul_base8(a)
    for k in range(8):
        ak = bj.add(a0, TORSION[k])
        r8, s, _ = _forge(a, ak, m, rng.randrange(1, L))
        out.append((f"A + T{k}, forged with log(8A)", ak, r8, s, m))
        # R8 with a torsion component: S * B8 is in the subgroup, R8 + 8hA is not
        r = rng.randrange(1, L)
        r8t = bj.add(bj.mul_base8(r), TORSION[k])
        r8t, s, _ = _forge(a, ak, m, r, r8t)
        out.append((f"A + T{k}, R8 + T{k}", ak, r8t, s, m))
    # R8 = identity, valid: S = 8 h a
    r8, s, _ = _forge(a, a0, m, 0, (0, 1))
    out.append(("R8 = identity, valid", a0, r8, s, m))
    # 8A = B8 (the table entry B8 - 8A is the identity) and 8A = -B8 (it is 2 B8)
    inv8 = pow(8, -1, L)
    for name, x in (("8A = B8", inv8), ("8A = -B8", (-inv8) % L), ("A = B8", 1)):
        ax = bj.mul_base8(x)
        r8, s, _ = _forge(x, ax, m, rng.randrange(1, L))
        out.append((name + ", valid", ax, r8, s, m))
        out.append((name + ", S + 1", ax, r8, (s + 1) % L, m))
    # small-order keys: circomlibjs accepts S * B8 == R8 for any message; the contract must not
    for k in range(8):
        r = rng.randrange(1, L)
        out.append((f"A = T{k} (small order)", TORSION[k], bj.mul_base8(r), r, m))
    return out


def test_eddsa_contract_matches_reference_on_edges(verifier):
    v = verifier
    seen = {True: 0, False: 0}
    for name, a, r8, s, m in _cases():
        if max(*a, *r8, s, m) >= U256:
            continue
        want = _reference(a, r8, s, m)
        assert _contract(v, a, r8, s, m) == want, name
        seen[want] += 1
    assert seen[True] >= 15 and seen[False] >= 40


def test_eddsa_contract_divergences_are_the_documented_ones(verifier):
    """eddsa_verify (circomlibjs) accepts small-order keys for any message; the contract
    refuses them (the circuit does too). Nothing else differs (the test above)."""
    v = verifier
    m, r = 42, 1234567
    for k in range(8):
        a, r8 = TORSION[k], bj.mul_base8(r)
        assert eddsa_verify(a, m, (r8, r)) and not _contract(v, a, r8, r, m)


@pytest.mark.node
def test_circomlibjs_signatures_verify_in_the_contract(verifier):
    """Signatures made by circomlibjs itself (not by this repository's port) verify, and
    circomlibjs's verifyPoseidon agrees with the contract on tampered ones."""
    from tests.support.circomlibjs import available
    from tests.support.circomlibjs import call as js

    if not available():
        pytest.skip("node or node_modules/circomlibjs not installed")
    v = verifier
    rng = random.Random(7)
    keys = [rng.randbytes(32) for _ in range(3)]
    msgs = [0, P - 1, rng.randrange(P)]
    reqs = [{"op": "prv2pub", "key": k.hex()} for k in keys]
    reqs += [{"op": "sign", "key": k.hex(), "msg": str(m)} for k, m in zip(keys, msgs,
                                                                            strict=True)]
    ans = js(reqs)
    pubs = [tuple(int(c) for c in p) for p in ans[:3]]
    sigs = [(tuple(int(c) for c in a["R8"]), int(a["S"])) for a in ans[3:]]
    checks = []
    for pk, (r8, s), m in zip(pubs, sigs, msgs, strict=True):
        assert _contract(v, pk, r8, s, m)
        for r8_, s_, m_ in ((r8, (s + 1) % L, m), (r8, s, (m + 1) % P), (bj.neg(r8), s, m)):
            checks.append((pk, r8_, s_, m_))
    got = js([{"op": "verify", "msg": str(m), "R8": [str(c) for c in r8], "S": str(s),
               "A": [str(c) for c in pk]} for pk, r8, s, m in checks])
    for (pk, r8, s, m), js_ok in zip(checks, got, strict=True):
        assert js_ok is False and _contract(v, pk, r8, s, m) is False


# --- packKey ------------------------------------------------------------------------------------

def _bare_rollup(ch, *, sig=None, **kw) -> RollupClient:
    """A Rollup whose proof verifiers are never called (batches are not submitted here)."""
    token = deploy(ch, "TestToken")
    args = dict(batch_verifier=token.address, exit_verifier=token.address, token=token.address,
                operator=ch.accounts[0], genesis_root=b"\x11" * 32,
                priority_deadline=DEADLINE, signature_verifier=sig, queue_fee=FEE,
                queue_spacing=SPACING, min_deposit=1, accounts_depth=16,
                account_limit=1 << 16, first_account_id=100)  # ids below 100: genesis
    args.update(kw)
    return RollupClient.deploy(ch, **args)


@pytest.fixture(scope="module")
def bare(chain):  # noqa: F811
    sig = deploy_signature_verifier(chain)
    return chain, sig, _bare_rollup(chain, sig=sig)


def test_pack_key_matches_pack_point_at_the_edges(bare):
    _, _, r = bare
    half = (P - 1) // 2
    xs = [0, 1, half - 1, half, half + 1, P - 2, P - 1]
    ys = [0, 1, 2**8 - 1, 2**248, 2**253, P - 1]
    for x in xs:
        for y in ys:
            assert bytes(call(r.f.packKey(x, y))) == bj.pack_point((x, y)), (x, y)
    pk = eddsa_public_key(b"\x07" * 32)
    for pt in (pk, bj.neg(pk), *TORSION):
        assert bytes(call(r.f.packKey(*pt))) == bj.pack_point(pt)
        assert bj.unpack_point(bj.pack_point(pt)) in (pt, None)  # x = 0 never unpacks


def test_forced_withdrawal_signature_is_bound_to_deployment_account_and_asset(bare):
    """One signature (nonce 0 everywhere) is refused by a second deployment on the same chain,
    for another account id, another asset and another key slot; it is accepted once where it
    was made."""
    ch, sig, r1 = bare
    r2 = _bare_rollup(ch, sig=sig)
    sk, user = b"\x31" * 32, ch.accounts[1]
    pk = eddsa_public_key(sk)
    acc = 7
    m = layout.forced_withdrawal_message(ch.w3.eth.chain_id, r1.address, acc, ASSET_TOKEN, 10,
                                         user, 0)
    assert m == r1.forced_withdrawal_message(acc, ASSET_TOKEN, 10, user, bj.pack_point(pk))
    good = eddsa_sign(sk, m)
    for r, a, asset in ((r2, acc, ASSET_TOKEN), (r1, acc + 1, ASSET_TOKEN),
                        (r1, acc, layout.ASSET_ETH)):
        assert r.forced_nonce(a, bj.pack_point(pk)) == 0
        with pytest.raises(ContractRevert) as ei:
            r.request_forced_withdrawal(a, asset, 10, public_key=pk, signature=good, to=user,
                                        sender=user)
        assert ei.value.name == "BadSignature"
    # the same point presented with x negated is another key (and another nonce slot)
    with pytest.raises(ContractRevert):
        r1.request_forced_withdrawal(acc, ASSET_TOKEN, 10, public_key=bj.neg(pk),
                                     signature=good, to=user, sender=user)
    r1.request_forced_withdrawal(acc, ASSET_TOKEN, 10, public_key=pk, signature=good, to=user,
                                 sender=user)
    with pytest.raises(ContractRevert):
        r1.request_forced_withdrawal(acc, ASSET_TOKEN, 10, public_key=pk, signature=good,
                                     to=user, sender=user)


# --- forced withdrawals naming an account the circuit cannot open --------------------------------

def _events(r, res):
    return r.contract.events.PriorityRequest().process_receipt(res.receipt, errors=DISCARD)


@pytest.mark.adversarial
def test_forced_withdrawal_for_an_id_outside_the_tree_is_refused(bare):
    """FINDING (high). requestForcedWithdrawal accepts any u32 accountId: the old owner check
    bounded it (only assigned ids had owners), the signature check does not. With accountsDepth
    16 the circuits prove ids < 2**16 only; an entry naming 2**16 (or 2**32 - 1) can never be
    consumed (test below), the queue stops and exodus opens after priorityDeadline, for the price
    of one queueFee and an attacker's own key. It must revert."""
    ch, _, r = bare
    attacker = ch.accounts[2]
    bad = []
    for acc in (1 << 16, 2**32 - 1):
        try:
            r.request_forced_withdrawal(acc, ASSET_TOKEN, 1, private_key=b"\x66" * 32,
                                        to=attacker, sender=attacker)
            bad.append(acc)
        except ContractRevert:
            pass
    assert not bad, f"forced withdrawals queued for account ids outside the tree: {bad}"


@pytest.mark.adversarial
def test_forced_withdrawal_names_only_ids_the_tree_holds(bare):
    """The other half of the finding above: the circuit's account id has `depth` bits and must
    equal the entry's, so an entry naming an id the contract never assigned (>= nextAccountId,
    which stays <= accountLimit <= 2**depth) could never be consumed: the contract refuses it,
    and accepts the last id it holds."""
    ch, _, r = bare
    user = ch.accounts[2]
    nxt = call(r.f.nextAccountId())
    assert nxt <= call(r.f.accountLimit()) <= 1 << 16
    with pytest.raises(ContractRevert) as ei:
        r.request_forced_withdrawal(nxt, ASSET_TOKEN, 1, private_key=b"\x66" * 32, to=user,
                                    sender=user)
    assert ei.value.name == "UnknownAccount"
    r.request_forced_withdrawal(nxt - 1, ASSET_TOKEN, 1, private_key=b"\x66" * 32, to=user,
                                sender=user)


# --- queue pacing -------------------------------------------------------------------------------

@pytest.mark.adversarial
def test_a_flood_delays_later_deadlines_only_while_it_is_pending(bare):
    """Every queue fee is credited to the operator, so the operator's own flood of k entries
    costs it gas only; while those k entries wait, a user's forced-withdrawal deadline is
    k * queueSpacing later (the pace the operator must consume them at, or be overdue itself:
    the flood's own deadlines are not extended). Once the backlog is consumed the extension
    ends: deadlines pace on the entries still waiting, not on the previous deadline."""
    ch, sig, _ = bare
    r = _bare_rollup(ch, sig=sig)
    op, user = ch.accounts[0], ch.accounts[1]
    k = 12
    before = r.pending(op, layout.ASSET_ETH)
    for i in range(k):
        r.deposit_eth(bytes([0x40 + i]) * 32, 1, sender=op)
    assert r.pending(op, layout.ASSET_ETH) - before == k * FEE  # every fee comes back
    flood = sorted(r.contract.events.PriorityRequest().get_logs(from_block=0),
                   key=lambda e: e["args"]["index"])
    t0 = ch.w3.eth.get_block(flood[0]["blockNumber"])["timestamp"]
    assert flood[0]["args"]["deadline"] == t0 + DEADLINE  # the head is not extended
    res = r.request_forced_withdrawal(1, ASSET_TOKEN, 10, private_key=b"\x21" * 32, to=user,
                                      sender=user)
    now = ch.w3.eth.get_block(res.receipt["blockNumber"])["timestamp"]
    assert _events(r, res)[0]["args"]["deadline"] == now + DEADLINE + k * SPACING
    # the operator consumes the backlog (here: a batch consuming all 13 entries)
    _consume_all(ch, r)
    res = r.request_forced_withdrawal(1, ASSET_TOKEN, 10, private_key=b"\x21" * 32, to=user,
                                      sender=user)
    now = ch.w3.eth.get_block(res.receipt["blockNumber"])["timestamp"]
    assert _events(r, res)[0]["args"]["deadline"] <= now + DEADLINE + SPACING


def _consume_all(ch, r) -> None:
    """Mark the whole queue consumed with a storage write (the verifiers here are stand-ins
    that are never called): queueConsumed shares slot 1 with batchNumber and queueLength."""
    slot = 1
    raw = int.from_bytes(ch.w3.eth.get_storage_at(r.address, slot), "big")
    length = (raw >> 64) & ((1 << 64) - 1)
    raw = (raw & ~(((1 << 64) - 1) << 128)) | (length << 128)
    if ch.kind == "py-evm":
        pytest.skip("storage writes need Anvil")
    ch.w3.provider.make_request("anvil_setStorageAt", [r.address, hex(slot),
                                                        "0x" + raw.to_bytes(32, "big").hex()])
    assert r.state().queue_consumed == length


# --- deployment ---------------------------------------------------------------------------------

@pytest.mark.adversarial
def test_deployment_refuses_a_dead_escape_hatch(bare):
    """FINDING (low). The constructor checks the accounts parameters but not the escape hatch:
    priorityDeadline 0 lets anyone open exodus one block after any deposit; a signature verifier
    without code makes every forced withdrawal revert (users cannot force the operator)."""
    ch, sig, _ = bare
    accepted = []
    for name, kw in (("priorityDeadline 0", dict(priority_deadline=0, sig=sig)),
                     ("verifier without code",
                      dict(sig="0x000000000000000000000000000000000000dEaD"))):
        try:
            _bare_rollup(ch, **kw)
            accepted.append(name)
        except ContractRevert:
            pass
    assert not accepted, f"deployed with {accepted}"
