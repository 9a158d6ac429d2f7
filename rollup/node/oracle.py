"""The oracle feeder: signed prices, funding ticks, scenario rows into the sequencer, by source.

Sources (``[node] oracle``):
    walk            a deterministic random walk per asset from its current oracle price (seeded
                    by chain id and asset: two runs print the same prices)
    file:PATH       JSON lines, each {"asset": A, "price": P} or {"asset": A, "funding_index": I};
                    one line is taken per interval, in file order; the feeder stops at the end of
                    the file and goes on after a restart where it was (DATA/oracle-file.json)
    command:CMD     runs CMD each interval; it prints a JSON list of such objects
    off             no feeder

Message time: max(state time + 1, wall clock), monotonic. Funding ticks (perps) carry a
cumulative index (the walk's premium over the moving average). After a tick's prices, each
asset whose scenario rows (docs/margin.md) changed gets six signed ScenarioChunks at the same
time. Messages go through the sequencer like any oracle request (checked, journaled).
"""

from __future__ import annotations

import json
import random
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from rollup.settlement.files import write_atomic
from rollup.transactions import FundingTick, OracleUpdate, scenario_chunks


class OracleError(RuntimeError):
    """The price source cannot be read (bad file, failing command, malformed JSON)."""


def _rows(obj) -> list[dict]:
    rows = obj if isinstance(obj, list) else [obj]
    out = []
    for r in rows:
        if not (isinstance(r, dict) and isinstance(r.get("asset"), int)
                and (isinstance(r.get("price"), int) or isinstance(r.get("funding_index"), int))):
            raise OracleError(f"not a price row: {r!r} (expected {{asset, price}} or "
                              "{asset, funding_index}, integers)")
        out.append(r)
    return out


class WalkSource:
    """Prices move by at most `step_ppm` per tick, never below 1."""

    def __init__(self, chain_id: int, step_ppm: int = 2_000) -> None:
        self.chain_id = chain_id
        self.step_ppm = step_ppm
        self._rng: dict[int, random.Random] = {}
        self._avg: dict[int, float] = {}

    def next(self, prices: dict[int, int], perps: set[int]) -> list[dict]:
        out = []
        for asset, p in sorted(prices.items()):
            rng = self._rng.setdefault(asset, random.Random(self.chain_id * 1_000 + asset))
            move = rng.randint(-self.step_ppm, self.step_ppm)
            price = max(1, p + p * move // 1_000_000)
            out.append({"asset": asset, "price": price})
            if asset in perps:
                avg = self._avg.get(asset, float(p))
                self._avg[asset] = 0.9 * avg + 0.1 * price
        return out

    def funding(self, index: dict[int, int], prices: dict[int, int]) -> list[dict]:
        """index += (price - moving average) / 100, per perpetual."""
        return [{"asset": a, "funding_index": index[a] + int((prices[a] - avg) / 100)}
                for a, avg in sorted(self._avg.items()) if a in index and a in prices]


class FileSource:
    """Lines of a JSON-lines file, one per interval. With ``position`` (a file in the node's data
    folder) the index of the next line is kept across restarts, written after the line's requests
    were acknowledged: a crash in between sends that line again (a repeated price is harmless)."""

    def __init__(self, path: str, position: Path | None = None) -> None:
        self.path = str(path)
        try:
            self._lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise OracleError(f"oracle file: {exc}") from None
        self.position = position
        self.at = self._saved = self._load_position()  # the index of the next line to read
        self.done = False

    def _load_position(self) -> int:
        if self.position is None or not self.position.exists():
            return 0
        try:
            saved = json.loads(self.position.read_text())
            line = saved["line"]
            if saved["path"] != self.path or not isinstance(line, int) or line < 0:
                return 0  # another file (or a damaged record): start at its beginning
            return line
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def next(self, prices: dict[int, int], perps: set[int]) -> list[dict]:
        while self.at < len(self._lines):
            line = self._lines[self.at]
            self.at += 1
            if line.strip():
                try:
                    return _rows(json.loads(line))
                except ValueError as exc:
                    raise OracleError(f"oracle file line {self.at}: {exc}") from None
        self.done = True
        return []

    def commit(self) -> None:
        """The rows returned so far were acknowledged: keep the position (with ``position``)."""
        if self.position is not None and self.at != self._saved:
            write_atomic(self.position, json.dumps({"path": self.path, "line": self.at}))
            self._saved = self.at


class CommandSource:
    def __init__(self, command: str, timeout: float = 10.0) -> None:
        self.argv = shlex.split(command)
        self.timeout = timeout

    def next(self, prices: dict[int, int], perps: set[int]) -> list[dict]:
        try:
            out = subprocess.run(self.argv, capture_output=True, text=True, timeout=self.timeout,
                                 check=True).stdout
            return _rows(json.loads(out))
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise OracleError(f"oracle command {self.argv[0]!r}: {exc}") from None


def make_source(spec: str, chain_id: int, data: Path | None = None):
    """The source named by ``spec``; ``data`` (the node's data folder) keeps a file's position."""
    if spec == "walk":
        return WalkSource(chain_id)
    if spec.startswith("file:"):
        return FileSource(spec[5:], None if data is None else data / "oracle-file.json")
    if spec.startswith("command:"):
        return CommandSource(spec[8:])
    raise OracleError(f"unknown oracle source {spec!r}")


class OracleFeeder:
    """Each ``tick()`` reads the source and submits signed OracleUpdate / FundingTick requests
    through ``submit`` (the service's); ``market()`` returns (time, {asset: price},
    {perp: funding index}) of the live state; ``scenarios()`` (optional) the scenario rows to
    publish at the state after the tick's prices ({asset: 26 rows}), sent as ScenarioChunks."""

    def __init__(self, source, private_key: bytes, domain, submit: Callable,
                 market: Callable[[], tuple[int, dict[int, int], dict[int, int]]],
                 funding_every: float = 0.0, clock: Callable[[], float] = time.time,
                 scenarios: Callable[[], dict[int, list[int]]] | None = None) -> None:
        self.source = source
        self.key = private_key
        self.domain = domain
        self.submit = submit
        self.market = market
        self.funding_every = funding_every
        self.clock = clock
        self.scenarios = scenarios
        self._last_funding = clock()
        self.sent = 0

    def tick(self) -> int:
        t_state, prices, funding = self.market()
        t = max(t_state + 1, int(self.clock()))
        rows = self.source.next(prices, set(funding))
        if (self.funding_every > 0 and isinstance(self.source, WalkSource)
                and self.clock() - self._last_funding >= self.funding_every):
            rows += self.source.funding(funding, prices)
            self._last_funding = self.clock()
        n = 0
        for r in rows:
            if "price" in r:
                req = OracleUpdate(r["asset"], r["price"], t)
            else:
                req = FundingTick(r["asset"], r["funding_index"], t)
            self.submit(req.signed(self.key, self.domain))
            n += 1
        if self.scenarios is not None:
            for asset, dv in sorted(self.scenarios().items()):
                for chunk in scenario_chunks(asset, t, dv):
                    self.submit(chunk.signed(self.key, self.domain))
                    n += 1
        if isinstance(self.source, FileSource):
            self.source.commit()
        self.sent += n
        return n
