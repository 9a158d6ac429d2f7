"""`rollup batch build` and `rollup batch prove`: journal rows -> batch witness -> proof.

    rollup batch build [--config PATH] [--from SEQ] [--to SEQ] [--number N] [--queue FILE]
    rollup batch prove [BATCH_JSON] [--config PATH] [--zkey PATH] [--vk PATH] [--backend B]

``build`` replays the journal up to the row before ``--from``, hands the rows ``--from..--to``
(default: what ``rollup.settlement.batch.plan_batches`` puts in the next batch) to
``build_batch`` and writes ``batch-NNNNNN.wtns`` and ``batch-NNNNNN.json`` in DATA/batches/;
deposits take their L1 queue entries from ``--queue FILE`` or the L1 feed's store. ``prove``
proves a built batch (default key: its shape's, DATA/keys/batch.zkey for the configured shape,
batch-<slots>x<l1>.zkey for another), checks the proof's public input against
the batch's and, given a verification key, verifies it: ``batch-NNNNNN.proof.json`` and
``.public.json`` beside the batch. Details: docs/settlement.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from rollup.cli.operator import config_option, load_config

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


@click.group("batch")
def batch() -> None:
    """Batches: witnesses from the journal, proofs."""


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
    from rollup.settlement.stage import build_next, read_queue_file

    cfg = load_config(config_path)
    qb = None if queue_before is None else bytes.fromhex(
        queue_before.removeprefix("0x").rjust(64, "0"))
    built = build_next(cfg, first=first, last=last, number=number,
                       queue=read_queue_file(queue_path) if queue_path else None,
                       queue_before=qb, check=check)
    from rollup.settlement.files import batch_stem

    click.echo(f"{built.line()} -> {batch_stem(cfg, built.meta['number']).with_suffix('.json')}")


@batch.command("prove")
@click.argument("batch_json", required=False, type=click.Path(dir_okay=False))
@config_option
@click.option("--zkey", type=click.Path(dir_okay=False), default=None,
              help="Proving key of the batch circuit [default: the batch shape's in "
                   "DATA/keys].")
@click.option("--vk", type=click.Path(dir_okay=False), default=None,
              help="Verification key to check the proof with [default: the batch shape's in "
                   "DATA/keys, when present].")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
def prove_cmd(batch_json: str | None, config_path: str, zkey: str | None, vk: str | None,
              backend: str) -> None:
    """Prove a built batch [default: the last one built]."""
    from prover.backend import get_backend
    from prover.formats.snarkjs_json import load_vk
    from rollup.settlement.shapes import shape_of
    from rollup.settlement.stage import BatchError, batch_file, missing_key_hint, prove_file

    cfg = load_config(config_path)
    path, meta = batch_file(cfg, batch_json)
    shape = shape_of(cfg, int(meta["slots"]), int(meta["l1_slots"]))
    zkey_path = Path(zkey) if zkey else shape.zkey
    if not zkey_path.is_file():
        raise BatchError(missing_key_hint(cfg, meta, zkey_path))
    vk_path = Path(vk) if vk else shape.vk
    if vk and not vk_path.is_file():
        raise BatchError(f"no verification key at {vk_path}")
    seconds = prove_file(path, meta, str(zkey_path), backend=get_backend(backend),
                         vk=load_vk(vk_path) if vk_path.is_file() else None)
    click.echo(f"batch {meta['number']}: proof in {seconds:.1f} s"
               + (", verified" if vk_path.is_file() else ", not verified (no verification key)")
               + f" -> {path.with_suffix('').with_suffix('.proof.json')}")
