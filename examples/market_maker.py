"""An example market maker on the trading API: quotes every option series two-sided around its
Black-Scholes value (the underlying's perpetual oracle price as spot, one volatility) and hedges
its net delta with the perpetual, within position and delta limits.

    python examples/market_maker.py --url http://127.0.0.1:8080 --key-file mm.key --account 7 \
        --seconds 60

Each round: read the markets and the account, replace each series' quotes in one atomic mass
quote (a cancel-all of the series and the new post-only orders: never a moment without quotes or
with both; a side whose position is at its limit is not quoted, a level that would cross is left
out), then send an IOC order on the perpetual when |net delta| is above the limit. Its stream has
cancel-on-disconnect on: if the process dies, the server drops its quotes. At the end the quotes
are cancelled and the delta is hedged once more.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

from rollup.client import Client
from rollup.errors import EngineError, GroupRejected
from rollup.keys import load_key
from rollup.margin.greeks import greeks
from rollup.transactions import BUY, IOC, POST_ONLY, SELL

YEAR = 365 * 86_400


@dataclass
class Limits:
    spread: float = 0.02  # half-spread of the first level, a fraction of the value
    step: float = 0.01  # further levels, each this much wider
    levels: int = 3
    size: int = 5  # per level
    max_position: int = 40  # per option series, either sign
    max_delta: float = 10.0  # |net delta| in underlying units before hedging
    vol: float = 0.6


def value_and_delta(m: dict, spot: int, now: int, vol: float) -> tuple[float, float]:
    t = max(m["expiry"] - now, 3_600) / YEAR
    g = greeks(float(spot), float(m["strike"]), t, 0.0, vol, m["kind"] == "call")
    return float(g["price"]), float(g["delta"])


class MarketMaker:
    def __init__(self, client: Client, limits: Limits | None = None) -> None:
        self.c = client
        self.lim = limits or Limits()
        self.quotes: dict[int, list[int]] = {}  # asset -> our resting order ids
        self.rounds = self.hedges = self.left_out = 0

    def _book(self) -> tuple[dict, list[dict], dict[int, int], float, int]:
        listing = self.c.markets()
        markets, now = listing["markets"], listing["time"]  # the state's (oracle) time
        perps = {m["asset"]: m for m in markets if m["kind"] == "perp"}
        options = [m for m in markets if m["kind"] in ("call", "put") and m["underlying"] in perps
                   and not m["expired"]]
        acct = self.c.account_state()
        pos = {p["asset"]: p["balance"] for p in acct["positions"]}
        delta = 0.0
        for m in options:
            _, d = value_and_delta(m, perps[m["underlying"]]["oracle_price"], now, self.lim.vol)
            delta += pos.get(m["asset"], 0) * d
        perp = next(iter(perps.values()))
        delta += pos.get(perp["asset"], 0)
        return perp, options, pos, delta, now

    def quote(self, options: list[dict], pos: dict[int, int], spot_of: dict[int, int],
              now: int) -> None:
        lim = self.lim
        for m in options:
            value, _ = value_and_delta(m, spot_of[m["underlying"]], now, lim.vol)
            held = pos.get(m["asset"], 0)
            quotes = []
            for lvl in range(lim.levels):
                width = lim.spread + lim.step * lvl
                for side, px in ((BUY, value * (1 - width)), (SELL, value * (1 + width))):
                    after = held + (lim.size if side == BUY else -lim.size) * (lvl + 1)
                    price = max(1, math.floor(px) if side == BUY else math.ceil(px))
                    if abs(after) <= lim.max_position:  # else past the series' limit
                        quotes.append((side, lim.size, price))
            self.quotes[m["asset"]] = self._replace(m["asset"], quotes)

    def _replace(self, asset: int, quotes: list[tuple[int, int, int]]) -> list[int]:
        """The series' quotes replaced atomically; a level the engine refuses (it would cross,
        or margin) is left out and the rest sent again. The resting ids."""
        while True:
            try:
                got = self.c.mass_quote(asset, quotes, flags=POST_ONLY)
            except GroupRejected as exc:
                if exc.index == 0:  # the cancel-all itself: keep what rests
                    return self.quotes.get(asset, [])
                del quotes[exc.index - 1]
                self.left_out += 1
                continue
            return [r["resting"]["order_id"] for r in got[1:] if r.get("resting")]

    def hedge(self, perp: dict, delta: float, force: bool = False) -> None:
        if abs(delta) <= (0.5 if force else self.lim.max_delta):
            return
        size = round(abs(delta))
        if size == 0:
            return
        side = SELL if delta > 0 else BUY
        spot = perp["oracle_price"]
        limit = spot * (0.9 if side == SELL else 1.1)
        try:
            self.c.order(perp["asset"], side, size, max(1, int(limit)), flags=IOC)
            self.hedges += 1
        except EngineError:
            pass  # no liquidity now: next round

    def run(self, seconds: float, pause: float = 0.2) -> dict:
        end = time.monotonic() + seconds
        # quotes die with this process (armed by a cancel-scoped session outliving the run,
        # within the day a session may last)
        ttl = min(86_400, max(3_600, int(seconds) + 600))
        with self.c.stream(cancel_on_disconnect=True, ttl=ttl) as guard:
            while time.monotonic() < end:
                perp, options, pos, delta, now = self._book()
                spot_of = {perp["asset"]: perp["oracle_price"]}
                self.hedge(perp, delta)
                self.quote(options, pos, spot_of, now)
                self.rounds += 1
                time.sleep(pause)
            guard.cancel_on_disconnect(False)
        try:
            self.c.cancel_all()
        except EngineError:
            pass
        self.quotes.clear()
        perp, options, pos, delta, now = self._book()
        self.hedge(perp, delta, force=True)
        perp, options, pos, delta, now = self._book()
        return {"rounds": self.rounds, "hedges": self.hedges, "left_out": self.left_out,
                "net_delta": delta,
                "positions": pos, "open_orders": len(self.c.account_state()["open_orders"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--account", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--vol", type=float, default=Limits.vol)
    args = ap.parse_args()
    with Client(args.url, key=load_key(args.key_file).private_key, account=args.account) as c:
        print(MarketMaker(c, Limits(vol=args.vol)).run(args.seconds))


if __name__ == "__main__":
    main()
