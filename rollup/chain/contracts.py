"""Deploy contracts from the committed artifacts, call them, send transactions; reverts come
back as ContractRevert with the decoded custom error.

A transaction sent with an explicit gas limit is not simulated first (on py-evm a simulation of
a pairing check costs about a second); when it is mined with status 0, it is replayed with
eth_call on the state before its block to recover the revert reason. Without a gas limit, the
node's gas estimate simulates it and the revert surfaces from there.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from .artifacts import load
from .errors import ContractRevert, decode_revert
from .node import Chain


@dataclass(frozen=True)
class TxResult:
    receipt: Any
    gas_used: int
    calldata: bytes

    @property
    def calldata_gas(self) -> int:
        """Calldata cost in the intrinsic gas (EIP-2028): 4 per zero byte, 16 per other."""
        return sum(4 if b == 0 else 16 for b in self.calldata)

    @property
    def execution_gas(self) -> int:
        """gas_used less the 21,000 base and the calldata cost: what the code itself spent."""
        return self.gas_used - 21_000 - self.calldata_gas


def _as_revert(e: ContractLogicError, context: str) -> ContractRevert:
    data = e.data
    if isinstance(data, str) and data.startswith("0x"):
        raw = bytes.fromhex(data[2:])
    elif isinstance(data, bytes | HexBytes):
        raw = bytes(data)
    else:
        raw = b""
    if not raw and e.message and "execution reverted" not in str(e.message):
        return ContractRevert("Error", (str(e.message),), b"", context)
    return decode_revert(raw, context)


def _tester_revert(e: Exception, context: str) -> ContractRevert:
    """eth-tester (py-evm) reports reverts as TransactionFailed("execution reverted: <reason>"),
    where <reason> is the repr of the raw revert bytes, or the text of an Error(string)."""
    msg = str(e.args[0]) if e.args else ""
    msg = msg.removeprefix("execution reverted: ")
    if msg[:2] in ("b'", 'b"'):
        try:
            return decode_revert(ast.literal_eval(msg), context)
        except (ValueError, SyntaxError):
            pass
    return ContractRevert("Error", (msg,), b"", context) if msg else decode_revert(b"", context)


def _revert_types() -> tuple[type[Exception], ...]:
    try:
        from eth_tester.exceptions import TransactionFailed  # lazy: eth-tester (~2 s)
    except ImportError:  # pragma: no cover - eth-tester is a dependency
        return (ContractLogicError,)
    return (ContractLogicError, TransactionFailed)


def _convert(e: Exception, context: str) -> ContractRevert:
    if isinstance(e, ContractLogicError):
        return _as_revert(e, context)
    return _tester_revert(e, context)


def contract_at(chain: Chain, name: str, address: str) -> Contract:
    return chain.w3.eth.contract(address=address, abi=load(name).abi)


def deploy(chain: Chain, name: str, *args, sender: str | None = None, value: int = 0,
           gas: int | None = None) -> Contract:
    """Deploy artifact `name` with constructor `args`; returns the bound contract."""
    art = load(name)
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    res = transact(chain, factory.constructor(*args), sender=sender, value=value, gas=gas,
                   context=f"deploy {name}")
    return chain.w3.eth.contract(address=res.receipt.contractAddress, abi=art.abi)


def call(fn, *, sender: str | None = None, value: int = 0, block: Any = "latest") -> Any:
    """eth_call of a bound contract function; reverts raise ContractRevert."""
    tx: dict = {"value": value}
    if sender is not None:
        tx["from"] = sender
    try:
        return fn.call(tx, block_identifier=block)
    except _revert_types() as e:
        raise _convert(e, fn.fn_name) from None


def transact(chain: Chain, fn, *, sender: str | None = None, value: int = 0,
             gas: int | None = None, context: str | None = None,
             on_sent: Callable[[bytes], None] | None = None) -> TxResult:
    """Send a transaction and wait for it; a revert raises ContractRevert. `on_sent(tx_hash)`
    runs once the node has accepted the transaction, before waiting for its receipt (a caller
    that must survive a crash records the hash there)."""
    ctx = context or getattr(fn, "fn_name", "transaction")
    w3 = chain.w3
    tx: dict = {"from": sender or chain.accounts[0], "value": value}
    if gas is not None:
        tx["gas"] = gas
    try:
        built = fn.build_transaction(tx)
        txh = w3.eth.send_transaction(built)
    except _revert_types() as e:
        raise _convert(e, ctx) from None
    if on_sent is not None:
        on_sent(bytes(txh))
    receipt = w3.eth.wait_for_transaction_receipt(txh, timeout=300)
    data = bytes(HexBytes(built.get("data", b"")))
    if receipt.status != 1:
        raise _replay_reason(chain, built, receipt, ctx)
    return TxResult(receipt, receipt.gasUsed, data)


def _replay_reason(chain: Chain, built: dict, receipt, ctx: str) -> ContractRevert:
    replay = {k: built[k] for k in ("from", "to", "data", "value", "gas") if k in built}
    try:
        chain.w3.eth.call(replay, block_identifier=receipt.blockNumber - 1)
    except _revert_types() as e:
        return _convert(e, ctx)
    except Exception as e:  # node cannot replay: report what we know
        return ContractRevert("", (), b"", f"{ctx}: reverted (replay failed: {e})")
    return ContractRevert("", (), b"", f"{ctx}: reverted (out of gas, or state changed)")
