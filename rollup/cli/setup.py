"""`rollup setup --slots N --depth D [--l1-slots Q] --out DIR`: batch and exit circuit keys.

Writes ``batch.r1cs``, ``batch.zkey``, ``batch_vk.json``, ``exit.r1cs``, ``exit.zkey``,
``exit_vk.json`` (snarkjs formats); with ``--named`` only the batch circuit's, as
``batch-<slots>x<l1_slots>.*``: a further batch shape beside the configured one, registered on
the contract at deployment (``rollup.settlement.shapes``); ``<stem>_circuit.json`` records what
a batch key proves (slots, L1 slots, depth, assets, underlyings). Existing files are kept unless
``--force``; each is written whole (a temporary file renamed over it). The keys come from the
development setup (`prover.groth16.setup.dev_setup`): one process drew the toxic waste, so
they are for tests and demos only, never for anything of value.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import click

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


@click.command("setup")
@click.option("--slots", type=int, required=True, help="Transaction slots of the batch circuit.")
@click.option("--depth", type=int, required=True, help="Depth of the accounts tree.")
@click.option("--l1-slots", type=int, default=None,
              help="Slots that may carry deposits and withdrawals (default: all).")
@click.option("--assets", type=int, default=8, show_default=True,
              help="Size of the asset table (a power of two; asset ids below it).")
@click.option("--underlyings", type=int, default=1, show_default=True,
              help="Perpetuals the scenario margin takes (one loss group each; [batch] "
                   "underlyings).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="keys",
              show_default=True)
@click.option("--only", type=click.Choice(["batch", "exit"]), help="One circuit only.")
@click.option("--named", is_flag=True,
              help="Name the batch files after the shape (batch-<slots>x<l1_slots>.*): one more "
                   "shape beside the configured one's batch.* (the batch circuit only).")
@click.option("--force", is_flag=True, help="Replace key files that exist already.")
def setup(slots: int, depth: int, l1_slots: int | None, assets: int, underlyings: int,
          out_dir: str, only: str | None, named: bool, force: bool) -> None:
    """Proving and verification keys for both circuits (DEVELOPMENT setup, not a ceremony)."""
    from concurrent.futures import ProcessPoolExecutor

    from prover.groth16.setup import NOT_A_CEREMONY
    from rollup.settlement.shapes import shape_stem

    if named and only == "exit":
        raise click.UsageError("--named names batch shapes: it does not go with --only exit")
    out = Path(out_dir)
    stems = {"batch": shape_stem(slots, slots if l1_slots is None else l1_slots)
             if named else "batch", "exit": "exit"}
    names = [n for n in ("batch", "exit") if (only or ("batch" if named else n)) == n]
    files = [out / f"{stems[n]}{ext}" for n in names for ext in (".r1cs", ".zkey", "_vk.json")]
    there = [str(f) for f in files if f.exists()]
    if there and not force:
        # a verification key may already be deployed: new keys would make its batches unprovable
        raise click.UsageError(f"{', '.join(there)} exist(s): pass --force to replace them (a "
                               "deployed contract keeps verifying with the old keys)")
    click.echo(f"WARNING: {NOT_A_CEREMONY}", err=True)
    out.mkdir(parents=True, exist_ok=True)
    # Each stage in a fresh process: the circuit's Python objects (GBs at 64 slots) are given
    # back to the system when its builder exits, so the setup's peak is the R1CS and the key's.
    ctx = multiprocessing.get_context("spawn")
    for name in names:
        stem = out / stems[name]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            n = pool.submit(_build_r1cs, name, slots, depth, l1_slots, assets, underlyings,
                            str(stem.with_suffix(".r1cs"))).result()
        t1 = time.perf_counter()
        if name == "batch":  # what the keys prove, checked against [state]/[batch] at start
            params = {"circuit": "batch", "slots": slots, "depth": depth, "assets": assets,
                      "underlyings": underlyings,
                      "l1_slots": slots if l1_slots is None else l1_slots, "constraints": n}
            text = json.dumps(params, indent=1) + "\n"
            _atomic(str(out / f"{stems[name]}_circuit.json"),
                    lambda p, t=text: Path(p).write_text(t))
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            pool.submit(_setup, str(stem.with_suffix(".r1cs")), str(stem.with_suffix(".zkey")),
                        str(out / f"{stems[name]}_vk.json")).result()
        click.echo(f"{name}: {n} constraints, build {t1 - t0:.1f} s, "
                   f"setup {time.perf_counter() - t1:.1f} s -> {stem.with_suffix('.zkey')}")


def _atomic(path: str, write) -> None:
    """write(tmp) then rename over PATH: a crash leaves the old file or none, never half."""
    tmp = f"{path}.tmp"
    write(tmp)
    os.replace(tmp, path)


def _build_r1cs(name: str, slots: int, depth: int, l1_slots: int | None, assets: int,
                underlyings: int, r1cs_path: str) -> int:
    from circuits.batch import build_batch_circuit
    from circuits.exit import build_exit_circuit

    cs = (build_batch_circuit(slots, depth, l1_slots=l1_slots, assets=assets,
                              underlyings=underlyings)
          if name == "batch" else build_exit_circuit(depth))
    _atomic(r1cs_path, cs.write_r1cs)  # streamed, a chunk of constraints at a time
    return cs.n_constraints


def _setup(r1cs_path: str, zkey_path: str, vk_path: str) -> None:
    from prover.formats.r1cs import read_r1cs
    from prover.formats.zkey import write_zkey
    from prover.groth16.keys import export_verification_key
    from prover.groth16.setup import dev_setup

    z = dev_setup(read_r1cs(r1cs_path))
    _atomic(zkey_path, lambda p: write_zkey(z, p))
    _atomic(vk_path, lambda p: export_verification_key(z, p))  # last: the shape is complete
