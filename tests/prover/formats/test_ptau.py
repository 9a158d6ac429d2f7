import numpy as np
import pytest
from py_ecc.optimized_bn128 import G1, G2, add, is_inf, multiply, neg

from prover.formats._limbs import BN254_R, g1_from_mont, g2_from_mont
from prover.formats.container import FormatError, read_container, write_container
from prover.formats.ptau import Ptau, read_ptau, write_ptau
from tests.support.snark import (
    PTAU_POWER,
    needs_node,
    on_curve_g1,
    on_curve_g2,
    pe_eq,
    pe_g1,
    pe_g2,
    pe_sum,
)

N = 1 << PTAU_POWER


@needs_node
def test_fresh_ptau_is_all_generators(snark):  # noqa: F811
    p = read_ptau(snark.ptau0, check_points=True)
    assert (p.power, p.ceremony_power, p.n_contributions, p.prepared) == (4, 4, 0, False)
    assert p.tau_g1.shape == (2 * N - 1, 2, 4) and p.tau_g2.shape == (N, 2, 2, 4)
    assert p.alpha_tau_g1.shape == p.beta_tau_g1.shape == (N, 2, 4)
    assert p.beta_g2.shape == (2, 2, 4)
    for arr in (p.tau_g1, p.alpha_tau_g1, p.beta_tau_g1):
        assert set(g1_from_mont(arr)) == {(1, 2)}
    g2 = g2_from_mont(p.tau_g2)[0]
    assert pe_eq(pe_g2(g2), G2)


@needs_node
@pytest.mark.parametrize("which", ["ptau0", "ptau1", "ptau"])
def test_roundtrip_bytes(snark, tmp_path, which):  # noqa: F811
    src = getattr(snark, which)
    p = read_ptau(src)
    assert not p.tau_g1.flags.writeable
    out = tmp_path / "re.ptau"
    write_ptau(p, out)
    assert out.read_bytes() == src.read_bytes()


@needs_node
def test_contributed_ptau_structure(snark):  # noqa: F811
    p = read_ptau(snark.ptau1, check_points=True)
    assert p.n_contributions == 1
    tau = g1_from_mont(p.tau_g1)
    assert tau[0] == (1, 2) and tau[1] != (1, 2)
    assert all(on_curve_g1(x) for x in tau)
    assert all(on_curve_g1(x) for x in g1_from_mont(p.alpha_tau_g1))
    assert all(on_curve_g2(x) for x in g2_from_mont(p.tau_g2))
    beta2 = pe_g2(g2_from_mont(p.beta_g2)[0])
    assert on_curve_g2(g2_from_mont(p.beta_g2)[0])
    # G2 points are in the r-torsion subgroup
    assert is_inf(multiply(beta2, BN254_R))
    assert not is_inf(multiply(beta2, BN254_R - 1))


@needs_node
def test_prepared_lagrange_sections(snark):  # noqa: F811
    p = read_ptau(snark.ptau, check_points=True)
    assert p.prepared and p.section_order == (1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15)
    assert p.lagrange_tau_g1.shape == (4 * N - 1, 2, 4)
    assert p.lagrange_tau_g2.shape == (2 * N - 1, 2, 2, 4)
    tau = [pe_g1(x) for x in g1_from_mont(p.tau_g1[:2])]
    # domain of size 1: L_0 = 1
    assert pe_eq(pe_g1(g1_from_mont(p.lagrange_g1(0))[0]), G1)
    # domain of size 2 (roots 1, -1): L_0 = (1 + x)/2, L_1 = (1 - x)/2
    l0, l1 = (pe_g1(x) for x in g1_from_mont(p.lagrange_g1(1)))
    assert pe_eq(multiply(l0, 2), add(tau[0], tau[1]))
    assert pe_eq(multiply(l1, 2), add(tau[0], neg(tau[1])))
    # every basis sums to the generator (sum of Lagrange polynomials is 1)
    for k in range(PTAU_POWER + 2):
        assert pe_eq(pe_sum(pe_g1(x) for x in g1_from_mont(p.lagrange_g1(k))), G1)
    for k in range(PTAU_POWER + 1):
        assert pe_eq(pe_sum(pe_g2(x) for x in g2_from_mont(p.lagrange_g2(k))), G2)
    alpha = pe_g1(g1_from_mont(p.alpha_tau_g1[:1])[0])
    beta = pe_g1(g1_from_mont(p.beta_tau_g1[:1])[0])
    for k in (0, 2, PTAU_POWER):
        assert pe_eq(pe_sum(pe_g1(x) for x in g1_from_mont(p.lagrange_alpha_g1(k))), alpha)
        assert pe_eq(pe_sum(pe_g1(x) for x in g1_from_mont(p.lagrange_beta_g1(k))), beta)
    with pytest.raises(ValueError):
        p.lagrange_g2(PTAU_POWER + 1)


def _tiny(power=1) -> Ptau:
    n = 1 << power
    g1 = np.zeros((2 * n - 1, 2, 4), np.uint64)
    g1[:, 0, 0] = 7
    return Ptau(q=21888242871839275222246405745257275088696311157297823662689037894645226208583,
                power=power, ceremony_power=power, tau_g1=g1,
                tau_g2=np.zeros((n, 2, 2, 4), np.uint64), alpha_tau_g1=g1[:n],
                beta_tau_g1=g1[:n], beta_g2=np.zeros((2, 2, 4), np.uint64))


def test_synthetic_roundtrip_and_errors(tmp_path):
    p = _tiny()
    f = tmp_path / "t.ptau"
    write_ptau(p, f)
    back = read_ptau(f, check_points=True)
    assert np.array_equal(back.tau_g1, p.tau_g1) and not back.prepared
    with pytest.raises(FormatError, match="not prepared"):
        back.lagrange_g1(0)
    raw = f.read_bytes()
    bad = tmp_path / "bad.ptau"
    bad.write_bytes(raw[:-2])
    with pytest.raises(FormatError, match="truncated"):
        read_ptau(bad)
    bad.write_bytes(b"zkey" + raw[4:])
    with pytest.raises(FormatError, match="bad magic"):
        read_ptau(bad)
    bf = read_container(f, b"ptau", 1)
    secs = {s.id: bf.payload(s.id).tobytes() for s in bf.sections}
    hdr = bytearray(secs[1])
    hdr[4:36] = BN254_R.to_bytes(32, "little")
    write_container(bad, b"ptau", 1, [(1, bytes(hdr))] + [(i, secs[i]) for i in range(2, 8)])
    with pytest.raises(FormatError, match="wrong prime"):
        read_ptau(bad)
    write_container(bad, b"ptau", 1, [(i, secs[i]) for i in range(1, 7)])
    with pytest.raises(FormatError, match="missing section 7"):
        read_ptau(bad)
    write_container(bad, b"ptau", 1, [(i, secs[i]) for i in range(1, 8)] + [(12, b"")])
    with pytest.raises(FormatError, match="some of the Lagrange"):
        read_ptau(bad)
    short = dict(secs)
    short[3] = secs[3][:-128]
    write_container(bad, b"ptau", 1, [(i, short[i]) for i in range(1, 8)])
    with pytest.raises(FormatError, match="section 3"):
        read_ptau(bad)
    coord = bytearray(secs[2])
    coord[:32] = (2**256 - 1).to_bytes(32, "little")
    write_container(bad, b"ptau", 1, [(1, secs[1]), (2, bytes(coord))]
                    + [(i, secs[i]) for i in range(3, 8)])
    read_ptau(bad)  # the coordinate check is opt-in (a full pass over the file)
    with pytest.raises(FormatError, match="not reduced"):
        read_ptau(bad, check_points=True)


# --- section 7: contribution records ------------------------------------------------------------

def _record(**kw):
    from prover.formats.ptau import PtauContribution, PtauKeyPart

    g1, g2 = np.arange(8, dtype=np.uint64).reshape(2, 4), np.arange(16, dtype=np.uint64).reshape(
        2, 2, 4)
    key = {p: PtauKeyPart(g1 + i, g1 + 10 + i, g2 + i) for i, p in enumerate(("tau", "alpha",
                                                                            "beta"))}
    return PtauContribution(g1, g2, g1 + 1, g1 + 2, g2 + 3, key, bytes(range(216)),
                            bytes(range(64)), **kw)


def test_contribution_records_roundtrip():
    from prover.formats.ptau import encode_contributions, parse_contributions

    recs = [_record(name="alice"), _record(type=1, name=None, num_iterations_exp=12,
                                           beacon_hash=b"\x01\x02")]
    raw = encode_contributions(recs)
    back = parse_contributions(raw)
    assert [(c.type, c.name, c.num_iterations_exp, c.beacon_hash) for c in back] == [
        (0, "alice", None, None), (1, None, 12, b"\x01\x02")]
    assert encode_contributions(back) == raw
    assert np.array_equal(back[1].key["beta"].g2_spx, recs[1].key["beta"].g2_spx)


def test_names_are_cut_as_javascript_does():
    """substring(0, 64) counts UTF-16 units; half a surrogate pair encodes as U+FFFD."""
    from prover.formats.ptau import encode_params

    params = encode_params(_record(name="x" * 63 + "\U0001F389!"))
    assert params[:2] == bytes([1, 66]) and params[2:] == b"x" * 63 + "\ufffd".encode()
    assert encode_params(_record(name="é" * 70))[1] == 128  # 64 characters, 2 bytes each


@pytest.mark.parametrize("params, message", [
    (bytes([2, 10, 1, 1, 65]), "must be sorted"),
    (bytes([4, 1]), "Parameter not recognized"),
    (bytes([1, 9, 65]), "Parameters do not match"),
])
def test_bad_parameter_lists(params, message):
    import struct

    from prover.formats.ptau import encode_contributions, parse_contributions

    raw = encode_contributions([_record()])
    raw = raw[: -8] + struct.pack("<II", 0, len(params)) + params
    with pytest.raises(FormatError, match=message):
        parse_contributions(raw)
    with pytest.raises(FormatError, match="size"):
        parse_contributions(encode_contributions([_record()]) + b"\0")


@needs_node
def test_snarkjs_records_reencode(snark):  # noqa: F811
    from prover.formats.ptau import encode_contributions, parse_contributions

    p = read_ptau(snark.ptau1)
    recs = parse_contributions(p.contributions)
    assert [c.name for c in recs] == ["first"] and recs[0].type == 0
    assert encode_contributions(recs) == p.contributions
