"""Baby Jubjub EdDSA-Poseidon key files: a private key (32 random bytes from ``secrets``) in a
JSON file of mode 0600, with its public key beside it so it can be shown without the secret.

    plaintext (development only): {"scheme": "eddsa-poseidon-babyjubjub", "private_key": "<hex>",
                                   "public_key": {...}}
    encrypted: keystore V3 (rollup.keys.keystore) with "kind": "eddsa-poseidon-babyjubjub" and
               the same "public_key": {"x": "0x...", "y": "0x...", "compressed": "<64 hex>"}

``compressed`` is circomlibjs's packPoint (y little-endian, bit 255 = sign of x), the form in
which the L1 contract takes an L2 key. L1 (secp256k1) keys: rollup.keys.l1.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from circuits import eddsa_public_key
from circuits.babyjubjub import pack_point, unpack_point
from circuits.eddsa import public_key_is_safe

from .keystore import DEFAULT_ENV as DEFAULT_PASSPHRASE_ENV
from .keystore import (
    SCRYPT_N,
    KeyFileError,
    NoPassphrase,
    Passphrase,
    WrongPassphrase,
    decrypt,
    encrypt,
    is_keystore,
    write_private,
)

__all__ = ["DEFAULT_PASSPHRASE_ENV", "SCHEME", "SCRYPT_N", "KeyFileError", "KeyPair",
           "NoPassphrase", "Passphrase", "WrongPassphrase", "compress", "decompress",
           "encrypt_key_file", "is_encrypted", "load_key", "load_public", "new_key",
           "public_json", "public_key_of"]

SCHEME = "eddsa-poseidon-babyjubjub"


@dataclass(frozen=True)
class KeyPair:
    private_key: bytes = field(repr=False)
    public_key: tuple[int, int]
    encrypted: bool = field(default=False, compare=False)  # read from an encrypted file

    @classmethod
    def from_private(cls, private_key: bytes) -> KeyPair:
        return cls(bytes(private_key), eddsa_public_key(bytes(private_key)))


def compress(pk: tuple[int, int]) -> str:
    return pack_point(pk).hex()


def decompress(text: str) -> tuple[int, int]:
    """A compressed public key (64 hex digits, optional 0x) -> (x, y); KeyFileError if it does
    not decode to a point of the curve's prime-order subgroup."""
    t = text.strip().removeprefix("0x")
    try:
        data = bytes.fromhex(t)
    except ValueError:
        data = b""
    if len(data) != 32:
        raise KeyFileError(f"public key {text!r}: expected 32 bytes of hex")
    pk = unpack_point(data, strict=True)
    if pk is None or not public_key_is_safe(pk):
        raise KeyFileError(f"public key {text!r} is not a safe Baby Jubjub point")
    return pk


def public_json(pk: tuple[int, int]) -> dict:
    return {"x": hex(pk[0]), "y": hex(pk[1]), "compressed": compress(pk)}


def _body(kp: KeyPair, passphrase: str | None, n: int) -> str:
    pub = public_json(kp.public_key)
    if passphrase is None:
        doc = {"scheme": SCHEME, "private_key": kp.private_key.hex(), "public_key": pub}
    else:
        doc = encrypt(kp.private_key, passphrase, kind=SCHEME, n=n, extra={"public_key": pub})
    return json.dumps(doc, indent=2) + "\n"


def new_key(path: str | Path, *, force: bool = False, passphrase: str | None = None,
            n: int = SCRYPT_N) -> KeyPair:
    """Write a fresh key file (0600; refuses to overwrite one unless ``force``), encrypted
    under ``passphrase`` when one is given (scrypt cost ``n``)."""
    kp = KeyPair.from_private(secrets.token_bytes(32))
    write_private(path, _body(kp, passphrase, n), force=force)
    return KeyPair(kp.private_key, kp.public_key, passphrase is not None)


def encrypt_key_file(src: str | Path, passphrase: str, out: str | Path | None = None, *,
                     n: int = SCRYPT_N, force: bool = False) -> KeyPair:
    """Encrypt a plaintext key file into ``out`` (default: replace ``src``, atomically)."""
    src = Path(src)
    if is_encrypted(src):
        raise KeyFileError(f"{src} is already encrypted")
    kp = load_key(src)
    if out is not None and Path(out) != src:
        write_private(out, _body(kp, passphrase, n), force=force)
    else:
        tmp = src.with_name(src.name + ".tmp")
        write_private(tmp, _body(kp, passphrase, n), force=True)
        tmp.replace(src)
    return KeyPair(kp.private_key, kp.public_key, True)


def _read(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not a key file ({exc})") from None
    if is_keystore(d) and d.get("kind") == SCHEME:
        return d
    if not isinstance(d, dict) or d.get("scheme") != SCHEME:
        raise KeyFileError(f"{path}: not a {SCHEME} key file")
    return d


def is_encrypted(path: str | Path) -> bool:
    return is_keystore(_read(Path(path)))


def load_key(path: str | Path, passphrase: Passphrase | str | None = None) -> KeyPair:
    """The key pair in a key file. An encrypted file is opened with ``passphrase`` (a string,
    or where to read it; default: $ROLLUP_PASSPHRASE): WrongPassphrase, NoPassphrase."""
    p = Path(path)
    d = _read(p)
    if is_keystore(d):
        pw = passphrase if isinstance(passphrase, str) else (passphrase or Passphrase()).get(
            f"key file {p}")
        priv = decrypt(d, pw, str(p))
    else:
        try:
            priv = bytes.fromhex(d["private_key"])
        except (KeyError, TypeError, ValueError):
            raise KeyFileError(f"{p}: private_key must be hex") from None
    if len(priv) != 32:
        raise KeyFileError(f"{p}: private_key must be 32 bytes")
    kp = KeyPair.from_private(priv)
    kp = KeyPair(kp.private_key, kp.public_key, is_keystore(d))
    stored = d.get("public_key", {})
    if isinstance(stored, dict) and stored.get("compressed") not in (None, compress(kp.public_key)):
        raise KeyFileError(f"{p}: public_key does not belong to private_key")
    return kp


def load_public(path: str | Path) -> tuple[int, int]:
    """The public key of a key file (no derivation needed; the point is checked)."""
    p = Path(path)
    d = _read(p)
    stored = d.get("public_key")
    if isinstance(stored, dict) and isinstance(stored.get("compressed"), str):
        return decompress(stored["compressed"])
    return load_key(p).public_key


def public_key_of(spec: str, base: Path) -> tuple[int, int]:
    """A public key named in the configuration: a compressed point (64 hex digits) or a key
    file path (relative to ``base``)."""
    t = spec.strip().removeprefix("0x")
    if len(t) == 64 and all(c in "0123456789abcdefABCDEF" for c in t):
        return decompress(t)
    p = Path(spec).expanduser()
    return load_public(p if p.is_absolute() else base / p)
