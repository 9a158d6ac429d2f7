"""Published genesis: the records a deployment starts from, read back from a file.

A genesis file is one of
* the raw records, concatenated (``rollup.transactions`` encoding; what ``rollup.demo`` publishes
  as ``genesis.bin`` and ``rollup.recovery.recover`` replays);
* JSON with ``"records": "0x..."`` (the same bytes in hex; ``"root"`` beside it is checked);
* the sequencer service's ``genesis.json`` (``{"seq": N, "root": "0x..."}``): its root only,
  enough to deploy, not to recover.

With the operator's configuration at hand the records are rebuilt from it instead
(``config_records``: the requests ``rollup sequencer run`` applies to an empty journal), or read
back from the sequencer's journal once it has started (``export``: what ``rollup genesis
export`` publishes, the journal's first rows checked against the root it recorded).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from rollup.durability.journal import Journal
from rollup.engine.sequencer import Sequencer
from rollup.keys import public_key_of
from rollup.margin.scenario import changed_rows
from rollup.settlement.files import genesis_file
from rollup.state.rebuild import rebuild
from rollup.state.state import FEE_ACCOUNT, State
from rollup.transactions import Deposit, OracleUpdate, SetOracleKey, scenario_chunks

EXPORT_NAME = "genesis-records.json"


class GenesisError(ValueError):
    """A genesis file is missing, malformed, or does not give the root it claims."""


@dataclass(frozen=True)
class Genesis:
    records: bytes | None  # None: a file that names only the root
    root: int
    first_free_id: int | None  # the first account id not held at genesis (None: unknown)
    state: object | None = None  # the rebuilt State (records only)


def from_records(records: bytes, depth: int, where: str = "genesis") -> Genesis:
    try:
        st = rebuild(records, depth)
    except Exception as exc:  # a record that does not decode or apply
        raise GenesisError(f"{where}: the records do not replay ({type(exc).__name__}: "
                           f"{exc})") from None
    first = max(st.accounts) + 1 if st.accounts else 0
    return Genesis(records, st.root, first, st)


def load_genesis(path: str | Path, depth: int) -> Genesis:
    """The genesis in `path` (raw records or JSON, see the module), replayed at `depth`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise GenesisError(f"cannot read the genesis file {p}: {exc.strerror or exc}") from None
    if not data:
        raise GenesisError(f"{p}: empty genesis file")
    if data.lstrip()[:1] == b"{":
        try:
            d = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GenesisError(f"{p}: not JSON ({exc})") from None
        root = _int(d.get("root"), p, "root") if d.get("root") is not None else None
        if d.get("records") is None:
            if root is None:
                raise GenesisError(f"{p}: neither records nor root")
            return Genesis(None, root, None)
        try:
            records = bytes.fromhex(str(d["records"]).removeprefix("0x"))
        except ValueError:
            raise GenesisError(f"{p}: records must be hex") from None
        g = from_records(records, depth, str(p))
        if root is not None and root != g.root:
            raise GenesisError(f"{p}: the records give root {g.root:#x}, the file says "
                               f"{root:#x}")
        return g
    return from_records(data, depth, str(p))


def _int(v, p: Path, key: str) -> int:
    try:
        return int(v, 16) if isinstance(v, str) else int(v)
    except (TypeError, ValueError):
        raise GenesisError(f"{p}: {key} must be a number or 0x-hex") from None


def config_records(cfg) -> bytes:
    """The genesis records of an operator configuration (``genesis_requests`` applied)."""
    seq = Sequencer(State(cfg.tree_depth), cfg.domain())
    for req in genesis_requests(cfg):
        seq.apply_verified(req)
    return b"".join(seq.records)


def genesis_requests(cfg) -> list:
    """The requests ``rollup sequencer run`` applies to an empty journal, in order: the oracle
    key, the fee account (account 0, the operator's key), the listings, their first prices,
    the first scenario rows of every priced asset (``first_rows``), the genesis balances."""
    reqs: list = [SetOracleKey(public_key_of(cfg.oracle_key, cfg.data)),
                  Deposit(FEE_ACCOUNT, public_key_of(cfg.operator_key, cfg.data), 0)]
    listed = [m.list_asset() for m in cfg.markets]
    listed += [OracleUpdate(m.asset, m.price, cfg.genesis_time) for m in cfg.markets if m.price]
    reqs += listed + first_rows(cfg, listed)
    for a in cfg.genesis_accounts:
        reqs.append(Deposit(a.id, public_key_of(a.key or a.pk, cfg.data), a.collateral))
    return reqs


def first_rows(cfg, listed: list) -> list:
    """The oracle's first scenario rows (docs/margin.md) at the genesis prices: six unsigned
    ScenarioChunks at ``genesis_time`` per asset that ``listed`` (listings and prices) prices,
    revalued by ``rollup.margin.scenario`` on a scratch state, so trades open at once."""
    scratch = Sequencer(State(cfg.tree_depth), cfg.domain())
    for req in listed:
        scratch.apply_verified(req)
    return [chunk for asset, dv in changed_rows(scratch.state).items()
            for chunk in scenario_chunks(asset, cfg.genesis_time, dv)]


def journal_records(cfg) -> bytes | None:
    """The genesis records as the sequencer journaled them (its first rows, as many as
    DATA/genesis.json counts), checked against the root recorded there; None before the
    sequencer's first start."""
    gpath = genesis_file(cfg)
    if not gpath.is_file() or not cfg.journal_path.exists():
        return None
    try:
        g = json.loads(gpath.read_text())
        n, root = int(g["seq"]), _int(g["root"], gpath, "root")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenesisError(f"{gpath}: not the sequencer's genesis record ({exc})") from None
    j = Journal(cfg.journal_path)
    try:
        rows = [r for _, r in itertools.islice(j.requests_after(0), n)]
    finally:
        j.close()
    if len(rows) != n:
        raise GenesisError(f"{cfg.journal_path} holds {len(rows)} rows, the genesis has {n}")
    seq = Sequencer(State(cfg.tree_depth), cfg.domain())
    for r in rows:
        seq.apply_verified(r)
    if seq.state.root != root:
        raise GenesisError(f"the journal's first {n} rows give root {seq.state.root:#x}, "
                           f"{gpath} says {root:#x}")
    return b"".join(seq.records)


def export(cfg) -> dict:
    """The genesis an operator publishes for ``rollup recover`` and ``rollup exit``: the
    records (from the journal once the sequencer has started, else from the configuration),
    their root and the deployment they belong to. ``load_genesis`` reads it back."""
    records = journal_records(cfg)
    source = "journal"
    if records is None:
        records, source = config_records(cfg), "config"
    g = from_records(records, cfg.tree_depth, source)
    return {"records": "0x" + records.hex(), "root": f"0x{g.root:064x}",
            "depth": cfg.tree_depth, "chain_id": cfg.chain_id,
            "rollup_address": cfg.rollup_address, "first_free_id": g.first_free_id,
            "source": source}


def write_export(cfg, path: str | Path | None = None) -> tuple[Path, dict]:
    """Write ``export(cfg)`` as JSON (atomically) to ``path`` [default: DATA/
    genesis-records.json]."""
    doc = export(cfg)
    p = Path(path) if path is not None else cfg.data / EXPORT_NAME
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(p)
    return p, doc
