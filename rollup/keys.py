"""Key files: a Baby Jubjub EdDSA-Poseidon private key (32 random bytes from ``secrets``) in a
JSON file of mode 0600, with its public key beside it so it can be shown without the secret.

    {"scheme": "eddsa-poseidon-babyjubjub", "private_key": "<64 hex>",
     "public_key": {"x": "0x...", "y": "0x...", "compressed": "<64 hex>"}}

``compressed`` is circomlibjs's packPoint (y little-endian, bit 255 = sign of x), the form in
which the L1 contract takes an L2 key.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SCHEME = "eddsa-poseidon-babyjubjub"


class KeyFileError(ValueError):
    """A key file is missing, malformed, or its public key does not match its private key."""


@dataclass(frozen=True)
class KeyPair:
    private_key: bytes
    public_key: tuple[int, int]

    @classmethod
    def from_private(cls, private_key: bytes) -> KeyPair:
        from circuits import eddsa_public_key

        return cls(bytes(private_key), eddsa_public_key(bytes(private_key)))


def compress(pk: tuple[int, int]) -> str:
    from circuits.babyjubjub import pack_point

    return pack_point(pk).hex()


def decompress(text: str) -> tuple[int, int]:
    """A compressed public key (64 hex digits, optional 0x) -> (x, y); KeyFileError if it does
    not decode to a point of the curve's prime-order subgroup."""
    from circuits.babyjubjub import unpack_point
    from circuits.eddsa import public_key_is_safe

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


def new_key(path: str | Path, *, force: bool = False) -> KeyPair:
    """Write a fresh key file (0600; refuses to overwrite one unless ``force``)."""
    p = Path(path)
    kp = KeyPair.from_private(secrets.token_bytes(32))
    body = json.dumps({"scheme": SCHEME, "private_key": kp.private_key.hex(),
                       "public_key": public_json(kp.public_key)}, indent=2) + "\n"
    p.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{p} exists (pass --force to replace it)") from None
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fd, 0o600)  # also when an existing file is replaced
        fh.write(body)
    return kp


def _read(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not a key file ({exc})") from None
    if not isinstance(d, dict) or d.get("scheme") != SCHEME:
        raise KeyFileError(f"{path}: not a {SCHEME} key file")
    return d


def load_key(path: str | Path) -> KeyPair:
    p = Path(path)
    d = _read(p)
    try:
        priv = bytes.fromhex(d["private_key"])
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"{p}: private_key must be hex") from None
    if len(priv) != 32:
        raise KeyFileError(f"{p}: private_key must be 32 bytes")
    kp = KeyPair.from_private(priv)
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
