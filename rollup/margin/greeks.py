"""Black-Scholes marks and Greeks for European options, vectorized over numpy arrays.

With d1 = (ln(S/K) + (r + sigma^2/2) T) / (sigma sqrt T), d2 = d1 - sigma sqrt T, N the standard
normal CDF and n its density (Hull, Options, Futures and Other Derivatives, ch. 15 and 19):
    call = S N(d1) - K e^{-rT} N(d2)          put = K e^{-rT} N(-d2) - S N(-d1)
    delta_call = N(d1)                        delta_put = N(d1) - 1
    gamma = n(d1) / (S sigma sqrt T)          vega = S sqrt(T) n(d1)          (both kinds)
    theta_call = -S n(d1) sigma / (2 sqrt T) - r K e^{-rT} N(d2)
    theta_put  = -S n(d1) sigma / (2 sqrt T) + r K e^{-rT} N(-d2)
Theta is per year and vega per unit of volatility (divide by 365 / 100 for per-day / per-point).
N is the C library's erfc through Numba (full double precision; accurate in the far left tail).
``greeks_compiled`` fuses ``greeks`` into one Numba loop, same formulas in the same order.
Marks feed risk views and the oracle's scenario rows; the state only sees integer prices.
"""

from __future__ import annotations

import math

import numpy as np
from numba import float64, njit, vectorize

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@vectorize([float64(float64)], cache=False)
def norm_cdf(x):
    return 0.5 * math.erfc(-x * _SQRT1_2)


def norm_pdf(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(x))


def _d1_d2(s, k, t, r, sigma):
    vol = sigma * np.sqrt(t)
    d1 = (np.log(s / k) + (r + 0.5 * sigma * sigma) * t) / vol
    return d1, d1 - vol


def price(s, k, t, r, sigma, is_call) -> np.ndarray:
    """Black-Scholes price per unit of underlying; arguments broadcast (is_call: bool array)."""
    s, k, t, r, sigma = (np.asarray(x, dtype=np.float64) for x in (s, k, t, r, sigma))
    d1, d2 = _d1_d2(s, k, t, r, sigma)
    disc = k * np.exp(-r * t)
    call = s * norm_cdf(d1) - disc * norm_cdf(d2)
    # put from put-call parity would lose digits for deep ITM calls; use the direct formula
    put = disc * norm_cdf(-d2) - s * norm_cdf(-d1)
    return np.where(is_call, call, put)


def greeks(s, k, t, r, sigma, is_call) -> dict[str, np.ndarray]:
    """price, delta, gamma, vega, theta per unit (arrays broadcast together)."""
    s, k, t, r, sigma = (np.asarray(x, dtype=np.float64) for x in (s, k, t, r, sigma))
    is_call = np.asarray(is_call, dtype=bool)
    sqrt_t = np.sqrt(t)
    vol = sigma * sqrt_t
    d1 = (np.log(s / k) + (r + 0.5 * sigma * sigma) * t) / vol
    d2 = d1 - vol
    nd1, nd2 = norm_cdf(d1), norm_cdf(d2)
    nmd1, nmd2 = 1.0 - nd1, 1.0 - nd2
    # the left tails straight from erfc (1 - N loses digits when N is close to 1)
    nmd1 = np.where(d1 > 0, norm_cdf(-d1), nmd1)
    nmd2 = np.where(d2 > 0, norm_cdf(-d2), nmd2)
    pdf = norm_pdf(d1)
    disc = k * np.exp(-r * t)
    decay = -s * pdf * sigma / (2.0 * sqrt_t)
    return {
        "price": np.where(is_call, s * nd1 - disc * nd2, disc * nmd2 - s * nmd1),
        "delta": np.where(is_call, nd1, nd1 - 1.0),
        "gamma": pdf / (s * vol),
        "vega": s * sqrt_t * pdf,
        "theta": np.where(is_call, decay - r * disc * nd2, decay + r * disc * nmd2),
    }


@njit(cache=True)
def _greeks_loop(s, k, t, r, sigma, is_call, out):
    for i in range(s.shape[0]):
        si, ki, ti, ri, vi = s[i], k[i], t[i], r[i], sigma[i]
        sqrt_t = math.sqrt(ti)
        vol = vi * sqrt_t
        d1 = (math.log(si / ki) + (ri + 0.5 * vi * vi) * ti) / vol
        d2 = d1 - vol
        nd1 = 0.5 * math.erfc(-d1 * _SQRT1_2)
        nd2 = 0.5 * math.erfc(-d2 * _SQRT1_2)
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
        disc = ki * math.exp(-ri * ti)
        decay = -si * pdf * vi / (2.0 * sqrt_t)
        if is_call[i]:
            out[0, i] = si * nd1 - disc * nd2
            out[1, i] = nd1
            out[4, i] = decay - ri * disc * nd2
        else:
            # the left tails straight from erfc where 1 - N would lose digits
            nmd1 = 0.5 * math.erfc(d1 * _SQRT1_2) if d1 > 0 else 1.0 - nd1
            nmd2 = 0.5 * math.erfc(d2 * _SQRT1_2) if d2 > 0 else 1.0 - nd2
            out[0, i] = disc * nmd2 - si * nmd1
            out[1, i] = nd1 - 1.0
            out[4, i] = decay + ri * disc * nmd2
        out[2, i] = pdf / (si * vol)
        out[3, i] = si * sqrt_t * pdf


GREEKS = ("price", "delta", "gamma", "vega", "theta")


def greeks_compiled(s, k, t, r, sigma, is_call) -> dict[str, np.ndarray]:
    """``greeks`` in one compiled pass (1-D float64 arrays after broadcasting)."""
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (s, k, t, r, sigma)),
                                 np.asarray(is_call, dtype=bool))
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    out = np.empty((5, flat[0].size))
    _greeks_loop(*flat, out)
    return {name: out[j].reshape(shape) for j, name in enumerate(GREEKS)}


def position_greeks(size, s, k, t, r, sigma, is_call) -> dict[str, np.ndarray]:
    """Greeks of positions (per-unit Greeks times signed size)."""
    g = greeks(s, k, t, r, sigma, is_call)
    size = np.asarray(size, dtype=np.float64)
    return {name: size * v for name, v in g.items()}


def account_greeks(account_index, size, s, k, t, r, sigma, is_call,
                   n_accounts: int | None = None) -> dict[str, np.ndarray]:
    """Per-account sums of position Greeks (``account_index`` maps positions to 0..n-1)."""
    idx = np.asarray(account_index, dtype=np.int64)
    pos = position_greeks(size, s, k, t, r, sigma, is_call)
    n = int(idx.max()) + 1 if n_accounts is None else n_accounts
    return {name: np.bincount(idx, weights=v, minlength=n) for name, v in pos.items()}


IV_MIN, IV_MAX = 1e-3, 10.0  # the range ``implied_vol`` searches (0.1% to 1,000% a year)


def implied_vol(mark, s, k, t, r, is_call, iterations: int = 64) -> np.ndarray:
    """The volatility at which ``price`` equals ``mark``: bisection on ln(sigma) over
    [IV_MIN, IV_MAX] (the price rises with sigma for t > 0). A mark at or below the price at
    IV_MIN gives IV_MIN, one at or above the price at IV_MAX gives IV_MAX."""
    mark, s, k, t, r = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (mark, s, k, t, r)))
    lo = np.full(mark.shape, math.log(IV_MIN))
    hi = np.full(mark.shape, math.log(IV_MAX))
    for _ in range(iterations):  # 64 halvings of ln(10^4) leave < 1e-18 of width
        mid = 0.5 * (lo + hi)
        above = price(s, k, t, r, np.exp(mid), is_call) > mark
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.exp(0.5 * (lo + hi))
