"""`rollup prover ...`: Groth16 with snarkjs's files and argument order, so scripts swap over.

    rollup prover groth16 prove <zkey> <wtns> <proof.json> <public.json> [--verbose]
    rollup prover groth16 verify <verification_key.json> <public.json> <proof.json>
    rollup prover zkey export verificationkey <zkey> <verification_key.json>
    rollup prover groth16 setup <r1cs> <ptau> <zkey>  (as snarkjs, from a prepared .ptau)
    rollup prover groth16 dev-setup <r1cs> <zkey>     (development only: not a ceremony)
    rollup prover zkey contribute <in.zkey> <out.zkey> [--name N] [-e ENTROPY]

`verify` exits 0 for a valid proof, 1 for an invalid one, 2 for malformed input (one line why).
"""

from __future__ import annotations

import time

import click

# Input errors that mean "malformed" (exit 2) rather than "invalid proof" (exit 1).
_MALFORMED = (ValueError, OSError, TypeError)


@click.group("prover")
def prover() -> None:
    """Groth16 prover and verifier compatible with snarkjs (zkey, wtns, JSON files)."""


@prover.group("groth16")
def groth16() -> None:
    """Prove and verify Groth16 proofs (BN254)."""


def print_timings(timings: dict[str, float], total: float) -> None:
    width = max(len(k) for k in timings) if timings else 10
    for phase, sec in timings.items():
        click.echo(f"  {phase:<{width}}  {sec * 1e3:9.1f} ms", err=True)
    click.echo(f"  {'total':<{width}}  {total * 1e3:9.1f} ms", err=True)


def _prove_with_progress(prove, zkey, wtns, backend):
    """A rich progress bar over the prover's phases on a terminal; plain call otherwise."""
    import sys

    from prover.groth16.prove import PHASES

    if not sys.stderr.isatty():
        return prove(zkey, wtns, backend=backend)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]prove[/bold] {task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(PHASES[0], total=len(PHASES))

        def step(phase: str, _seconds: float) -> None:
            nxt = PHASES.index(phase) + 1 if phase in PHASES else 0
            bar.update(task, advance=1, description=PHASES[nxt] if nxt < len(PHASES) else "")

        return prove(zkey, wtns, backend=backend, on_phase=step)


@groth16.command("prove")
@click.argument("zkey", type=click.Path(exists=True, dir_okay=False))
@click.argument("wtns", type=click.Path(exists=True, dir_okay=False))
@click.argument("proof_json", type=click.Path(dir_okay=False))
@click.argument("public_json", type=click.Path(dir_okay=False))
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True,
              help="MSM/NTT kernels: auto uses CUDA when a GPU is present, else the CPU.")
@click.option("--verbose", "-v", is_flag=True, help="Per-phase timings on stderr.")
def prove_cmd(zkey: str, wtns: str, proof_json: str, public_json: str, backend: str,
              verbose: bool) -> None:
    """Prove from a .zkey and a .wtns; write proof.json and public.json as snarkjs does."""
    t0 = time.perf_counter()
    from prover.backend import get_backend
    from prover.formats.snarkjs_json import dump_proof, dump_public
    from prover.groth16 import prove

    t_import = time.perf_counter() - t0
    be = get_backend(backend)
    res = _prove_with_progress(prove, zkey, wtns, be)
    dump_proof(res.proof, proof_json)
    dump_public(res.public_signals, public_json)
    if verbose:
        click.echo(f"groth16 prove (backend {backend} -> {be.name}, {be.device_name}):", err=True)
        print_timings({"imports": t_import, **res.timings}, time.perf_counter() - t0)


@groth16.command("verify")
@click.argument("vk_json", type=click.Path(dir_okay=False))
@click.argument("public_json", type=click.Path(dir_okay=False))
@click.argument("proof_json", type=click.Path(dir_okay=False))
@click.option("--verbose", "-v", is_flag=True, help="Time the check on stderr.")
@click.pass_context
def verify_cmd(ctx: click.Context, vk_json: str, public_json: str, proof_json: str,
               verbose: bool) -> None:
    """Exit 0 when the proof is valid, 1 when invalid, 2 when an input is malformed."""
    from prover.formats.snarkjs_json import load_proof, load_public, load_vk
    from prover.groth16 import verify

    t0 = time.perf_counter()
    try:
        ok = verify(load_vk(vk_json), load_public(public_json), load_proof(proof_json))
    except _MALFORMED as e:
        click.echo(f"malformed input: {e}", err=True)
        ctx.exit(2)
    if verbose:
        click.echo(f"verify: {time.perf_counter() - t0:.3f} s", err=True)
    if ok:
        click.echo("OK")
        return
    click.echo("INVALID proof", err=True)
    ctx.exit(1)


@groth16.command("setup")
@click.argument("r1cs", type=click.Path(exists=True, dir_okay=False))
@click.argument("ptau", type=click.Path(exists=True, dir_okay=False))
@click.argument("zkey_path", metavar="ZKEY", type=click.Path(dir_okay=False))
def setup_cmd(r1cs: str, ptau: str, zkey_path: str) -> None:
    """The zkey `snarkjs groth16 setup` writes (phase 2 still to contribute: delta = 1)."""
    from prover.groth16.setup import setup_file

    t0 = time.perf_counter()
    z = setup_file(r1cs, ptau, zkey_path)
    click.echo(f"{zkey_path}: {z.n_vars} wires, {z.n_public} public, domain {z.domain_size}, "
               f"circuit hash {z.cs_hash.hex()[:32]}..., {time.perf_counter() - t0:.1f} s",
               err=True)
    click.echo("phase 2 has no contribution yet: run `snarkjs zkey contribute` before use",
               err=True)


@groth16.command("dev-setup")
@click.argument("r1cs", type=click.Path(exists=True, dir_okay=False))
@click.argument("zkey_path", metavar="ZKEY", type=click.Path(dir_okay=False))
def dev_setup_cmd(r1cs: str, zkey_path: str) -> None:
    """A zkey from fresh local randomness. NOT A CEREMONY: for tests and benchmarks only."""
    from prover.groth16.setup import NOT_A_CEREMONY, dev_setup_file

    click.secho(f"WARNING: {NOT_A_CEREMONY}", fg="red", bold=True, err=True)
    t0 = time.perf_counter()
    z = dev_setup_file(r1cs, zkey_path)
    click.echo(f"{zkey_path}: {z.n_vars} wires, {z.n_public} public, domain {z.domain_size}, "
               f"{time.perf_counter() - t0:.1f} s", err=True)


@prover.group("zkey")
def zkey() -> None:
    """Operations on .zkey files."""


@zkey.command("contribute")
@click.argument("zkey_in", metavar="IN_ZKEY", type=click.Path(exists=True, dir_okay=False))
@click.argument("zkey_out", metavar="OUT_ZKEY", type=click.Path(dir_okay=False))
@click.option("--name", "-n", help="Contributor name recorded in the transcript.")
@click.option("--entropy", "-e", help="Extra entropy mixed into the OS randomness.")
def contribute_cmd(zkey_in: str, zkey_out: str, name: str | None, entropy: str | None) -> None:
    """Phase-2 contribution (snarkjs's format; `snarkjs zkey verify` checks it)."""
    from prover.groth16.contribute import contribute_file

    t0 = time.perf_counter()
    z = contribute_file(zkey_in, zkey_out, name, entropy.encode() if entropy else None)
    n = len(z.contribution_list())
    click.echo(f"{zkey_out}: contribution #{n} written, {time.perf_counter() - t0:.1f} s",
               err=True)


@zkey.group("export")
def zkey_export() -> None:
    """Export parts of a .zkey."""


@zkey_export.command("verificationkey")
@click.argument("zkey_path", metavar="ZKEY", type=click.Path(exists=True, dir_okay=False))
@click.argument("vk_json", type=click.Path(dir_okay=False))
def export_vk_cmd(zkey_path: str, vk_json: str) -> None:
    """Write the verification key of ZKEY as snarkjs's verification_key.json."""
    from prover.groth16 import export_verification_key

    export_verification_key(zkey_path, vk_json)
