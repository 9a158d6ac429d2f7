"""Encrypted key files (rollup.keys.keystore, rollup.keys.l1): the keystore V3 scheme shared
with eth-account in both directions, typed errors for a wrong passphrase or a corrupt file,
passphrase sources, and the `rollup keys` commands; no message or repr carries a secret."""

from __future__ import annotations

import json
import stat

import pytest
from eth_account import Account
from eth_keyfile import decode_keyfile_json

from rollup.config import Config, load, render
from rollup.keys import (
    SCHEME,
    KeyFileError,
    NoPassphrase,
    Passphrase,
    WrongPassphrase,
    compress,
    is_encrypted,
    load_key,
    load_public,
    new_key,
)
from rollup.keys.keystore import decrypt, encrypt, plaintext_warning
from rollup.keys.l1 import address_of, load_l1_key, new_l1_key
from tests.support.operator import DOMAIN, one_line_error, run

PW, N = "pass phrase", 16  # a small scrypt cost keeps the tests fast
SECRET = bytes(range(1, 33))


def test_same_scheme_as_eth_account_both_ways():
    ours = encrypt(SECRET, PW, kind=SCHEME, n=N)
    assert ours["kind"] == SCHEME and ours["crypto"]["kdfparams"]["n"] == N
    assert decode_keyfile_json(ours, PW.encode()) == SECRET
    for kdf in ("scrypt", "pbkdf2"):
        theirs = Account.encrypt(SECRET, PW, kdf=kdf, iterations=N if kdf == "scrypt" else 2)
        assert decrypt(theirs, PW) == SECRET
    assert set(ours) - {"kind"} == set(theirs) - {"address"}


def test_wrong_passphrase_and_corrupt_files(tmp_path):
    p = tmp_path / "k.json"
    kp = new_key(p, passphrase=PW, n=N)
    assert kp.encrypted and is_encrypted(p) and stat.S_IMODE(p.stat().st_mode) == 0o600
    assert load_key(p, PW) == kp and load_key(p, PW).encrypted
    assert load_public(p) == kp.public_key  # shown without the passphrase
    secret = kp.private_key.hex()
    assert secret not in p.read_text() and secret not in repr(kp)
    errors = []
    with pytest.raises(WrongPassphrase) as ei:
        load_key(p, "wrong")
    errors.append(ei.value)
    doc = json.loads(p.read_text())
    doc["crypto"]["ciphertext"] = "00" * 32  # tampered: the MAC catches it
    p.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase) as ei:
        load_key(p, PW)
    errors.append(ei.value)
    del doc["crypto"]["mac"]
    p.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="not a keystore V3 file") as ei:
        load_key(p, PW)
    errors.append(ei.value)
    doc["crypto"]["mac"] = "00" * 32
    doc["crypto"]["kdfparams"]["n"] = 1 << 30  # a file asking for 128 GiB
    p.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="out of range"):
        load_key(p, PW)
    # an encrypted file whose clear public key is another key's
    q = tmp_path / "q.json"
    new_key(q, passphrase=PW, n=N)
    d = json.loads(q.read_text())
    d["public_key"]["compressed"] = compress(kp.public_key)
    q.write_text(json.dumps(d))
    with pytest.raises(KeyFileError, match="does not belong"):
        load_key(q, PW)
    for e in errors:
        assert secret not in str(e) and PW not in str(e)


def test_passphrase_sources(tmp_path, monkeypatch):
    f = tmp_path / "pw"
    f.write_text("from the file\nsecond line\n")
    monkeypatch.setenv("MY_PW", "from the env")
    assert Passphrase("MY_PW", f).get() == "from the file"
    assert Passphrase("MY_PW").get() == "from the env"
    assert Passphrase("NOT_SET", None, lambda what: f"typed for {what}").get("k") == "typed for k"
    with pytest.raises(NoPassphrase, match=r"set \$NOT_SET"):
        Passphrase("NOT_SET").get()
    f.write_text("")
    with pytest.raises(NoPassphrase, match="empty"):
        Passphrase(None, f).get()
    with pytest.raises(NoPassphrase, match="cannot read"):
        Passphrase(None, tmp_path / "none").get()
    assert plaintext_warning("k.json", 31337) is None
    assert "plaintext key file" in plaintext_warning("k.json", 1)


def test_l1_key_files(tmp_path):
    p = tmp_path / "l1.json"
    addr = new_l1_key(p, passphrase=PW, n=N)
    assert address_of(p) == addr and json.loads(p.read_text())["crypto"]["kdf"] == "scrypt"
    key = load_l1_key(p, PW)
    assert key.address == addr and key.encrypted
    assert bytes(key.account.key).hex() not in repr(key)
    with pytest.raises(WrongPassphrase):
        load_l1_key(p, "wrong")
    # development forms: JSON, or the key as one line of hex
    raw = tmp_path / "raw.key"
    raw.write_text("0x" + SECRET.hex() + "\n")
    assert load_l1_key(raw).address == Account.from_key(SECRET).address
    assert not load_l1_key(raw).encrypted
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scheme": "secp256k1", "private_key": "00" * 32}))
    with pytest.raises(KeyFileError, match="not a valid secp256k1 key"):
        load_l1_key(bad)


def test_config_names_the_passphrase(tmp_path):
    cfg = Config(path=tmp_path / "rollup.toml", l1_key="keys/l1.json",
                 passphrase_env="OP_PW", passphrase_file="secret/pw")
    cfg.path.write_text(render(cfg))
    back = load(cfg.path)
    assert (back.l1_key, back.passphrase_env, back.passphrase_file) == (
        "keys/l1.json", "OP_PW", "secret/pw")
    assert back.passphrase() == Passphrase("OP_PW", back.data / "secret" / "pw")


def test_keys_commands(tmp_path, monkeypatch, capsys):
    pw = tmp_path / "pw"
    pw.write_text(PW + "\n")
    enc = ["--passphrase-file", pw, "--scrypt-n", N]
    outputs = []

    def rollup(*args):
        code, out, err = run(monkeypatch, capsys, *args)
        outputs.extend([out, err])
        return code, out, err

    k = tmp_path / "k.json"
    code, out, err = rollup("keys", "new", k, "--encrypt", *enc)
    assert code == 0 and "(encrypted)" in out and is_encrypted(k)
    code, out, err = rollup("keys", "show", "--json", k)
    assert code == 0 and json.loads(out)["encrypted"] is True
    # a plaintext key encrypted in place; its public key is unchanged
    p = tmp_path / "p.json"
    rollup("keys", "new", p)
    before = load_key(p)
    code, out, err = rollup("keys", "encrypt", p, *enc)
    assert code == 0 and compress(before.public_key) in out
    assert load_key(p, PW) == before and stat.S_IMODE(p.stat().st_mode) == 0o600
    code, out, err = rollup("keys", "encrypt", p, *enc)
    assert code == 1 and "already encrypted" in one_line_error(err, "KeyFileError")
    # L1 keys
    l1 = tmp_path / "l1.json"
    code, out, err = rollup("keys", "new", "--l1", l1)
    addr = address_of(l1)
    assert code == 0 and addr in out and "plaintext" in out
    code, out, err = rollup("keys", "encrypt", l1, "--out", tmp_path / "l1e.json", *enc)
    assert code == 0 and load_l1_key(tmp_path / "l1e.json", PW).address == addr
    code, out, err = rollup("keys", "show", "--json", tmp_path / "l1e.json")
    assert json.loads(out) == {"address": addr, "encrypted": True}
    # signing with an encrypted key: the passphrase from the environment
    sign = ["keys", "sign", "--key", k, "--chain-id", DOMAIN.chain_id, "--rollup-address",
            hex(DOMAIN.rollup_address)]
    cancel = ["cancel", "--account", 1, "--asset", 1, "--order-id", 2]
    monkeypatch.setenv("ROLLUP_PASSPHRASE", PW)
    code, out, err = rollup(*sign, *cancel)
    assert code == 0 and err == "" and json.loads(out)["order_id"] == 2
    monkeypatch.setenv("ROLLUP_PASSPHRASE", "wrong")
    code, out, err = rollup(*sign, *cancel)
    assert code == 1 and "wrong passphrase" in one_line_error(err, "WrongPassphrase")
    monkeypatch.delenv("ROLLUP_PASSPHRASE")
    code, out, err = rollup(*sign, *cancel)
    assert code == 1 and "is encrypted" in one_line_error(err, "NoPassphrase")
    # a plaintext key on a chain that is not a development chain: one warning line
    plain = tmp_path / "plain.json"
    rollup("keys", "new", plain)
    code, out, err = rollup("keys", "sign", "--key", plain, "--chain-id", 1,
                            "--rollup-address", "0x01", *cancel)
    assert code == 0 and err.count("\n") == 1 and "plaintext key file" in err
    text = "".join(outputs)
    for secret in (PW, load_key(k, PW).private_key.hex(), before.private_key.hex(),
                   bytes(load_l1_key(l1).account.key).hex()):
        assert secret not in text


def test_init_encrypts_the_new_key_files(tmp_path, monkeypatch, capsys):
    pw = tmp_path / "pw"
    pw.write_text(PW + "\n")
    d = tmp_path / "op"
    code, out, err = run(monkeypatch, capsys, "init", d, "--encrypt", "--passphrase-file", pw,
                         "--scrypt-n", N, "--chain", "http://127.0.0.1:8545", "--chain-id", 5)
    assert code == 0, err
    assert out.count("(encrypted)") == 2
    cfg = load(d / "rollup.toml")
    assert cfg.passphrase_file == str(pw) and cfg.passphrase().get() == PW
    for name in ("oracle", "operator"):
        f = cfg.data_path(f"keys/{name}.json")
        assert is_encrypted(f) and load_key(f, cfg.passphrase()).encrypted
    assert PW not in out + err


def test_node_opens_its_keys(tmp_path):
    """`rollup node run` opens the relayer's L1 key and the oracle key with the configured
    passphrase; plaintext keys draw a warning outside a development chain."""
    from rollup.cli.node import _l1_account, _oracle_key
    from rollup.config import ConfigError, validate

    pw = tmp_path / "pw"
    pw.write_text(PW)
    cfg = Config(path=tmp_path / "rollup.toml", l1_key="keys/l1.json", passphrase_env="",
                 passphrase_file=str(pw))
    addr = new_l1_key(cfg.data_path(cfg.l1_key), passphrase=PW, n=N)
    oracle = new_key(cfg.data_path(cfg.oracle_key), passphrase=PW, n=N)
    logs: list[str] = []
    assert _l1_account(cfg, logs.append).address == addr
    assert _oracle_key(cfg, logs.append) == oracle.private_key
    assert not any("plaintext" in m for m in logs)
    cfg.passphrase_file = str(tmp_path / "none")
    with pytest.raises(NoPassphrase):
        _l1_account(cfg, logs.append)
    # plaintext keys on chain 1: one warning each
    cfg.chain_id, cfg.l1_key, cfg.oracle_key = 1, "keys/dev-l1.json", "keys/dev-oracle.json"
    new_l1_key(cfg.data_path(cfg.l1_key))
    new_key(cfg.data_path(cfg.oracle_key))
    _l1_account(cfg, logs.append)
    _oracle_key(cfg, logs.append)
    assert sum("plaintext key file" in m for m in logs) == 2
    cfg.node_sender = addr
    with pytest.raises(ConfigError, match="give one"):
        validate(cfg)
