import json
import struct

import numpy as np
import pytest
from py_ecc.optimized_bn128 import G1, G2, multiply

from prover.formats._limbs import BN254_Q, BN254_R, g1_from_mont, g2_from_mont
from prover.formats.container import FormatError, read_container, write_container
from prover.formats.ptau import read_ptau
from prover.formats.r1cs import read_r1cs
from prover.formats.zkey import COEF_DTYPE, SNARKJS_ORDER, Zkey, make_coeffs, read_zkey, write_zkey
from tests.support.snark import needs_node, on_curve_g1, on_curve_g2, pe_eq, pe_g1, pe_g2, pe_sum

R2 = pow(2, 512, BN254_R)


@needs_node
@pytest.mark.parametrize("which", ["zkey0", "zkey"])
def test_roundtrip_bytes(snark, tmp_path, which):  # noqa: F811
    src = getattr(snark, which)
    z = read_zkey(src, check_points=True)
    assert not z.a.flags.writeable  # views over the mapped file
    out = tmp_path / "re.zkey"
    write_zkey(z, out)
    assert out.read_bytes() == src.read_bytes()


@needs_node
def test_header_and_shapes(snark):  # noqa: F811
    z0 = read_zkey(snark.zkey0)
    z = read_zkey(snark.zkey)
    # setup writes 1,2,4,3,9,8,5,6,7,10; contribute rewrites in id order
    assert z0.section_order == SNARKJS_ORDER
    assert z.section_order == tuple(range(1, 11))
    assert (z.n8q, z.q, z.n8r, z.r) == (32, BN254_Q, 32, BN254_R)
    assert (z.n_vars, z.n_public, z.domain_size, z.power) == (7, 2, 8, 3)
    assert z.ic.shape == (3, 2, 4) and z.a.shape == z.b1.shape == (7, 2, 4)
    assert z.b2.shape == (7, 2, 2, 4) and z.c.shape == (4, 2, 4) and z.h.shape == (8, 2, 4)
    assert z.coeffs.dtype == COEF_DTYPE
    # setup leaves gamma2 = delta2 = G2 and delta1 = G1; the contribution changes delta only
    assert g1_from_mont(z0.delta1) == [(1, 2)]
    assert pe_eq(pe_g2(g2_from_mont(z0.gamma2)[0]), G2)
    assert pe_eq(pe_g2(g2_from_mont(z0.delta2)[0]), G2)
    assert pe_eq(pe_g2(g2_from_mont(z.gamma2)[0]), G2)
    assert g1_from_mont(z.delta1) != [(1, 2)]
    for name in ("alpha1", "beta1", "beta2", "ic", "a", "b1", "b2"):
        assert np.array_equal(getattr(z0, name), getattr(z, name)), name
    assert not np.array_equal(z0.h, z.h) and not np.array_equal(z0.c, z.c)
    # every point is on its curve
    for zk in (z0, z):
        g1s = [zk.alpha1, zk.beta1, zk.delta1, zk.ic, zk.a, zk.b1, zk.c, zk.h]
        assert all(on_curve_g1(p) for arr in g1s for p in g1_from_mont(arr))
        assert all(on_curve_g2(p) for arr in (zk.beta2, zk.gamma2, zk.delta2, zk.b2)
                   for p in g2_from_mont(arr))
    # contributions section: csHash then one named contribution
    assert z0.contribution_list() == []
    (c,) = z.contribution_list()
    assert (c.name, c.type) == ("c1", 0) and len(c.transcript) == 64
    assert z.cs_hash == z0.cs_hash and len(z.cs_hash) == 64
    assert g1_from_mont(c.delta_after) == g1_from_mont(z.delta1)


@needs_node
def test_section4_coefficients(snark):  # noqa: F811
    z = read_zkey(snark.zkey)
    r = read_r1cs(snark.r1cs)
    m = r.n_constraints
    # stored value is c * R^2 mod r (R = 2^256), c canonical
    vals = z.coeff_values()
    from prover.formats._limbs import limbs_to_ints
    assert limbs_to_ints(z.coeffs["value"]) == [v * R2 % BN254_R for v in vals]
    got = list(zip(z.coeffs["matrix"].tolist(), z.coeffs["constraint"].tolist(),
                   z.coeffs["signal"].tolist(), vals, strict=True))
    want = []
    cons = r.constraints()
    for i, (a, b, _c) in enumerate(cons):
        want += [(0, i, s, v) for s, v in a.items()]
        want += [(1, i, s, v) for s, v in b.items()]
    # one extra A row per public signal (and the one wire): constraint m+s, signal s, value 1
    want += [(0, m + s, s, 1) for s in range(z.n_public + 1)]
    assert got == want
    assert len(z.coeffs) == sum(len(a) + len(b) for a, b, _ in cons) + z.n_public + 1


@needs_node
def test_points_match_ptau_lagrange(snark):  # noqa: F811
    """Sections 5-7 are sums of coefficient * Lagrange point over the domain, and section 9
    holds the odd points of the Lagrange basis over twice the domain."""
    z = read_zkey(snark.zkey0)
    p = read_ptau(snark.ptau)
    k = z.power
    lag1 = [pe_g1(x) for x in g1_from_mont(p.lagrange_g1(k))]
    lag2 = [pe_g2(x) for x in g2_from_mont(p.lagrange_g2(k))]
    vals = z.coeff_values()
    rec = list(zip(z.coeffs["matrix"].tolist(), z.coeffs["constraint"].tolist(),
                   z.coeffs["signal"].tolist(), vals, strict=True))
    for s in range(z.n_vars):
        a_terms = [multiply(lag1[c], v) for mtx, c, sig, v in rec if mtx == 0 and sig == s]
        b1_terms = [multiply(lag1[c], v) for mtx, c, sig, v in rec if mtx == 1 and sig == s]
        b2_terms = [multiply(lag2[c], v) for mtx, c, sig, v in rec if mtx == 1 and sig == s]
        zero1, zero2 = multiply(G1, 0), multiply(G2, 0)
        assert pe_eq(pe_g1(g1_from_mont(z.a[s])[0]), pe_sum([zero1, *a_terms]))
        assert pe_eq(pe_g1(g1_from_mont(z.b1[s])[0]), pe_sum([zero1, *b1_terms]))
        assert pe_eq(pe_g2(g2_from_mont(z.b2[s])[0]), pe_sum([zero2, *b2_terms]))
    hl = p.lagrange_g1(k + 1)
    assert np.array_equal(z.h, hl[1::2])


@needs_node
def test_ic_matches_snarkjs_vk(snark):  # noqa: F811
    z = read_zkey(snark.zkey)
    vk = json.loads(snark.vk.read_text())
    assert vk["nPublic"] == z.n_public
    assert [[str(x), str(y), "1"] for x, y in g1_from_mont(z.ic)] == vk["IC"]
    (x, y), = g1_from_mont(z.alpha1)
    assert vk["vk_alpha_1"] == [str(x), str(y), "1"]
    ((x0, x1), (y0, y1)), = g2_from_mont(z.delta2)
    assert vk["vk_delta_2"] == [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]]


def _tiny() -> Zkey:
    g1 = np.zeros((2, 4), np.uint64)
    g1[:, 0] = [3, 4]
    g2 = np.zeros((2, 2, 4), np.uint64)
    n_vars, n_pub, n = 3, 1, 4

    def pts(k, shape=(2, 4)):
        return np.tile(np.arange(1, 9, dtype=np.uint64).reshape(2, 4)[None], (k, 1, 1)) \
            if shape == (2, 4) else np.zeros((k, *shape), np.uint64)

    coeffs = make_coeffs([0, 1, 0], [0, 0, 1], [1, 2, 0], [5, BN254_R - 1, 1])
    return Zkey(32, BN254_Q, 32, BN254_R, n_vars, n_pub, n, g1, g1, g2, g2, g1, g2,
                pts(n_pub + 1), coeffs, pts(n_vars), pts(n_vars), pts(n_vars, (2, 2, 4)),
                pts(n_vars - n_pub - 1), pts(n),
                contributions=bytes(64) + struct.pack("<I", 0))


def test_synthetic_roundtrip(tmp_path):
    z = _tiny()
    f = tmp_path / "t.zkey"
    write_zkey(z, f)
    back = read_zkey(f, check_points=True)
    assert back.coeff_values() == [5, BN254_R - 1, 1]
    assert back.section_order == SNARKJS_ORDER
    for name in ("ic", "a", "b1", "b2", "c", "h", "alpha1", "delta2"):
        assert np.array_equal(getattr(back, name), getattr(z, name))
    z.section_order = tuple(range(1, 11))
    write_zkey(z, f)
    assert read_zkey(f).section_order == tuple(range(1, 11))
    z.contributions = None
    write_zkey(z, f)
    assert read_zkey(f).contributions is None


def test_malformed(tmp_path):
    f = tmp_path / "t.zkey"
    write_zkey(_tiny(), f)
    raw = f.read_bytes()
    bad = tmp_path / "bad.zkey"
    bad.write_bytes(raw[:-7])
    with pytest.raises(FormatError, match="truncated"):
        read_zkey(bad)
    bad.write_bytes(b"ptau" + raw[4:])
    with pytest.raises(FormatError, match="bad magic"):
        read_zkey(bad)
    bf = read_container(f, b"zkey", 1)
    secs = [(s.id, bf.payload(s.id).tobytes()) for s in bf.sections]

    def with_(sid, payload, drop=False):
        out = [(i, payload if i == sid else p) for i, p in secs if not (drop and i == sid)]
        write_container(bad, b"zkey", 1, out)
        return bad

    with pytest.raises(FormatError, match="unsupported protocol plonk"):
        read_zkey(with_(1, struct.pack("<I", 2)))
    hdr = bytearray(dict(secs)[2])
    hdr[4:36] = BN254_R.to_bytes(32, "little")
    with pytest.raises(FormatError, match="wrong base field prime"):
        read_zkey(with_(2, bytes(hdr)))
    hdr = bytearray(dict(secs)[2])
    hdr[40:72] = BN254_Q.to_bytes(32, "little")
    with pytest.raises(FormatError, match="wrong scalar field prime"):
        read_zkey(with_(2, bytes(hdr)))
    with pytest.raises(FormatError, match="missing section 9"):
        read_zkey(with_(9, b"", drop=True))
    with pytest.raises(FormatError, match="section 5"):
        read_zkey(with_(5, dict(secs)[5][:-64]))
    c4 = bytearray(dict(secs)[4])
    c4[0:4] = struct.pack("<I", 4)
    with pytest.raises(FormatError, match="coefficient section"):
        read_zkey(with_(4, bytes(c4)))
    c4 = bytearray(dict(secs)[4])
    c4[4 + 12 : 4 + 44] = BN254_R.to_bytes(32, "little")
    with pytest.raises(FormatError, match="not reduced modulo r"):
        read_zkey(with_(4, bytes(c4)))
    hdr = bytearray(dict(secs)[2])
    hdr[80:84] = struct.pack("<I", 6)  # domainSize
    with pytest.raises(FormatError, match="power of two|section 9"):
        read_zkey(with_(2, bytes(hdr)))
    with pytest.raises(FormatError, match="unexpected sections"):
        write_container(bad, b"zkey", 1, secs + [(11, b"")])
        read_zkey(bad)
    coord = bytearray(dict(secs)[9])
    coord[:32] = BN254_Q.to_bytes(32, "little")
    read_zkey(with_(9, bytes(coord)))
    with pytest.raises(FormatError, match="H: coordinate not reduced"):
        read_zkey(bad, check_points=True)
