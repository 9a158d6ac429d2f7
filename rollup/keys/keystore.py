"""Encrypted key files: the keystore V3 scheme of eth-account (Web3 Secret Storage), used as is
for L1 keys and, with the same JSON shape plus a ``kind`` field, for Baby Jubjub keys.

    dk = scrypt(passphrase, salt, n, r=8, p=1, dklen=32)
    ciphertext = AES-128-CTR(key = dk[0:16], iv, secret);  mac = keccak256(dk[16:32] || ciphertext)

A wrong passphrase fails the MAC (``WrongPassphrase``) before anything is decrypted. No error
message or repr carries a secret or a passphrase. Passphrases are read from a file (its first
line) or an environment variable, never from a command-line argument (process list, history).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# eth-account's defaults (Account.encrypt with kdf="scrypt"): 256 MiB and about a second to open
SCRYPT_N, SCRYPT_R, SCRYPT_P, DKLEN = 1 << 18, 8, 1, 32
MAX_SCRYPT_N = 1 << 20  # refuse files that would ask for more than 1 GiB
DEFAULT_ENV = "ROLLUP_PASSPHRASE"


class KeyFileError(ValueError):
    """A key file is missing, malformed or cannot be opened, or its public key does not match
    its private key."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the key file (its MAC does not match)."""


class NoPassphrase(KeyFileError):
    """A key file is encrypted and no passphrase source was given or readable."""


def is_keystore(doc) -> bool:
    return isinstance(doc, dict) and doc.get("version") == 3 and isinstance(doc.get("crypto"),
                                                                            dict)


def _keccak(data: bytes) -> bytes:
    from eth_utils import keccak  # lazy: eth_utils (~0.4 s), for key files only

    return keccak(data)


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    from Crypto.Cipher import AES  # lazy: pycryptodome, for encrypted key files only
    from Crypto.Util import Counter  # lazy: as AES

    ctr = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
    return AES.new(key, AES.MODE_CTR, counter=ctr).encrypt(data)


def _scrypt(passphrase: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    from Crypto.Protocol.KDF import scrypt  # lazy: as AES

    return scrypt(passphrase, salt, dklen, N=n, r=r, p=p)


def encrypt(secret: bytes, passphrase: str, *, kind: str, n: int = SCRYPT_N,
            extra: dict | None = None) -> dict:
    """A keystore V3 document holding ``secret`` (``extra``: plaintext fields such as the public
    key, so the file can be shown without the passphrase)."""
    if not passphrase:
        raise KeyFileError("an empty passphrase protects nothing")
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N:
        raise KeyFileError(f"scrypt n must be a power of two in 2..{MAX_SCRYPT_N}")
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    dk = _scrypt(passphrase.encode(), salt, n, SCRYPT_R, SCRYPT_P, DKLEN)
    ct = _aes_ctr(dk[:16], iv, bytes(secret))
    return {"version": 3, "id": str(uuid.uuid4()), "kind": kind, **(extra or {}),
            "crypto": {"cipher": "aes-128-ctr", "cipherparams": {"iv": iv.hex()},
                       "ciphertext": ct.hex(), "kdf": "scrypt",
                       "kdfparams": {"dklen": DKLEN, "n": n, "r": SCRYPT_R, "p": SCRYPT_P,
                                     "salt": salt.hex()},
                       "mac": _keccak(dk[16:32] + ct).hex()}}


def decrypt(doc: dict, passphrase: str, where: str = "key file") -> bytes:
    """The secret of a keystore V3 document (scrypt or pbkdf2, aes-128-ctr)."""
    try:
        c = doc["crypto"]
        kp = c["kdfparams"]
        salt = bytes.fromhex(kp["salt"])
        dklen = int(kp["dklen"])
        if c["kdf"] == "scrypt":
            n, r, p = int(kp["n"]), int(kp["r"]), int(kp["p"])
            if not (1 < n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 16):
                raise KeyFileError(f"{where}: scrypt parameters out of range")
            dk = _scrypt(passphrase.encode(), salt, n, r, p, dklen)
        elif c["kdf"] == "pbkdf2":
            if kp.get("prf", "hmac-sha256") != "hmac-sha256" or not 0 < int(kp["c"]) <= 10**7:
                raise KeyFileError(f"{where}: unsupported pbkdf2 parameters")
            dk = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, int(kp["c"]), dklen)
        else:
            raise KeyFileError(f"{where}: unsupported kdf {c['kdf']!r}")
        if c["cipher"] != "aes-128-ctr" or dklen < 32:
            raise KeyFileError(f"{where}: unsupported cipher {c['cipher']!r}")
        ct = bytes.fromhex(c["ciphertext"])
        iv = bytes.fromhex(c["cipherparams"]["iv"])
        mac = bytes.fromhex(c["mac"])
    except KeyFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise KeyFileError(f"{where}: not a keystore V3 file (a field is missing or "
                            "malformed)") from None
    if not hmac.compare_digest(_keccak(dk[16:32] + ct), mac):
        raise WrongPassphrase(f"{where}: wrong passphrase (or a corrupt file)")
    return _aes_ctr(dk[:16], iv, ct)


@dataclass(frozen=True)
class Passphrase:
    """Where a passphrase comes from: ``file`` (its first line) if given, else the environment
    variable ``env``, else ``prompt()`` (an interactive terminal), else NoPassphrase."""

    env: str | None = DEFAULT_ENV
    file: str | os.PathLike | None = None
    prompt: Callable[[str], str] | None = None

    def get(self, what: str = "the key file") -> str:
        if self.file:
            p = Path(self.file).expanduser()
            try:
                text = p.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise NoPassphrase(f"passphrase file {p}: cannot read it "
                                   f"({getattr(exc, 'strerror', None) or type(exc).__name__})"
                                   ) from None
            line = text.splitlines()[0] if text else ""
            if not line:
                raise NoPassphrase(f"passphrase file {p} is empty")
            return line
        if self.env and os.environ.get(self.env):
            return os.environ[self.env]
        if self.prompt is not None:
            return self.prompt(what)
        where = f"set ${self.env} or name" if self.env else "name"
        raise NoPassphrase(f"{what} is encrypted: {where} a passphrase file")


def write_private(path: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write a file of mode 0600 (refusing to replace one unless ``force``): key files."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{p} exists (pass --force to replace it)") from None
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fd, 0o600)  # also when an existing file is replaced
        fh.write(text)


# Chains where plaintext key files are expected: Anvil/Hardhat, geth --dev/Ganache, eth-tester.
DEV_CHAIN_IDS = (31337, 1337, 131277322940537)


def plaintext_warning(path: str | os.PathLike, chain_id: int | None) -> str | None:
    """The one-line warning for a plaintext key file used on ``chain_id`` (None: unknown), or
    None on a development chain."""
    if chain_id in DEV_CHAIN_IDS:
        return None
    on = f"chain {chain_id}" if chain_id is not None else "a chain that is not a dev chain"
    return (f"warning: {path} is a plaintext key file (development only) used on {on}; "
            "encrypt it with `rollup keys encrypt`")
