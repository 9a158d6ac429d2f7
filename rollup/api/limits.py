"""Per-account rate limits: a token bucket per account (``rate`` requests per second, at most
``burst`` at once; ``[api] rate`` and ``burst``).

A request is charged to the account that signed it (the sender of a transfer, the liquidator of
a liquidation), and only once its signature verified: requests forged in another account's name
cannot use up that account's budget (they cost the forger a signature check each, as before).
Oracle messages are not limited. A request over the limit is refused before it reaches the
sequencer (``RateLimited``, HTTP 429 with Retry-After), so it changes nothing. An atomic group
costs one request per ``GROUP_ITEMS_PER_TOKEN`` items (a mass quote is one message to a market
maker, and its items share one signature batch and one journal transaction).
"""

from __future__ import annotations

import threading
import time

from rollup.api.codec import ApiError

GROUP_ITEMS_PER_TOKEN = 10
MAX_BUCKETS = 100_000  # past this, full buckets (the same as absent ones) are dropped


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._buckets: dict[int, tuple[float, float]] = {}  # account -> (tokens, at)
        self._lock = threading.Lock()
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, account: int, now: float | None = None, cost: float = 1.0) -> float | None:
        """Charge ``cost`` requests (at most ``burst``) to ``account``: None if allowed, else
        the seconds until it would be."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        cost = min(float(cost), self.burst)
        with self._lock:
            tokens, at = self._buckets.get(account, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < cost:
                self._buckets[account] = (tokens, now)
                self.refused += 1
                return (cost - tokens) / self.rate
            self._buckets[account] = (tokens - cost, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._prune(now)
            return None

    def _prune(self, now: float) -> None:
        self._buckets = {a: (t, at) for a, (t, at) in self._buckets.items()
                         if t + (now - at) * self.rate < self.burst}


def refusal(wait: float) -> ApiError:
    """The 429 of a request over its account's limit, ``wait`` seconds before it would pass."""
    return ApiError(429, "RateLimited", f"the account's rate limit is reached; retry in "
                    f"{wait:.3f} s", {"Retry-After": str(max(1, int(wait + 0.999)))})
