import math

import numpy as np
import pytest

from rollup.margin import greeks as bs


def test_hull_example_15_6():
    # Hull, Options, Futures and Other Derivatives, example 15.6: S=42, K=40, r=10%, sigma=20%,
    # T=0.5 -> call 4.76, put 0.81
    p = bs.price(42.0, 40.0, 0.5, 0.10, 0.20, np.array([True, False]))
    assert p[0] == pytest.approx(4.76, abs=0.005)
    assert p[1] == pytest.approx(0.81, abs=0.005)


def test_hull_greeks_examples():
    # Hull's running example (ch. 19): S=49, K=50, r=5%, sigma=20%, T=20 weeks, a call:
    # delta 0.522, gamma 0.066, vega 12.1 (per unit vol), theta -4.31 per year
    g = bs.greeks(49.0, 50.0, 20 / 52, 0.05, 0.20, True)
    assert g["price"] == pytest.approx(2.40, abs=0.005)
    assert g["delta"] == pytest.approx(0.522, abs=0.0005)
    assert g["gamma"] == pytest.approx(0.066, abs=0.0005)
    assert g["vega"] == pytest.approx(12.1, abs=0.05)
    assert g["theta"] == pytest.approx(-4.31, abs=0.005)


def test_norm_cdf():
    x = np.array([-30.0, -3.0, 0.0, 1.0, 8.0])
    ref = [0.5 * math.erfc(-v / math.sqrt(2)) for v in x]
    assert np.allclose(bs.norm_cdf(x), ref, rtol=1e-15, atol=0)


def test_finite_differences():
    rng = np.random.default_rng(7)
    n = 200
    s = rng.uniform(50, 150, n)
    k = rng.uniform(60, 140, n)
    t = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(0.0, 0.08, n)
    v = rng.uniform(0.1, 0.8, n)
    call = rng.random(n) < 0.5
    g = bs.greeks(s, k, t, r, v, call)
    f = lambda s_=s, t_=t, v_=v: bs.price(s_, k, t_, r, v_, call)  # noqa: E731
    h = 1e-4 * s
    assert np.allclose(g["delta"], (f(s_=s + h) - f(s_=s - h)) / (2 * h), atol=1e-6)
    gamma_fd = (f(s_=s + h) - 2 * f() + f(s_=s - h)) / (h * h)
    assert np.allclose(g["gamma"], gamma_fd, rtol=1e-4, atol=1e-6)
    dv = 1e-5
    assert np.allclose(g["vega"], (f(v_=v + dv) - f(v_=v - dv)) / (2 * dv), rtol=1e-6, atol=1e-6)
    dt = 1e-6
    # theta = dV/d(calendar time) = -dV/dT
    assert np.allclose(g["theta"], -(f(t_=t + dt) - f(t_=t - dt)) / (2 * dt), rtol=1e-5,
                       atol=1e-5)


def test_put_call_parity():
    s, k, t, r, v = 100.0, np.linspace(50, 200, 31), 0.75, 0.03, 0.35
    c = bs.price(s, k, t, r, v, True)
    p = bs.price(s, k, t, r, v, False)
    assert np.allclose(c - p, s - k * np.exp(-r * t), atol=1e-10)
    gc, gp = bs.greeks(s, k, t, r, v, True), bs.greeks(s, k, t, r, v, False)
    assert np.allclose(gc["delta"] - gp["delta"], 1.0)
    assert np.allclose(gc["gamma"], gp["gamma"]) and np.allclose(gc["vega"], gp["vega"])


def test_position_and_account_aggregation():
    size = np.array([10.0, -5.0, 3.0])
    acc = np.array([0, 0, 2])
    g = bs.account_greeks(acc, size, 100.0, 100.0, 1.0, 0.0, 0.2, np.array([True, False, True]))
    one_call = bs.greeks(100.0, 100.0, 1.0, 0.0, 0.2, True)
    one_put = bs.greeks(100.0, 100.0, 1.0, 0.0, 0.2, False)
    assert g["delta"].shape == (3,)
    assert g["delta"][0] == pytest.approx(10 * one_call["delta"] - 5 * one_put["delta"])
    assert g["delta"][1] == 0 and g["gamma"][2] == pytest.approx(3 * one_call["gamma"])
