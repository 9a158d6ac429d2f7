"""Typed rejections of the engine: each carries a reason, and none is raised half-way through an
update (the sequencer validates first and rolls back on any failure, so a raised error means the
state root and every balance are as they were)."""

from __future__ import annotations


class EngineError(Exception):
    """A request was rejected; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadSignature(EngineError):
    """The signature does not verify under the account's (or oracle's) registered key."""


class StaleNonce(EngineError):
    """The request's nonce is not the account's next nonce (replayed or out of order)."""


class OrderIdReused(EngineError):
    """The order id was already used (or superseded) in its slot of the account's order tree."""


class Replayed(EngineError):
    """The same signed cancel-all was applied already (each is taken once, until its expiry), or
    the same scenario chunk at the state's time."""


class Expired(EngineError):
    """The request's expiry (or the option series' expiry) is before the state's time."""


class UnknownAccount(EngineError):
    """The account id is empty, or out of the tree's range."""


class AccountExists(EngineError):
    """A deposit names a new key for an account that already holds another key."""


class UnknownMarket(EngineError):
    """The asset id is not in the registry (or is the wrong kind for the request)."""


class UnknownOrder(EngineError):
    """A cancel names an order that is not resting in the book."""


class InvalidRequest(EngineError):
    """A field is out of range or inconsistent (zero size, bad side, bad flags, overflow...)."""


class UnsafeKey(EngineError):
    """The public key is off the curve or of small order (the circuit rejects such keys)."""


class InsufficientCollateral(EngineError):
    """A withdrawal or transfer asks for more collateral than the account holds."""


class InsufficientMargin(EngineError):
    """After the update, total value would be below total risk (initial factors)."""


class NoPositionSlot(EngineError):
    """All position slots of the account are in use by other assets."""


class PostOnlyWouldCross(EngineError):
    """A post-only order would have taken liquidity."""


class ReduceOnlyViolation(EngineError):
    """A reduce-only order would increase (or flip) the position."""


class NoLiquidity(EngineError):
    """A market or IOC order found nothing to match at its limit."""


class NotLiquidatable(EngineError):
    """The account is at or above maintenance margin, or the liquidation would not reduce it."""


class BadOracle(EngineError):
    """An oracle update is stale (time goes backwards) or otherwise unacceptable."""


class NotSettleable(EngineError):
    """The option series has not expired or has no settlement price yet."""


class ExodusActive(EngineError):
    """The L1 contract is in exodus mode: no batch can finalize, so no request is taken."""


class JournalError(EngineError):
    """The journal could not record the request; it was not applied."""


class OperatorOnly(EngineError):
    """The request type comes from the operator or the L1 queue, not from a public endpoint."""


class GroupRejected(EngineError):
    """An item of an atomic group was rejected, so none of the group took effect: ``index``
    names the item, ``error`` is its own typed error."""

    def __init__(self, index: int, error: EngineError) -> None:
        super().__init__(f"group item {index}: {type(error).__name__}: {error.reason}")
        self.index = index
        self.error = error
