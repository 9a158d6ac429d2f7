"""The settlement stages on a data folder: journal rows -> built batch -> proven batch.

``build_next(cfg)`` builds the batch after the last one built (``files`` says where it lands);
``prove_built(cfg, number, zkey)`` proves a built batch. Both are what `rollup batch build` and
`rollup batch prove` run, and what the node's batcher and prover pool run. Each stage writes
its result last and atomically, so a stage killed midway is simply run again.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

from prover.formats.snarkjs_json import dumps, proof_to_json, public_to_json
from prover.formats.wtns import write_wtns
from rollup.chain.layout import QueueEntry
from rollup.config import Config
from rollup.durability.journal import Journal
from rollup.errors import EngineError
from rollup.settlement import files as F

LOOKAHEAD = 100_000  # journal rows read to plan one batch


class BatchError(RuntimeError):
    """A batch cannot be built or proven as asked (range, files, keys, mismatched proof)."""


def read_queue_file(path: str | Path) -> list:
    """A JSON list of {kind, asset, account_id, l1_address, amount, l2_key} queue entries."""
    try:
        rows = json.loads(Path(path).read_text())
        return [QueueEntry(int(r["kind"]), int(r["asset"]), int(r["account_id"]),
                           r["l1_address"], int(r["amount"]),
                           bytes.fromhex(r.get("l2_key", "00" * 32).removeprefix("0x")))
                for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BatchError(f"--queue {path}: not a list of queue entries ({exc})") from None


def fed_queue(cfg: Config, first: int) -> list:
    """The L1 entries the L1 feed stored, from the first one not consumed by the journal rows
    before `first` (the L1 requests journaled after the genesis)."""
    # lazy: the store loads eth_utils and eth_abi (~0.5 s); the prover workers never read it
    from rollup.settlement.store import BatchStore

    path = cfg.data / F.FEED_STORE
    if not path.exists():
        return []
    g = F.read_genesis(cfg)
    j = Journal(cfg.journal_path)
    try:
        done = sum(isinstance(r, F.L1_TYPES) for n, r in j.requests_after(g["seq"] if g else 0)
                   if n < first)
    finally:
        j.close()
    store = BatchStore(path)
    try:
        return store.queue_entries(done)
    finally:
        store.close()


@dataclass
class Built:
    meta: dict
    seconds_replay: float
    seconds_circuit: float

    def line(self) -> str:
        m = self.meta
        return (f"batch {m['number']}: rows {m['first_seq']}..{m['last_seq']} ({m['requests']} "
                f"requests, {m['records']} of {m['slots']} slots), root {m['old_root'][:12]}… -> "
                f"{m['new_root'][:12]}…, {m['constraints']:,} constraints, "
                f"{self.seconds_replay:.1f} s + circuit {self.seconds_circuit:.1f} s")


def pending_rows(cfg: Config) -> tuple[int, int]:
    """(first journal row not in a built batch, last journal row)."""
    prev = F.last_batch(cfg)
    genesis = F.read_genesis(cfg)
    first = prev["last_seq"] + 1 if prev else (genesis["seq"] + 1 if genesis else 1)
    if not cfg.journal_path.exists():
        return first, 0
    j = Journal(cfg.journal_path)
    try:
        return first, j.last_seq()
    finally:
        j.close()


class PreState:
    """The engine after journal row ``seq``, kept between builds by a long-lived builder so the
    next batch starts from it instead of replaying the journal (rows never change)."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.engine = None

    def take(self, upto: int):
        return self.engine if self.seq == upto else None

    def advance(self, engine, upto: int, reqs: list) -> None:
        self.seq = self.engine = None  # until the rows applied
        for req, res in zip(reqs, engine.submit_many(reqs, verified=True), strict=True):
            if isinstance(res, EngineError):  # accepted when journaled: cannot happen
                raise BatchError(f"journaled request no longer applies ({res!r}): {req!r}")
        engine.state.flush()
        self.seq, self.engine = upto, engine


def build_next(cfg: Config, *, first: int | None = None, last: int | None = None,
               number: int | None = None, queue: list | None = None,
               queue_before: bytes | None = None, check: bool = True,
               full_only: bool = False, cache: PreState | None = None) -> Built | None:
    """Build the next batch's witness and metadata from the journal, in the smallest batch
    shape with keys that holds the rows, else the largest (``rollup.settlement.shapes``).
    ``full_only``: build only if the planned batch is full (rows remain after it, in the largest
    shape), else return None. ``cache``: the
    pre-state kept from the previous build (used when it ends at row first - 1, then advanced
    past this batch)."""
    # lazy: the engine and the batch builder (Numba); `rollup batch prove` and the prover
    # workers import this module to prove only
    from rollup.engine.restart import recover
    from rollup.settlement.batch import build_batch, plan_batches
    from rollup.settlement.shapes import batch_shapes, choose

    if not cfg.journal_path.exists():
        raise BatchError(f"no journal at {cfg.journal_path} (start the sequencer first)")
    prev = F.last_batch(cfg)
    if first is None:
        genesis = F.read_genesis(cfg)
        if prev is None and genesis is None:
            raise BatchError("no batch built and no genesis record: pass --from")
        first = prev["last_seq"] + 1 if prev else genesis["seq"] + 1
    j = Journal(cfg.journal_path)
    try:
        end = j.last_seq() if last is None else last
        if not 1 <= first <= end <= j.last_seq():
            if full_only:
                return None
            raise BatchError(f"nothing to batch in rows {first}..{end}: the journal has "
                             f"{j.last_seq()} rows")
        reqs = [r for n, r in itertools.islice(j.requests_after(first - 1), LOOKAHEAD)
                if n <= end]
    finally:
        j.close()
    number = number if number is not None else (prev["number"] + 1 if prev else 1)
    qb = queue_before if queue_before is not None else (
        bytes.fromhex(prev["queue_after"][2:]) if prev else bytes(32))
    t0 = time.perf_counter()
    pre = cache.take(first - 1) if cache is not None else None
    if pre is None:
        pre = recover(cfg.journal_path, cfg.domain(), cfg.tree_depth, upto=first - 1)
    try:
        # the smallest shape with keys whose batch takes every row, else the largest (full)
        chosen, plan = choose(batch_shapes(cfg), lambda s: plan_batches(
            pre, reqs, slots=s.slots, l1_slots=s.l1_slots, first_only=True))
        shape = {"slots": chosen.slots, "l1_slots": chosen.l1_slots}
        if last is None:  # as many rows as the first planned batch takes
            if full_only and len(plan) < 2:
                return None
            reqs = plan[0]
        last = first + len(reqs) - 1
        if queue is None:
            queue = fed_queue(cfg, first)
        b = build_batch(pre, reqs, batch_number=number, queue=queue,
                        queue_before=qb, assets=cfg.batch_assets,
                        underlyings=cfg.batch_underlyings, **shape)
    except ValueError as exc:  # rollup.settlement.batch.Unsupported among them
        raise BatchError(f"rows {first}..{last if last is not None else '?'}: {exc}") from None
    t1 = time.perf_counter()
    # the compiled solver of the shape (built on the first batch, then kept): the witness the
    # circuit built with b.values holds, without building the circuit per batch
    solver = b.solver(constraints=check)
    values = solver.solve(b.values)
    if check:
        bad = solver.check(values, limit=3)
        if bad:
            raise BatchError(f"witness violates {len(bad)}+ constraint(s), first: {bad[0]}")
    witness = solver.witness(values)
    if int.from_bytes(witness[1].astype("<u8").tobytes(), "little") != b.public_input:
        raise BatchError(f"batch {number}: the circuit's public input is not the builder's")
    cfg.batches_dir.mkdir(parents=True, exist_ok=True)
    stem = F.batch_stem(cfg, number)
    wtns = stem.with_suffix(".wtns")
    tmp = wtns.with_name(wtns.name + ".tmp")
    write_wtns(tmp, witness)
    tmp.replace(wtns)
    meta = {"number": number, "first_seq": first, "last_seq": last, "requests": len(reqs),
            "records": len(b.records), "slots": b.slots, "l1_slots": b.l1_slots,
            "assets": b.assets, "underlyings": b.underlyings, "depth": b.depth,
            "old_root": f"0x{b.old_root:064x}",
            "new_root": f"0x{b.new_root:064x}", "queue_before": "0x" + b.queue_before.hex(),
            "queue_after": "0x" + b.queue_after.hex(), "queue_consumed": b.queue_consumed,
            "public_data": "0x" + b.public_data.hex(), "public_input": str(b.public_input),
            "chain_id": cfg.chain_id, "rollup_address": cfg.rollup_address,
            "witness": wtns.name, "constraints": solver.n_constraints}
    F.write_atomic(stem.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    if cache is not None:
        cache.advance(pre, last, reqs)
    return Built(meta, t1 - t0, time.perf_counter() - t1)


def batch_file(cfg: Config, batch_json: str | None) -> tuple[Path, dict]:
    """The built batch at BATCH_JSON, or the last one built."""
    if batch_json is None:
        meta = F.last_batch(cfg)
        if meta is None:
            raise BatchError(f"no batch built in {cfg.batches_dir} (run `rollup batch build`)")
        return F.batch_stem(cfg, meta["number"]).with_suffix(".json"), meta
    path = Path(batch_json)
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path}: not a batch file ({exc})") from None
    if not isinstance(meta, dict) or "witness" not in meta or "public_input" not in meta:
        raise BatchError(f"{path}: not a batch file")
    return path, meta


def missing_key_hint(cfg: Config, meta: dict, zkey_path: Path) -> str:
    named = (meta["slots"], meta["l1_slots"]) != (cfg.batch_slots, cfg.batch_l1_slots)
    return (f"no proving key at {zkey_path} (`rollup setup --slots {meta['slots']} --l1-slots "
            f"{meta['l1_slots']} --assets {meta['assets']} --underlyings "
            f"{meta.get('underlyings', 1)} --depth {meta['depth']} --out "
            f"{cfg.keys_dir}{' --only batch --named' if named else ''}`, or pass --zkey)")


def prove_file(path: Path, meta: dict, zkey, *, vk=None, backend=None) -> float:
    """Prove the built batch at PATH with ZKEY (a path or a loaded Zkey), check the public
    input (and the proof under VK, a loaded key, when given), and write NAME.public.json then
    NAME.proof.json atomically. Returns the proving seconds."""
    proven = prove_witness(meta, str(path.parent / meta["witness"]), zkey, vk=vk,
                           backend=backend)
    write_proof(path, proven)
    return proven.seconds


@dataclass(frozen=True)
class Proven:
    """A batch's proof as the files hold it: public.json and proof.json texts (snarkjs's
    layout), whichever process or machine made it."""

    number: int
    public_json: str
    proof_json: str
    seconds: float


def prove_witness(meta: dict, witness, zkey, *, vk=None, backend=None) -> Proven:
    """Prove the batch META describes from WITNESS (a .wtns path or limbs) with ZKEY; the
    public input must be the batch's and, under VK (a loaded key) when given, the proof must
    verify (BatchError otherwise). Writes nothing."""
    # lazy: the prover's Numba kernels; the batcher imports this module to build only
    from prover.groth16 import prove, verify

    t0 = time.perf_counter()
    res = prove(zkey, witness, backend=backend)
    seconds = time.perf_counter() - t0
    if [int(x) for x in res.public_signals] != [int(meta["public_input"])]:
        raise BatchError(f"batch {meta['number']}: the proof's public input is not the batch's: "
                         "wrong proving key?")
    if vk is not None and not verify(vk, res.public_signals, res.proof):
        raise BatchError(f"batch {meta['number']}: the proof does not verify")
    return Proven(int(meta["number"]), dumps(public_to_json(list(res.public_signals))),
                  dumps(proof_to_json(res.proof)), seconds)


def write_proof(path: Path, proven: Proven) -> None:
    """NAME.public.json then NAME.proof.json beside the batch file PATH, each atomically: the
    proof file, written last, is what marks the batch proven."""
    stem = path.with_suffix("")
    F.write_atomic(stem.with_suffix(".public.json"), proven.public_json)
    F.write_atomic(stem.with_suffix(".proof.json"), proven.proof_json)


def stored_batch(cfg: Config, number: int):
    """Built and proven batch NUMBER as the relayer stores it; queueCountAfter counts the queue
    entries consumed by batches 1..NUMBER (their files)."""
    # lazy: as in fed_queue (the store)
    from rollup.settlement.errors import StoreError
    from rollup.settlement.store import StoredBatch

    consumed = 0
    for k in range(1, number + 1):
        m = F.read_batch(cfg, k)
        if m is None:
            raise StoreError(f"batch {k} is not in {cfg.batches_dir}, so batch {number}'s "
                             "queueCountAfter is unknown")
        consumed += int(m["queue_consumed"])
    d = F.read_batch(cfg, number)
    return StoredBatch(number, bytes.fromhex(d["old_root"][2:]), bytes.fromhex(d["new_root"][2:]),
                       consumed, bytes.fromhex(d["public_data"][2:]),
                       str(F.proof_path(cfg, number)), int(d["public_input"]))
