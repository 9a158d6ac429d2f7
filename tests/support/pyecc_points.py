"""py_ecc points as the Python-int shapes of prover.curves: G1 (x, y), G2 ((x0, x1), (y0, y1)),
None for infinity (shared by the curve, MSM and pairing tests)."""

import py_ecc.optimized_bn128 as ob


def to_ints1(P):
    if ob.is_inf(P):
        return None
    x, y = ob.normalize(P)
    return (int(x), int(y))


def to_ints2(P):
    if ob.is_inf(P):
        return None
    x, y = ob.normalize(P)
    return (tuple(int(c) for c in x.coeffs), tuple(int(c) for c in y.coeffs))
