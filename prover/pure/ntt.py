"""NTT over Fr with plain ints (canonical values, natural order in and out), snarkjs's roots:
w_n = 5^((r - 1)/n). The twin of `prover.ntt` for the small domains of `prover.pure`."""

from __future__ import annotations

from prover.constants import FR_GENERATOR, R


def root_of_unity(log_n: int) -> int:
    return pow(FR_GENERATOR, (R - 1) >> log_n, R)


def ntt(a: list[int], w: int) -> list[int]:
    """[sum_j a_j w^(ij)]_i for w of order len(a) (a power of two): iterative radix-2."""
    n = len(a)
    log_n = n.bit_length() - 1
    out = [a[int(format(i, f"0{log_n}b")[::-1], 2)] for i in range(n)] if log_n else list(a)
    size = 2
    while size <= n:
        half = size // 2
        step = pow(w, n // size, R)
        tw = [1] * half
        for k in range(1, half):
            tw[k] = tw[k - 1] * step % R
        for start in range(0, n, size):
            for k in range(half):
                i, j = start + k, start + k + half
                t = out[j] * tw[k] % R
                u = out[i]
                out[i] = (u + t) % R
                out[j] = (u - t) % R
        size *= 2
    return out


def intt(a: list[int], w: int) -> list[int]:
    n_inv = pow(len(a), -1, R)
    return [x * n_inv % R for x in ntt(a, pow(w, -1, R))]


def to_odd_points(evals: list[int]) -> list[int]:
    """Values on the n-domain -> values on the odd points g w_n^i of the 2n-domain (g = w_2n):
    interpolate, scale coefficient j by g^j, evaluate."""
    log_n = len(evals).bit_length() - 1
    w = root_of_unity(log_n)
    coeffs = intt(evals, w)
    g, gj = root_of_unity(log_n + 1), 1
    for j in range(len(coeffs)):
        coeffs[j] = coeffs[j] * gj % R
        gj = gj * g % R
    return ntt(coeffs, w)
