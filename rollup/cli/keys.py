"""`rollup keys ...`: key files (Baby Jubjub for L2, secp256k1 with --l1), encrypted or not, and
signed requests.

    rollup keys new KEYFILE [--l1] [--encrypt] [--force]
    rollup keys encrypt KEYFILE [--out FILE]
    rollup keys show KEYFILE [--json]
    rollup keys sign --key KEYFILE [--config PATH | --chain-id N --rollup-address A] json [FILE|-]
    rollup keys sign --key KEYFILE ... order --account 7 --asset 1 --side buy --size 2 \\
        --price 60000 --order-id 1 [--post-only|--ioc|--market] [--reduce-only] [--expiry T]
    rollup keys sign --key KEYFILE ... cancel|transfer|withdraw ...

`sign` prints the signed request as the API's POST /v1/requests body (``--submit URL``: posts
it and prints the receipt). Encrypted files (keystore V3): see docs/trader.md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from rollup.config import DEFAULT_PATH, load

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


class SignError(ValueError):
    """The request to sign, or its signing domain, is missing or malformed."""


class SubmitError(RuntimeError):
    """The sequencer rejected a request (its error code and message) or could not be reached."""


def passphrase_options(f):
    f = click.option("--passphrase-file", type=click.Path(dir_okay=False), default=None,
                     help="Or read it from this file (first line).")(f)
    return click.option("--passphrase-env", default=None, metavar="NAME",
                        help="Environment variable holding the key files' passphrase [default: "
                             "ROLLUP_PASSPHRASE, or the configuration's keys.passphrase_env]."
                        )(f)


def passphrase_source(file: str | None, env: str | None, cfg=None, *, confirm: bool = False):
    """The Passphrase of the options, else the configuration's, typed at a terminal as a
    last resort (twice when ``confirm``: a new key)."""
    from rollup.keys import DEFAULT_PASSPHRASE_ENV, Passphrase

    def prompt(what: str) -> str:
        return click.prompt(f"passphrase for {what}", hide_input=True,
                            confirmation_prompt=confirm, err=True)

    tty = prompt if sys.stdin.isatty() else None
    if file is not None or env is not None:
        return Passphrase(env, file, tty)
    if cfg is not None:
        base = cfg.passphrase()
        return Passphrase(base.env, base.file, tty)
    return Passphrase(DEFAULT_PASSPHRASE_ENV, None, tty)


SCRYPT_N_OPTION = click.option("--scrypt-n", type=int, default=None,
                         help="scrypt cost of an encrypted file [default: 2**18, as "
                              "eth-account's].")


@click.group("keys")
def keys() -> None:
    """Key files (Baby Jubjub L2 keys; L1 keys with --l1) and signed requests."""


@keys.command("new")
@click.argument("keyfile", type=click.Path(dir_okay=False))
@click.option("--l1", "l1", is_flag=True, help="An L1 (Ethereum secp256k1) key.")
@click.option("--encrypt", is_flag=True,
              help="Encrypt it (keystore V3) under the passphrase.")
@passphrase_options
@SCRYPT_N_OPTION
@click.option("--force", is_flag=True, help="Replace an existing key file.")
def new_cmd(keyfile: str, l1: bool, encrypt: bool, passphrase_env: str | None,
            passphrase_file: str | None, scrypt_n: int | None, force: bool) -> None:
    """Write a new private key (32 bytes from the OS's CSPRNG) to KEYFILE, mode 0600; print its
    public key (an L1 key: its address)."""
    from rollup.keys import SCRYPT_N, compress, new_key
    from rollup.keys.l1 import new_l1_key

    pw = (passphrase_source(passphrase_file, passphrase_env, confirm=True).get(
        f"the new key {keyfile}") if encrypt else None)
    n = scrypt_n or SCRYPT_N
    how = "encrypted" if encrypt else "plaintext, development only"
    if l1:
        addr = new_l1_key(keyfile, force=force, passphrase=pw, n=n)
        click.echo(f"{keyfile}: address {addr} ({how})")
        return
    kp = new_key(keyfile, force=force, passphrase=pw, n=n)
    click.echo(f"{keyfile}: public key {compress(kp.public_key)} ({how})")


def _kind(path: str) -> str:
    """"l2" or "l1": what a key file holds (KeyFileError if neither)."""
    from rollup.keys import KeyFileError, is_encrypted

    try:
        is_encrypted(path)
        return "l2"
    except KeyFileError as exc:
        from rollup.keys.l1 import is_encrypted as l1_encrypted

        try:
            l1_encrypted(path)
        except KeyFileError:
            raise exc from None
        return "l1"


@keys.command("encrypt")
@click.argument("keyfile", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the encrypted file here [default: replace KEYFILE].")
@passphrase_options
@SCRYPT_N_OPTION
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def encrypt_cmd(keyfile: str, out: str | None, passphrase_env: str | None,
                passphrase_file: str | None, scrypt_n: int | None, force: bool) -> None:
    """Encrypt a plaintext key file (L2 or L1) under the passphrase (keystore V3)."""
    from rollup.keys import SCRYPT_N, compress, encrypt_key_file
    from rollup.keys.l1 import encrypt_l1_file

    kind = _kind(keyfile)
    pw = passphrase_source(passphrase_file, passphrase_env, confirm=True).get(
        f"the key in {keyfile}")
    n = scrypt_n or SCRYPT_N
    dest = out or keyfile
    if kind == "l1":
        addr = encrypt_l1_file(keyfile, pw, out, n=n, force=force)
        click.echo(f"{dest}: encrypted, address {addr}")
    else:
        kp = encrypt_key_file(keyfile, pw, out, n=n, force=force)
        click.echo(f"{dest}: encrypted, public key {compress(kp.public_key)}")


@keys.command("show")
@click.argument("keyfile", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def show_cmd(keyfile: str, as_json: bool) -> None:
    """Print the public key of KEYFILE: x, y and the compressed form (hex); an L1 key file's
    address. Encrypted files name them in the clear: no passphrase needed."""
    from rollup.keys import is_encrypted, load_key, load_public, public_json

    if _kind(keyfile) == "l1":
        from rollup.keys.l1 import address_of
        from rollup.keys.l1 import is_encrypted as l1_encrypted

        d = {"address": address_of(keyfile), "encrypted": l1_encrypted(keyfile)}
        click.echo(json.dumps(d) if as_json else
                   f"address     {d['address']}\nencrypted   {str(d['encrypted']).lower()}")
        return
    enc = is_encrypted(keyfile)
    pk = {**public_json(load_public(keyfile) if enc else load_key(keyfile).public_key),
          "encrypted": enc}
    if as_json:
        click.echo(json.dumps(pk))
        return
    click.echo(f"x           {pk['x']}")
    click.echo(f"y           {pk['y']}")
    click.echo(f"compressed  {pk['compressed']}")
    click.echo(f"encrypted   {str(pk['encrypted']).lower()}")


# --- sign -----------------------------------------------------------------------------------------

def _domain(config_path: str | None, chain_id: int | None, rollup_address: str | None):
    from rollup.transactions import Domain

    cfg = None
    flags_only = chain_id is not None and rollup_address is not None and config_path is None
    if not flags_only and (config_path is not None or Path(DEFAULT_PATH).is_file()):
        cfg = load(config_path or DEFAULT_PATH)
    if chain_id is None:
        chain_id = cfg.chain_id if cfg else None
    if rollup_address is None:
        rollup_address = cfg.rollup_address if cfg else None
    if chain_id is None or rollup_address is None:
        raise SignError("no signing domain: pass --config PATH, or --chain-id and "
                        "--rollup-address")
    try:
        addr = int(rollup_address, 16)
    except ValueError:
        raise SignError(f"--rollup-address {rollup_address!r} is not a hex address") from None
    return Domain(chain_id, addr)


@keys.group("sign")
@click.option("--key", "keyfile", default=None, envvar="ROLLUP_KEY",
              type=click.Path(dir_okay=False), help="The signer's key file ($ROLLUP_KEY).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              envvar="ROLLUP_CONFIG",
              help=f"Take chain id and rollup address from here [default: ./{DEFAULT_PATH} "
                   "if present].")
@click.option("--chain-id", type=int, default=None, help="Signing domain: chain id.")
@click.option("--rollup-address", default=None, help="Signing domain: Rollup contract.")
@click.option("--submit", "submit_url", default=None, metavar="URL",
              help="POST the signed request to this sequencer API and print its receipt.")
@passphrase_options
@click.pass_context
def sign(ctx: click.Context, keyfile: str | None, config_path: str | None, chain_id: int | None,
         rollup_address: str | None, submit_url: str | None, passphrase_env: str | None,
         passphrase_file: str | None) -> None:
    """Sign a request (given as JSON, or with flags for the common ones)."""
    ctx.obj = {**(ctx.obj or {}), "keyfile": keyfile, "submit": submit_url,
               "domain": lambda: _domain(config_path, chain_id, rollup_address),
               "passphrase": lambda: passphrase_source(passphrase_file, passphrase_env)}


def _emit(ctx: click.Context, req) -> None:
    from rollup.keys import load_key
    from rollup.keys.keystore import plaintext_warning

    o = ctx.obj
    if o["keyfile"] is None:
        raise SignError("no key: pass --key KEYFILE (before the request type) or set ROLLUP_KEY")
    kp = load_key(o["keyfile"], o["passphrase"]())
    dom = o["domain"]()
    warn = None if kp.encrypted else plaintext_warning(o["keyfile"], dom.chain_id)
    if warn:
        click.echo(warn, err=True)
    signed = req.signed(kp.private_key, dom)
    body = json.dumps(signed.to_json(), separators=(",", ":"))
    if o["submit"]:
        click.echo(json.dumps(post_request(o["submit"], body)))
    else:
        click.echo(body)


def post_request(url: str, body: str, timeout: float = 30.0) -> dict:
    """POST a request body to ``URL/v1/requests``; the receipt, or SubmitError(code: message)."""
    import urllib.error
    import urllib.request

    r = urllib.request.Request(url.rstrip("/") + "/v1/requests", data=body.encode(),
                               headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())["error"]
            msg = f"{err['code']}: {err['message']}"
        except (ValueError, KeyError, TypeError):
            msg = f"HTTP {exc.code}"
        raise SubmitError(f"rejected ({exc.code}) {msg}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SubmitError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def _default_expiry() -> int:
    return int(time.time()) + 86_400


_EXPIRY = click.option("--expiry", type=int, default=None,
                       help="Oracle time (s) after which the request is void [default: now + "
                            "1 day].")


@sign.command("json")
@click.argument("source", default="-", type=click.File("r"))
@click.pass_context
def sign_json(ctx: click.Context, source) -> None:
    """Sign a request given as JSON (rollup.transactions form; `type` a number or a name such
    as "order"; no `sig`) from SOURCE (a file, or - for stdin)."""
    from rollup.api.codec import BadInput, parse_request

    try:
        obj = json.loads(source.read())
        req = parse_request(obj, require_sig=False)
    except (ValueError, RecursionError) as exc:  # BadInput is a ValueError
        what = "request" if isinstance(exc, BadInput) else "JSON"
        raise SignError(f"bad {what}: {exc}") from None
    _emit(ctx, req)


@sign.command("order")
@click.option("--account", type=int, required=True)
@click.option("--asset", type=int, required=True)
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True)
@click.option("--size", type=int, required=True, help="In the asset's base units.")
@click.option("--price", type=int, required=True,
              help="Limit price (collateral units per base unit); for --market the worst one.")
@click.option("--order-id", type=int, required=True, help="Unused id >= 1 (slot = id mod 4096).")
@_EXPIRY
@click.option("--post-only", is_flag=True)
@click.option("--ioc", is_flag=True, help="Immediate or cancel.")
@click.option("--market", is_flag=True, help="Market order (IOC; price is a protection).")
@click.option("--reduce-only", is_flag=True)
@click.pass_context
def sign_order(ctx, account, asset, side, size, price, order_id, expiry, post_only, ioc, market,
               reduce_only) -> None:
    """A limit (or market) order."""
    from rollup.transactions import BUY, IOC, MARKET, POST_ONLY, REDUCE_ONLY, SELL, Order

    flags = ((POST_ONLY if post_only else 0) | (IOC if ioc else 0) | (MARKET if market else 0)
             | (REDUCE_ONLY if reduce_only else 0))
    _emit(ctx, Order(account, asset, BUY if side == "buy" else SELL, size, price, order_id,
                     _default_expiry() if expiry is None else expiry, flags))


@sign.command("cancel")
@click.option("--account", type=int, required=True)
@click.option("--asset", type=int, required=True)
@click.option("--order-id", type=int, required=True)
@click.pass_context
def sign_cancel(ctx, account, asset, order_id) -> None:
    """Cancel a resting order."""
    from rollup.transactions import Cancel

    _emit(ctx, Cancel(account, asset, order_id))


@sign.command("transfer")
@click.option("--from", "sender", type=int, required=True)
@click.option("--to", "receiver", type=int, required=True)
@click.option("--amount", type=int, required=True)
@click.option("--nonce", type=int, required=True, help="The sender's next nonce.")
@_EXPIRY
@click.pass_context
def sign_transfer(ctx, sender, receiver, amount, nonce, expiry) -> None:
    """Collateral to another account."""
    from rollup.transactions import Transfer

    _emit(ctx, Transfer(sender, receiver, amount, nonce,
                        _default_expiry() if expiry is None else expiry))


@sign.command("withdraw")
@click.option("--account", type=int, required=True)
@click.option("--amount", type=int, required=True)
@click.option("--to", "to", required=True, help="L1 address (hex).")
@click.option("--nonce", type=int, required=True, help="The account's next nonce.")
@_EXPIRY
@click.pass_context
def sign_withdraw(ctx, account, amount, to, nonce, expiry) -> None:
    """Collateral out to an L1 address (paid after the batch is on chain)."""
    from rollup.transactions import Withdrawal

    try:
        addr = int(to, 16)
    except ValueError:
        raise SignError(f"--to {to!r} is not a hex address") from None
    _emit(ctx, Withdrawal(account, amount, addr, nonce,
                          _default_expiry() if expiry is None else expiry))
