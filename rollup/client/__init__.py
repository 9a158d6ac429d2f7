"""The trading API's client library: ``Client`` (blocking) and ``AsyncClient`` (asyncio) over
HTTP, both signing requests with the account's Baby Jubjub key.

Contract: the domain (chain id, rollup address) comes from the server's ``/v1/status`` once and
is checked against ``expect_domain`` when given; a request is signed once and resent unchanged on a
transport failure (the server answers a resent signed request with its first result); every
rejection raises a typed error: the engine's class from ``rollup.errors`` when the server names
one (``InsufficientMargin``, ``StaleNonce`` ...), else an ``ApiError`` subclass. Wire format and
signing scheme: docs/api.md.
"""

from rollup.client.errors import ApiError, BadRequest, RateLimited, Unavailable, raise_for
from rollup.client.http import AsyncClient, Client

__all__ = ["ApiError", "AsyncClient", "BadRequest", "Client", "RateLimited", "Unavailable",
           "raise_for"]
