"""Vectorized liquidation scan: which accounts are below maintenance at given prices.

The positions of all accounts are kept as (N, POSITION_SLOTS) arrays; a scan evaluates the
margin rule of ``rollup.margin.risk`` for every account at once: the requirement R exactly
(``rollup.margin.scenario.requirements`` on the published rows), the value in float64, and
flags value * RISK_SCALE < MAINTENANCE_PPM * R. Amounts reach ~2**150, beyond float64's exact
range, so accounts within a band of 1e-9 of the magnitude of their terms (|collateral|, each
|b p| and |b (F - snapshot)|, the risk: a float sum's error is relative to those, not to the
value, which a hedged book with R = 0 brings near 0) are re-checked with the exact integer rule
(``is_liquidatable``): the result equals the rule for every account.
"""

from __future__ import annotations

import numpy as np

from rollup.margin.risk import is_liquidatable
from rollup.margin.scenario import MAINTENANCE_PPM, published_table, requirements, to_float
from rollup.state.encoding import ASSET_DEPTH, KIND_PERP, POSITION_SLOTS, RISK_SCALE
from rollup.state.state import State

_BAND = 1e-9
_N_ASSETS = 1 << ASSET_DEPTH


class MarginMatrix:
    """Positions of every account as arrays (rows refreshed with ``refresh`` after updates)."""

    def __init__(self, state: State) -> None:
        self.state = state
        ids = sorted(state.accounts)
        self.ids = np.array(ids, dtype=np.int64)
        self.row = {i: r for r, i in enumerate(ids)}
        n = len(ids)
        self.asset = np.zeros((n, POSITION_SLOTS), dtype=np.int64)
        self.balance = np.zeros((n, POSITION_SLOTS), dtype=np.float64)
        self.exact = np.zeros((n, POSITION_SLOTS), dtype=np.int64)  # balances, exactly
        self.snapshot = np.zeros((n, POSITION_SLOTS), dtype=np.float64)
        self.collateral = np.zeros(n, dtype=np.float64)
        for i in ids:
            self._fill(self.row[i], state.accounts[i])

    def _fill(self, r: int, acc) -> None:
        a, b, s = zip(*acc.positions, strict=True)
        self.asset[r] = a
        self.balance[r] = b
        self.exact[r] = b
        self.snapshot[r] = s
        self.collateral[r] = acc.collateral

    def refresh(self, account_ids) -> None:
        for i in account_ids:
            if i not in self.row:  # a new account: rebuild (rare)
                self.__init__(self.state)
                return
            self._fill(self.row[i], self.state.accounts[i])

    def _asset_tables(self):
        st = self.state
        price = np.zeros(_N_ASSETS)
        funding = np.zeros(_N_ASSETS)
        is_perp = np.zeros(_N_ASSETS, dtype=bool)
        for a, asset in st.assets.items():
            o = st.oracle[a]
            price[a], funding[a] = o.price, o.funding_index
            is_perp[a] = asset.kind == KIND_PERP
        return price, funding, is_perp

    def excess(self) -> np.ndarray:
        """value * RISK_SCALE - maintenance risk per row (float64; the risk from the exact R)."""
        price, funding, is_perp = self._asset_tables()
        a, b = self.asset, self.balance
        bp = b * price[a]
        bf = b * (funding[a] - self.snapshot) * is_perp[a]
        value = self.collateral + bp.sum(1) - bf.sum(1)
        req, _, _ = requirements(a, self.exact, published_table(self.state))
        risk = to_float(req) * MAINTENANCE_PPM
        # the rounding error of `value` is bounded by its terms' magnitudes, not its own
        terms = np.abs(self.collateral) + np.abs(bp).sum(1) + np.abs(bf).sum(1)
        self._scale = terms * RISK_SCALE + risk
        return value * RISK_SCALE - risk

    def scan(self) -> np.ndarray:
        """Account ids below maintenance margin at the state's current oracle prices."""
        ex = self.excess()
        flagged = ex < 0
        unsure = np.abs(ex) <= _BAND * self._scale
        for r in np.nonzero(unsure)[0]:
            flagged[r] = is_liquidatable(self.state, self.state.accounts[int(self.ids[r])])
        return self.ids[flagged]
