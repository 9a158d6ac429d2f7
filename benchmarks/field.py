"""ns per operation of the field and curve kernels, beside py_ecc in the same run.

Each kernel runs as a dependent chain inside one jitted loop (latency, not throughput), so the
figure is the cost of one operation without Python overhead; py_ecc is timed on the same
operation through its public API (optimized_bn128). fq_mul_portable is the portable CIOS
(field.mont_mul) beside fq_mul, which is the MULX/ADCX/ADOX product where the host has it.
"""

from __future__ import annotations

import random
import time

from numba import njit

from benchmarks.common import print_table, write_json
from prover.constants import Q, R
from prover.curves import G1, G2
from prover.fields import Fq, Fr
from prover.kernels.cpu import adx
from prover.kernels.cpu import curve as kc
from prover.kernels.cpu import fq as kq
from prover.kernels.cpu import fr as kr
from prover.kernels.cpu.field import load, mont_mul
from prover.kernels.cpu.points import load_aff, load_jac


@njit(cache=True)
def _chain_fq_mul(a, b, n):
    x, y = load(a, 0), load(b, 0)
    for _ in range(n):
        x = kq.fq_mul(x, y)
    return x


@njit(cache=True)
def _chain_fr_mul(a, b, n):
    x, y = load(a, 0), load(b, 0)
    for _ in range(n):
        x = kr.fr_mul(x, y)
    return x


_FQ_P, _FQ_PINV = kq.FQ.p, kq.FQ.pinv


@njit(cache=True)
def _chain_fq_mul_portable(a, b, n):
    """The portable CIOS (field.mont_mul), whatever fq_mul is on this host."""
    x, y = load(a, 0), load(b, 0)
    for _ in range(n):
        x = mont_mul(x, y, _FQ_P, _FQ_PINV)
    return x


@njit(cache=True)
def _chain_add_mixed(P, Q, n):
    acc, q = load_jac(P, 0), load_aff(Q, 0)
    for _ in range(n):
        acc = kc.jac_add_mixed(acc, q)
    return acc[2][0]


@njit(cache=True)
def _chain_double(P, n):
    acc = load_jac(P, 0)
    for _ in range(n):
        acc = kc.jac_double(acc)
    return acc[2][0]


@njit(cache=True)
def _chain_add(P, Q, n):
    acc, q = load_jac(P, 0), load_jac(Q, 0)
    for _ in range(n):
        acc = kc.jac_add(acc, q)
    return acc[2][0][0]


def _ns(fn, n: int) -> float:
    """CPU time of this process per operation: single-threaded, so robust to other load on a
    shared machine (wall time there can double when another process holds the core)."""
    fn(max(n // 100, 1))  # compile / warm
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        fn(n)
        best = min(best, time.process_time() - t0)
    return best / n * 1e9


def run(json_path=None, quick: bool = False) -> list[dict]:
    import py_ecc.optimized_bn128 as ob
    from py_ecc.fields.field_elements import FQ as PyFQ

    class PyFR(PyFQ):
        field_modulus = R

    rng = random.Random(0)
    scale = 10 if quick else 1
    n_field, n_curve, n_ref = 2_000_000 // scale, 200_000 // scale, 20_000 // scale

    a, b = rng.randrange(Q), rng.randrange(Q)
    fa, fb = Fq.from_ints([a]), Fq.from_ints([b])
    ra, rb = Fr.from_ints([a % R]), Fr.from_ints([b % R])
    p1 = G1.mul(G1.generator()[None], [rng.randrange(R)])
    q1 = G1.to_affine(G1.mul(G1.generator()[None], [rng.randrange(R)]))
    p2 = G2.mul(G2.generator()[None], [rng.randrange(R)])
    q2 = G2.mul(G2.generator()[None], [rng.randrange(R)])

    P1 = ob.multiply(ob.G1, rng.randrange(R))
    Q1 = ob.multiply(ob.G1, rng.randrange(R))
    P2 = ob.multiply(ob.G2, rng.randrange(R))
    Q2 = ob.multiply(ob.G2, rng.randrange(R))

    def ref(fn, n):
        def go(k):
            for _ in range(k):
                fn()

        return _ns(go, n)

    x, y = ob.FQ(a), ob.FQ(b)
    xr, yr = PyFR(a % R), PyFR(b % R)
    cases = [
        ("fq_mul", lambda n: _chain_fq_mul(fa, fb, n), n_field, lambda: x * y),
        ("fr_mul", lambda n: _chain_fr_mul(ra, rb, n), n_field, lambda: xr * yr),
        ("fq_mul_portable", lambda n: _chain_fq_mul_portable(fa, fb, n), n_field, lambda: x * y),
        ("g1_add_mixed", lambda n: _chain_add_mixed(p1, q1, n), n_curve, lambda: ob.add(P1, Q1)),
        ("g1_double", lambda n: _chain_double(p1, n), n_curve, lambda: ob.double(P1)),
        ("g2_add", lambda n: _chain_add(p2, q2, n), n_curve // 4, lambda: ob.add(P2, Q2)),
    ]
    records = []
    for op, ours, n, reference in cases:
        ns = _ns(ours, n)
        ref_ns = ref(reference, n_ref if op.startswith("f") else n_ref // 10)
        records.append(
            {
                "op": op,
                "backend": "cpu",
                # fq_mul / fr_mul and the curve formulas: MULX/ADCX/ADOX asm or portable CIOS
                "field_product": "portable" if op.endswith("portable") or not adx.ENABLED
                else "mulx-adx",
                "ns_per_op": round(ns, 2),
                "reference": "py_ecc optimized_bn128",
                "reference_ns_per_op": round(ref_ns, 2),
                "speedup": round(ref_ns / ns, 1),
            }
        )
    write_json(records, json_path)
    return records


def main(json_path=None, quick: bool = False) -> list[dict]:
    records = run(json_path, quick)
    print_table(
        "Field and curve kernels (ns per op, dependent chain, one core)",
        records,
        [
            ("op", "op"),
            ("ns_per_op", "ours ns"),
            ("reference_ns_per_op", "py_ecc ns"),
            ("speedup", "x faster"),
        ],
    )
    return records


if __name__ == "__main__":
    main()
