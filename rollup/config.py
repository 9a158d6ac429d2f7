"""The operator's configuration file (TOML, ``rollup.toml``): written by ``rollup init``, read by
every operator command through ``--config PATH``.

Relative paths in the file are relative to the file's own folder, so a configured folder can be
moved as a whole. ``render`` writes the file by hand (the standard library reads TOML but does not
write it); ``load`` reads it with ``tomllib`` and checks every value, raising ``ConfigError`` with
the offending key in one line.

Genesis: the sequencer's first requests, applied when its journal is empty (in this order): the
oracle key, the fee account (account 0, the operator's key), every ``[[markets]]`` entry as a
ListAsset, the first oracle price of each market that names one and the scenario rows at those
prices (at ``state.genesis_time``; the operator's own set-up, unsigned), then every
``[[genesis_accounts]]`` entry as a deposit.
Genesis balances are for development networks; on a deployment, collateral arrives through the
L1 deposit queue.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT

DEFAULT_PATH = "rollup.toml"
KINDS = {"perp": KIND_PERP, "call": KIND_CALL, "put": KIND_PUT}
KIND_NAMES = {v: k for k, v in KINDS.items()}


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or holds a bad value."""


@dataclass(frozen=True)
class Market:
    """One ListAsset of the genesis (ppm factors and fees as in ``rollup.transactions``)."""

    asset: int
    kind: str  # perp | call | put
    risk_initial: int
    risk_maintenance: int
    name: str = ""
    underlying: int = 0
    strike: int = 0
    expiry: int = 0
    short_initial: int = 0
    short_maintenance: int = 0
    maker_fee: int = 0
    taker_fee: int = 0
    liquidation_fee: int = 0
    # first oracle price, set at genesis with its scenario rows (0: the oracle posts both; the
    # market refuses trades until it has)
    price: int = 0

    def list_asset(self):
        # lazy: `rollup --help` reads DEFAULT_PATH from here; the request types wait for use
        from rollup.transactions import ListAsset

        return ListAsset(self.asset, KINDS[self.kind], self.risk_initial, self.risk_maintenance,
                         self.underlying, self.strike, self.expiry, self.short_initial,
                         self.short_maintenance, self.maker_fee, self.taker_fee,
                         self.liquidation_fee)


@dataclass(frozen=True)
class GenesisAccount:
    """A development balance in the genesis state: ``key`` is a key file (relative to the data
    folder), or ``pk`` a compressed public key in hex."""

    id: int
    collateral: int
    key: str = ""
    pk: str = ""


@dataclass
class Config:
    path: Path  # the file itself; relative paths below are relative to its folder
    node: str = "embedded"  # embedded | anvil | http(s) URL
    chain_id: int = 31337
    rollup_address: str = "0x" + "00" * 20
    anvil_port: int = 8545  # node = "anvil": the port of the Anvil that `rollup node run` starts
    data_dir: str = "data"
    snapshot_every: int = 100_000  # journal rows between the service's snapshots (0: never)
    tree_depth: int = 32
    genesis_time: int = 0  # oracle time of the genesis prices
    batch_slots: int = 4
    batch_l1_slots: int = 2  # slots that may carry deposits and withdrawals
    batch_assets: int = 8  # asset table of the batch circuit (a power of two; ids below it)
    # perpetuals the batch circuit's scenario rule takes (one loss group each, options in theirs)
    batch_underlyings: int = 1
    batch_time_limit: float = 60.0
    # further batch shapes "SLOTSxL1" the deployed contract verifies with keys of their own
    # (written by the deployment; rollup.settlement.shapes)
    batch_shapes: list = field(default_factory=list)
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_max_body: int = 64 * 1024
    api_rate: float = 200.0  # requests per second per account (token bucket; 0: no limit)
    api_burst: int = 400  # requests an account may send at once (the bucket's size)
    api_idempotency_window: int = 100_000  # accepted requests whose receipts retries get
    # WebSocket liveness (docs/api.md#streams): a frame that waits this long for room in the
    # socket's send buffer (SO_SNDBUF, bytes; Linux doubles it) resets the connection; a ping
    # every ws_ping_interval seconds (0: none) unanswered for ws_ping_timeout closes it
    api_ws_send_timeout: float = 5.0
    api_ws_send_buffer: int = 256 * 1024
    api_ws_ping_interval: float = 20.0
    api_ws_ping_timeout: float = 20.0
    oracle_key: str = "keys/oracle.json"  # key file (relative to data_dir) or compressed hex pk
    operator_key: str = "keys/operator.json"  # key file of account 0 (fees), relative to data_dir
    l1_key: str = ""  # the operator's L1 key file (relayer), "" = an account unlocked on the node
    passphrase_env: str = "ROLLUP_PASSPHRASE"  # environment variable holding the passphrase
    passphrase_file: str = ""  # or a file holding it (first line), relative to data_dir
    # [node]: `rollup node run`
    node_provers: int = 1  # prover worker processes, each holding the proving key
    node_backend: str = "auto"  # auto | cpu | cuda
    # local (node.provers processes) | embedded (a Ray instance inside the node) | auto (the Ray
    # cluster this machine joined) | HOST:PORT (its head) | ray://HOST:PORT (Ray Client)
    node_cluster: str = "local"
    node_gpu_provers: int = 0  # Ray workers holding one GPU each (CUDA backend when present)
    node_prover_cpus: int = 1  # CPUs reserved by each Ray prover worker (its Numba threads)
    node_poll: float = 1.0  # seconds between the batcher's and the relayer's passes
    node_l1_poll: float = 2.0  # seconds between reads of the L1 queue
    node_confirmations: int = -1  # blocks an L1 event must be buried under (-1: 0 on 31337, else 2)
    node_sender: str = ""  # the operator's L1 account, unlocked on the node ("": its first)
    node_oracle: str = "walk"  # walk | file:PATH | command:CMD | off
    node_oracle_interval: float = 5.0  # seconds between signed prices
    node_funding_interval: float = 60.0  # seconds between funding ticks (0: none)
    node_metrics_port: int = -1  # Prometheus /metrics (-1: off, 0: any free port)
    markets: list[Market] = field(default_factory=list)
    genesis_accounts: list[GenesisAccount] = field(default_factory=list)

    # --- derived paths ------------------------------------------------------------------------
    @property
    def base(self) -> Path:
        return self.path.parent

    @property
    def data(self) -> Path:
        return (self.base / self.data_dir).resolve()

    @property
    def journal_path(self) -> Path:
        return self.data / "journal.db"

    @property
    def batches_dir(self) -> Path:
        return self.data / "batches"

    @property
    def keys_dir(self) -> Path:
        return self.data / "keys"

    def data_path(self, p: str) -> Path:
        """A path named in the file under [data] (keys...): relative to the data folder."""
        q = Path(p).expanduser()
        return q if q.is_absolute() else self.data / q

    def passphrase(self):
        """Where the passphrase of the encrypted key files named here comes from."""
        from rollup.keys import Passphrase  # lazy: key files, as the request types above

        return Passphrase(self.passphrase_env or None,
                          self.data_path(self.passphrase_file) if self.passphrase_file else None)

    def domain(self):
        from rollup.transactions import Domain  # lazy: as in Market.list_asset

        return Domain(self.chain_id, int(self.rollup_address, 16))

    @property
    def rollup_deployed(self) -> bool:
        return int(self.rollup_address, 16) != 0


# --- reading --------------------------------------------------------------------------------------

_SECTIONS = {
    "chain": {"node": ("node", str), "chain_id": ("chain_id", int),
              "rollup_address": ("rollup_address", str), "anvil_port": ("anvil_port", int)},
    "data": {"dir": ("data_dir", str), "snapshot_every": ("snapshot_every", int)},
    "state": {"tree_depth": ("tree_depth", int), "genesis_time": ("genesis_time", int)},
    "batch": {"slots": ("batch_slots", int), "l1_slots": ("batch_l1_slots", int),
              "assets": ("batch_assets", int), "underlyings": ("batch_underlyings", int),
              "time_limit": ("batch_time_limit", float),
              "shapes": ("batch_shapes", list)},
    "api": {"host": ("api_host", str), "port": ("api_port", int),
            "max_body": ("api_max_body", int), "rate": ("api_rate", float),
            "burst": ("api_burst", int),
            "idempotency_window": ("api_idempotency_window", int),
            "ws_send_timeout": ("api_ws_send_timeout", float),
            "ws_send_buffer": ("api_ws_send_buffer", int),
            "ws_ping_interval": ("api_ws_ping_interval", float),
            "ws_ping_timeout": ("api_ws_ping_timeout", float)},
    "keys": {"oracle": ("oracle_key", str), "operator": ("operator_key", str),
             "l1": ("l1_key", str), "passphrase_env": ("passphrase_env", str),
             "passphrase_file": ("passphrase_file", str)},
    "node": {"provers": ("node_provers", int), "backend": ("node_backend", str),
             "cluster": ("node_cluster", str), "gpu_provers": ("node_gpu_provers", int),
             "prover_cpus": ("node_prover_cpus", int),
             "poll": ("node_poll", float), "l1_poll": ("node_l1_poll", float),
             "confirmations": ("node_confirmations", int), "sender": ("node_sender", str),
             "oracle": ("node_oracle", str), "oracle_interval": ("node_oracle_interval", float),
             "funding_interval": ("node_funding_interval", float),
             "metrics_port": ("node_metrics_port", int)},
}


def _typed(value, typ, where: str):
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, typ):
        raise ConfigError(f"{where}: expected {typ.__name__}, got {value!r}")
    return value


def _entries(raw, cls, where: str) -> list:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected an array of tables ([[{where}]])")
    known = {f.name: f.type for f in fields(cls)}
    out = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: expected a table")
        extra = set(item) - set(known)
        if extra:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(sorted(extra))}")
        kw = {}
        for k, v in item.items():
            kw[k] = _typed(v, str if known[k] == "str" else int, f"{at}.{k}")
        try:
            out.append(cls(**kw))
        except TypeError as exc:
            raise ConfigError(f"{at}: {exc}") from None
    return out


def load(path: str | Path) -> Config:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"no configuration at {p} (run `rollup init` or pass --config PATH)")
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: {exc}") from None
    cfg = Config(path=p.resolve())
    for section, keys in _SECTIONS.items():
        table = raw.pop(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{p}: [{section}] must be a table")
        for k, v in table.items():
            if k not in keys:
                raise ConfigError(f"{p}: unknown key {section}.{k}")
            attr, typ = keys[k]
            setattr(cfg, attr, _typed(v, typ, f"{p}: {section}.{k}"))
    cfg.markets = _entries(raw.pop("markets", []), Market, "markets")
    cfg.genesis_accounts = _entries(raw.pop("genesis_accounts", []), GenesisAccount,
                                    "genesis_accounts")
    if raw:
        raise ConfigError(f"{p}: unknown section(s) {', '.join(sorted(raw))}")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    if not (cfg.node in ("embedded", "anvil") or cfg.node.startswith(("http://", "https://"))):
        raise ConfigError(f"chain.node: {cfg.node!r} is not embedded, anvil or an http(s) URL")
    if not 1 <= cfg.anvil_port < 65536:
        raise ConfigError("chain.anvil_port must be in 1..65535")
    if not 0 < cfg.chain_id < 1 << 64:
        raise ConfigError("chain.chain_id must be a positive 64-bit integer")
    try:
        addr = int(cfg.rollup_address, 16)
    except ValueError:
        addr = -1
    if not 0 <= addr < 1 << 160:
        raise ConfigError(f"chain.rollup_address: {cfg.rollup_address!r} is not a 20-byte hex "
                          "address")
    if cfg.snapshot_every < 0:
        raise ConfigError("data.snapshot_every must be >= 0")
    if not 2 <= cfg.tree_depth <= 32:
        raise ConfigError("state.tree_depth must be in 2..32")
    if cfg.batch_slots < 1:
        raise ConfigError("batch.slots must be at least 1")
    if not 0 <= cfg.batch_l1_slots <= cfg.batch_slots:
        raise ConfigError("batch.l1_slots must be in 0..batch.slots")
    a = cfg.batch_assets
    if a < 2 or a & (a - 1) or a > 256:
        raise ConfigError("batch.assets must be a power of two in 2..256")
    if not 1 <= cfg.batch_underlyings < a:
        raise ConfigError("batch.underlyings must be in 1..batch.assets-1")
    if cfg.genesis_time < 0:
        raise ConfigError("state.genesis_time must not be negative")
    if cfg.batch_time_limit <= 0:
        raise ConfigError("batch.time_limit must be positive (seconds)")
    seen = set()
    for name in cfg.batch_shapes:
        shape = parse_shape(name) if isinstance(name, str) else None
        if shape is None:
            raise ConfigError(f"batch.shapes: {name!r} is not \"SLOTSxL1\" (1 <= slots, "
                              "0 <= L1 <= slots)")
        if shape in seen or shape == (cfg.batch_slots, cfg.batch_l1_slots):
            raise ConfigError(f"batch.shapes: {name} given twice (or it is [batch]'s own)")
        seen.add(shape)
    if not 0 <= cfg.api_port < 65536:
        raise ConfigError("api.port must be in 0..65535")
    if cfg.api_max_body < 256:
        raise ConfigError("api.max_body must be at least 256 bytes")
    if cfg.api_rate < 0 or cfg.api_burst < 1:
        raise ConfigError("api.rate must be >= 0 (0: no limit) and api.burst at least 1")
    if cfg.api_idempotency_window < 1:
        raise ConfigError("api.idempotency_window must be at least 1")
    if not 0 < cfg.api_ws_send_timeout <= 3600:
        raise ConfigError("api.ws_send_timeout must be in (0, 3600] seconds")
    if not 4096 <= cfg.api_ws_send_buffer <= 64 * 1024 * 1024:
        raise ConfigError("api.ws_send_buffer must be in 4096..67108864 bytes")
    if not 0 <= cfg.api_ws_ping_interval <= 3600:
        raise ConfigError("api.ws_ping_interval must be in 0..3600 seconds (0: no pings)")
    if not 0 < cfg.api_ws_ping_timeout <= 3600:
        raise ConfigError("api.ws_ping_timeout must be in (0, 3600] seconds")
    if cfg.l1_key and cfg.node_sender:
        raise ConfigError("keys.l1 and node.sender both name the operator's L1 account: "
                          "give one")
    if not (0 if cfg.node_gpu_provers else 1) <= cfg.node_provers <= 64:
        raise ConfigError("node.provers must be in 1..64 (0 with node.gpu_provers)")
    if cfg.node_backend not in ("auto", "cpu", "cuda"):
        raise ConfigError("node.backend must be auto, cpu or cuda")
    c = cfg.node_cluster
    if not (c in ("local", "embedded", "auto") or _host_port(c.removeprefix("ray://"))):
        raise ConfigError(f"node.cluster: {c!r} is not local, embedded, auto, HOST:PORT or "
                          "ray://HOST:PORT")
    if not 0 <= cfg.node_gpu_provers <= 64 or (cfg.node_gpu_provers and c == "local"):
        raise ConfigError("node.gpu_provers must be in 0..64, and 0 when node.cluster is local")
    if not 1 <= cfg.node_prover_cpus <= 1024:
        raise ConfigError("node.prover_cpus must be in 1..1024")
    if cfg.node_poll <= 0 or cfg.node_l1_poll <= 0 or cfg.node_oracle_interval <= 0:
        raise ConfigError("node.poll, node.l1_poll and node.oracle_interval must be positive")
    if cfg.node_funding_interval < 0:
        raise ConfigError("node.funding_interval must not be negative (0: no funding ticks)")
    if cfg.node_confirmations < -1:
        raise ConfigError("node.confirmations must be >= 0 (or -1: the chain's default)")
    if not (cfg.node_oracle in ("walk", "off") or cfg.node_oracle.startswith(("file:",
                                                                              "command:"))):
        raise ConfigError(f"node.oracle: {cfg.node_oracle!r} is not walk, file:PATH, "
                          "command:CMD or off")
    if not -1 <= cfg.node_metrics_port < 65536:
        raise ConfigError("node.metrics_port must be in 0..65535 (or -1: off)")
    seen: set[int] = set()
    for m in cfg.markets:
        if m.kind not in KINDS:
            raise ConfigError(f"markets: asset {m.asset}: kind must be perp, call or put")
        if m.asset in seen:
            raise ConfigError(f"markets: asset {m.asset} listed twice")
        if not 1 <= m.asset < cfg.batch_assets:
            raise ConfigError(f"markets: asset {m.asset} outside 1..{cfg.batch_assets - 1} "
                              "(batch.assets)")
        seen.add(m.asset)
    perps = sum(m.kind == "perp" for m in cfg.markets)
    if perps > cfg.batch_underlyings:
        raise ConfigError(f"markets: {perps} perpetuals listed, the batch circuit takes "
                          f"batch.underlyings = {cfg.batch_underlyings}")
    ids: set[int] = set()
    for a in cfg.genesis_accounts:
        if bool(a.key) == bool(a.pk):
            raise ConfigError(f"genesis_accounts: account {a.id}: give exactly one of key, pk")
        if a.id == 0 or a.id in ids or not 0 < a.id < 1 << cfg.tree_depth:
            raise ConfigError(f"genesis_accounts: account id {a.id} is 0, repeated or outside "
                              f"the depth-{cfg.tree_depth} tree")
        ids.add(a.id)


def _host_port(s: str) -> bool:
    host, _, port = s.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


# --- writing --------------------------------------------------------------------------------------

def _toml(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def render(cfg: Config) -> str:
    """The file's text, commented; ``load(render(cfg))`` gives ``cfg`` back."""
    L = [
        "# zkderiv operator configuration: written by `rollup init`, read by",
        "# `rollup status`, `rollup sequencer run`, `rollup batch ...`, `rollup keys sign`",
        "# through --config PATH. Relative paths: [data].dir relative to this file, key files",
        "# relative to the data folder.",
        "",
        "[chain]",
        f"node = {_toml(cfg.node)}  # embedded (py-evm in-process) | anvil | http(s) JSON-RPC URL",
        f"chain_id = {_toml(cfg.chain_id)}",
        "# the Rollup contract (after deployment); it and chain_id form the signing domain",
        f"rollup_address = {_toml(cfg.rollup_address)}",
        f"anvil_port = {_toml(cfg.anvil_port)}  # node = \"anvil\": `rollup node run` starts Anvil "
        "here (state kept in DATA/anvil/)",
        "",
        "[data]",
        f"dir = {_toml(cfg.data_dir)}  # journal.db, batches/, keys/",
        f"snapshot_every = {_toml(cfg.snapshot_every)}  # requests between state snapshots "
        "(restart = newest snapshot + the journal after it); 0 = never",
        "",
        "[state]",
        f"tree_depth = {_toml(cfg.tree_depth)}  # accounts tree depth (the circuits' depth too)",
        f"genesis_time = {_toml(cfg.genesis_time)}  # oracle time of the genesis prices",
        "",
        "[batch]",
        f"slots = {_toml(cfg.batch_slots)}  # record slots per batch circuit",
        f"l1_slots = {_toml(cfg.batch_l1_slots)}  # of which may carry deposits/withdrawals",
        f"assets = {_toml(cfg.batch_assets)}  # circuit's asset table (power of two; ids below)",
        f"underlyings = {_toml(cfg.batch_underlyings)}  # perpetuals the circuit's scenario "
        "margin takes (at most; options join their underlying's)",
        f"time_limit = {_toml(float(cfg.batch_time_limit))}  # seconds before a partial batch "
        "closes",
        f"shapes = {_toml(cfg.batch_shapes)}  # further shapes with keys of their own on the "
        "contract (SLOTSxL1; set by the deployment)",
        "",
        "[api]",
        f"host = {_toml(cfg.api_host)}",
        f"port = {_toml(cfg.api_port)}",
        f"max_body = {_toml(cfg.api_max_body)}  # bytes per request body",
        f"rate = {_toml(float(cfg.api_rate))}  # requests/s per account (0: no limit)",
        f"burst = {_toml(cfg.api_burst)}  # requests an account may send at once",
        f"idempotency_window = {_toml(cfg.api_idempotency_window)}  # newest accepted "
        "requests whose retries get their receipt again",
        f"ws_send_timeout = {_toml(float(cfg.api_ws_send_timeout))}  # seconds a WebSocket "
        "frame may wait for room in the socket before the client is reset",
        f"ws_send_buffer = {_toml(cfg.api_ws_send_buffer)}  # a WebSocket's kernel send buffer "
        "(bytes; Linux doubles it)",
        f"ws_ping_interval = {_toml(float(cfg.api_ws_ping_interval))}  # seconds between the "
        "server's WebSocket pings (0: none)",
        f"ws_ping_timeout = {_toml(float(cfg.api_ws_ping_timeout))}  # seconds a ping may go "
        "unanswered before the connection is closed",
        "",
        "[keys]",
        f"oracle = {_toml(cfg.oracle_key)}  # oracle key file, or its compressed public key (hex)",
        f"operator = {_toml(cfg.operator_key)}  # key of account 0, which collects the fees",
        f"l1 = {_toml(cfg.l1_key)}  # the operator's L1 key file (\"\": an account unlocked on "
        "the node)",
        "# encrypted key files are opened with the passphrase in this environment variable,",
        "# or in this file (first line; relative to the data folder)",
        f"passphrase_env = {_toml(cfg.passphrase_env)}",
        f"passphrase_file = {_toml(cfg.passphrase_file)}",
        "",
        "[node]  # `rollup node run`",
        f"provers = {_toml(cfg.node_provers)}  # prover processes, each holding the proving key",
        f"backend = {_toml(cfg.node_backend)}  # auto | cpu | cuda",
        f"cluster = {_toml(cfg.node_cluster)}  # local: prover processes here | embedded: Ray "
        "on this machine | auto, HOST:PORT, ray://HOST:PORT: a Ray cluster (docs/cluster.md)",
        f"gpu_provers = {_toml(cfg.node_gpu_provers)}  # Ray workers holding a GPU each (cluster "
        "only)",
        f"prover_cpus = {_toml(cfg.node_prover_cpus)}  # CPUs each Ray worker reserves (cluster "
        "only)",
        f"poll = {_toml(float(cfg.node_poll))}  # seconds between batcher and relayer passes",
        f"l1_poll = {_toml(float(cfg.node_l1_poll))}  # seconds between reads of the L1 queue",
        f"confirmations = {_toml(cfg.node_confirmations)}  # L1 blocks an event waits for "
        "(-1: 0 on chain 31337, else 2)",
        f"sender = {_toml(cfg.node_sender)}  # operator's L1 account, unlocked on the node "
        '("": its first; keys.l1 signs here instead)',
        f"oracle = {_toml(cfg.node_oracle)}  # prices: walk (deterministic random walk) | "
        "file:PATH (JSON lines) | command:CMD (prints JSON) | off",
        f"oracle_interval = {_toml(float(cfg.node_oracle_interval))}  # seconds between prices",
        f"funding_interval = {_toml(float(cfg.node_funding_interval))}  # seconds between "
        "funding ticks (0: none)",
        f"metrics_port = {_toml(cfg.node_metrics_port)}  # Prometheus /metrics (-1: off, "
        "0: any free port)",
    ]
    for m in cfg.markets:
        L += ["", "[[markets]]  # listed at genesis (ListAsset; factors and fees in ppm; price: "
              "first oracle price)"]
        for f in fields(Market):
            v = getattr(m, f.name)
            if f.name in ("asset", "kind", "risk_initial", "risk_maintenance") or v != f.default:
                L.append(f"{f.name} = {_toml(v)}")
    for a in cfg.genesis_accounts:
        L += ["", "[[genesis_accounts]]  # development balance in the genesis state"]
        for f in fields(GenesisAccount):
            v = getattr(a, f.name)
            if f.name in ("id", "collateral") or v != f.default:
                L.append(f"{f.name} = {_toml(v)}")
    return "\n".join(L) + "\n"


def parse_shape(name: str) -> tuple[int, int] | None:
    """(slots, l1_slots) of a batch shape named "SLOTSxL1", or None if it is not one."""
    m = re.fullmatch(r"([1-9][0-9]{0,5})x(0|[1-9][0-9]{0,5})", name)
    if m is None or int(m[2]) > int(m[1]):
        return None
    return int(m[1]), int(m[2])


def set_rollup_address(path: str | Path, address: str,
                       shapes: list[str] | None = None) -> Config:
    """Record a deployed Rollup's address (and, if given, the further batch shapes it verifies)
    in the configuration file (rewritten by ``render``)."""
    cfg = load(path)
    cfg.rollup_address = address
    if shapes is not None:
        cfg.batch_shapes = list(shapes)
    validate(cfg)
    p = Path(path).expanduser()
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(render(cfg))
    tmp.replace(p)
    return cfg


def example_markets() -> list[Market]:
    """A starting point for [[markets]]: one perpetual (edit before genesis)."""
    return [Market(asset=1, kind="perp", name="ETH-PERP", risk_initial=50_000,
                   risk_maintenance=30_000, maker_fee=100, taker_fee=500, liquidation_fee=10_000,
                   price=2_000)]
