import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.formats import _limbs as L
from prover.formats.container import FormatError, read_container, write_container

MAGIC = b"test"


def _file(tmp_path, sections, magic=MAGIC, version=1):
    p = tmp_path / "f.bin"
    write_container(p, magic, version, sections)
    return p


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=64)), max_size=6),
       st.integers(0, 2**32 - 1))
def test_container_roundtrip(tmp_path_factory, sections, version):
    p = tmp_path_factory.mktemp("c") / "f.bin"
    write_container(p, MAGIC, version, sections)
    raw = p.read_bytes()
    assert raw[:4] == MAGIC
    assert struct.unpack_from("<II", raw, 4) == (version, len(sections))
    bf = read_container(p, MAGIC, max_version=2**32 - 1, min_version=0)
    assert bf.version == version
    assert [(s.id, bytes(bf.buf[s.offset:s.offset + s.size])) for s in bf.sections] == sections
    # The same bytes parse identically from memory.
    bf2 = read_container(raw, MAGIC, max_version=2**32 - 1, min_version=0)
    assert bf2.sections == bf.sections


def test_chunked_payloads_and_arrays(tmp_path):
    arr = np.arange(6, dtype=np.uint64).reshape(3, 2)
    p = _file(tmp_path, [(7, [b"ab", arr, memoryview(b"z")]), (1, b"")])
    bf = read_container(p, MAGIC, 1)
    assert bf.payload(7).tobytes() == b"ab" + arr.astype("<u8").tobytes() + b"z"
    assert bf.payload(1).size == 0
    assert bf.section_ids == [7, 1]


def test_errors(tmp_path):
    p = _file(tmp_path, [(1, b"abcd"), (2, b"x" * 10)])
    raw = p.read_bytes()
    with pytest.raises(FormatError, match="bad magic"):
        read_container(p, b"r1cs", 1)
    with pytest.raises(FormatError, match="unsupported version"):
        read_container(_file(tmp_path, [], version=3), MAGIC, 2)
    for cut in (0, 5, 11):
        with pytest.raises(FormatError, match="truncated header"):
            read_container(raw[:cut], MAGIC, 1)
    with pytest.raises(FormatError, match="truncated section table"):
        read_container(raw[:12 + 5], MAGIC, 1)
    with pytest.raises(FormatError, match="truncated section 2"):
        read_container(raw[:-1], MAGIC, 1)
    with pytest.raises(FormatError, match="trailing"):
        read_container(raw + b"\0", MAGIC, 1)
    bf = read_container(raw, MAGIC, 1)
    with pytest.raises(FormatError, match="missing section 3"):
        bf.section(3)
    dup = read_container(_file(tmp_path, [(1, b""), (1, b"")]), MAGIC, 1)
    with pytest.raises(FormatError, match="duplicated section 1"):
        dup.payload(1)
    rd = bf.reader(1)
    assert rd.u32() == int.from_bytes(b"abcd", "little")
    with pytest.raises(FormatError, match="truncated"):
        rd.u32()
    assert issubclass(FormatError, ValueError)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="truncated header"):
        read_container(empty, MAGIC, 1)


u256 = st.integers(0, 2**256 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(u256, max_size=8))
def test_limbs_roundtrip(xs):
    arr = L.ints_to_limbs(xs)
    assert arr.dtype == np.uint64 and arr.shape == (len(xs), 4)
    assert L.limbs_to_ints(arr) == xs
    for x, row in zip(xs, arr, strict=True):
        assert L.limbs_to_int(row) == x
        assert np.array_equal(L.int_to_limbs(x), row)
        # limb 0 is the least significant 64 bits
        assert int(row[0]) == x & (2**64 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(u256, min_size=1, max_size=8), st.sampled_from([L.BN254_Q, L.BN254_R]))
def test_limbs_lt_matches_python(xs, p):
    xs = xs + [p - 1, p, p + 1, 0]
    got = L.limbs_lt(L.ints_to_limbs(xs), p)
    assert got.tolist() == [x < p for x in xs]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, L.BN254_Q - 1), max_size=6))
def test_montgomery_roundtrip(xs):
    q = L.BN254_Q
    m = L.ints_to_mont_limbs(xs, q)
    assert L.limbs_to_ints(m) == [x * 2**256 % q for x in xs]
    assert L.mont_limbs_to_ints(m, q) == xs
    for x in xs:
        assert L.from_mont(L.to_mont(x, q), q) == x


def test_point_conversions():
    g1 = [(1, 2), None, (L.BN254_Q - 1, 5)]
    arr = L.g1_to_mont(g1)
    assert arr.shape == (3, 2, 4) and not arr[1].any()
    assert L.g1_from_mont(arr) == g1
    g2 = [((1, 2), (3, 4)), None]
    arr2 = L.g2_to_mont(g2)
    assert arr2.shape == (2, 2, 2, 4)
    assert L.g2_from_mont(arr2) == g2
    assert L.field_n8(L.BN254_R) == 32 and L.field_n8(2**64 - 59) == 8


def test_ensure_aligned():
    from prover.formats.container import ensure_aligned
    raw = np.zeros(8 * 5 + 4, np.uint8)
    raw[4:] = np.arange(40, dtype=np.uint8)
    view = raw[4:].view("<u8")
    assert not view.flags.aligned
    fixed = ensure_aligned(view)
    assert fixed.flags.aligned and np.array_equal(fixed, view)
    ok = np.arange(4, dtype=np.uint64)
    assert ensure_aligned(ok) is ok


def _mapped_rss_kib(path) -> int:
    """Resident KiB of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        head = line.split()
        if "-" in head[0] and len(head) >= 5:
            inside = len(head) >= 6 and head[5] == str(path)
        elif inside and head[0] == "Rss:":
            total += int(head[1])
    return total


def test_drop_pages_releases_a_mapped_section_and_keeps_its_bytes(tmp_path):
    from prover.formats.container import drop_pages

    payload = np.arange(1 << 19, dtype=np.uint64)  # 4 MiB
    p = _file(tmp_path, [(1, b"head"), (2, payload.tobytes())])
    sec = read_container(p, MAGIC, max_version=1).payload(2).view(np.uint64)
    assert int(sec.sum()) == int(payload.sum())  # every page read: resident
    before = _mapped_rss_kib(p)
    drop_pages(sec)
    assert _mapped_rss_kib(p) < before - 3000
    assert np.array_equal(sec, payload)  # read back from the page cache
    drop_pages(payload)  # not a mapped file: nothing happens
