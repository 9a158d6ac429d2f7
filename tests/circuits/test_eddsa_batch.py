"""verify_many against eddsa_verify, input by input: valid, tampered, malformed, small-order;
each batch checked with per-key tables for every key, for none, and as the default decides."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuits import babyjubjub as bj
from circuits import eddsa_public_key, eddsa_sign, eddsa_verify
from circuits.eddsa_batch import KeyTables, verify_many
from circuits.poseidon import poseidon
from tests.support.circomlibjs import ROOT

R = bj.P
L = bj.SUBGROUP_ORDER
CASES = json.loads((ROOT / "tests" / "vectors" / "eddsa_poseidon.json").read_text())["cases"]

# Points of small order: the identity, (0, -1) of order 2, and generators of the 4- and
# 8-torsion (l * generator has order 8).
T8 = bj.mul(bj.GENERATOR, L)
T4 = bj.double(T8)
SMALL = [bj.IDENTITY, (0, R - 1), T4, T8]


def _keys(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(n)]


_SIGNED: dict[int, list] = {}


def _signed(n: int = 6, seed: int = 11) -> list[tuple[tuple[int, int], int, tuple]]:
    """n honest (public key, message, signature) triples (signing is slow: memoized)."""
    if seed not in _SIGNED:
        rng = random.Random(seed)
        out = []
        for key in _keys(n, seed):
            msg = rng.randrange(R)
            out.append((eddsa_public_key(key), msg, eddsa_sign(key, msg)))
        _SIGNED[seed] = out
    return _SIGNED[seed]


def _check(triples) -> list[bool]:
    """verify_many on the triples equals eddsa_verify on each, whether the kernel takes e*(8A)
    from a per-key table (every key that parses gets one at once) or by wNAF (none), and with
    the default tables; returns the answers."""
    pks = [t[0] for t in triples]
    msgs = [t[1] for t in triples]
    sigs = [t[2] for t in triples]
    want = [eddsa_verify(p, m, s) for p, m, s in triples]
    for tables in (None, KeyTables(after=1), KeyTables(after=10**9)):
        got = verify_many(pks, msgs, sigs, tables=tables)
        assert got == want
        assert all(type(v) is bool for v in got)
    return got


def _variants(pub, msg, sig):
    """(label, triple) for tampered, malformed and edge-case versions of a valid triple."""
    (r8x, r8y), s = sig
    other = bj.mul_base8(12345)
    return [
        ("valid", (pub, msg, sig)),
        ("lists", (list(pub), msg, [[r8x, r8y], s])),
        ("S+1", (pub, msg, ((r8x, r8y), (s + 1) % L))),
        ("S+l", (pub, msg, ((r8x, r8y), s + L))),
        ("S=l", (pub, msg, ((r8x, r8y), L))),
        ("S=l-1", (pub, msg, ((r8x, r8y), L - 1))),
        ("S=0", (pub, msg, ((r8x, r8y), 0))),
        ("S<0", (pub, msg, ((r8x, r8y), s - L))),
        ("S huge", (pub, msg, ((r8x, r8y), 1 << 300))),
        ("R8 other point", (pub, msg, (other, s))),
        ("R8 negated", (pub, msg, (bj.neg((r8x, r8y)), s))),
        ("R8 + torsion", (pub, msg, (bj.add((r8x, r8y), T8), s))),
        ("R8 identity", (pub, msg, (bj.IDENTITY, s))),
        ("R8 off curve", (pub, msg, ((r8x, (r8y + 1) % R), s))),
        ("R8 x+r", (pub, msg, ((r8x + R, r8y), s))),
        ("R8 y=r", (pub, msg, ((r8x, R), s))),
        ("R8 x<0", (pub, msg, ((r8x - R, r8y), s))),
        ("message+1", (pub, (msg + 1) % R, sig)),
        ("message+r", (pub, msg + R, sig)),
        ("message=r-1", (pub, R - 1, sig)),
        ("message<0", (pub, -1, sig)),
        ("other key", (bj.mul_base8(777), msg, sig)),
        ("key negated", (bj.neg(pub), msg, sig)),
        ("key + torsion", (bj.add(pub, T8), msg, sig)),
        ("key off curve", ((pub[0], (pub[1] + 1) % R), msg, sig)),
        ("key y+r", ((pub[0], pub[1] + R), msg, sig)),
        ("key 3 coords", ((pub[0], pub[1], 1), msg, sig)),
        ("key 1 coord", ((pub[0],), msg, sig)),
        ("key 3 coords, float", ((1.0, 2, 3), msg, sig)),
        ("sig 3 parts", (pub, msg, ((r8x, r8y), s, 0))),
        ("sig 3 parts, float S", (pub, msg, ((r8x, r8y), 1.5, 0))),
        ("sig 1 part", (pub, msg, ((r8x, r8y),))),
        ("R8 1 coord", (pub, msg, ((r8x,), s))),
        ("R8 3 coords", (pub, msg, ((r8x, r8y, 1), s))),
        *[(f"small-order key {k}", (k, msg, sig)) for k in SMALL],
    ]


@pytest.mark.parametrize("case", CASES, ids=[c["private_key_hex"][:8] for c in CASES])
def test_shared_vectors(case):
    pub = (int(case["public_key"][0]), int(case["public_key"][1]))
    sig = ((int(case["R8"][0]), int(case["R8"][1])), int(case["S"]))
    msg = int(case["message"])
    assert verify_many([pub], [msg], [sig]) == [case["valid"]]


def test_shared_vectors_as_one_batch():
    triples = []
    for c in CASES:
        pub = (int(c["public_key"][0]), int(c["public_key"][1]))
        sig = ((int(c["R8"][0]), int(c["R8"][1])), int(c["S"]))
        triples.append((pub, int(c["message"]), sig))
    assert _check(triples) == [c["valid"] for c in CASES]


def test_random_valid_signatures():
    assert _check(_signed()) == [True] * 6


def test_tampered_and_malformed_match_eddsa_verify():
    triples, labels = [], []
    for pub, msg, sig in _signed()[:3]:
        for label, t in _variants(pub, msg, sig):
            labels.append(label)
            triples.append(t)
    got = _check(triples)
    by_label = dict(zip(labels, got, strict=False))
    assert by_label["valid"] and by_label["lists"]
    assert not by_label["S+1"] and not by_label["S+l"] and not by_label["message+1"]


def test_interleaved_batch_keeps_positions():
    good = _signed()
    rng = random.Random(3)
    triples = []
    for pub, msg, sig in good:
        bad = rng.choice(_variants(pub, msg, sig)[2:])[1]
        triples += [(pub, msg, sig), bad]
    rng.shuffle(triples)
    _check(triples)
    # The same triple many times, alternating with a forgery of it.
    pub, msg, sig = good[0]
    forged = (pub, msg, (sig[0], (sig[1] + 1) % L))
    assert verify_many(*zip(*[(pub, msg, sig), forged] * 5, strict=True)) == [True, False] * 5


def test_empty_and_single():
    assert verify_many([], [], []) == []
    pub, msg, sig = _signed()[0]
    assert verify_many([pub], [msg], [sig]) == [True]
    assert verify_many([pub], [msg + 1], [sig]) == [False]
    assert verify_many((pub,), (msg,), (sig,)) == [True]  # any sequences


def test_length_mismatch_is_value_error():
    pub, msg, sig = _signed()[0]
    with pytest.raises(ValueError):
        verify_many([pub, pub], [msg], [sig, sig])


def _sign_with_scalar(s: int, a: tuple[int, int], msg: int, r: int):
    """A signature by the signing equation for any key A with 8A = s * base8: R8 = r*base8,
    S = r + hm*s mod l, hm = Poseidon(R8, A, M) (A itself may carry a torsion component)."""
    r8 = bj.mul_base8(r)
    hm = poseidon([r8[0], r8[1], a[0], a[1], msg])
    return r8, (r + hm * s) % L


def test_keys_outside_the_subgroup():
    # A' = A + T (T of small order) has 8A' = 8A, so the equation holds for signatures made for
    # A'; the batch kernel's reduction 8*hm*A' = (hm mod l)*(8A') must agree with eddsa_verify.
    rng = random.Random(5)
    triples = []
    for t in SMALL:
        k = rng.randrange(1, L)
        a = bj.add(bj.mul_base8(k), t)
        for _ in range(2):
            msg = rng.randrange(R)
            sig = _sign_with_scalar(8 * k, a, msg, rng.randrange(1, L))
            triples += [(a, msg, sig), (a, msg, (sig[0], (sig[1] + 1) % L))]
    got = _check(triples)
    assert got == [True, False] * (2 * len(SMALL))


def test_small_order_keys_accept_like_eddsa_verify():
    # With A of small order 8*hm*A is the identity: S*base8 == R8 verifies any message.
    s = 424242
    forged = (bj.mul_base8(s), s)
    triples = [(a, m, forged) for a in SMALL for m in (0, 99, R - 1)]
    triples += [(a, 5, (bj.add(forged[0], T8), s)) for a in SMALL]
    assert _check(triples) == [True] * 12 + [False] * 4


@pytest.mark.parametrize(
    "args",
    [
        ("not a key", 1, ((1, 2), 3)),
        ((1.0, 2), 1, ((1, 2), 3)),
        ((1, True), 1, ((1, 2), 3)),
        ((1, 2), "1", ((1, 2), 3)),
        ((1, 2), True, ((1, 2), 3)),
        ((1, 2), 1, "sig"),
        ((1, 2), 1, ((1, 2), 3.0)),
        ((1, 2), 1, (None, 3)),
        ((1, 2), 1, ((1, 2.0), 3)),
        ((1, 2), 1, ({1, 2}, 3)),
        (None, 1, None),
    ],
)
def test_wrong_python_types_raise_like_eddsa_verify(args):
    with pytest.raises(TypeError) as want:
        eddsa_verify(*args)
    pub, msg, sig = _signed()[0]
    # Alone, and after good and bad triples: the first offending triple decides the error.
    for batch in ([args], [(pub, msg, sig), (pub, -1, sig), args, (pub, msg, sig)]):
        with pytest.raises(TypeError) as got:
            verify_many(*zip(*batch, strict=True))
        assert str(got.value) == str(want.value)


def test_type_error_of_the_first_offender():
    pub, msg, sig = _signed()[0]
    batch = [(pub, msg, sig), (pub, "m", sig), ((1.5, 2), msg, sig)]
    with pytest.raises(TypeError, match="message"):
        verify_many(*zip(*batch, strict=True))


# Random, mostly invalid inputs: coordinates and scalars near the range edges, on-curve points
# of every kind, and honest signatures to tamper with.
_POINTS = [bj.BASE8, bj.GENERATOR, bj.mul_base8(3), *SMALL, bj.add(bj.BASE8, T8)]
_edge_int = st.one_of(
    st.integers(min_value=0, max_value=R - 1),
    st.sampled_from([0, 1, R - 1, R, R + 1, L - 1, L, L + 1, -1, 2**256, 8 * L - 1]),
    st.integers(min_value=-(2**260), max_value=2**260),
)
_point = st.one_of(
    st.sampled_from(_POINTS),
    st.tuples(_edge_int, _edge_int),
    st.lists(_edge_int, min_size=0, max_size=3),
)


@st.composite
def _triple(draw):
    kind = draw(st.integers(0, 3))
    pub, msg, sig = draw(st.sampled_from(_signed()))
    if kind == 0:  # an honest triple with one part replaced
        part = draw(st.integers(0, 3))
        if part == 0:
            pub = draw(_point)
        elif part == 1:
            msg = draw(_edge_int)
        elif part == 2:
            sig = (draw(_point), sig[1])
        else:
            sig = (sig[0], draw(_edge_int))
        return pub, msg, sig
    if kind == 1:  # S*base8 == R8 forgeries with a random key
        s = draw(st.integers(0, L - 1))
        return draw(_point), draw(_edge_int), (bj.mul_base8(s), s)
    if kind == 2:
        return pub, msg, sig
    sig = (draw(_point), draw(_edge_int))
    if draw(st.booleans()):
        sig = sig + (0,)
    return draw(_point), draw(_edge_int), sig


@given(st.lists(_triple(), min_size=0, max_size=12))
def test_property_random_inputs(triples):
    _check(triples)


def test_verify_requests_equals_request_verify():
    import dataclasses

    from rollup.engine import testnet as tn
    from rollup.transactions import (
        Cancel,
        Deposit,
        Domain,
        Order,
        Withdrawal,
        request_messages,
        verify_requests,
    )

    dom = tn.DOMAIN
    k1, k2 = tn.key(1), tn.key(2)
    pk1, pk2 = tn.public_key(k1), tn.public_key(k2)
    o = Order(1, 1, 0, 10, 60_000, 7, 10**9, 2).signed(k1, dom)
    w = Withdrawal(1, 1000, 0xBEEF, 3, 10**9).signed(k1, dom)
    reqs = [
        o,
        dataclasses.replace(o, size=11),  # tampered after signing
        Order(1, 1, 1, -5, 60_000, 8, 10**9).signed(k1, dom),  # a negative field (v mod r)
        w,
        Withdrawal(1, 1000, 0xBEEF, 3, 10**9).signed(k1, Domain(1, 2)),  # other domain
        Cancel(1, 1, 7).signed(k1, dom),
        dataclasses.replace(w, sig=None),
        Deposit(1, pk1, 5),  # unsigned type: no sig field
    ]
    keys = [pk1, pk1, pk1, pk1, pk1, pk2, pk1, pk1]
    assert request_messages(reqs, dom) == [r.message(dom) for r in reqs]
    got = verify_requests(reqs, keys, dom)
    assert got == [r.verify(pk, dom) for r, pk in zip(reqs, keys, strict=True)]
    assert got == [True, False, True, True, False, False, False, False]
    assert verify_requests([], [], dom) == [] and request_messages([], dom) == []
    with pytest.raises(ValueError):
        verify_requests(reqs, keys[:-1], dom)


def test_key_tables_policy():
    """A key gets its table after ``after`` rows; ``keep`` slots hold the tables, the least
    recently used giving way, never one a caller is reading (pinned: the key waits); an
    off-curve key never keeps one; answers equal eddsa_verify throughout."""
    triples = _signed(8, seed=21)
    tables = KeyTables(after=3, keep=4)
    key = [tuple(t[0]) for t in triples]

    def run(batch):
        got = verify_many(*zip(*batch, strict=True), tables=tables)
        assert got == [eddsa_verify(*t) for t in batch]

    run(triples[:1] * 2)
    assert not tables.tables  # 2 rows of the key: no table yet
    run(triples[:1])
    assert list(tables.tables) == [key[0]]
    run([t for t in triples[1:] for _ in range(3)])  # 7 keys reach 3 rows, 4 slots, all
    assert list(tables.tables) == key[1:5]  # pinned by this call: keys 5-7 wait their turn
    assert tables.built == 5
    run(triples[5:6])  # key 5 now: key 1 (the least recently used) gives way
    assert list(tables.tables) == key[2:6] and tables.built == 6
    with tables.rows([key[2], key[3], key[6]]) as (_, which):
        t = tables.tables  # key 6 took key 4's slot, the oldest unpinned one
        assert list(t) == [key[5], key[2], key[3], key[6]]
        assert list(which) == [t[key[2]], t[key[3]], t[key[6]]]
        with tables.rows([key[7]]) as (_, inner):
            assert inner[0] == t[key[5]]  # the only unpinned slot
        with tables.rows([key[1]] * 3) as (_, inner):  # key 7's slot, unpinned again
            assert inner[0] >= 0 and key[7] not in tables.tables
            with tables.rows([key[4]] * 3) as (_, last):  # every slot pinned: none now
                assert last[0] == -1
    assert tables.pins == [0, 0, 0, 0] and tables.built == 9
    a, m, sig = triples[5]
    off = (a[0], (a[1] + 1) % R)
    run([(off, m, sig)] * 4)  # built in the oldest unpinned slot, failed, slot freed
    assert off not in tables.tables and tables.built == 9 and len(tables.free) == 1
    assert not tables.orphans
    tables.clear()
    assert not tables.tables and not tables.uses and sorted(tables.free) == [0, 1, 2, 3]


def test_key_tables_from_threads():
    """Threads verifying batches of the same keys at once share one KeyTables (tables built
    once, read by the others' kernels without the GIL): every answer as eddsa_verify's."""
    import threading

    base = _signed(4, seed=22)
    batch = [(p, m, s) if i % 3 else (p, m, (s[0], (s[1] + 1) % L))
             for i, (p, m, s) in enumerate(base * 6)]
    want = [eddsa_verify(*t) for t in batch]
    tables = KeyTables(after=2)
    got: list = []

    def go():
        for _ in range(3):
            got.append(verify_many(*zip(*batch, strict=True), tables=tables))

    ts = [threading.Thread(target=go) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(got) == 12 and all(g == want for g in got)
    assert len(tables.tables) == 4
