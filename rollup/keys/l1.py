"""L1 (Ethereum, secp256k1) key files: eth-account's keystore V3 (``Account.encrypt`` /
``Account.decrypt``), or for development a plaintext file (0600):

    {"scheme": "secp256k1", "private_key": "<64 hex>", "address": "0x..."}   or one line of hex

Both name the address in the clear, so it is known without the passphrase. A loaded key is an
eth-account ``LocalAccount``: it signs transactions here, and the node never holds it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .keystore import (
    SCRYPT_N,
    KeyFileError,
    Passphrase,
    WrongPassphrase,
    is_keystore,
    write_private,
)

SCHEME = "secp256k1"


@dataclass(frozen=True)
class L1Key:
    account: object = field(repr=False)  # eth_account LocalAccount
    address: str
    encrypted: bool


def _doc(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read it ({type(exc).__name__})") from None
    t = text.strip()
    if t.startswith("{"):
        try:
            d = json.loads(t)
        except json.JSONDecodeError:
            raise KeyFileError(f"{path}: not JSON") from None
        if is_keystore(d) and d.get("kind") in (None, SCHEME):
            return d
        if isinstance(d, dict) and d.get("scheme") == SCHEME:
            return d
        raise KeyFileError(f"{path}: not an L1 key file (a keystore V3 file or "
                           f'{{"scheme": "{SCHEME}", ...}})')
    if len(t.removeprefix("0x")) == 64:  # the private key itself (never echoed back)
        return {"scheme": SCHEME, "private_key": t.removeprefix("0x")}
    raise KeyFileError(f"{path}: not an L1 key file")


def _account(secret: bytes, path: Path):
    from eth_account import Account  # lazy: eth-account (~1.5 s), for L1 keys only

    try:
        return Account.from_key(secret)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: the private key is not a valid secp256k1 key") from None


def address_of(path: str | Path) -> str:
    """The address a key file names (checked against its key only when the key is loaded)."""
    from eth_utils import is_address, to_checksum_address  # lazy: eth_utils (~0.4 s)

    p = Path(path)
    d = _doc(p)
    a = d.get("address")
    if isinstance(a, str) and is_address(a if a.startswith("0x") else "0x" + a):
        return to_checksum_address(a if a.startswith("0x") else "0x" + a)
    if is_keystore(d):
        raise KeyFileError(f"{p}: the keystore names no address")
    return load_l1_key(p).address


def is_encrypted(path: str | Path) -> bool:
    return is_keystore(_doc(Path(path)))


def load_l1_key(path: str | Path, passphrase: Passphrase | str | None = None) -> L1Key:
    """The key in an L1 key file; an encrypted one is opened with ``passphrase`` (a string, or
    where to read it; default $ROLLUP_PASSPHRASE): WrongPassphrase, NoPassphrase."""
    from eth_account import Account  # lazy: eth-account (~1.5 s), for L1 keys only

    p = Path(path)
    d = _doc(p)
    if is_keystore(d):
        pw = passphrase if isinstance(passphrase, str) else (passphrase or Passphrase()).get(
            f"key file {p}")
        try:
            secret = Account.decrypt(d, pw)
        except ValueError as exc:
            if "MAC mismatch" in str(exc):
                raise WrongPassphrase(f"{p}: wrong passphrase (or a corrupt file)") from None
            raise KeyFileError(f"{p}: not a keystore V3 file (a field is missing or "
                               "malformed)") from None
        except (KeyError, TypeError, AttributeError):
            raise KeyFileError(f"{p}: not a keystore V3 file (a field is missing or "
                               "malformed)") from None
    else:
        try:
            secret = bytes.fromhex(str(d.get("private_key", "")).removeprefix("0x"))
        except ValueError:
            secret = b""
        if len(secret) != 32:
            raise KeyFileError(f"{p}: private_key must be 32 bytes of hex")
    acct = _account(bytes(secret), p)
    named = d.get("address")
    if isinstance(named, str) and named.lower().removeprefix("0x") != acct.address.lower()[2:]:
        raise KeyFileError(f"{p}: the address it names is not its key's")
    return L1Key(acct, acct.address, is_keystore(d))


def _body(secret: bytes, passphrase: str | None, n: int) -> str:
    from eth_account import Account  # lazy: eth-account (~1.5 s), for L1 keys only

    if passphrase is None:
        doc = {"scheme": SCHEME, "private_key": secret.hex(),
               "address": Account.from_key(secret).address}
    else:
        if not passphrase:
            raise KeyFileError("an empty passphrase protects nothing")
        doc = Account.encrypt(secret, passphrase, kdf="scrypt", iterations=n)
    return json.dumps(doc, indent=2) + "\n"


def new_l1_key(path: str | Path, *, force: bool = False, passphrase: str | None = None,
               n: int = SCRYPT_N) -> str:
    """Write a fresh L1 key file (0600), encrypted under ``passphrase`` when given; its
    address."""
    secret = secrets.token_bytes(32)
    while True:  # below the secp256k1 group order (all but ~2^-128 of draws)
        try:
            _account(secret, Path(path))
            break
        except KeyFileError:
            secret = secrets.token_bytes(32)
    write_private(path, _body(secret, passphrase, n), force=force)
    return _account(secret, Path(path)).address


def encrypt_l1_file(src: str | Path, passphrase: str, out: str | Path | None = None, *,
                    n: int = SCRYPT_N, force: bool = False) -> str:
    """Encrypt a plaintext L1 key file into ``out`` (default: replace ``src``, atomically)."""
    src = Path(src)
    if is_encrypted(src):
        raise KeyFileError(f"{src} is already encrypted")
    key = load_l1_key(src)
    body = _body(bytes(key.account.key), passphrase, n)
    if out is not None and Path(out) != src:
        write_private(out, body, force=force)
    else:
        tmp = src.with_name(src.name + ".tmp")
        write_private(tmp, body, force=True)
        tmp.replace(src)
    return key.address
