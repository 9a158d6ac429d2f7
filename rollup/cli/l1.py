"""`rollup l1 ...`: a trader's own requests to the Rollup contract, without the operator.

    rollup l1 deposit AMOUNT --to L2KEY [--asset token|eth]
    rollup l1 forced-withdraw --account N --amount A --l2-key KEYFILE [--to 0x..] [--sign-only]
    rollup l1 forced-withdraw --signed REQUEST.json       # relay a request signed elsewhere
    rollup l1 activate-exodus
    rollup l1 collect [--asset token|eth|all]             # pending withdrawals (pull payments)

Each reads the node URL and the Rollup address from rollup.toml (--config, default
./rollup.toml when present), overridden by --rpc and --rollup; transactions are signed here by
the L1 key file --key (keystore V3; plaintext for development) or sent from --from, an account
unlocked on the node. Each prints one line (one JSON object with --json); a failure is one typed
line on stderr (exit 1): a revert with the contract's reason, missing funds, a bad key or
passphrase, an unreachable node. No output carries key material.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from circuits.babyjubjub import pack_point
from circuits.eddsa import eddsa_sign
from rollup.cli.keys import passphrase_options, passphrase_source
from rollup.cli.operator import node_url, optional_config, rollup_address

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.

ASSETS = {"eth": 0, "token": 1}
ASSET_NAMES = {v: k for k, v in ASSETS.items()}


class L1Error(RuntimeError):
    """An L1 request could not be made; the message says why in one line."""


class NodeUnreachable(L1Error):
    """The node did not answer (wrong URL, node down, timeout)."""


class NoSender(L1Error):
    """No L1 key to sign with, or --from is not an account unlocked on the node."""


class InsufficientFunds(L1Error):
    """The sender lacks the ETH or tokens the request needs."""


class ForcedNonceUsed(L1Error):
    """A signed forced withdrawal names a nonce its key has already used (a replay), or one
    not reached yet."""


class WrongDeployment(L1Error):
    """A signed request is for another chain or Rollup contract than the one addressed."""


class Reverted(L1Error):
    """The contract refused the transaction; ``reason`` is its custom error's name."""

    def __init__(self, what: str, revert):
        self.reason = revert.name or "revert"
        self.args_ = revert.args_
        super().__init__(f"{what} reverted: {self.reason}: {_why(revert)}")


def _when(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Rollup.sol's custom errors in a trader's words (arguments as the contract gives them).
_WHY = {
    "NotOverdue": lambda a: f"no priority request is overdue yet (the oldest is due at "
                            f"{_when(a[0])})",
    "NothingOverdue": lambda a: "no priority request is waiting, so none can be overdue",
    "ExodusActive": lambda a: "the Rollup is in exodus: it takes no new requests",
    "NotInExodus": lambda a: "the Rollup is not in exodus",
    "DepositTooSmall": lambda a: f"below the minimum deposit of {a[0]}",
    "FeeRequired": lambda a: f"the queue fee is {a[0]} wei",
    "AmountTooLarge": lambda a: "the amount does not fit a queue entry (64 bits)",
    "ZeroAmount": lambda a: "the amount is zero",
    "UnknownAccount": lambda a: f"account {a[0]} has not been assigned on L1",
    "UnknownAsset": lambda a: f"asset {a[0]} is neither ETH (0) nor the token (1)",
    "BadSignature": lambda a: "the L2 key's signature does not verify for this request at the "
                              "key's next nonce (a replayed or altered request, or another "
                              "key's)",
    "NothingToWithdraw": lambda a: "nothing is pending for the sender",
    "AccountLimitReached": lambda a: "the Rollup has no account id left for a new key",
    "TransferFailed": lambda a: "the ETH or token transfer failed",
    "NotARefundableDeposit": lambda a: "not an unconsumed deposit of this depositor",
    "Reentrancy": lambda a: "re-entered",
}


def _why(revert) -> str:
    f = _WHY.get(revert.name)
    if f is not None:
        try:
            return f(revert.args_)
        except (IndexError, TypeError, ValueError, OverflowError, OSError):
            pass
    return str(revert)


def _short(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg[:160]}" if msg else type(exc).__name__


# --- options and the session ----------------------------------------------------------------------

def _l1_options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(f)
    f = passphrase_options(f)
    f = click.option("--from", "sender", default=None,
                     help="Send from this account, unlocked on the node (instead of --key).")(f)
    f = click.option("--key", "key_path", default=None, envvar="ROLLUP_L1_KEY",
                     type=click.Path(dir_okay=False),
                     help="L1 key file that signs the transactions [env ROLLUP_L1_KEY; "
                          "default: the configuration's keys.l1].")(f)
    f = click.option("--rollup", "rollup_flag", default=None, envvar="ROLLUP_ADDRESS",
                     help="Rollup contract [default: the configuration's "
                          "chain.rollup_address].")(f)
    f = click.option("--rpc", "rpc", default=None, envvar="ROLLUP_RPC",
                     help="JSON-RPC URL of an L1 node [default: the configuration's "
                          "chain.node].")(f)
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None, envvar="ROLLUP_CONFIG",
                        help="rollup.toml [default: ./rollup.toml when present].")(f)


@dataclass
class Session:
    chain: object  # rollup.chain.node.Chain
    client: object  # rollup.chain.rollup.RollupClient
    chain_id: int
    sender: str | None
    as_json: bool
    cfg: object = None  # rollup.config.Config | None

    def warn(self, line: str | None) -> None:
        if line:
            click.echo(line, err=True)

    def say(self, line: str, doc: dict) -> None:
        click.echo(json.dumps(doc, separators=(",", ":")) if self.as_json else line)


def open_node(url: str, timeout: float = 60.0):
    """A Chain over ``url`` and its chain id; NodeUnreachable when the node does not answer."""
    from web3 import HTTPProvider, Web3

    from rollup.chain.node import Chain

    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout},
                           exception_retry_configuration=None))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:  # connection refused, DNS, timeout, not JSON-RPC
        raise NodeUnreachable(f"cannot reach the node at {url} ({_short(exc)})") from None
    return Chain(w3, "rpc", []), chain_id


def _session(opts: dict, *, need_sender: bool = True) -> Session:
    from rollup.chain.rollup import RollupClient
    cfg = optional_config(opts["config_path"])
    url = node_url(cfg, opts["rpc"])
    address = rollup_address(cfg, opts["rollup_flag"])
    chain, chain_id = open_node(url)
    try:
        if cfg is not None and cfg.chain_id != chain_id:
            raise WrongDeployment(f"the node's chain id is {chain_id}, {cfg.path} says "
                                  f"{cfg.chain_id}")
        try:
            code = chain.w3.eth.get_code(address)
        except Exception as exc:
            raise NodeUnreachable(f"the node at {url} failed ({_short(exc)})") from None
        if not code:
            raise WrongDeployment(f"no contract at {address} on the node at {url}")
        s = Session(chain, RollupClient(chain, address), chain_id, None, opts["as_json"], cfg)
        if need_sender:
            s.sender = _sender(s, cfg, opts)
        return s
    except BaseException:
        chain.close()
        raise


def _sender(s: Session, cfg, opts: dict) -> str:
    from eth_utils import is_address, to_checksum_address

    from rollup.keys.keystore import plaintext_warning
    from rollup.keys.l1 import load_l1_key

    key_path, sender = opts["key_path"], opts["sender"]
    if key_path and sender:
        raise click.UsageError("give --key or --from, not both")
    if sender:
        if not is_address(sender):
            raise click.BadParameter(f"{sender!r} is not an address", param_hint="--from")
        sender = to_checksum_address(sender)
        if sender not in s.chain.w3.eth.accounts:
            raise NoSender(f"{sender} is not unlocked on the node: sign with --key FILE")
        return sender
    if not key_path and cfg is not None and cfg.l1_key:
        key_path = str(cfg.data_path(cfg.l1_key))
    if not key_path:
        raise NoSender("no L1 key: pass --key FILE (an L1 key file) or --from ADDRESS (an "
                       "account unlocked on the node)")
    pw = passphrase_source(opts["passphrase_file"], opts["passphrase_env"], cfg)
    key = load_l1_key(key_path, pw)
    if not key.encrypted:
        s.warn(plaintext_warning(key_path, s.chain_id))
    return s.chain.add_signer(key.account)


def _send(what: str, fn):
    """Run a transaction-sending call: reverts and node failures as typed one-line errors."""
    from rollup.chain.errors import ChainError, ContractRevert

    try:
        return fn()
    except ContractRevert as e:
        raise Reverted(what, e) from None
    except (L1Error, click.ClickException):
        raise
    except (ChainError, ValueError, OSError) as e:  # web3's RPC errors are ValueErrors
        text = str(e)
        if "insufficient funds" in text.lower():
            raise InsufficientFunds(f"{what}: the sender has too little ETH for the value and "
                                    "gas") from None
        raise L1Error(f"{what} failed: {_short(e)}") from None


def _event(client, receipt, name: str) -> dict:
    from web3.logs import DISCARD

    evs = getattr(client.contract.events, name)().process_receipt(receipt, errors=DISCARD)
    return dict(evs[0]["args"]) if evs else {}


def _tx(res) -> str:
    return "0x" + bytes(res.receipt.transactionHash).hex()


def _eth_balance(s: Session, who: str) -> int:
    return s.chain.w3.eth.get_balance(who)


def _token(s: Session):
    from rollup.chain.contracts import call, contract_at

    return contract_at(s.chain, "TestToken", call(s.client.f.token()))  # ERC-20 calls only


def _not_in_exodus(s: Session, what: str) -> None:
    if s.client.state().exodus:
        raise L1Error(f"{what}: the Rollup at {s.client.address} is in exodus; it takes no new "
                      "requests (collect what is owed with `rollup l1 collect`)")


# --- the commands -------------------------------------------------------------------------------

@click.group("l1")
def l1() -> None:
    """A trader's L1 requests: deposit, forced withdrawal, exodus, collect."""


def _l2_public(spec: str) -> tuple[int, int]:
    from rollup.keys import public_key_of

    return public_key_of(spec, Path.cwd())


@l1.command("deposit")
@click.argument("amount", type=int)
@click.option("--to", "to_key", required=True,
              help="The L2 key credited: a key file (its public part) or a compressed public "
                   "key (64 hex digits).")
@click.option("--asset", type=click.Choice(list(ASSETS)), default="token", show_default=True,
              help="token: the collateral (base units); eth: wei (refunded on L1 by the next "
                   "batch: the state holds the token only).")
@_l1_options
def deposit_cmd(amount: int, to_key: str, asset: str, **opts) -> None:
    """Deposit AMOUNT into the account of an L2 key (a new key gets the next account id),
    paying the queue fee; token deposits approve the Rollup for AMOUNT first when needed."""
    from rollup.chain.contracts import call, transact

    if amount <= 0:
        raise click.BadParameter("must be positive", param_hint="AMOUNT")
    key = pack_point(_l2_public(to_key))
    s = _session(opts)
    try:
        _not_in_exodus(s, "deposit")
        c = s.client
        fee = c.queue_fee()
        approve = None
        if asset == "eth":
            have = _eth_balance(s, s.sender)
            if have < amount + fee:
                raise InsufficientFunds(f"deposit: {s.sender} holds {have} wei, the deposit "
                                        f"and its queue fee need {amount + fee} plus gas")
            res = _send("deposit", lambda: c.deposit_eth(key, amount, sender=s.sender, fee=fee))
        else:
            tok = _token(s)
            have = call(tok.functions.balanceOf(s.sender))
            if have < amount:
                raise InsufficientFunds(f"deposit: {s.sender} holds {have} tokens, not "
                                        f"{amount}")
            if _eth_balance(s, s.sender) < fee:
                raise InsufficientFunds(f"deposit: {s.sender} cannot pay the queue fee of "
                                        f"{fee} wei")
            if call(tok.functions.allowance(s.sender, c.address)) < amount:
                approve = _send("approve", lambda: transact(
                    s.chain, tok.functions.approve(c.address, amount), sender=s.sender))
            res = _send("deposit", lambda: c.deposit_token(key, amount, sender=s.sender,
                                                           fee=fee))
        ev = _event(c, res.receipt, "PriorityRequest")
        doc = {"command": "deposit", "asset": asset, "amount": amount,
               "account": ev.get("accountId"), "l2_key": key.hex(),
               "queue_index": ev.get("index"), "deadline": ev.get("deadline"), "fee": fee,
               "from": s.sender, "tx": _tx(res), "gas": res.gas_used,
               "approve_tx": _tx(approve) if approve else None}
        s.say(f"deposit of {amount} {asset} to account {doc['account']}: queue entry "
              f"{doc['queue_index']}, due by {_when(doc['deadline'])}, tx {doc['tx']}", doc)
    finally:
        s.chain.close()


def _signed_request(path: str) -> dict:
    try:
        d = json.loads(Path(path).read_text())
        req = {"chain_id": int(d["chain_id"]), "rollup": str(d["rollup"]),
               "account": int(d["account"]), "asset": int(d["asset"]),
               "amount": int(d["amount"]), "to": str(d["to"]), "nonce": int(d["nonce"]),
               "public_key": [int(x) for x in d["public_key"]],
               "signature": [int(x) for x in d["signature"]]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise L1Error(f"--signed {path}: not a signed forced withdrawal "
                      f"({type(exc).__name__})") from None
    if d.get("type") != "forced_withdrawal" or len(req["public_key"]) != 2 or len(
            req["signature"]) != 3:
        raise L1Error(f"--signed {path}: not a signed forced withdrawal")
    return req


@l1.command("forced-withdraw")
@click.option("--account", "account_id", type=int, default=None, help="The L2 account.")
@click.option("--amount", type=int, default=None,
              help="Base units to withdraw (the batch pays nothing if the account cannot "
                   "afford it and stay healthy).")
@click.option("--asset", type=click.Choice(list(ASSETS)), default="token", show_default=True)
@click.option("--to", "to", default=None, help="L1 address paid [default: the sender].")
@click.option("--l2-key", "l2_key", type=click.Path(dir_okay=False), default=None,
              help="The account's L2 key file: it signs the request.")
@click.option("--nonce", type=int, default=None,
              help="The key's forced-withdrawal nonce [default: its next, read from L1].")
@click.option("--sign-only", is_flag=True,
              help="Print the signed request (JSON) instead of sending it: anyone can relay it "
                   "with --signed.")
@click.option("--signed", "signed_path", type=click.Path(dir_okay=False), default=None,
              help="Send a request signed elsewhere (`--sign-only`'s output).")
@_l1_options
def forced_withdraw_cmd(account_id, amount, asset, to, l2_key, nonce, sign_only, signed_path,
                        **opts) -> None:
    """Queue a forced withdrawal on L1, signed by the account's L2 key (EdDSA-Poseidon over
    the contract's forcedWithdrawalMessage): the operator's next batches must pay it before
    its deadline, or anyone may activate exodus."""
    from eth_utils import is_address, to_checksum_address

    from rollup.chain import layout
    from rollup.keys import load_key
    from rollup.keys.keystore import plaintext_warning

    if signed_path is not None:
        if any(v is not None for v in (account_id, amount, to, l2_key, nonce)) or sign_only:
            raise click.UsageError("--signed takes the request from its file: no --account, "
                                   "--amount, --to, --l2-key, --nonce or --sign-only")
        req = _signed_request(signed_path)
    else:
        if account_id is None or amount is None or l2_key is None:
            raise click.UsageError("give --account, --amount and --l2-key (or --signed FILE)")
        if amount < 0 or not 0 <= account_id < 1 << 32:
            raise click.BadParameter("--amount >= 0 and --account in 0..2**32-1 please")
        req = None
    if to is not None and not is_address(to):
        raise click.BadParameter(f"{to!r} is not an address", param_hint="--to")
    s = _session(opts, need_sender=not sign_only)
    try:
        c = s.client
        if req is None:
            to = to_checksum_address(to) if to else s.sender
            if to is None:
                raise click.UsageError("--sign-only needs --to ADDRESS (the payee)")
            pw = passphrase_source(opts["passphrase_file"], opts["passphrase_env"], s.cfg)
            kp = load_key(l2_key, pw)
            if not kp.encrypted:
                s.warn(plaintext_warning(l2_key, s.chain_id))
            packed = pack_point(kp.public_key)
            n = c.forced_nonce(account_id, packed) if nonce is None else nonce
            m = layout.forced_withdrawal_message(s.chain_id, c.address, account_id,
                                                 ASSETS[asset], amount, to, n)
            (r8x, r8y), sig_s = eddsa_sign(kp.private_key, m)
            req = {"chain_id": s.chain_id, "rollup": c.address, "account": account_id,
                   "asset": ASSETS[asset], "amount": amount, "to": to, "nonce": n,
                   "public_key": list(kp.public_key), "signature": [r8x, r8y, sig_s]}
        if sign_only:
            doc = {"type": "forced_withdrawal", **req,
                   "public_key": [str(x) for x in req["public_key"]],
                   "signature": [str(x) for x in req["signature"]]}
            click.echo(json.dumps(doc, separators=(",", ":")))
            return
        if (req["chain_id"], req["rollup"].lower()) != (s.chain_id, c.address.lower()):
            raise WrongDeployment(f"the request is signed for chain {req['chain_id']}, Rollup "
                                  f"{req['rollup']}; this is chain {s.chain_id}, {c.address}")
        _not_in_exodus(s, "forced withdrawal")
        pk = tuple(req["public_key"])
        packed = pack_point(pk)
        nxt = c.forced_nonce(req["account"], packed)
        if req["nonce"] != nxt:
            raise ForcedNonceUsed(
                f"forced withdrawal nonce {req['nonce']} of account {req['account']}'s key "
                + ("was already used (a replay)" if req["nonce"] < nxt else "is not reached yet")
                + f"; the key's next nonce is {nxt}")
        fee = c.queue_fee()
        if _eth_balance(s, s.sender) < fee:
            raise InsufficientFunds(f"forced withdrawal: {s.sender} cannot pay the queue fee "
                                    f"of {fee} wei")
        r8x, r8y, sig_s = req["signature"]
        res = _send("forced withdrawal", lambda: c.request_forced_withdrawal(
            req["account"], req["asset"], req["amount"], public_key=pk,
            signature=((r8x, r8y), sig_s), to=req["to"], sender=s.sender, fee=fee))
        ev = _event(c, res.receipt, "PriorityRequest")
        doc = {"command": "forced-withdraw", "account": req["account"],
               "asset": ASSET_NAMES.get(req["asset"], req["asset"]), "amount": req["amount"],
               "to": req["to"], "nonce": req["nonce"], "queue_index": ev.get("index"),
               "deadline": ev.get("deadline"), "fee": fee, "from": s.sender, "tx": _tx(res),
               "gas": res.gas_used}
        s.say(f"forced withdrawal of {req['amount']} {doc['asset']} from account "
              f"{req['account']} to {req['to']} (nonce {req['nonce']}): queue entry "
              f"{doc['queue_index']}, due by {_when(doc['deadline'])}, tx {doc['tx']}", doc)
    finally:
        s.chain.close()


@l1.command("activate-exodus")
@_l1_options
def activate_exodus_cmd(**opts) -> None:
    """Stop the Rollup once the oldest waiting priority request is past its deadline: no batch
    is accepted afterwards, and accounts leave with `rollup exit`."""
    s = _session(opts)
    try:
        c = s.client
        res = _send("activate-exodus", lambda: c.activate_exodus(sender=s.sender))
        ev = _event(c, res.receipt, "ExodusActivated")
        root = bytes(ev.get("stateRoot", b"")).hex()
        doc = {"command": "activate-exodus", "last_batch": ev.get("lastBatch"),
               "state_root": "0x" + root, "overdue_index": ev.get("overdueIndex"),
               "from": s.sender, "tx": _tx(res), "gas": res.gas_used}
        s.say(
            f"exodus activated: last batch {doc['last_batch']}, root 0x{root[:16]}…, overdue "
            f"queue entry {doc['overdue_index']}, tx {doc['tx']}", doc)
    finally:
        s.chain.close()


def _unconsumed_deposits(s: Session, depositor: str, from_block: int, chunk: int = 10_000):
    """The depositor's deposits no batch consumed and not yet refunded: (index, entry args)."""
    from rollup.chain import layout
    from rollup.chain.contracts import call

    c = s.client
    st = c.state()
    head = s.chain.w3.eth.block_number
    ev = c.contract.events.PriorityRequest()
    out = []
    for lo in range(from_block, head + 1, chunk):
        for lg in ev.get_logs(from_block=lo, to_block=min(lo + chunk - 1, head),
                              argument_filters={"l1Address": depositor}):
            a = lg["args"]
            if (a["kind"] == layout.KIND_DEPOSIT and a["index"] >= st.queue_consumed
                    and not call(c.f.depositRefunded(a["index"]))):
                out.append(a)
    return sorted(out, key=lambda a: a["index"])


@l1.command("collect")
@click.option("--asset", type=click.Choice([*ASSETS, "all"]), default="all",
              show_default=True)
@click.option("--from-block", default=0, show_default=True,
              help="Where to look for the sender's deposits to refund in exodus (the "
                   "deployment block is enough).")
@_l1_options
def collect_cmd(asset: str, from_block: int, **opts) -> None:
    """Pay the sender what the Rollup owes it: withdrawals credited by finalized batches,
    exits, queue fees (the operator) and, in exodus, its deposits that no batch consumed
    (refunded first)."""
    from rollup.chain import layout

    s = _session(opts)
    try:
        c = s.client
        refunded = []
        if c.state().exodus:
            for a in _unconsumed_deposits(s, s.sender, from_block):
                entry = layout.QueueEntry(layout.KIND_DEPOSIT, a["asset"], a["accountId"],
                                          s.sender, a["amount"], bytes(a["l2Key"]))
                _send("refund of a deposit", lambda i=a["index"], e=entry: c.refund_deposit(
                    i, e, sender=s.sender))
                refunded.append(a["index"])
        paid, txs = {}, []
        for name, aid in ASSETS.items():
            if asset not in ("all", name) or c.pending(s.sender, aid) == 0:
                continue
            res = _send(f"withdraw of {name}", lambda aid=aid: c.withdraw(aid, sender=s.sender))
            ev = _event(c, res.receipt, "Withdrawn")
            paid[name] = ev.get("amount", 0)
            txs.append(_tx(res))
        doc = {"command": "collect", "to": s.sender, "paid": paid, "refunded": refunded,
               "txs": txs}
        if paid:
            line = (f"collected {' and '.join(f'{v} {k}' for k, v in paid.items())} to "
                    f"{s.sender}" + (f" (refunded deposits {refunded})" if refunded else ""))
        else:
            line = f"nothing to collect for {s.sender}"
        s.say(line, doc)
    finally:
        s.chain.close()
