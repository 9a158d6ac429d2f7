"""``Client`` and ``AsyncClient``: the same methods, blocking or awaitable, over one keep-alive
HTTP connection pool (httpx). A transport failure or a 503 is retried with the same bytes (a
signed request resent is answered with its first result), at most ``retries`` times."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace

import httpx

from circuits import eddsa_sign
from rollup import errors as E
from rollup.client.errors import ApiError, Unavailable, raise_for
from rollup.client.stream import Stream
from rollup.transactions import (
    POST_ONLY,
    SCOPE_CANCEL,
    Cancel,
    CancelAll,
    Domain,
    Order,
    Request,
    Transfer,
    Withdrawal,
    session_message,
)

DAY = 86_400
CANCEL_ALL_EXPIRY = 3_600  # seconds after the engine's time (the engine takes at most a day)
RETRY_STATUS = {502, 503, 504}
HEADERS = {"Content-Type": "application/json"}


def order_ids(start: int | None = None):
    """Increasing order ids (microseconds since 1970 at the start: a restarted client does not
    reuse its earlier ids)."""
    return itertools.count(start if start is not None else time.time_ns() // 1000)


class _Signer:
    """What both clients share: the account, its key, the domain and request encoding."""

    def __init__(self, key: bytes | None, account: int | None,
                 expect_domain: Domain | None) -> None:
        self.key, self.account = key, account
        self.expect = expect_domain
        self.domain: Domain | None = None
        self.ids = order_ids()
        self.top_id = 0  # the largest order id this client has sent
        self.engine_time: int | None = None  # the newest engine time seen in an answer

    def set_domain(self, status: dict) -> Domain:
        d = Domain(int(status["chain_id"]), int(str(status["rollup_address"]), 16)
                   if isinstance(status["rollup_address"], str) else status["rollup_address"])
        if self.expect is not None and d != self.expect:
            raise ApiError(0, "WrongDomain", f"the server signs for {d}, expected {self.expect}")
        self.domain = d
        return d

    def sign(self, req: Request) -> Request:
        if isinstance(req, Order):
            self.top_id = max(self.top_id, req.order_id)
        if getattr(req, "sig", None) is not None or not req.SIGNED:
            return req
        if self.key is None:
            raise ValueError("this client has no key: pass key= or a signed request")
        return req.signed(self.key, self.domain)

    def session_body(self, ttl: int, scope: int = 0) -> bytes:
        if self.key is None:
            raise ValueError("this client has no key: a session needs the account's key")
        account, expiry, nonce = self.need_account(), int(time.time()) + ttl, secrets.randbits(64)
        (rx, ry), sig_s = eddsa_sign(self.key, session_message(self.domain, account, expiry,
                                                                nonce, scope))
        return json.dumps({"account": account, "expiry": expiry, "nonce": nonce, "scope": scope,
                           "sig": [[str(rx), str(ry)], str(sig_s)]}).encode()

    def saw(self, answer):
        """Note the engine time of receipts (for cancel-all expiries); ``answer`` unchanged."""
        items = answer if isinstance(answer, list) else [answer]
        for a in items:
            t = a.get("engine_time") if isinstance(a, dict) else None
            if isinstance(t, int) and (self.engine_time is None or t > self.engine_time):
                self.engine_time = t
        return answer

    def cancel_all(self, asset: int, up_to: int | None, expiry: int | None) -> CancelAll:
        """Every resting order of the account in ``asset`` (0: all markets) up to ``up_to``
        (default: every id this client has sent, and a fresh one so that each message is
        new: a cancel-all is taken once)."""
        if up_to is None:
            up_to = max(next(self.ids), self.top_id)
        if expiry is None:
            expiry = self.engine_time + CANCEL_ALL_EXPIRY
        return CancelAll(self.need_account(), asset, up_to, expiry)

    def need_account(self) -> int:
        if self.account is None:
            raise ValueError("this client has no account: pass account=")
        return self.account

    def order(self, asset: int, side: int, size: int, price: int, order_id: int | None,
              flags: int, expiry: int | None) -> Order:
        return Order(self.need_account(), asset, side, size, price,
                     next(self.ids) if order_id is None else order_id,
                     int(time.time()) + DAY if expiry is None else expiry, flags)


def encode(req: Request) -> bytes:
    return json.dumps(req.to_json(), separators=(",", ":")).encode()


def _decode(r: httpx.Response):
    try:
        payload = r.json()
    except ValueError:
        payload = {"error": {"code": "BadResponse", "message": r.text[:200]}}
    if r.status_code >= 400:
        raise_for(r.status_code, payload, r.headers.get("Retry-After"))
    return payload


def group_body(signer: _Signer, reqs: Sequence[Request]) -> bytes:
    return b"[" + b",".join(encode(signer.sign(r)) for r in reqs) + b"]"


def batch_results(items: list[dict]) -> list[dict | Exception]:
    """The batch endpoint's items: a receipt dict, or the typed error the item would raise."""
    out: list[dict | Exception] = []
    for it in items:
        if it.get("status") == 200:
            out.append(it)
            continue
        try:
            raise_for(int(it.get("status", 500)), it)
        except (E.EngineError, ApiError) as exc:
            out.append(exc)
    return out


class Client:
    """Blocking client. ``key``: the account's Baby Jubjub private key (32 bytes)."""

    def __init__(self, url: str, *, key: bytes | None = None, account: int | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 expect_domain: Domain | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout, transport=transport,
                                  headers=HEADERS)
        self._s, self.retries, self.backoff = _Signer(key, account, expect_domain), retries, backoff

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: bytes | None = None, params=None,
              headers: dict | None = None):
        for attempt in range(self.retries + 1):
            try:
                r = self._http.request(method, path, content=body, params=params,
                                       headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise Unavailable(0, "Unreachable", f"{type(exc).__name__}: {exc}") from None
            else:
                if r.status_code not in RETRY_STATUS or attempt == self.retries:
                    return _decode(r)
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    # --- public reads ---------------------------------------------------------------------------
    def status(self) -> dict:
        st = self._call("GET", "/v1/status")
        self._s.set_domain(st)
        return st

    @property
    def domain(self) -> Domain:
        if self._s.domain is None:
            self.status()
        return self._s.domain

    def book(self, asset: int, depth: int = 50) -> dict:
        return self._call("GET", f"/v1/books/{asset}", params={"depth": depth})

    def markets(self) -> dict:
        """Listed markets: kind, underlying, strike, expiry, oracle price, factors, fees."""
        return self._call("GET", "/v1/markets")

    def login(self, ttl: int = 3_600, *, cancel: bool = False) -> str:
        """A session of this client's account (its key signs it); private reads use it.
        ``cancel``: scope SCOPE_CANCEL, which may also arm cancel-on-disconnect."""
        _ = self.domain
        self.session = self._call("POST", "/v1/sessions",
                                  self._s.session_body(ttl, SCOPE_CANCEL if cancel else 0))
        return self.session["token"]

    def _private(self, path: str, params=None):
        """A read of this account's private views, with its session (opened when missing or
        expired)."""
        s = getattr(self, "session", None)
        if s is None or s["expires"] <= time.time() + 5:
            self.login()
        auth = {"Authorization": f"Bearer {self.session['token']}"}
        return self._call("GET", path, params=params, headers=auth)

    def fills(self, since: int = 0, limit: int = 1000, account: int | None = None) -> dict:
        """The public fill tape; with ``account`` (this client's), that account's fills only."""
        q = {"since": since, "limit": limit}
        if account is None:
            return self._call("GET", "/v1/fills", params=q)
        return self._private("/v1/fills", {**q, "account": account})

    def account_state(self) -> dict:
        return self._private(f"/v1/accounts/{self._s.need_account()}")

    def order_status(self, order_id: int) -> dict:
        return self._private(f"/v1/orders/{self._s.need_account()}/{order_id}")

    def stream(self, *, cancel_on_disconnect: bool = False, ttl: int = 3_600):
        """A WebSocket to /v1/ws (``rollup.client.stream.Stream``), authenticated when this
        client has a key and an account; ``cancel_on_disconnect``: armed (a cancel-scoped
        session of ``ttl`` seconds: it lapses with the session)."""
        has_key = self._s.key is not None and self._s.account is not None
        if cancel_on_disconnect and not has_key:
            raise ValueError("cancel-on-disconnect needs the account's key and id")
        token = self.login(ttl, cancel=cancel_on_disconnect) if has_key else None
        s = Stream(str(self._http.base_url), token)
        if cancel_on_disconnect:
            s.cancel_on_disconnect()
        return s

    # --- signed requests --------------------------------------------------------------------------
    def submit(self, req: Request) -> dict:
        """Sign (when unsigned) and submit; the receipt, or the typed rejection raised."""
        if req.SIGNED and getattr(req, "sig", None) is None:
            _ = self.domain
        return self._s.saw(self._call("POST", "/v1/requests", encode(self._s.sign(req))))

    def submit_batch(self, reqs: Sequence[Request]) -> list[dict | Exception]:
        """Up to the server's batch limit in one round trip; per item a receipt or an error."""
        _ = self.domain
        body = b"[" + b",".join(encode(self._s.sign(r)) for r in reqs) + b"]"
        return batch_results(self._call("POST", "/v1/requests/batch", body))

    def order(self, asset: int, side: int, size: int, price: int, *, order_id: int | None = None,
              flags: int = 0, expiry: int | None = None) -> dict:
        return self.submit(self._s.order(asset, side, size, price, order_id, flags, expiry))

    def cancel(self, asset: int, order_id: int) -> dict:
        return self.submit(Cancel(self._s.need_account(), asset, order_id))

    def submit_group(self, reqs: Sequence[Request]) -> list[dict]:
        """One account's cancels, cancel-alls and orders, all or nothing: every receipt, or
        ``GroupRejected`` (``index``, ``error``: the item's own typed error) and nothing
        applied."""
        _ = self.domain
        return self._s.saw(self._call("POST", "/v1/groups", group_body(self._s, reqs)))

    def cancel_all(self, asset: int = 0, *, up_to_order_id: int | None = None,
                   expiry: int | None = None) -> dict:
        """Cancel the account's resting orders in ``asset`` (0: every market) with an id up to
        ``up_to_order_id`` (default: all this client sent); the receipt lists them."""
        self._engine_time(expiry)
        return self.submit(self._s.cancel_all(asset, up_to_order_id, expiry))

    def amend(self, asset: int, order_id: int, side: int, size: int, price: int, *,
              new_order_id: int | None = None, flags: int = 0,
              expiry: int | None = None) -> list[dict]:
        """Replace resting order ``order_id`` by a new one, atomically (both or neither):
        [the cancel's receipt, the new order's]."""
        new = self._s.order(asset, side, size, price, new_order_id, flags, expiry)
        return self.submit_group([Cancel(self._s.need_account(), asset, order_id), new])

    def mass_quote(self, asset: int, quotes: Sequence[tuple[int, int, int]], *,
                   flags: int = POST_ONLY, expiry: int | None = None,
                   cancel_expiry: int | None = None) -> list[dict]:
        """Replace every resting order of the account in ``asset`` by ``quotes`` ((side, size,
        price), post-only by default), atomically: [the cancel-all's receipt, one per
        quote]."""
        self._engine_time(cancel_expiry)
        ca = self._s.cancel_all(asset, None, cancel_expiry)
        return self.submit_group([ca, *(self._s.order(asset, side, size, price, None, flags,
                                                       expiry) for side, size, price in quotes)])

    def _engine_time(self, expiry: int | None) -> None:
        if expiry is None and self._s.engine_time is None:
            self._s.engine_time = int(self.status()["time"])

    def withdraw(self, amount: int, to: int, nonce: int, expiry: int | None = None) -> dict:
        return self.submit(Withdrawal(self._s.need_account(), amount, to, nonce,
                                      int(time.time()) + DAY if expiry is None else expiry))

    def transfer(self, receiver: int, amount: int, nonce: int,
                 expiry: int | None = None) -> dict:
        return self.submit(Transfer(self._s.need_account(), receiver, amount, nonce,
                                    int(time.time()) + DAY if expiry is None else expiry))

    def signed(self, req: Request) -> Request:
        """``req`` signed for this server's domain (to send later, or elsewhere)."""
        _ = self.domain
        return self._s.sign(replace(req, sig=None) if req.SIGNED else req)


class AsyncClient:
    """The same methods as ``Client``, awaitable (one asyncio loop; httpx.AsyncClient)."""

    def __init__(self, url: str, *, key: bytes | None = None, account: int | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 expect_domain: Domain | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport,
                                       headers=HEADERS)
        self._s, self.retries, self.backoff = _Signer(key, account, expect_domain), retries, backoff

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: bytes | None = None, params=None,
                    headers: dict | None = None):
        for attempt in range(self.retries + 1):
            try:
                r = await self._http.request(method, path, content=body, params=params,
                                             headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise Unavailable(0, "Unreachable", f"{type(exc).__name__}: {exc}") from None
            else:
                if r.status_code not in RETRY_STATUS or attempt == self.retries:
                    return _decode(r)
            await asyncio.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    async def status(self) -> dict:
        st = await self._call("GET", "/v1/status")
        self._s.set_domain(st)
        return st

    async def domain(self) -> Domain:
        if self._s.domain is None:
            await self.status()
        return self._s.domain

    async def book(self, asset: int, depth: int = 50) -> dict:
        return await self._call("GET", f"/v1/books/{asset}", params={"depth": depth})

    async def markets(self) -> dict:
        return await self._call("GET", "/v1/markets")

    async def login(self, ttl: int = 3_600, *, cancel: bool = False) -> str:
        await self.domain()
        self.session = await self._call("POST", "/v1/sessions", self._s.session_body(
            ttl, SCOPE_CANCEL if cancel else 0))
        return self.session["token"]

    async def _private(self, path: str, params=None):
        s = getattr(self, "session", None)
        if s is None or s["expires"] <= time.time() + 5:
            await self.login()
        auth = {"Authorization": f"Bearer {self.session['token']}"}
        return await self._call("GET", path, params=params, headers=auth)

    async def fills(self, since: int = 0, limit: int = 1000, account: int | None = None) -> dict:
        q = {"since": since, "limit": limit}
        if account is None:
            return await self._call("GET", "/v1/fills", params=q)
        return await self._private("/v1/fills", {**q, "account": account})

    async def account_state(self) -> dict:
        return await self._private(f"/v1/accounts/{self._s.need_account()}")

    async def order_status(self, order_id: int) -> dict:
        return await self._private(f"/v1/orders/{self._s.need_account()}/{order_id}")

    async def submit(self, req: Request) -> dict:
        await self.domain()
        return self._s.saw(await self._call("POST", "/v1/requests", encode(self._s.sign(req))))

    async def submit_batch(self, reqs: Sequence[Request]) -> list[dict | Exception]:
        await self.domain()
        body = b"[" + b",".join(encode(self._s.sign(r)) for r in reqs) + b"]"
        return batch_results(await self._call("POST", "/v1/requests/batch", body))

    async def order(self, asset: int, side: int, size: int, price: int, *,
                    order_id: int | None = None, flags: int = 0,
                    expiry: int | None = None) -> dict:
        return await self.submit(self._s.order(asset, side, size, price, order_id, flags, expiry))

    async def cancel(self, asset: int, order_id: int) -> dict:
        return await self.submit(Cancel(self._s.need_account(), asset, order_id))

    async def submit_group(self, reqs: Sequence[Request]) -> list[dict]:
        await self.domain()
        return self._s.saw(await self._call("POST", "/v1/groups", group_body(self._s, reqs)))

    async def cancel_all(self, asset: int = 0, *, up_to_order_id: int | None = None,
                         expiry: int | None = None) -> dict:
        await self._engine_time(expiry)
        return await self.submit(self._s.cancel_all(asset, up_to_order_id, expiry))

    async def amend(self, asset: int, order_id: int, side: int, size: int, price: int, *,
                    new_order_id: int | None = None, flags: int = 0,
                    expiry: int | None = None) -> list[dict]:
        new = self._s.order(asset, side, size, price, new_order_id, flags, expiry)
        return await self.submit_group([Cancel(self._s.need_account(), asset, order_id), new])

    async def mass_quote(self, asset: int, quotes: Sequence[tuple[int, int, int]], *,
                         flags: int = POST_ONLY, expiry: int | None = None,
                         cancel_expiry: int | None = None) -> list[dict]:
        await self._engine_time(cancel_expiry)
        ca = self._s.cancel_all(asset, None, cancel_expiry)
        return await self.submit_group([ca, *(self._s.order(asset, side, size, price, None,
                                                             flags, expiry)
                                              for side, size, price in quotes)])

    async def _engine_time(self, expiry: int | None) -> None:
        if expiry is None and self._s.engine_time is None:
            self._s.engine_time = int((await self.status())["time"])
