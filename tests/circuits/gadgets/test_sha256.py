from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.dsl import ConstraintSystem
from circuits.gadgets import sha256 as sha
from tests.support.gadgets import failing_components

CIRCOMLIB_SHA256_512 = 59_281  # circomlib Sha256(512), circom 2 --O2 (snarkjs r1cs info)
OURS_SHA256_512 = 30_255


def hash_system(data: bytes, *, as_bytes=False):
    cs = ConstraintSystem()
    if as_bytes:
        sig = [cs.private_input(f"b{i}", v) for i, v in enumerate(data)]
        digest = sha.sha256_bytes(cs, sig)
    else:
        sig = [cs.private_input(f"m{i}", v) for i, v in enumerate(sha.bytes_to_bits_native(data))]
        digest = sha.sha256_bits(cs, sig)
    return cs, digest


def test_gates_exhaustive():
    # every input pattern, with each input either a variable or a constant
    for pattern in itertools.product([0, 1], repeat=3):
        for var_mask in itertools.product([False, True], repeat=3):
            cs = ConstraintSystem()
            ins = [cs.private_input(f"x{i}", v) if m else cs.const(v)
                   for i, (v, m) in enumerate(zip(pattern, var_mask, strict=True))]
            for b in ins:
                cs.assert_bool(b)
            x = sha.xor3(cs, *ins)
            m = sha.maj(cs, *ins)
            c = sha.ch(cs, *ins)
            a, b, cc = pattern
            assert x.value == a ^ b ^ cc
            assert m.value == (a & b) ^ (a & cc) ^ (b & cc)
            assert c.value == (b if a else cc)
            assert cs.n_constraints <= sum(var_mask) + 3
            assert cs.check() == []


@pytest.mark.parametrize("y", [0, 1, 2, 3])
def test_parity_and_majority_constraints_have_unique_solutions(y):
    # forging the hinted parity / majority bit to any other value breaks its constraint
    bits = [1] * y + [0] * (3 - y)
    for gate in (sha.xor3, sha.maj):
        cs = ConstraintSystem()
        ins = [cs.private_input(f"x{i}", v) for i, v in enumerate(bits)]
        with cs.component("gate"):
            out = gate(cs, *ins)
        assert cs.n_constraints == 1
        for forged_value in (1 - out.value, 2, 5):
            w = cs.witness()
            w[cs.wire_index(out)] = forged_value
            assert failing_components(cs, w) == {"gate"}


def test_sha256_512_bits_count_and_digest():
    data = bytes(range(64))
    cs, digest = hash_system(data)
    assert [d.value for d in digest] == sha.sha256_bits_native(data)
    assert cs.n_constraints == OURS_SHA256_512 <= CIRCOMLIB_SHA256_512
    assert cs.check() == []
    # a wrong digest bit is caught where it is produced: the final additions of block 1
    w = cs.witness()
    for k in (0, 77, 255):
        bit = digest[k]
        forged = list(w)
        forged[cs.wire_index(bit)] ^= 1
        comps = failing_components(cs, forged)
        assert comps and all(c.startswith("sha256/block1/final") for c in comps)


@settings(max_examples=4, deadline=None)
@given(st.binary(min_size=0, max_size=70))
def test_sha256_matches_hashlib(data):
    cs, digest = hash_system(data)
    bits = [d.value for d in digest]
    assert sha.bits_to_bytes_native(bits) == hashlib.sha256(data).digest()
    assert cs.check() == []


def test_constant_message_is_free():
    cs = ConstraintSystem()
    digest = sha.sha256_bits(cs, [cs.const(b) for b in sha.bytes_to_bits_native(b"abc")])
    assert all(d.is_constant() for d in digest)
    assert cs.n_constraints == 0
    assert sha.bits_to_bytes_native([d.constant() for d in digest]) == hashlib.sha256(
        b"abc").digest()


def test_sha256_field_truncation():
    data = b"rollup public data"
    cs = ConstraintSystem()
    sig = [cs.private_input(f"b{i}", v) for i, v in enumerate(data)]
    with cs.component("pubhash"):
        digest = sha.sha256_bytes(cs, sig)
        h = sha.digest_to_field(digest, cs)
    out = cs.public_output("h", h)
    want = int.from_bytes(hashlib.sha256(data).digest(), "big") & ((1 << 253) - 1)
    assert out.value == want == sha.sha256_field_native(data)
    assert cs.check() == []
    # a forged public hash is rejected inside the hash's final additions
    w = cs.witness()
    w[cs.wire_index(out)] ^= 1
    comps = failing_components(cs, w)
    assert comps and all(c.startswith("pubhash/sha256/block0/final") for c in comps)


def test_non_byte_input_rejected_by_sha256_bytes():
    cs, _ = hash_system(b"\x01\x02", as_bytes=True)
    assert cs.check() == []
    vals = list(cs.values)
    vals[cs.names["b0"]] = 256
    assert any(c.startswith("bytes/num2bits8") for c in failing_components(cs, values=vals))


def test_compress_matches_first_block_state():
    # one compression from the standard IV over a fully variable block and state
    data = b"a" * 64
    cs = ConstraintSystem()
    state = [[cs.private_input(f"s{j}_{i}", (v >> i) & 1) for i in range(32)]
             for j, v in enumerate(sha.H0)]
    block = [[cs.private_input(f"w{j}_{i}", (int.from_bytes(data[4 * j:4 * j + 4], "big") >> i)
                               & 1) for i in range(32)] for j in range(16)]
    out = sha.compress(cs, state, block)
    assert cs.n_constraints == 17_576
    words = [sum(b.value << i for i, b in enumerate(wd)) for wd in out]
    # reference: hashlib's internal state is not exposed; use the padded single block trick:
    # SHA-256 of 55 bytes is one block, so compare through a fully constant second system
    ref = ConstraintSystem()
    ref_out = sha.compress(ref, [sha.const_word(ref, v) for v in sha.H0],
                           [sha.const_word(ref, int.from_bytes(data[4 * j:4 * j + 4], "big"))
                            for j in range(16)])
    assert words == [sum(b.constant() << i for i, b in enumerate(wd)) for wd in ref_out]
    assert ref.n_constraints == 0
    assert cs.check() == []


def test_structure_only_build_then_solve():
    # build once without values (as for a setup), then compute witnesses from inputs
    cs = ConstraintSystem(compute_witness=False)
    bs = [cs.private_input(f"b{i}", None) for i in range(5)]
    out = cs.public_output("h", sha.digest_to_field(sha.sha256_bytes(cs, bs), cs))
    for data in (b"hello", b"\xff\x00\x10\x20\x30"):
        vals = cs.solve({f"b{i}": v for i, v in enumerate(data)})
        w = cs.witness(vals)
        assert w[cs.wire_index(out)] == sha.sha256_field_native(data)
        assert cs.check(w) == []
