"""Shared pieces of the operator tests: a configured data folder with funded traders, a small
JSON client, and the sequencer as a subprocess."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from functools import cache
from pathlib import Path

from rollup import cli
from rollup.config import Config, GenesisAccount, Market, render
from rollup.keys import compress
from rollup.transactions import Domain

DOMAIN = Domain(31337, 0x5FBDB2315678AFECB367F032D93F642F64180AA3)
PERP = 1
PRICE = 60_000
FUNDS = 10**12
ORACLE = hashlib.sha256(b"test-oracle").digest()
OPERATOR = hashlib.sha256(b"test-operator").digest()
ROOT = Path(__file__).resolve().parents[2]


def trader(i: int) -> bytes:
    return hashlib.sha256(f"test-trader-{i}".encode()).digest()


@cache
def pk(key: bytes) -> tuple[int, int]:
    from circuits import eddsa_public_key

    return eddsa_public_key(key)


def write_config(folder: Path, n_traders: int = 4, depth: int = 8, slots: int = 4,
                 funds: int = FUNDS, markets: bool | list = True, **kw) -> Path:
    """folder/rollup.toml: traders 1..n funded at genesis, one perpetual (asset 1) priced at
    PRICE with its scenario rows from genesis on, or the given list of markets."""
    folder.mkdir(parents=True, exist_ok=True)
    args = dict(chain_id=DOMAIN.chain_id, rollup_address=f"0x{DOMAIN.rollup_address:040x}",
                tree_depth=depth, batch_slots=slots, api_port=0,
                oracle_key=compress(pk(ORACLE)), operator_key=compress(pk(OPERATOR)),
                markets=[Market(PERP, "perp", 50_000, 30_000, name="ETH-PERP", maker_fee=100,
                                taker_fee=500, liquidation_fee=10_000, price=PRICE)]
                if markets is True
                else markets or [],
                genesis_accounts=[GenesisAccount(i, funds, pk=compress(pk(trader(i))))
                                  for i in range(1, n_traders + 1)])
    cfg = Config(path=folder / "rollup.toml", **{**args, **kw})
    cfg.path.write_text(render(cfg))
    return cfg.path


def body(req) -> bytes:
    return json.dumps(req.to_json()).encode()


PRIVATE_PATH = re.compile(r"^/v1/(?:accounts/(\d+)$|orders/(\d+)/|fills\?.*account=(\d+))")


def default_key(account: int) -> bytes:
    return OPERATOR if account == 0 else trader(account)


def session_body(key: bytes, account: int, domain=DOMAIN, ttl: int = 3_600) -> bytes:
    """POST /v1/sessions's body: the account's key signs (account, expiry, a random nonce)."""
    from circuits import eddsa_sign
    from rollup.transactions import session_message

    expiry, nonce = int(time.time()) + ttl, secrets.randbits(64)
    (rx, ry), sig_s = eddsa_sign(key, session_message(domain, account, expiry, nonce))
    return json.dumps({"account": account, "expiry": expiry, "nonce": nonce,
                       "sig": [[str(rx), str(ry)], str(sig_s)]}).encode()


class Client:
    """One keep-alive HTTP connection; ``call`` returns (status, decoded JSON)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def call(self, method: str, path: str, data: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict]:
        h = {"Content-Type": "application/json", **(headers or {})}
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        raw = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return r.status, json.loads(raw)

    def get(self, path: str) -> dict:
        """GET as the account the path names would: an account's private view is read with a
        session of that account (opened with its test key, ``key_of``)."""
        status, out = self.call("GET", path, headers=self.auth_for(path))
        assert status == 200, out
        return out

    key_of = None  # account -> its key; default: trader(i), the operator's key for account 0
    domain = DOMAIN

    def auth_for(self, path: str) -> dict:
        m = PRIVATE_PATH.search(path)
        if not m:
            return {}
        account = int(next(g for g in m.groups() if g is not None))
        tokens = self.__dict__.setdefault("tokens", {})
        if account not in tokens:
            key = (self.key_of or default_key)(account)
            status, out = self.call("POST", "/v1/sessions", session_body(key, account,
                                                                        self.domain))
            if status != 200:
                return {}  # the read answers why (e.g. UnknownAccount is a 404 here)
            tokens[account] = out["token"]
        return {"Authorization": f"Bearer {tokens[account]}"}

    def post(self, req) -> tuple[int, dict]:
        return self.call("POST", "/v1/requests", body(req))

    def close(self) -> None:
        self.conn.close()


class ServerProcess:
    """``rollup sequencer run`` (or ``command``, e.g. ("node", "run")) as a child process on a
    free port."""

    def __init__(self, config: Path, log: Path, command: tuple[str, ...] = ("sequencer", "run"),
                 extra: tuple[str, ...] = ()) -> None:
        self.config, self.log, self.command, self.extra = config, log, command, extra
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 120.0) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rollup.cli", *self.command, "--config",
                 str(self.config), "--port", "0", *self.extra], cwd=ROOT, env=env,
                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        line: list[str] = []
        t = threading.Thread(target=lambda: line.append(self.proc.stdout.readline().decode()),
                             daemon=True)
        t.start()
        t.join(timeout)
        if not line or not line[0].startswith("listening on "):
            self.kill()
            raise AssertionError(f"server did not start: {line} {self.log.read_text()[-2000:]}")
        self.url = line[0].split()[-1]
        return self

    def kill(self, sig: int = 9) -> int:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(30) if self.proc is not None else 0
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        return rc


def wait_until(pred, timeout: float = 30.0, step: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(step)


def run(monkeypatch, capsys, *args, stdin: str | None = None) -> tuple[int, str, str]:
    """``rollup ARGS`` through the real entry point (its one-line error handling included)."""
    monkeypatch.setattr(sys, "argv", ["rollup", *map(str, args)])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, kind: str) -> str:
    """The one error line of a failed command; the kernels' first-use progress lines
    (`compiling ... (first use; cached for later runs) ...`) may precede it."""
    lines = [x for x in err.strip().splitlines()
             if not (x.startswith("compiling ") and "(first use; cached" in x)]
    err = "\n".join(lines)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {kind}:"), err
    return lines[0]
