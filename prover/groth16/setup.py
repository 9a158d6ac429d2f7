"""Groth16 setup: `groth16 setup` from an .r1cs and a prepared .ptau, byte-identical to snarkjs's;
and a development setup from toxic waste drawn here and then dropped.

The development setup is NOT A CEREMONY: whoever runs it could have kept tau, alpha, beta,
gamma, delta and forge proofs. For tests and benchmarks only; deployments need a phase-1
ceremony and phase-2 contributions. It writes what `snarkjs groth16 setup` followed by phase-2
contributions would (A, B1, B2 = [U_i]_1, [V_i]_1, [V_i]_2; IC, C = [K_i / gamma]_1,
[K_i / delta]_1 with K_i = beta U_i + alpha V_i + W_i; H = the odd Lagrange points of the
2n-domain over delta), so snarkjs proves and verifies with it; section 10 holds no contributions
and a zero csHash, which `snarkjs zkey verify` rightly rejects. Formulas: docs/prover.md.
"""

from __future__ import annotations

import logging
import os
import secrets
import time

import numpy as np

from prover.constants import Q, R
from prover.curves import G1, G2, CurveGroup
from prover.fields import Fq, Fr
from prover.formats._limbs import limbs_lt
from prover.formats.container import ensure_aligned
from prover.formats.ptau import Ptau, read_ptau
from prover.formats.r1cs import R1CS, read_r1cs
from prover.formats.zkey import COEF_DTYPE, Zkey, write_zkey
from prover.groth16 import kernels as kg
from prover.groth16.steps import chunk_starts
from prover.ntt import MAX_LOG_N, root_of_unity

log = logging.getLogger(__name__)

NOT_A_CEREMONY = ("DEVELOPMENT SETUP, NOT A CEREMONY: the toxic waste was drawn by this process; "
                  "do not use this key for anything of value")


def domain_power(r1cs: R1CS) -> int:
    """log2 of the smallest power of two holding the constraints and the nPublic + 1 extra rows
    (snarkjs's cirPower)."""
    rows = r1cs.n_constraints + r1cs.n_public + 1
    return max(1, (rows - 1).bit_length())


def _fr(values: list[int]) -> np.ndarray:
    return Fr.from_ints([v % R for v in values])


def lagrange_at(tau: int, power: int, shift: int = 1, domain: int | None = None) -> np.ndarray:
    """L_j(tau) at the 2^power points x_j = shift * w^j (w = w_(2^power)), which must belong to
    the domain of the 2^domain-th roots of unity (default: the points themselves); Montgomery.

    For x_j an N-th root of unity, N = 2^domain: L_j(tau) = (tau^N - 1)/N * x_j/(tau - x_j).
    """
    n = 1 << power
    big_n = 1 << (power if domain is None else domain)
    w = root_of_unity(power)
    xs = [shift % R]
    for _ in range(n - 1):
        xs.append(xs[-1] * w % R)
    x = _fr(xs)
    den = Fr.sub(np.broadcast_to(Fr.from_int(tau), x.shape), x)
    if (~den.any(axis=1)).any():
        raise ValueError("tau lies on the domain; draw again")
    factor = (pow(tau, big_n, R) - 1) * pow(big_n, -1, R) % R
    return Fr.mul(Fr.mul(x, Fr.batch_inv(den)), Fr.from_int(factor))


CHUNK = 1 << 20  # entries or points per step: bounds the temporaries beside the key itself


def _matrix_at(mat, basis: np.ndarray, n_vars: int, extra_rows: int = 0,
               n_constraints: int = 0) -> np.ndarray:
    """sum_j M[j][i] basis[j] per wire i (Montgomery), entry chunk by chunk."""
    out = np.zeros((n_vars, 4), dtype=np.uint64)
    for s in range(0, mat.nnz, CHUNK):
        coeffs = Fr.to_montgomery(np.ascontiguousarray(mat.coeff[s : s + CHUNK], np.uint64))
        kg.scatter_mul_add(np.ascontiguousarray(mat.row[s : s + CHUNK], np.int64),
                           np.ascontiguousarray(mat.col[s : s + CHUNK], np.int64), coeffs,
                           basis, out)
    if extra_rows:  # A[nConstraints + s][s] = 1
        s = np.arange(extra_rows, dtype=np.int64)
        kg.scatter_mul_add(n_constraints + s, s, Fr.ones(extra_rows), basis, out)
    return out


def coefficient_records(r1cs: R1CS) -> np.ndarray:
    """Section 4: A then B entries of each constraint, then the public rows; value c*R^2 mod r.

    Each entry is placed at its record index directly (the records of constraint j start at
    the count of A and B entries before j; A's come first), chunk by chunk, so the peak beside
    the records is one chunk, not a sorted copy of both matrices."""
    a, b = r1cs.A.sorted_by_row(), r1cs.B.sorted_by_row()
    m, n_pub = r1cs.n_constraints, r1cs.n_public + 1
    ca = np.bincount(a.row, minlength=m).astype(np.int64)
    cb = np.bincount(b.row, minlength=m).astype(np.int64)
    row_first = np.zeros(m + 1, np.int64)  # record index of constraint j's first entry
    np.cumsum(ca + cb, out=row_first[1:])
    rec = np.empty(a.nnz + b.nnz + n_pub, dtype=COEF_DTYPE)
    for matrix, mat, counts, before in ((0, a, ca, 0), (1, b, cb, ca)):
        mat_first = np.zeros(m + 1, np.int64)  # index in mat of constraint j's first entry
        np.cumsum(counts, out=mat_first[1:])
        # record of entry e in row j: row_first[j] (+ A's count in row j for B) + e - mat_first[j]
        skew = row_first[:m] - mat_first[:m] + before
        for s in range(0, mat.nnz, CHUNK):
            rows = np.asarray(mat.row[s : s + CHUNK], np.int64)
            pos = skew[rows] + np.arange(s, s + len(rows), dtype=np.int64)
            rec["matrix"][pos] = matrix
            rec["constraint"][pos] = rows
            rec["signal"][pos] = mat.col[s : s + CHUNK]
            plain = np.ascontiguousarray(mat.coeff[s : s + CHUNK], np.uint64)
            rec["value"][pos] = Fr.to_montgomery(Fr.to_montgomery(plain))  # c*R^2
    pub = slice(a.nnz + b.nnz, None)  # A[nConstraints + s][s] = 1
    rec["matrix"][pub] = 0
    rec["constraint"][pub] = m + np.arange(n_pub)
    rec["signal"][pub] = np.arange(n_pub)
    rec["value"][pub] = Fr.to_montgomery(Fr.ones(1))  # 1*R^2: R in Montgomery form
    return rec


def fixed_base_table(group: CurveGroup) -> np.ndarray:
    """j * 256^w * generator (affine) for j < 256, w < 32: the table of `fixed_base`."""
    gen = group.to_jacobian(group.generator()[None])
    table = group.empty_jacobian(kg.N_WINDOWS * 256)
    kg.fixed_base_table(gen, table)
    return group.to_affine(table)


def fixed_base(group: CurveGroup, scalars_mont: np.ndarray,
               table: np.ndarray | None = None) -> np.ndarray:
    """[k_i] * generator for Montgomery scalars, affine (n, 2, ...) Montgomery coordinates;
    chunk by chunk, so only the affine result is held whole."""
    table = fixed_base_table(group) if table is None else table
    out = group.empty_affine(len(scalars_mont))
    for s in range(0, len(out), CHUNK):
        plain = Fr.from_montgomery(np.ascontiguousarray(scalars_mont[s : s + CHUNK], np.uint64))
        jac = group.empty_jacobian(len(plain))
        kg.fixed_base_mul(table, plain, jac)
        out[s : s + len(plain)] = group.to_affine(jac)
    return out


def _nonzero() -> int:
    return 1 + secrets.randbelow(R - 1)


def dev_setup(r1cs: R1CS | str | os.PathLike) -> Zkey:
    """A zkey for `r1cs` from fresh toxic waste (see the module docstring: not a ceremony)."""
    log.warning(NOT_A_CEREMONY)
    t0 = time.perf_counter()
    if not isinstance(r1cs, R1CS):
        r1cs = read_r1cs(r1cs)
    power = domain_power(r1cs)
    if power + 1 > MAX_LOG_N:
        raise ValueError(f"circuit needs a domain of 2^{power}; at most 2^{MAX_LOG_N - 1}")
    n, n_vars, n_pub = 1 << power, r1cs.n_wires, r1cs.n_public
    while True:
        tau = _nonzero()
        if pow(tau, 2 * n, R) != 1:  # tau off the 2n-domain (a 2^-220 event otherwise)
            break
    alpha, beta, gamma, delta = (_nonzero() for _ in range(4))

    # Scalars, then points, section by section: each array is dropped once its points exist.
    lag = lagrange_at(tau, power)
    u = _matrix_at(r1cs.A, lag, n_vars, n_pub + 1, r1cs.n_constraints)
    v = _matrix_at(r1cs.B, lag, n_vars)
    k = Fr.add(Fr.add(Fr.mul(u, Fr.from_int(beta)), Fr.mul(v, Fr.from_int(alpha))),
               _matrix_at(r1cs.C, lag, n_vars))
    del lag
    ic = Fr.mul(k[: n_pub + 1], Fr.from_int(pow(gamma, -1, R)))
    c = Fr.mul(k[n_pub + 1 :], Fr.from_int(pow(delta, -1, R)))
    del k
    log.debug("setup: scalars in %.2f s", time.perf_counter() - t0)
    t1, t2 = fixed_base_table(G1), fixed_base_table(G2)
    a1 = fixed_base(G1, u, t1)
    del u
    b1, b2 = fixed_base(G1, v, t1), fixed_base(G2, v, t2)
    del v
    c1, ic1 = fixed_base(G1, c, t1), fixed_base(G1, ic, t1)
    del c, ic
    # Odd points w_2n^(2i+1) = w_2n * w_n^i of the 2n-domain, its Lagrange basis, over delta.
    h1 = fixed_base(G1, Fr.mul(lagrange_at(tau, power, root_of_unity(power + 1), power + 1),
                               Fr.from_int(pow(delta, -1, R))), t1)
    alpha1, beta1, delta1 = fixed_base(G1, _fr([alpha, beta, delta]), t1)
    beta2, gamma2, delta2 = fixed_base(G2, _fr([beta, gamma, delta]), t2)
    log.debug("setup: points in %.2f s", time.perf_counter() - t0)
    contributions = bytes(64) + (0).to_bytes(4, "little")
    return Zkey(32, Q, 32, R, n_vars, n_pub, n, alpha1, beta1, beta2, gamma2, delta1, delta2,
                ic1, coefficient_records(r1cs), a1, b1, b2, c1, h1, contributions)


def dev_setup_file(r1cs_path: str | os.PathLike, zkey_path: str | os.PathLike) -> Zkey:
    z = dev_setup(r1cs_path)
    write_zkey(z, zkey_path)
    return z


# --- setup from a phase-1 ceremony (.ptau prepared for phase 2) -------------------------------

def _entries(mat, extra_rows: int = 0, n_constraints: int = 0):
    """(rows, cols, plain coefficient limbs) of one matrix, the public rows appended for A."""
    rows, cols = mat.row.astype(np.int64), mat.col.astype(np.int64)
    coeffs = np.asarray(mat.coeff, dtype=np.uint64).reshape(-1, 4)
    if extra_rows:
        s = np.arange(extra_rows, dtype=np.int64)
        rows = np.concatenate([rows, n_constraints + s])
        cols = np.concatenate([cols, s])
        coeffs = np.concatenate([coeffs, np.tile(np.array([1, 0, 0, 0], np.uint64),
                                                 (extra_rows, 1))])
    return rows, cols, coeffs


def _wire_sums(group: CurveGroup, parts, n_out: int, col_offset: int = 0) -> np.ndarray:
    """sum over entries (row j, wire i, c) of c * bases[j] into wire i - col_offset (affine);
    parts = [(rows, cols, coeffs, bases)]; entries of wires outside
    col_offset .. col_offset + n_out - 1 are skipped."""
    out = group.empty_jacobian(n_out)  # Z = 0: infinity
    half = R // 2
    for rows, cols, coeffs, bases in parts:
        keep = (cols >= col_offset) & (cols < col_offset + n_out)  # wires of this section only
        rows, cols, coeffs = rows[keep], cols[keep] - col_offset, coeffs[keep]
        order = np.argsort(cols, kind="stable")
        rows, cols, coeffs = rows[order], cols[order], coeffs[order]
        # c > r/2: use r - c on the negated base (coefficients like -1 become 1).
        big = _limbs_gt(coeffs, half)
        if big.any():
            coeffs = coeffs.copy()
            coeffs[big] = Fr.from_montgomery(Fr.neg(Fr.to_montgomery(coeffs[big])))
        starts = chunk_starts(cols, 64)
        kg.sparse_points(rows, cols, np.ascontiguousarray(coeffs), big, ensure_aligned(bases),
                         starts, out)
    return group.to_affine(out)


def _limbs_gt(limbs: np.ndarray, bound: int) -> np.ndarray:
    return ~limbs_lt(limbs, bound + 1)


def setup_from_ptau(r1cs: R1CS | str | os.PathLike, ptau) -> Zkey:
    """The zkey `snarkjs groth16 setup` makes from a prepared .ptau, byte for byte: phase-1
    values only, gamma = delta = 1 (the generators) until phase-2 contributions move delta, and
    section 10 with the circuit hash and no contributions.

    Per wire i: A_i = sum_j A[j][i] [L_j]_1, B1/B2 likewise from B, and
    K_i = sum_j (A[j][i] [beta L_j]_1 + B[j][i] [alpha L_j]_1 + C[j][i] [L_j]_1) in IC (public
    wires) or C (private wires); H = the odd half of the 2n-point Lagrange basis.
    """
    if not isinstance(r1cs, R1CS):
        r1cs = read_r1cs(r1cs)
    if not isinstance(ptau, Ptau):
        ptau = read_ptau(ptau)
    if not ptau.prepared:
        raise ValueError("the .ptau is not prepared for phase 2 (snarkjs powersoftau prepare "
                         "phase2)")
    power = domain_power(r1cs)
    if power > ptau.power:
        raise ValueError(f"circuit needs 2^{power} points, the .ptau has 2^{ptau.power}")
    n, n_vars, n_pub = 1 << power, r1cs.n_wires, r1cs.n_public
    lag = ensure_aligned(ptau.lagrange_g1(power))
    lag2 = ensure_aligned(ptau.lagrange_g2(power))
    lag_alpha = ensure_aligned(ptau.lagrange_alpha_g1(power))
    lag_beta = ensure_aligned(ptau.lagrange_beta_g1(power))
    a = _entries(r1cs.A, n_pub + 1, r1cs.n_constraints)
    b = _entries(r1cs.B)
    c = _entries(r1cs.C)
    a1 = _wire_sums(G1, [(*a, lag)], n_vars)
    b1 = _wire_sums(G1, [(*b, lag)], n_vars)
    b2 = _wire_sums(G2, [(*b, lag2)], n_vars)
    # K_i = beta U_i + alpha V_i + W_i; gamma = delta = 1 before phase 2.
    k_parts = [(*a, lag_beta), (*b, lag_alpha), (*c, lag)]
    ic = _wire_sums(G1, k_parts, n_pub + 1)
    c1 = _wire_sums(G1, k_parts, n_vars - n_pub - 1, col_offset=n_pub + 1)
    h = np.ascontiguousarray(ptau.lagrange_g1(power + 1)[1::2])
    g1, g2 = G1.generator(), G2.generator()
    z = Zkey(32, Q, 32, R, n_vars, n_pub, n, np.array(ptau.alpha_tau_g1[0]),
             np.array(ptau.beta_tau_g1[0]), np.array(ptau.beta_g2), g2, g1, g2,
             ic, coefficient_records(r1cs), a1, b1, b2, c1, h)
    try:
        csh = cs_hash(z, ptau)
    except ValueError as e:
        # snarkjs itself reads past the tauG1 section here; the key still proves and takes
        # contributions, only `snarkjs zkey verify` will not match its circuit hash.
        log.warning("circuit hash left zero: %s", e)
        csh = bytes(64)
    z.contributions = csh + (0).to_bytes(4, "little")
    return z


def setup_file(r1cs_path: str | os.PathLike, ptau_path: str | os.PathLike,
               zkey_path: str | os.PathLike) -> Zkey:
    z = setup_from_ptau(r1cs_path, ptau_path)
    write_zkey(z, zkey_path)
    return z


def _uncompressed(group: CurveGroup, aff: np.ndarray) -> bytes:
    """snarkjs's "uncompressed" encoding (ffjavascript LEMtoU): each coordinate canonical and
    big-endian, an Fq2 coordinate as c1 || c0 (its 64 little-endian bytes reversed); infinity
    stays all zeros."""
    a = np.ascontiguousarray(aff, dtype=np.uint64)
    plain = Fq.from_montgomery(a.reshape(-1, 4)).reshape(a.shape)
    if group.degree == 1:
        return plain[..., ::-1].astype(">u8").tobytes()
    return plain[..., ::-1, ::-1].astype(">u8").tobytes()


CS_HASH_H_CHUNK = 1 << 14


def cs_hash(z: Zkey, ptau) -> bytes:
    """The circuit hash `snarkjs groth16 setup` stores in section 10 (BLAKE2b-512): the header
    points, then the sections IC, H, C, A, B1, B2, each as a big-endian u32 count followed by
    its points in the uncompressed encoding; H enters in its phase-1 form
    [tau^i (tau^n - 1)]_1 = tauG1[i + n] - tauG1[i] for i < n - 1, in chunks of 2^14 points as
    snarkjs reads them (each chunk min(n - 1, 2^14) long)."""
    import hashlib
    import struct

    h = hashlib.blake2b(digest_size=64)
    for group, pt in ((G1, z.alpha1), (G1, z.beta1), (G2, z.beta2), (G2, z.gamma2),
                      (G1, z.delta1), (G2, z.delta2)):
        h.update(_uncompressed(group, pt))

    def section(group, pts, count=None):
        h.update(struct.pack(">I", len(pts) if count is None else count))
        if len(pts):
            h.update(_uncompressed(group, pts))

    section(G1, z.ic)
    n = z.domain_size
    tau = ptau.tau_g1
    h.update(struct.pack(">I", n - 1))
    for i in range(0, n - 1, CS_HASH_H_CHUNK):
        m = min(n - 1, CS_HASH_H_CHUNK)
        if i + m + n > len(tau):  # domain > 2^14 + 1 on a .ptau of exactly the circuit's power
            raise ValueError("snarkjs's circuit hash reads past this .ptau's tauG1 section "
                             "(use a .ptau of a larger power)")
        hi = G1.to_jacobian(np.ascontiguousarray(tau[i + n : i + n + m]))
        diff = G1.to_affine(G1.add_mixed(hi, G1.neg(np.ascontiguousarray(tau[i : i + m]))))
        h.update(_uncompressed(G1, diff))
    section(G1, z.c)
    section(G1, z.a)
    section(G1, z.b1)
    section(G2, z.b2)
    return h.digest()
