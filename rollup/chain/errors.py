"""Reverts as one typed exception carrying the decoded custom error."""

from __future__ import annotations

from eth_abi import decode

from .artifacts import error_abis


class ChainError(RuntimeError):
    """A node could not be started or reached, or a transaction could not be sent."""


class ContractRevert(ChainError):
    """A call or transaction reverted.

    name: the custom error's name ("WrongOldRoot"), "Error" for require/revert strings, "Panic"
    for assertion/overflow panics, "" when the revert carried no data or an unknown selector.
    args: the decoded error arguments. data: the raw revert data.
    """

    def __init__(self, name: str, args: tuple, data: bytes, context: str = ""):
        self.name = name
        self.args_ = args
        self.data = data
        self.context = context
        what = f"{name}({', '.join(_fmt(a) for a in args)})" if name else (
            f"revert data 0x{data.hex()}" if data else "revert without reason")
        super().__init__(f"{context}: {what}" if context else what)

    @property
    def reason(self) -> str:
        return self.name


def _fmt(a) -> str:
    return "0x" + a.hex() if isinstance(a, bytes) else repr(a)


def decode_revert(data: bytes, context: str = "") -> ContractRevert:
    if len(data) >= 4:
        e = error_abis().get(bytes(data[:4]))
        if e is not None:
            types = [i["type"] for i in e["inputs"]]
            try:
                args = tuple(decode(types, bytes(data[4:])))
            except Exception:  # malformed payload: keep the name, drop the arguments
                args = ()
            return ContractRevert(e["name"], args, bytes(data), context)
    return ContractRevert("", (), bytes(data), context)
