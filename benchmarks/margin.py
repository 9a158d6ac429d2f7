"""Scenario margin (docs/margin.md): Black-Scholes Greeks for 1,000,000 positions, the scenario
requirement of 100,000 accounts with 8 positions each across all 26 scenarios, the oracle's
per-scenario revaluation of 100 option series, and every account's Greeks after an update.

One thread, CPU seconds (``time.process_time``), best of three. Peers in the same run: pyvolr
(a Rust Black-Scholes kernel, ``pip install pyvolr==0.1.7``; its thread pool held to one thread)
where it imports, and py_vollib_vectorized, whose outcome is recorded whatever it is (0.1.1 no
longer compiles under this project's Numba).

Records: ``greeks`` (numpy ``greeks`` and the fused ``greeks_compiled``: positions per second;
``pyvolr_per_second``, ``max_abs_diff_vs_pyvolr``; ``py_vollib_vectorized``: what happened);
``scenario_requirement`` (the compiled twin over all accounts; the Python reference on a sample,
checked equal, and its extrapolated seconds); ``oracle_revaluation`` (``option_rows`` for the
series: 26 full revaluations each); ``account_greeks_after_oracle_update`` (the Greeks table
and every account's Greeks per underlying); ``circuit_side_estimate`` (constraints of one account's
scenario check in a prototype built with the circuit DSL, by underlyings and window bits).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from benchmarks.common import print_table, write_json

_cpu = time.process_time


def _record(records: list[dict], **rec) -> None:
    rec["load_average"] = round(os.getloadavg()[0], 2)  # the machines are shared
    records.append(rec)
    print(json.dumps(rec), flush=True)


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = _cpu()
        fn()
        best = min(best, _cpu() - t0)
    return best


def _vollib_vectorized(s, k, t, v, call) -> str:
    """What py_vollib_vectorized does with ten of the positions (installed or not)."""
    try:
        import py_vollib_vectorized as pvv
    except Exception as exc:  # noqa: BLE001 (recorded, not raised: it is a peer)
        return f"not importable: {type(exc).__name__}"
    try:
        pvv.vectorized_delta(np.where(call[:10], "c", "p"), s[:10], k[:10], t[:10], 0.03,
                             v[:10], model="black_scholes", return_as="numpy")
    except Exception as exc:  # noqa: BLE001
        return f"fails: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return "runs"


def bench_greeks(records: list[dict], n: int) -> None:
    from rollup.margin import greeks as bs

    rng = np.random.default_rng(5)
    s, k = rng.uniform(50, 150, n), rng.uniform(50, 150, n)
    t, v = rng.uniform(0.02, 2.0, n), rng.uniform(0.1, 1.0, n)
    call = rng.random(n) < 0.5
    bs.greeks_compiled(s[:10], k[:10], t[:10], 0.03, v[:10], call[:10])  # compile / load
    bs.greeks(s[:10], k[:10], t[:10], 0.03, v[:10], call[:10])
    ours = bs.greeks_compiled(s, k, t, 0.03, v, call)
    rec = {"op": "greeks", "positions": n,
           "numpy_seconds": round(_best(lambda: bs.greeks(s, k, t, 0.03, v, call)), 4),
           "seconds": round(_best(lambda: bs.greeks_compiled(s, k, t, 0.03, v, call)), 4)}
    rec["numpy_per_second"] = round(n / rec["numpy_seconds"])
    rec["per_second"] = round(n / rec["seconds"])
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before pyvolr starts its pool
    try:
        from pyvolr import bs as peer
    except ImportError:
        rec["pyvolr"] = "not installed"
    else:
        flag = np.where(call, "c", "p")
        theirs = peer.greeks(flag, s, k, t, 0.03, v)
        sec = _best(lambda: peer.greeks(flag, s, k, t, 0.03, v))
        rec.update(pyvolr_seconds=round(sec, 4), pyvolr_per_second=round(n / sec),
                   speedup_over_pyvolr=round(sec / rec["seconds"], 2),
                   max_abs_diff_vs_pyvolr=max(float(np.max(np.abs(ours[g] - theirs[g])))
                                              for g in ("delta", "gamma", "vega", "theta")))
    rec["py_vollib_vectorized"] = _vollib_vectorized(s, k, t, v, call)
    _record(records, **rec)


def _market(rng):
    """Two underlyings (perpetuals 1 and 9 at 60,000 and 3,000) with 7 option series each
    (calls and puts around the money, 3 to 90 days), revalued at 40-90% volatility."""
    from rollup.margin import scenario as sc

    dv = np.zeros((sc.N_ASSETS, sc.N_SCENARIOS), dtype=np.int64)
    under = np.zeros(sc.N_ASSETS, dtype=np.int64)
    for perp, spot in ((1, 60_000), (9, 3_000)):
        dv[perp] = sc.perp_row(spot)
        under[perp] = perp
        ids = np.arange(perp + 1, perp + 8)
        dv[ids] = sc.option_rows(spot, spot * rng.uniform(0.8, 1.2, 7),
                                 rng.uniform(3, 90, 7) * 86_400, 0.0, rng.uniform(0.4, 0.9, 7),
                                 rng.random(7) < 0.5)
        under[ids] = perp
    return sc.Table(dv, under)


def bench_requirement(records: list[dict], n_accounts: int, sample: int) -> None:
    from rollup.margin import scenario as sc

    rng = np.random.default_rng(6)
    table = _market(rng)
    listed = np.nonzero(table.under)[0]
    asset = np.array([rng.permutation(listed)[:8] for _ in range(n_accounts)], dtype=np.int64)
    bal = rng.integers(-10**6, 10**6, size=(n_accounts, 8))
    sc.requirements(asset[:4], bal[:4], table)  # compile / load
    sec = _best(lambda: sc.requirements(asset, bal, table))
    r, _, status = sc.requirements(asset, bal, table)
    t0 = _cpu()
    ref = [sc.requirement(zip(asset[i].tolist(), bal[i].tolist(), strict=True), table)
           for i in range(sample)]
    ref_sec = (_cpu() - t0) / sample * n_accounts
    if ref != [sc.to_int(x) for x in r[:sample]] or status.any():
        raise AssertionError("the compiled twin differs from the reference")
    _record(records, op="scenario_requirement", accounts=n_accounts, positions_per_account=8,
            scenarios=sc.N_SCENARIOS, underlyings=2, seconds=round(sec, 4),
            accounts_per_second=round(n_accounts / sec), reference_sample=sample,
            reference_seconds_extrapolated=round(ref_sec, 2),
            speedup_over_reference=round(ref_sec / sec))


def bench_revaluation(records: list[dict], n_series: int) -> None:
    from rollup.margin import scenario as sc

    rng = np.random.default_rng(7)
    args = (60_000.0, 60_000 * rng.uniform(0.7, 1.3, n_series),
            rng.uniform(1, 180, n_series) * 86_400, 0.03, rng.uniform(0.3, 1.2, n_series),
            rng.random(n_series) < 0.5)
    sc.option_rows(*args)
    sec = _best(lambda: sc.option_rows(*args), repeat=5)
    _record(records, op="oracle_revaluation", series=n_series, scenarios=sc.N_SCENARIOS,
            seconds=round(sec, 5), revaluations_per_second=round(n_series * 26 / sec))


def _greeks_venue(rng):
    """``_market``'s shape as a State (no trees touched): perpetuals 1 and 9, 7 option series
    on each, marked by the oracle at their Black-Scholes values at 40-90% volatility."""
    from rollup.margin import greeks as bs
    from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT
    from rollup.state.state import Asset, OracleEntry, State

    st = State(account_depth=4)
    for perp, spot in ((1, 60_000), (9, 3_000)):
        st.assets[perp] = Asset(perp, KIND_PERP, 50_000, 30_000)
        st.oracle[perp] = OracleEntry(spot)
        for a in range(perp + 1, perp + 8):
            call = bool(rng.random() < 0.5)
            k, days = round(spot * rng.uniform(0.8, 1.2)), rng.uniform(3, 90)
            st.assets[a] = Asset(a, KIND_CALL if call else KIND_PUT, 100_000, 50_000,
                                 underlying=perp, strike=k, expiry=round(days * 86_400))
            mark = bs.price(spot, k, days / 365, 0.0, rng.uniform(0.4, 0.9), call)
            st.oracle[a] = OracleEntry(max(1, round(float(mark))))
    return st


def bench_account_greeks(records: list[dict], n_accounts: int, sample: int) -> None:
    """Greeks of every account after an oracle update: the per-asset table again (implied
    volatilities from the new marks, Black-Scholes), then all accounts x 8 positions at once;
    beside it the per-account path the API's view takes on a cache miss (on a sample)."""
    from rollup.margin import exposure as ex
    from rollup.state.state import Account, OracleEntry

    rng = np.random.default_rng(8)
    st = _greeks_venue(rng)
    listed = np.array(sorted(st.assets), dtype=np.int64)
    asset = np.array([rng.permutation(listed)[:8] for _ in range(n_accounts)], dtype=np.int64)
    bal = rng.integers(-10**6, 10**6, size=(n_accounts, 8))
    ex.accounts_greeks(asset[:4], bal[:4], ex.series(st))  # warm up

    def after_update():
        st.oracle[1] = OracleEntry(st.oracle[1].price + 1)  # a new oracle version
        ser = ex.series(st)
        ex.accounts_greeks(asset, bal, ser)
        return ser

    sec = _best(after_update)
    ser = after_update()
    table_sec = _best(lambda: ex.series(st))
    book_sec = _best(lambda: ex.book_greeks(asset, bal, ser))
    for i in range(sample):
        st.accounts[i] = Account((1, 2), 0, 0, [(int(a), int(b), 0) for a, b in
                                                zip(asset[i], bal[i], strict=True)])
    cache = ex.GreeksCache()
    cache.series(st)
    t0 = _cpu()
    for i in range(sample):
        cache.account(st, i)
    per_account = (_cpu() - t0) / sample
    _record(records, op="account_greeks_after_oracle_update", accounts=n_accounts,
            positions_per_account=8, option_series=14, underlyings=2, seconds=round(sec, 4),
            accounts_per_second=round(n_accounts / sec), table_seconds=round(table_sec, 5),
            book_seconds=round(book_sec, 4), per_account_cache_miss_us=round(per_account * 1e6, 1),
            per_account_sample=sample)


def _side_count(U: int, W: int) -> int:
    """Constraints of one account's scenario check, built with the circuit DSL (a prototype of
    docs/margin.md's gadget, not the batch circuit): per-asset balances and their change, the
    26 losses per underlying from the batch-wide table, the loss before at a hinted scenario,
    the W-bit window checks against a hinted maximum, the three full-width comparisons of
    ``allowed``. The position one-hots exist in today's slot and are not counted."""
    from circuits.batch import is_negative, onehot
    from circuits.cs import ConstraintSystem
    from circuits.gadgets.bits import to_bits
    from circuits.lc import lsum

    m_assets, ns, slots = 8, 26, 8
    cs = ConstraintSystem(compute_witness=False)
    g = [[[cs.private_input(f"g{u}_{k}_{s}") for s in range(ns)] for k in range(m_assets)]
         for u in range(U)]
    sel = [onehot(cs, cs.private_input(f"a{j}"), m_assets) for j in range(slots)]
    b = [cs.private_input(f"b{j}") for j in range(slots)]
    selx = onehot(cs, cs.private_input("x"), m_assets)
    d_bal, v1, dv = (cs.private_input(n) for n in ("d", "v1", "dv"))
    with cs.component("scenario"):
        bk = [lsum([cs.mul(sel[j][k], b[j]) for j in range(slots)], cs)
              for k in range(1, m_assets)]
        bk1 = [bk[k - 1] + cs.mul(d_bal, selx[k]) for k in range(1, m_assets)]
        r1 = r0 = 0
        for u in range(U):
            loss1 = [lsum([cs.mul(bk1[k - 1], g[u][k][s]) for k in range(1, m_assets)], cs)
                     for s in range(ns)]
            e = onehot(cs, cs.private_input(f"s0_{u}"), ns + 1)
            rows = [lsum([cs.mul(e[s + 1], g[u][k][s]) for s in range(ns)], cs)
                    for k in range(1, m_assets)]
            r0 = r0 + lsum([cs.mul(bk[k - 1], rows[k - 1]) for k in range(1, m_assets)], cs)
            m = cs.private_input(f"m{u}")
            to_bits(cs, m, W)
            for s in range(ns):
                to_bits(cs, m - loss1[s], W)
            r1 = r1 + m
        h = 1 - is_negative(cs, v1 - r1)
        less = is_negative(cs, r1 - r0)
        keeps = 1 - is_negative(cs, dv - (r1 - r0))
        h + cs.mul(1 - h, cs.mul(less, keeps))
    return cs.component_counts()["scenario"]


def bench_circuit_estimate(records: list[dict]) -> None:
    for u in (1, 2):
        for width in (60, 64, 72, 128):
            _record(records, op="circuit_side_estimate", underlyings=u, window_bits=width,
                    constraints_per_side=_side_count(u, width))


def run(quick: bool = False, json_path=None) -> list[dict]:
    records: list[dict] = []
    if quick:
        bench_greeks(records, 10_000)
        bench_requirement(records, 2_000, 20)
        bench_revaluation(records, 10)
        bench_account_greeks(records, 2_000, 200)
    else:
        bench_greeks(records, 1_000_000)
        bench_requirement(records, 100_000, 1_000)
        bench_revaluation(records, 100)
        bench_account_greeks(records, 100_000, 10_000)
    bench_circuit_estimate(records)
    write_json(records, json_path)
    return records


def main(json_path=None, quick: bool = False) -> list[dict]:
    records = run(quick, json_path)
    print_table("scenario margin (one thread)", records,
                [("op", "op"), ("positions", "positions"), ("accounts", "accounts"),
                 ("series", "series"), ("seconds", "s"), ("per_second", "positions/s"),
                 ("pyvolr_per_second", "pyvolr /s"), ("accounts_per_second", "accounts/s"),
                 ("reference_seconds_extrapolated", "reference s")])
    return records
