"""NTT against a naive O(n^2) DFT, inverse(forward(x)) == x, coset NTT against direct evaluation."""

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prover.constants import R
from prover.fields import Fr
from prover.ntt import (
    coset_intt,
    coset_ntt,
    intt,
    ntt,
    root_of_unity,
    scale_by_powers,
    twiddles,
)


def naive_dft(xs, w):
    n = len(xs)
    return [sum(x * pow(w, i * j, R) for i, x in enumerate(xs)) % R for j in range(n)]


def test_roots_of_unity_follow_snarkjs_convention():
    w28 = root_of_unity(28)
    assert w28 == pow(5, (R - 1) >> 28, R)
    assert pow(w28, 1 << 28, R) == 1 and pow(w28, 1 << 27, R) == R - 1  # primitive
    for k in range(1, 28):
        assert root_of_unity(k) == pow(w28, 1 << (28 - k), R)
    with pytest.raises(ValueError):
        root_of_unity(29)


@pytest.mark.parametrize("log_n", range(0, 7))
def test_ntt_matches_naive_dft(log_n):
    rng = random.Random(log_n)
    n = 1 << log_n
    xs = [rng.randrange(R) for _ in range(n)]
    xs[0] = R - 1
    a = Fr.from_ints(xs)
    ntt(a)
    assert Fr.to_ints(a) == naive_dft(xs, root_of_unity(log_n))
    intt(a)
    assert Fr.to_ints(a) == xs


@given(log_n=st.integers(0, 5), data=st.data())
def test_property_coset_ntt_is_evaluation(log_n, data):
    n = 1 << log_n
    xs = data.draw(st.lists(st.integers(0, R - 1), min_size=n, max_size=n))
    g = data.draw(st.integers(1, R - 1))
    w = root_of_unity(log_n)
    a = Fr.from_ints(xs)
    coset_ntt(a, g)
    points = [g * pow(w, j, R) % R for j in range(n)]
    assert Fr.to_ints(a) == [sum(x * pow(p, i, R) for i, x in enumerate(xs)) % R for p in points]
    coset_intt(a, g)
    assert Fr.to_ints(a) == xs


@pytest.mark.parametrize("log_n", [10, 12, 13, 15])
def test_inverse_of_forward_large(log_n):
    """Sizes around the block-local / parallel-stage boundary (2^12)."""
    rng = np.random.default_rng(log_n)
    n = 1 << log_n
    k = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)
    k[:, 3] &= np.uint64((1 << 60) - 1)
    a = Fr.to_montgomery(k)
    b = a.copy()
    ntt(a)
    assert not np.array_equal(a, b)
    # spot-check two evaluations against Horner with Python ints
    xs = Fr.to_ints(b)
    w = root_of_unity(log_n)
    for j in (1, n - 1):
        pt = pow(w, j, R)
        acc = 0
        for x in reversed(xs):
            acc = (acc * pt + x) % R
        assert Fr.to_int(a[j]) == acc
    intt(a)
    assert np.array_equal(a, b)


def test_scale_by_powers_across_chunks():
    """Parallel chunks of 4096 each restart from g^start: check across the seams."""
    g = 123456789
    xs = list(range(1, 8193))
    a = Fr.from_ints(xs)
    scale_by_powers(a, g)
    assert Fr.to_ints(a) == [x * pow(g, i, R) % R for i, x in enumerate(xs)]


def test_rejects_bad_inputs():
    with pytest.raises(ValueError):
        ntt(Fr.from_ints([1, 2, 3]))  # not a power of two
    with pytest.raises(ValueError):
        ntt(Fr.from_ints([1, 2, 3, 4])[::2])  # not contiguous
    with pytest.raises(ValueError):
        ntt(np.zeros((4, 3), dtype=np.uint64))
    ro = Fr.from_ints([1, 2])
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        ntt(ro)


def test_twiddles_cached_and_read_only():
    t1 = twiddles(8, False)
    assert t1 is twiddles(8, False)
    assert not t1.flags.writeable
    w = root_of_unity(8)
    assert Fr.to_ints(t1[:3]) == [1, w, w * w % R]
