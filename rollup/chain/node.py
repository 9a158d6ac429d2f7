"""Where the contracts run: the embedded py-evm chain, an Anvil we start, or any JSON-RPC node.

    with connect("embedded") as chain: ...     # py-evm in-process (eth-tester), the default
    with connect("anvil") as chain: ...        # Anvil from node_modules on 127.0.0.1, free port
    with connect("http://host:8545") as chain: # any node; accounts must be unlocked there

A Chain bundles the Web3 object, its kind, the funded accounts and the test-only controls
(time travel). Anvil is started as our child, killed when the Chain closes, at interpreter exit,
and (Linux) by the kernel if this process dies first (PR_SET_PDEATHSIG), so none is left behind.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from .errors import ChainError
from .lifetime import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
# py-evm's default block gas limit (30,029,122) is kept unless asked otherwise: a batch with its
# proof uses well under 1M.
DEFAULT_EMBEDDED_GAS_LIMIT = 30_029_122
# Anvil's default accounts (well known, never for value): `embedded(mnemonic=ANVIL_MNEMONIC)` gives
# py-evm the same ten funded addresses as a fresh Anvil, so identical deployments land at identical
# addresses on both (with `anvil(chain_id=EMBEDDED_CHAIN_ID)`, proofs bound to the chain id and the
# contract address then verify on either).
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_HD_PATH = "m/44'/60'/0'/0"
EMBEDDED_CHAIN_ID = 131277322940537  # eth-tester's py-evm chain


def anvil_path() -> Path | None:
    """The Anvil binary from the pinned npm package, else one on PATH, else None."""
    if ANVIL_BIN.exists() and os.access(ANVIL_BIN, os.X_OK):
        return ANVIL_BIN
    found = shutil.which("anvil")
    return Path(found) if found else None


@dataclass
class Chain:
    w3: Web3
    kind: str  # "py-evm" | "anvil" | "rpc"
    accounts: list[str]
    _closers: list = field(default_factory=list, repr=False)

    @property
    def url(self) -> str | None:
        p = self.w3.provider
        return getattr(p, "endpoint_uri", None)

    def increase_time(self, seconds: int) -> None:
        """Advance the chain clock by `seconds` and mine a block with the new time."""
        if self.kind == "py-evm":
            tester = self.w3.provider.ethereum_tester
            now = tester.get_block_by_number("pending")["timestamp"]
            tester.time_travel(now + seconds)
        else:
            self.w3.provider.make_request("evm_increaseTime", [seconds])
            self.w3.provider.make_request("evm_mine", [])

    def timestamp(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def add_signer(self, account) -> str:
        """Send transactions from `account` (an eth-account LocalAccount) signed here and sent
        raw, so the node never holds the key; its address joins `accounts`."""
        name = f"sign:{account.address}"
        if name not in self.w3.middleware_onion:
            self.w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account),
                                            name=name, layer=0)
        if account.address not in self.accounts:
            self.accounts.append(account.address)
        return account.address

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Chain:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def embedded(gas_limit: int = DEFAULT_EMBEDDED_GAS_LIMIT, mnemonic: str | None = None) -> Chain:
    """py-evm in-process (eth-tester's PyEVMBackend: Prague rules, EIP-1108 precompile costs).
    `mnemonic`: derive the funded accounts from it (Anvil's path) instead of eth-tester's keys."""
    from eth_tester import EthereumTester, PyEVMBackend  # lazy: eth-tester (~2 s), embedded only

    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": gas_limit})
    if mnemonic is None:
        backend = PyEVMBackend(genesis_parameters=params)
    else:
        backend = PyEVMBackend.from_mnemonic(mnemonic, num_accounts=10, hd_path=ANVIL_HD_PATH,
                                             genesis_parameters=params)
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    return Chain(w3, "py-evm", list(w3.eth.accounts))


# --- Anvil ---------------------------------------------------------------------------------

_live: set[subprocess.Popen] = set()


def _kill_all() -> None:
    for p in list(_live):
        _stop(p)


atexit.register(_kill_all)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    _live.discard(proc)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AnvilNode:
    """An Anvil child process on 127.0.0.1; a context manager. `url` once started."""

    def __init__(self, binary: Path | None = None, *, chain_id: int = 31337,
                 block_gas_limit: int = 30_000_000, startup_timeout: float = 30.0,
                 extra_args: tuple[str, ...] = (), port: int | None = None):
        self.binary = binary or anvil_path()
        if self.binary is None:
            raise ChainError("anvil not found: run `npm ci` "
                             "(package @foundry-rs/anvil-linux-amd64)")
        self.chain_id = chain_id
        self.block_gas_limit = block_gas_limit
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self.port = port  # None: a free one
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self) -> AnvilNode:
        last = ""
        for _ in range(1 if self.port else 3):  # a free port can be taken before anvil binds it
            port = self.port or _free_port()
            proc = subprocess.Popen(
                [str(self.binary), "--host", "127.0.0.1", "--port", str(port),
                 "--chain-id", str(self.chain_id), "--gas-limit", str(self.block_gas_limit),
                 "--silent", *self.extra_args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                preexec_fn=die_with_parent)
            _live.add(proc)
            url = f"http://127.0.0.1:{port}"
            if self._wait_ready(proc, url):
                self.proc, self.url = proc, url
                return self
            last = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            _stop(proc)
        raise ChainError(f"anvil did not start: {last.strip()[-500:]}")

    def _wait_ready(self, proc: subprocess.Popen, url: str) -> bool:
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if w3.eth.chain_id == self.chain_id:
                    return True
            except Exception:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def __enter__(self) -> AnvilNode:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def anvil(**kwargs) -> Chain:
    node = AnvilNode(**kwargs).start()
    w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 120}))
    chain = Chain(w3, "anvil", list(w3.eth.accounts))
    chain._closers.append(node.stop)
    return chain


def rpc(url: str) -> Chain:
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 120}))
    try:
        accounts = list(w3.eth.accounts)
    except Exception as e:
        raise ChainError(f"cannot reach {url}: {e}") from None
    return Chain(w3, "rpc", accounts)


def connect(spec: str | None = None) -> Chain:
    """"embedded" (default) | "anvil" | an http(s):// URL."""
    if spec in (None, "", "embedded", "py-evm"):
        return embedded()
    if spec == "anvil":
        return anvil()
    if spec.startswith(("http://", "https://")):
        return rpc(spec)
    raise ChainError(f"unknown chain {spec!r}: expected embedded, anvil or an http(s) URL")
