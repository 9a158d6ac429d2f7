"""Typed errors of the client: the server's ``{"error": {"code", "message"}}`` becomes the
engine's own exception class when ``code`` names one (so a remote rejection and an in-process one
are caught alike), else an ``ApiError`` subclass by HTTP status."""

from __future__ import annotations

from rollup import errors as E


class ApiError(Exception):
    """A rejection or failure that is not one of the engine's typed errors."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status, self.code, self.message = status, code, message


class BadRequest(ApiError):
    """The server could not read the request (4xx input error: malformed JSON, a bad field)."""


class RateLimited(ApiError):
    """Too many requests for this account; ``retry_after`` seconds until the next is accepted."""

    def __init__(self, status: int, code: str, message: str, retry_after: float = 1.0) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class Unavailable(ApiError):
    """The server could not be reached or answered 5xx after the client's retries."""


ENGINE_ERRORS: dict[str, type[E.EngineError]] = {
    cls.__name__: cls for cls in vars(E).values()
    if isinstance(cls, type) and issubclass(cls, E.EngineError)
}


def raise_for(status: int, payload: object, retry_after: str | None = None) -> None:
    """Raise the typed error of a non-2xx answer (``payload``: its decoded JSON body)."""
    err = payload.get("error") if isinstance(payload, dict) else None
    code = str(err.get("code", "")) if isinstance(err, dict) else ""
    message = str(err.get("message", "")) if isinstance(err, dict) else str(payload)[:200]
    if code == "GroupRejected" and isinstance(err, dict):
        cause = ENGINE_ERRORS.get(str(err.get("cause")), E.EngineError)
        index = err.get("index") if isinstance(err.get("index"), int) else 0
        inner = message.split(": ", 2)[-1] if message.count(": ") >= 2 else message
        exc = E.GroupRejected(index, cause(inner))
        exc.status = status  # type: ignore[attr-defined]
        raise exc
    if code in ENGINE_ERRORS and code != "EngineError":
        exc = ENGINE_ERRORS[code](message)
        exc.status = status  # type: ignore[attr-defined]
        raise exc
    if status == 429:
        try:
            wait = float(retry_after) if retry_after is not None else 1.0
        except ValueError:
            wait = 1.0
        raise RateLimited(status, code or "RateLimited", message, wait)
    if status >= 500:
        raise Unavailable(status, code or "ServerError", message)
    raise BadRequest(status, code or "BadRequest", message)
