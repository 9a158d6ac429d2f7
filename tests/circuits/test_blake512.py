"""BLAKE-512 (SHA-3 finalist, not BLAKE2b) against the specification and npm blake-hash."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.blake512 import IV, Blake512, C, blake512
from tests.support.circomlibjs import call, requires_node

# The two examples of the specification's Appendix A (BLAKE-512).
ONE_ZERO_BYTE = (
    "97961587f6d970faba6d2478045de6d1fabd09b61ae50932054d52bc29d31be4"
    "ff9102b9f69e2bbdb83be13d4b9c06091e5fa0b48bd081b634058be0ec49beb3"
)
ZEROS_144 = (
    "313717d608e9cf758dcb1eb0f0c3cf9fc150b2d500fb33f51c52afc99d358a2f"
    "1374b8a38bba7974e7f6ef79cab16f22ce1e649d6e01ad9589c213045d545dde"
)


def test_spec_vector_one_byte():
    assert blake512(b"\x00").hex() == ONE_ZERO_BYTE


def test_spec_vector_144_bytes():
    # 1152 bits: the second block holds 16 message bytes, so padding needs a second block too.
    assert blake512(bytes(144)).hex() == ZEROS_144


def test_constants_from_their_definitions():
    # pi = 3.243F6A8885A308D3 13198A2E03707344 ... ; c_15 ends the first 1024 fractional bits.
    assert C[0] == 0x243F6A8885A308D3
    assert C[1] == 0x13198A2E03707344
    assert C[15] == 0x636920D871574E69
    # BLAKE-512's IV is SHA-512's (FIPS 180-4, 5.3.5).
    assert IV[0] == 0x6A09E667F3BCC908
    assert IV[7] == 0x5BE0CD19137E2179


def test_is_not_blake2b():
    assert blake512(b"\x00") != hashlib.blake2b(b"\x00").digest()


def test_incremental_equals_one_shot():
    data = bytes(range(256)) * 3
    for cut in (0, 1, 111, 112, 127, 128, 129, 256, 700):
        h = Blake512(data[:cut])
        h.update(data[cut:])
        assert h.digest() == blake512(data)
    h = Blake512(b"abc")
    h2 = h.copy()
    h2.update(b"d")
    assert h.digest() == blake512(b"abc")
    assert h2.hexdigest() == blake512(b"abcd").hex()


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=4))
def test_chunking_does_not_matter(data, cuts):
    h = Blake512()
    prev = 0
    for cut in sorted(min(c, len(data)) for c in cuts):
        h.update(data[prev:cut])
        prev = cut
    h.update(data[prev:])
    assert h.digest() == blake512(data)
    assert len(h.digest()) == 64


def test_bad_salt():
    with pytest.raises(ValueError):
        Blake512(b"", salt=b"short")


@pytest.mark.node
@requires_node
def test_against_blake_hash_package():
    rng = random.Random(512)
    # Every length around the one- and two-block padding boundaries, plus random lengths.
    lengths = list(range(0, 20)) + list(range(100, 150)) + list(range(230, 260)) + [
        rng.randrange(1, 2000) for _ in range(20)
    ]
    messages = [rng.randbytes(n) for n in lengths] + [bytes(144), b"\xff" * 128]
    answers = call([{"op": "blake512", "hex": m.hex()} for m in messages])
    for m, ref in zip(messages, answers, strict=True):
        assert blake512(m).hex() == ref, len(m)
