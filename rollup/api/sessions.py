"""API sessions: a trader proves control of an account's key once (a signed, expiring,
single-use session message: ``rollup.transactions.session_message``) and gets a random bearer
token for that account's private reads and private streams until the session expires; a session
signed with scope ``SCOPE_CANCEL`` may also arm cancel-on-disconnect (a read-only token, handed
to a dashboard, cannot have the account's orders cancelled).

Invariants: a token is 32 random bytes (``secrets``), kept only in this process's memory (a
restart ends every session); a signature opens one session only (its nonce is remembered until
its expiry); expiry lies in (now, now + SESSION_MAX_S]; tokens are compared in constant time
through dictionary lookup of their SHA-256, never logged.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from circuits import eddsa_verify
from rollup.api.codec import ApiError
from rollup.transactions import SCOPE_CANCEL, SESSION_MAX_S, Domain, session_message

MAX_SESSIONS = 100_000


@dataclass(frozen=True)
class Session:
    account: int
    expires: int  # wall-clock seconds
    scope: int = 0  # bits: SCOPE_CANCEL (what the signature allows beyond reads)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Sessions:
    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self._by_digest: dict[bytes, Session] = {}
        self._used: dict[tuple[int, int], int] = {}  # (account, nonce) -> expiry
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        for k in [k for k, s in self._by_digest.items() if s.expires <= now]:
            del self._by_digest[k]
        for k in [k for k, e in self._used.items() if e <= now]:
            del self._used[k]

    def open(self, domain: Domain, pk: tuple[int, int], account: int, expiry: int, nonce: int,
             sig, scope: int = 0) -> tuple[str, Session]:
        """A new token for ``account`` (its key ``pk``), or ApiError 401/400 and nothing kept."""
        now = self.clock()
        if not now < expiry <= now + SESSION_MAX_S:
            raise ApiError(400, "BadExpiry", f"a session's expiry must lie within "
                           f"{SESSION_MAX_S} s from now (wall clock {int(now)})")
        if scope not in (0, SCOPE_CANCEL):
            raise ApiError(400, "BadScope", f"scope is 0 (reads) or {SCOPE_CANCEL} (reads and "
                           "cancel-on-disconnect)")
        if not eddsa_verify(pk, session_message(domain, account, expiry, nonce, scope), sig):
            raise ApiError(401, "BadSignature", f"not signed by account {account}'s key",
                           {"WWW-Authenticate": 'Bearer realm="account"'})
        with self._lock:
            self._prune(now)
            if (account, nonce) in self._used:
                raise ApiError(409, "SessionReplayed", "this signed session message was used "
                               "already: sign another (a new nonce)")
            if len(self._by_digest) >= MAX_SESSIONS:
                raise ApiError(503, "TooManySessions", "the server holds too many sessions")
            token = secrets.token_urlsafe(32)
            s = Session(account, expiry, scope)
            self._by_digest[_digest(token)] = s
            self._used[(account, nonce)] = expiry
        return token, s

    def check(self, authorization: str | None, account: int) -> Session:
        """The session of ``Authorization: Bearer <token>`` if it is live and for ``account``."""
        token = (authorization or "")[7:].strip() if (authorization or "").startswith(
            "Bearer ") else ""
        s = self._by_digest.get(_digest(token)) if token else None
        if s is None or s.expires <= self.clock():
            raise ApiError(401, "Unauthorized", "an account's private views need a session "
                           "token (POST /v1/sessions) as a bearer token",
                           {"WWW-Authenticate": 'Bearer realm="account"'})
        if s.account != account:
            raise ApiError(403, "Forbidden", f"the session is for account {s.account}, not "
                           f"{account}")
        return s

    def resolve(self, token: str) -> Session | None:
        s = self._by_digest.get(_digest(token)) if token else None
        return s if s is not None and s.expires > self.clock() else None
