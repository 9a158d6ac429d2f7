import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.formats._limbs import BN254_Q, limbs_to_ints
from prover.formats.container import FormatError, read_container, write_container
from prover.formats.r1cs import R1CS, read_r1cs, write_r1cs
from prover.formats.wtns import read_wtns
from tests.support.snark import R, needs_node, run_snarkjs

MINUS1 = R - 1


def _satisfied(r1cs: R1CS, w: list[int]) -> bool:
    for a, b, c in r1cs.constraints():
        def ev(lc):
            return sum(v * w[i] for i, v in lc.items()) % R
        if ev(a) * ev(b) % R != ev(c):
            return False
    return True


@needs_node
def test_read_circom_r1cs(snark):  # noqa: F811
    r = read_r1cs(snark.r1cs)
    assert r.prime == R
    assert (r.n_wires, r.n_pub_out, r.n_pub_in, r.n_prv_in) == (7, 1, 1, 2)
    assert (r.n_labels, r.n_constraints, r.n_public) == (7, 4, 2)
    assert r.wire_to_label.tolist() == list(range(7))
    for m in (r.A, r.B, r.C):
        assert m.row.dtype == np.int64 and m.col.dtype == np.int64
        assert m.coeff.dtype == np.uint64 and m.coeff.shape == (m.nnz, 4)
        assert np.all(np.diff(m.row) >= 0)
    # Wires: 0 one, 1 out, 2 a (public), 3 b, 4 c, 5 ab, 6 sq. circom writes a*b = ab as
    # (-a) * (b) = (-ab); the known linear combinations:
    cons = r.constraints()
    assert cons[0] == ({2: MINUS1}, {3: 1}, {5: MINUS1})
    assert cons[1] == ({5: MINUS1}, {4: 1}, {0: R - 3, 1: MINUS1, 2: 7})
    assert cons[2] == cons[3] == ({4: MINUS1}, {4: 1}, {6: MINUS1})
    w = limbs_to_ints(read_wtns(snark.wtns))
    assert _satisfied(r, w)
    w[1] = (w[1] + 1) % R
    assert not _satisfied(r, w)


@needs_node
def test_rewrite_is_byte_identical(snark, tmp_path):  # noqa: F811
    r = read_r1cs(snark.r1cs)
    out = tmp_path / "re.r1cs"
    write_r1cs(r, out)
    assert out.read_bytes() == snark.r1cs.read_bytes()
    # from_constraints over the same content gives the same file too
    r2 = R1CS.from_constraints(r.constraints(), n_wires=r.n_wires, n_pub_out=r.n_pub_out,
                               n_pub_in=r.n_pub_in, n_prv_in=r.n_prv_in, n_labels=r.n_labels)
    write_r1cs(r2, out)
    assert out.read_bytes() == snark.r1cs.read_bytes()


@needs_node
def test_written_r1cs_accepted_by_snarkjs(snark, tmp_path):  # noqa: F811
    cons = [({0: 3, 1: 1}, {2: 1}, {3: 1}), ({3: 1}, {3: 1}, {4: 1}), ({}, {}, {})]
    r = R1CS.from_constraints(cons, n_wires=5, n_pub_out=1, n_pub_in=1, n_prv_in=1)
    p = tmp_path / "own.r1cs"
    write_r1cs(r, p)
    info = run_snarkjs("r1cs", "info", p, cwd=tmp_path)
    assert "# of Constraints: 3" in info and "# of Wires: 5" in info


def _random_r1cs(draw_ints, m, n_wires):
    cons = []
    for c in range(m):
        lcs = []
        for k in range(3):
            d = {}
            for w, v in draw_ints[(c * 3 + k) % len(draw_ints)]:
                d[w % n_wires] = v
            lcs.append(d)
        cons.append(tuple(lcs))
    return cons


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 6), st.integers(4, 12),
       st.lists(st.lists(st.tuples(st.integers(0, 50), st.integers(0, R - 1)), max_size=4),
                min_size=1, max_size=6))
def test_roundtrip_random(tmp_path_factory, m, n_wires, terms):
    cons = _random_r1cs(terms, m, n_wires)
    r = R1CS.from_constraints(cons, n_wires=n_wires, n_pub_out=1, n_pub_in=1, n_prv_in=1)
    p = tmp_path_factory.mktemp("r") / "x.r1cs"
    write_r1cs(r, p)
    back = read_r1cs(p)
    assert back.constraints() == cons
    assert (back.n_constraints, back.n_wires, back.n_labels) == (m, n_wires, n_wires)
    # size: 3 counts per constraint + 36 bytes per term, plus header/map sections
    nnz = sum(len(d) for c in cons for d in c)
    assert len(p.read_bytes()) == 12 + 3 * 12 + 12 * m + 36 * nnz + 64 + 8 * n_wires


def test_write_sorts_rows_stably(tmp_path):
    from prover.formats._limbs import ints_to_limbs
    from prover.formats.r1cs import SparseMatrix
    ref = R1CS.from_constraints([({1: 5, 2: 6}, {0: 1}, {3: 1}), ({2: 7}, {0: 1}, {3: 2})],
                                n_wires=4, n_pub_out=0, n_pub_in=1, n_prv_in=1)
    shuffled = R1CS(**{**ref.__dict__})
    shuffled.A = SparseMatrix(np.array([1, 0, 0]), np.array([2, 1, 2]),
                              ints_to_limbs([7, 5, 6]))
    a, b = tmp_path / "a.r1cs", tmp_path / "b.r1cs"
    write_r1cs(ref, a)
    write_r1cs(shuffled, b)
    assert a.read_bytes() == b.read_bytes()


def _small(tmp_path):
    r = R1CS.from_constraints([({1: 1}, {1: 1}, {2: 1})], n_wires=3, n_pub_out=0, n_pub_in=1,
                              n_prv_in=1)
    p = tmp_path / "s.r1cs"
    write_r1cs(r, p)
    return p


def _sections(p):
    bf = read_container(p, b"r1cs", 1)
    return [(s.id, bf.buf[s.offset:s.offset + s.size].tobytes()) for s in bf.sections]


def test_malformed(tmp_path):
    p = _small(tmp_path)
    raw = p.read_bytes()
    secs = dict(_sections(p))
    bad = tmp_path / "bad.r1cs"

    bad.write_bytes(raw[:-3])
    with pytest.raises(FormatError, match="truncated"):
        read_r1cs(bad)
    bad.write_bytes(b"r1cx" + raw[4:])
    with pytest.raises(FormatError, match="bad magic"):
        read_r1cs(bad)
    bad.write_bytes(raw[:4] + struct.pack("<I", 2) + raw[8:])
    with pytest.raises(FormatError, match="unsupported version"):
        read_r1cs(bad)

    def with_sections(s):
        write_container(bad, b"r1cs", 1, s)
        return bad

    hdr = bytearray(secs[1])
    hdr[4:36] = BN254_Q.to_bytes(32, "little")
    with pytest.raises(FormatError, match="wrong prime"):
        read_r1cs(with_sections([(2, secs[2]), (1, bytes(hdr)), (3, secs[3])]))
    assert read_r1cs(bad, prime=None).prime == BN254_Q
    with pytest.raises(FormatError, match="custom gates"):
        read_r1cs(with_sections([(2, secs[2]), (1, secs[1]), (3, secs[3]), (4, b"\0" * 4)]))
    with pytest.raises(FormatError, match="missing section 3"):
        read_r1cs(with_sections([(2, secs[2]), (1, secs[1])]))
    with pytest.raises(FormatError, match="constraints section truncated"):
        read_r1cs(with_sections([(2, secs[2][:-1]), (1, secs[1]), (3, secs[3])]))
    with pytest.raises(FormatError, match="trailing"):
        read_r1cs(with_sections([(2, secs[2] + b"\0"), (1, secs[1]), (3, secs[3])]))
    # unknown sections are ignored (spec), section order does not matter
    ok = read_r1cs(with_sections([(9, b"??"), (3, secs[3]), (1, secs[1]), (2, secs[2])]))
    assert ok.constraints() == [({1: 1}, {1: 1}, {2: 1})]
    # coefficient >= prime; wire index >= nWires
    c2 = bytearray(secs[2])
    c2[8:40] = R.to_bytes(32, "little")
    with pytest.raises(FormatError, match="not reduced"):
        read_r1cs(with_sections([(2, bytes(c2)), (1, secs[1]), (3, secs[3])]))
    c2 = bytearray(secs[2])
    c2[4:8] = struct.pack("<I", 3)
    with pytest.raises(FormatError, match="wire index out of range"):
        read_r1cs(with_sections([(2, bytes(c2)), (1, secs[1]), (3, secs[3])]))
    hdr = bytearray(secs[1])
    hdr[0:4] = struct.pack("<I", 48)
    with pytest.raises(FormatError, match="field size"):
        read_r1cs(with_sections([(2, secs[2]), (1, bytes(hdr)), (3, secs[3])]))


def test_from_constraints_reduces_and_validates():
    r = R1CS.from_constraints([({0: -1}, {1: R + 2}, {})], n_wires=2, n_pub_out=0,
                              n_pub_in=1, n_prv_in=0)
    assert r.constraints() == [({0: R - 1}, {1: 2}, {})]
    with pytest.raises(FormatError, match="wire index"):
        R1CS.from_constraints([({5: 1}, {}, {})], n_wires=2, n_pub_out=0, n_pub_in=1,
                              n_prv_in=0)
