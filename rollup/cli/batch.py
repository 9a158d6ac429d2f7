"""`rollup batch build` and `rollup batch prove`: journal rows -> batch witness -> proof.

    rollup batch build [--config PATH] [--from SEQ] [--to SEQ] [--number N] [--queue FILE]
    rollup batch prove [BATCH_JSON] [--config PATH] [--zkey PATH] [--vk PATH] [--backend B]

``build`` replays the journal up to the row before ``--from``, hands the rows ``--from..--to``
(default: what ``rollup.settlement.batch.plan_batches`` puts in the next batch) to
``build_batch`` and writes ``batch-NNNNNN.wtns`` and ``batch-NNNNNN.json`` in DATA/batches/;
deposits take their L1 queue entries from ``--queue FILE`` or the L1 feed's store. ``prove``
proves a built batch (default key DATA/keys/batch.zkey), checks the proof's public input against
the batch's and, given a verification key, verifies it: ``batch-NNNNNN.proof.json`` and
``.public.json`` beside the batch. Details: docs/settlement.md.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import click

from rollup.cli.operator import config_option, load_config

LOOKAHEAD = 100_000  # journal rows read to plan one batch


class BatchError(RuntimeError):
    """A batch cannot be built or proven as asked (range, files, keys, mismatched proof)."""


@click.group("batch")
def batch() -> None:
    """Batches: witnesses from the journal, proofs."""


def _queue(path: str | None) -> list:
    from rollup.chain.layout import QueueEntry

    if path is None:
        return []
    try:
        rows = json.loads(Path(path).read_text())
        return [QueueEntry(int(r["kind"]), int(r["asset"]), int(r["account_id"]),
                           r["l1_address"], int(r["amount"]),
                           bytes.fromhex(r.get("l2_key", "00" * 32).removeprefix("0x")))
                for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BatchError(f"--queue {path}: not a list of queue entries ({exc})") from None


def _fed_queue(cfg, first: int) -> list:
    """The L1 entries the sequencer's L1 feed stored, from the first one not consumed by the
    journal rows before `first` (the L1 requests journaled after the genesis)."""
    from rollup.api.service import read_genesis
    from rollup.durability.journal import Journal
    from rollup.node.l1feed import L1_TYPES, STORE_NAME
    from rollup.settlement.relayer import BatchStore

    path = cfg.data / STORE_NAME
    if not path.exists():
        return []
    g = read_genesis(cfg)
    j = Journal(cfg.journal_path)
    try:
        done = sum(isinstance(r, L1_TYPES) for n, r in j.requests_after(g["seq"] if g else 0)
                   if n < first)
    finally:
        j.close()
    store = BatchStore(path)
    try:
        return store.queue_entries(done)
    finally:
        store.close()


@batch.command("build")
@config_option
@click.option("--from", "first", type=int, default=None,
              help="First journal row [default: after the last batch built, or the genesis].")
@click.option("--to", "last", type=int, default=None,
              help="Last journal row [default: as many rows as one batch takes].")
@click.option("--number", type=int, default=None,
              help="Batch number [default: the last built + 1].")
@click.option("--queue", "queue_path", type=click.Path(dir_okay=False), default=None,
              help="JSON list of the L1 queue entries the batch's deposits consume "
                   "[default: the ones the sequencer's L1 feed stored].")
@click.option("--queue-before", default=None,
              help="Queue chain hash before them (hex) [default: the last batch's, else zero].")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Check every constraint of the circuit on the witness.")
def build_cmd(config_path: str, first: int | None, last: int | None, number: int | None,
              queue_path: str | None, queue_before: str | None, check: bool) -> None:
    """Build the next batch's witness from the journal."""
    from prover.formats.wtns import write_wtns
    from rollup.api.service import last_batch, read_genesis
    from rollup.durability.journal import Journal
    from rollup.engine.restart import recover
    from rollup.settlement.batch import build_batch, plan_batches

    cfg = load_config(config_path)
    if not cfg.journal_path.exists():
        raise BatchError(f"no journal at {cfg.journal_path} (start the sequencer first)")
    prev = last_batch(cfg)
    if first is None:
        genesis = read_genesis(cfg)
        if prev is None and genesis is None:
            raise BatchError("no batch built and no genesis record: pass --from")
        first = prev["last_seq"] + 1 if prev else genesis["seq"] + 1
    j = Journal(cfg.journal_path)
    try:
        end = j.last_seq() if last is None else last
        if not 1 <= first <= end <= j.last_seq():
            raise BatchError(f"nothing to batch in rows {first}..{end}: the journal has "
                             f"{j.last_seq()} rows")
        reqs = [r for n, r in itertools.islice(j.requests_after(first - 1), LOOKAHEAD)
                if n <= end]
    finally:
        j.close()
    number = number if number is not None else (prev["number"] + 1 if prev else 1)
    if queue_before is None:
        qb = bytes.fromhex(prev["queue_after"][2:]) if prev else bytes(32)
    else:
        qb = bytes.fromhex(queue_before.removeprefix("0x").rjust(64, "0"))
    t0 = time.perf_counter()
    pre = recover(cfg.journal_path, cfg.domain(), cfg.tree_depth, upto=first - 1)
    shape = {"slots": cfg.batch_slots, "l1_slots": cfg.batch_l1_slots}
    try:
        if last is None:  # as many rows as the first planned batch takes
            reqs = plan_batches(pre, reqs, **shape)[0]
        last = first + len(reqs) - 1
        queue = _queue(queue_path) if queue_path else _fed_queue(cfg, first)
        b = build_batch(pre, reqs, batch_number=number, queue=queue,
                        queue_before=qb, assets=cfg.batch_assets, **shape)
    except ValueError as exc:  # rollup.settlement.batch.Unsupported among them
        raise BatchError(f"rows {first}..{last if last is not None else '?'}: {exc}") from None
    t1 = time.perf_counter()
    cs = b.circuit()
    witness = cs.witness()
    if check:
        bad = cs.check(limit=3)
        if bad:
            raise BatchError(f"witness violates {len(bad)}+ constraint(s), first: {bad[0]}")
    out = cfg.batches_dir
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"batch-{number:06d}"
    write_wtns(stem.with_suffix(".wtns"), witness)
    meta = {"number": number, "first_seq": first, "last_seq": last, "requests": len(reqs),
            "records": len(b.records), "slots": b.slots, "l1_slots": b.l1_slots,
            "assets": b.assets, "depth": b.depth, "old_root": f"0x{b.old_root:064x}",
            "new_root": f"0x{b.new_root:064x}", "queue_before": "0x" + b.queue_before.hex(),
            "queue_after": "0x" + b.queue_after.hex(), "queue_consumed": b.queue_consumed,
            "public_data": "0x" + b.public_data.hex(), "public_input": str(b.public_input),
            "chain_id": cfg.chain_id, "rollup_address": cfg.rollup_address,
            "witness": stem.with_suffix(".wtns").name, "constraints": cs.n_constraints}
    tmp = stem.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.replace(stem.with_suffix(".json"))
    click.echo(f"batch {number}: rows {first}..{last} ({len(reqs)} requests, "
               f"{len(b.records)} of {b.slots} slots), root {meta['old_root'][:12]}… -> "
               f"{meta['new_root'][:12]}…, {cs.n_constraints:,} constraints, "
               f"{t1 - t0:.1f} s + circuit {time.perf_counter() - t1:.1f} s "
               f"-> {stem.with_suffix('.json')}")


@batch.command("prove")
@click.argument("batch_json", required=False, type=click.Path(dir_okay=False))
@config_option
@click.option("--zkey", type=click.Path(dir_okay=False), default=None,
              help="Proving key of the batch circuit [default: DATA/keys/batch.zkey].")
@click.option("--vk", type=click.Path(dir_okay=False), default=None,
              help="Verification key to check the proof with [default: DATA/keys/"
                   "batch_vk.json, when present].")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
def prove_cmd(batch_json: str | None, config_path: str, zkey: str | None, vk: str | None,
              backend: str) -> None:
    """Prove a built batch [default: the last one built]."""
    from prover.backend import get_backend
    from prover.formats.snarkjs_json import dump_proof, dump_public, load_vk
    from prover.groth16 import prove, verify
    from rollup.api.service import last_batch

    cfg = load_config(config_path)
    if batch_json is None:
        meta = last_batch(cfg)
        if meta is None:
            raise BatchError(f"no batch built in {cfg.batches_dir} (run `rollup batch build`)")
        path = cfg.batches_dir / f"batch-{meta['number']:06d}.json"
    else:
        path = Path(batch_json)
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BatchError(f"{path}: not a batch file ({exc})") from None
    wtns = path.parent / meta["witness"]
    zkey_path = Path(zkey) if zkey else cfg.keys_dir / "batch.zkey"
    if not zkey_path.is_file():
        raise BatchError(f"no proving key at {zkey_path} (`rollup setup --slots "
                         f"{meta['slots']} --l1-slots {meta['l1_slots']} --assets "
                         f"{meta['assets']} --depth {meta['depth']} --out {cfg.keys_dir}`, "
                         "or pass --zkey)")
    vk_path = Path(vk) if vk else cfg.keys_dir / "batch_vk.json"
    if vk and not vk_path.is_file():
        raise BatchError(f"no verification key at {vk_path}")
    t0 = time.perf_counter()
    res = prove(str(zkey_path), str(wtns), backend=get_backend(backend))
    t1 = time.perf_counter()
    if [int(x) for x in res.public_signals] != [int(meta["public_input"])]:
        raise BatchError("the proof's public input is not the batch's: wrong proving key?")
    verified = None
    if vk_path.is_file():
        verified = verify(load_vk(vk_path), res.public_signals, res.proof)
        if not verified:
            raise BatchError(f"the proof does not verify under {vk_path}")
    stem = path.with_suffix("")
    dump_proof(res.proof, stem.with_suffix(".proof.json"))
    dump_public(res.public_signals, stem.with_suffix(".public.json"))
    click.echo(f"batch {meta['number']}: proof in {t1 - t0:.1f} s"
               + (", verified" if verified else ", not verified (no verification key)")
               + f" -> {stem.with_suffix('.proof.json')}")
