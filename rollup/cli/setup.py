"""`rollup setup --slots N --depth D [--l1-slots Q] --out DIR`: batch and exit circuit keys.

Writes ``batch.r1cs``, ``batch.zkey``, ``batch_vk.json``, ``exit.r1cs``, ``exit.zkey``,
``exit_vk.json`` (snarkjs formats). The keys come from the development setup
(`prover.groth16.setup.dev_setup`): one process drew the toxic waste, so they are for tests and
demos only, never for anything of value.
"""

from __future__ import annotations

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
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="keys",
              show_default=True)
@click.option("--only", type=click.Choice(["batch", "exit"]), help="One circuit only.")
def setup(slots: int, depth: int, l1_slots: int | None, assets: int, out_dir: str,
          only: str | None) -> None:
    """Proving and verification keys for both circuits (DEVELOPMENT setup, not a ceremony)."""
    from circuits.batch import build_batch_circuit
    from circuits.exit import build_exit_circuit
    from prover.formats.zkey import write_zkey
    from prover.groth16.keys import export_verification_key
    from prover.groth16.setup import NOT_A_CEREMONY, dev_setup

    click.echo(f"WARNING: {NOT_A_CEREMONY}", err=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    builders = {"batch": lambda: build_batch_circuit(slots, depth, l1_slots=l1_slots,
                                                     assets=assets),
                "exit": lambda: build_exit_circuit(depth)}
    for name, build in builders.items():
        if only and name != only:
            continue
        t0 = time.perf_counter()
        cs = build()
        r1cs = cs.to_r1cs()
        cs.write_r1cs(out / f"{name}.r1cs")
        t1 = time.perf_counter()
        z = dev_setup(r1cs)
        write_zkey(z, out / f"{name}.zkey")
        export_verification_key(z, out / f"{name}_vk.json")
        click.echo(f"{name}: {cs.n_constraints} constraints, build {t1 - t0:.1f} s, "
                   f"setup {time.perf_counter() - t1:.1f} s -> {out / (name + '.zkey')}")
