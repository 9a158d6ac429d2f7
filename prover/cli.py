"""`zkprove`: snarkjs's verbs and argument order on this project's Groth16 prover (BN254).

    zkprove r1cs info
    zkprove wtns calculate | check
    zkprove groth16 setup | dev-setup (development only) | prove | fullprove | verify
    zkprove zkey contribute | beacon | verify
    zkprove zkey export verificationkey | json | solidityverifier | soliditycalldata

Each takes snarkjs's arguments in snarkjs's order (`zkprove CMD --help`; docs/prover.md lists
them); the same commands are `rollup prover ...` (rollup/cli/prover.py). Errors: one line on
stderr, exit 1 (`--debug` shows the traceback); `verify` exits 0 valid, 1 invalid, 2 malformed.
"""

from __future__ import annotations

import sys
import time

import click

# lazy: each command imports the prover's machinery (Numba kernels, file formats, the ceremony)
# when it runs, so that `zkprove --help` and `rollup --help` (which imports this module for
# `run_main`) load only click.

# Input errors that mean "malformed" (exit 2) rather than "invalid proof" (exit 1).
_MALFORMED = (ValueError, OSError, TypeError)


# --- error handling shared by the console scripts ------------------------------------------------

def one_line(exc: BaseException) -> str:
    """``error: Type: message`` on one line (typed errors name what was wrong)."""
    msg = " ".join(str(exc).split())
    if len(msg) > 500:
        msg = msg[:497] + "..."
    return f"error: {type(exc).__name__}: {msg}" if msg else f"error: {type(exc).__name__}"


def run_main(group: click.Group, args: list[str] | None = None) -> None:
    """Run a click group as a console script: one-line errors (exit 1) unless --debug."""
    argv = sys.argv[1:] if args is None else args
    debug = "--debug" in argv
    try:
        rc = group.main(args=argv, standalone_mode=False)
        # Without standalone mode click returns ctx.exit(code) as a value instead of exiting.
        if isinstance(rc, int) and not isinstance(rc, bool) and rc:
            sys.exit(rc)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        if debug:
            raise
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # one clear line unless --debug
        if debug:
            raise
        click.echo(one_line(exc), err=True)
        sys.exit(1)


# --- groth16 --------------------------------------------------------------------------------------

@click.group("groth16")
def groth16() -> None:
    """Prove and verify Groth16 proofs (BN254)."""


def print_timings(timings: dict[str, float], total: float) -> None:
    width = max(len(k) for k in timings) if timings else 10
    for phase, sec in timings.items():
        click.echo(f"  {phase:<{width}}  {sec * 1e3:9.1f} ms", err=True)
    click.echo(f"  {'total':<{width}}  {total * 1e3:9.1f} ms", err=True)


def _prove_with_progress(prove, zkey, wtns, backend, kernels=None, native=None):
    """A rich progress bar over the prover's phases on a terminal; plain call otherwise."""
    from prover.groth16.prove import PHASES

    if not sys.stderr.isatty():
        return prove(zkey, wtns, backend=backend, kernels=kernels, native=native)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]prove[/bold] {task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(PHASES[0], total=len(PHASES))

        def step(phase: str, _seconds: float) -> None:
            nxt = PHASES.index(phase) + 1 if phase in PHASES else 0
            bar.update(task, advance=1, description=PHASES[nxt] if nxt < len(PHASES) else "")

        return prove(zkey, wtns, backend=backend, kernels=kernels, native=native, on_phase=step)


class UnsatisfiedWitness(ValueError):
    """The witness does not satisfy the circuit: no proof is written."""


def check_proof_against_key(zkey_path: str, result) -> None:
    """Verify a fresh proof with the zkey's own verification key; raise when it fails.

    The zkey holds A and B but not C, so a witness cannot be checked constraint by constraint
    from it: an unsatisfying witness shows as a proof that does not verify (one pairing
    product, 10-60 ms). `--r1cs` adds the constraint-level check first.
    """
    from prover.formats.snarkjs_json import vk_from_zkey
    from prover.formats.zkey import read_zkey
    from prover.groth16.verify import pairing_equation
    from prover.kernels import native
    from prover.pure.pairing import pairing_product_is_one

    # the proof and the key are this process's own: the equation alone, no point checks, on
    # the native pairing when the prover loaded the library (~10 ms, plain ints ~60 ms)
    lib = native.load(build=False)
    product = lib.pairing_product_is_one if lib is not None else pairing_product_is_one
    vk = vk_from_zkey(read_zkey(zkey_path), with_alphabeta=False)
    if not pairing_equation(vk, result.public_signals, result.proof, product):
        raise UnsatisfiedWitness("the witness does not satisfy the circuit (the proof fails "
                                 "against the zkey's own key); no proof written. "
                                 "`zkprove wtns check <r1cs> <wtns>` names the constraint")


_BACKEND = click.option(
    "--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
    help="MSM/NTT kernels: auto uses CUDA when a GPU is present, else the CPU.")
_CHECK = click.option(
    "--check/--no-check", default=True, show_default=True,
    help="Refuse a witness that does not satisfy the circuit (the proof is verified against "
         "the zkey's key before anything is written).")
_VERBOSE = click.option("--verbose", "-v", is_flag=True, help="Per-phase timings on stderr.")
_ENGINE = click.option(
    "--engine", type=click.Choice(["auto", "ints", "native", "kernels"]), default="auto",
    show_default=True, help="auto: plain ints for small circuits on the CPU (no kernels to "
    "load), the compiled kernels above (native if they build here, else Numba's); "
    "ints/native/kernels (Numba) force one (benchmarks).")
# engine -> (prove's `kernels`, `native`)
_ENGINES = {"auto": (None, None), "ints": (False, None), "native": (True, True),
            "kernels": (True, False)}


def prove_and_write(zkey: str, witness, proof_json: str, public_json: str, backend: str,
                    check: bool, verbose: bool, t0: float, timings: dict[str, float],
                    engine: str = "auto") -> None:
    """Prove, check the proof against the zkey's key (unless --no-check), then write
    proof.json and public.json: nothing is written when a step fails."""
    from prover.formats.snarkjs_json import dump_proof, dump_public
    from prover.groth16 import prove

    # the backend name goes to prove(): a small circuit runs on ints without probing for a GPU
    res = _prove_with_progress(prove, zkey, witness, backend, *_ENGINES[engine])
    extra: dict[str, float] = {}
    if check:
        t = time.perf_counter()
        check_proof_against_key(zkey, res)
        extra["proof check"] = time.perf_counter() - t
    dump_proof(res.proof, proof_json)
    dump_public(res.public_signals, public_json)
    if verbose:
        device = f", {res.device}" if res.device else ""
        click.echo(f"groth16 (backend {backend} -> {res.engine}{device}):", err=True)
        print_timings({**timings, **res.timings, **extra}, time.perf_counter() - t0)
        if res.work:
            click.echo("  inside 'A.w, B.w, H and MSMs', thread seconds (parts overlap):",
                       err=True)
            width = max(len(k) for k in res.work)
            for part, sec in res.work.items():
                click.echo(f"    {part:<{width}}  {sec * 1e3:9.1f} ms", err=True)


@groth16.command("prove")
@click.argument("zkey", type=click.Path(exists=True, dir_okay=False))
@click.argument("wtns", type=click.Path(exists=True, dir_okay=False))
@click.argument("proof_json", type=click.Path(dir_okay=False))
@click.argument("public_json", type=click.Path(dir_okay=False))
@_BACKEND
@_CHECK
@click.option("--r1cs", "r1cs_path", type=click.Path(exists=True, dir_okay=False),
              help="Also check every constraint of this .r1cs before proving (names the first "
                   "one the witness breaks).")
@_ENGINE
@_VERBOSE
def prove_cmd(zkey: str, wtns: str, proof_json: str, public_json: str, backend: str,
              check: bool, r1cs_path: str | None, engine: str, verbose: bool) -> None:
    """Prove from a .zkey and a .wtns; write proof.json and public.json as snarkjs does."""
    t0 = time.perf_counter()
    import prover.groth16.prove  # noqa: F401 - timed as the imports

    timings = {"imports": time.perf_counter() - t0}
    if check and r1cs_path:
        from prover.formats.r1cs import read_r1cs
        from prover.formats.wtns import read_wtns
        from prover.r1cs_check import check_satisfied

        t = time.perf_counter()
        check_satisfied(read_r1cs(r1cs_path), read_wtns(wtns))
        timings["r1cs check"] = time.perf_counter() - t
    prove_and_write(zkey, wtns, proof_json, public_json, backend, check, verbose, t0, timings,
                    engine)


@groth16.command("fullprove")
@click.argument("input_json", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.argument("wasm", type=click.Path(exists=True, dir_okay=False))
@click.argument("zkey", type=click.Path(exists=True, dir_okay=False))
@click.argument("proof_json", type=click.Path(dir_okay=False))
@click.argument("public_json", type=click.Path(dir_okay=False))
@_BACKEND
@_CHECK
@_VERBOSE
def fullprove_cmd(input_json: str, wasm: str, zkey: str, proof_json: str, public_json: str,
                  backend: str, check: bool, verbose: bool) -> None:
    """Witness from circom's WASM and INPUT, then the proof: `wtns calculate` + `prove`."""
    t0 = time.perf_counter()
    import prover.groth16.prove  # noqa: F401 - timed as the imports
    from prover.formats import BN254_R, FormatError
    from prover.witness_wasm import WitnessCalculator, load_inputs

    timings = {"imports": time.perf_counter() - t0}
    t = time.perf_counter()
    wc = WitnessCalculator(wasm)
    if wc.prime != BN254_R:
        raise FormatError(f"{wasm}: compiled for the prime {wc.prime}, not BN254's scalar field "
                          "(circom --prime bn128)")
    witness = wc.calculate(load_inputs(input_json))
    timings["witness"] = time.perf_counter() - t
    prove_and_write(zkey, witness, proof_json, public_json, backend, check, verbose, t0, timings)


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
    click.echo("phase 2 has no contribution yet: run `zkey contribute` before use", err=True)


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


# --- zkey -----------------------------------------------------------------------------------------

@click.group("zkey")
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


@zkey.command("beacon")
@click.argument("zkey_in", metavar="IN_ZKEY", type=click.Path(exists=True, dir_okay=False))
@click.argument("zkey_out", metavar="OUT_ZKEY", type=click.Path(dir_okay=False))
@click.argument("beacon_hex", metavar="BEACON_HASH")
@click.argument("num_iterations_exp", metavar="NUM_ITERATIONS_EXP", type=int)
@click.option("--name", "-n", help="Contributor name recorded in the transcript.")
def beacon_cmd(zkey_in: str, zkey_out: str, beacon_hex: str, num_iterations_exp: int,
               name: str | None) -> None:
    """The final contribution from a public beacon (hex), hashed 2^NUM_ITERATIONS_EXP times:
    byte for byte the zkey `snarkjs zkey beacon` writes."""
    import re

    from prover.groth16.contribute import beacon_file, contribution_hash
    from prover.groth16.zkey_verify import format_hash

    if not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", beacon_hex):
        raise click.BadParameter("not a hexadecimal byte string", param_hint="BEACON_HASH")
    z = beacon_file(zkey_in, zkey_out, bytes.fromhex(beacon_hex), num_iterations_exp, name)
    click.echo(format_hash(contribution_hash(z), "Contribution Hash: "))


@zkey.command("verify")
@click.argument("r1cs_path", metavar="R1CS", type=click.Path(exists=True, dir_okay=False))
@click.argument("ptau_path", metavar="PTAU", type=click.Path(exists=True, dir_okay=False))
@click.argument("zkey_path", metavar="ZKEY", type=click.Path(exists=True, dir_okay=False))
def zkey_verify_cmd(r1cs_path: str, ptau_path: str, zkey_path: str) -> None:
    """Exit 0 when ZKEY is the circuit's key from PTAU through valid contributions; else
    one line naming the first check that fails (exit 1)."""
    from prover.groth16.zkey_verify import report_lines, verify_zkey

    for line in report_lines(verify_zkey(r1cs_path, ptau_path, zkey_path)):
        click.echo(line)


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


@zkey_export.command("json")
@click.argument("zkey_path", metavar="ZKEY", type=click.Path(exists=True, dir_okay=False))
@click.argument("json_path", metavar="JSON", type=click.Path(dir_okay=False))
def export_json_cmd(zkey_path: str, json_path: str) -> None:
    """Write the whole zkey as JSON in snarkjs's layout (`snarkjs zkey export json`)."""
    from prover.formats.snarkjs_json import dump_zkey_json
    from prover.formats.zkey import read_zkey

    dump_zkey_json(read_zkey(zkey_path), json_path)


def solidity_calldata(proof, public: list[int]) -> str:
    """The line `snarkjs zkey export soliditycalldata` prints: pA, pB (each Fq2 as [x1, x0],
    the EVM precompile's order), pC and the public signals, as 0x-prefixed 64-digit hex."""
    def h(v: int) -> str:
        return f'"0x{v:064x}"'

    # snarkjs prints the point at infinity as its projective (0, 1, 0) without the z
    inf1, inf2 = (0, 1), ((0, 0), (1, 0))
    (ax, ay), (cx, cy) = proof.pi_a or inf1, proof.pi_c or inf1
    (bx0, bx1), (by0, by1) = proof.pi_b or inf2
    return (f"[{h(ax)}, {h(ay)}],[[{h(bx1)}, {h(bx0)}],[{h(by1)}, {h(by0)}]],"
            f"[{h(cx)}, {h(cy)}],[{','.join(h(v) for v in public)}]")


@zkey_export.command("soliditycalldata")
@click.argument("public_json", metavar="PUBLIC", type=click.Path(exists=True, dir_okay=False))
@click.argument("proof_json", metavar="PROOF", type=click.Path(exists=True, dir_okay=False))
def export_calldata_cmd(public_json: str, proof_json: str) -> None:
    """Print verifyProof's arguments for PUBLIC and PROOF (snarkjs's argument order)."""
    from prover.formats.snarkjs_json import load_proof, load_public

    proof = load_proof(proof_json, check_curve=False)  # as snarkjs: formatting, not checking
    click.echo(solidity_calldata(proof, load_public(public_json)))


@zkey_export.command("solidityverifier")
@click.argument("zkey_path", metavar="ZKEY", type=click.Path(exists=True, dir_okay=False))
@click.argument("sol_path", metavar="VERIFIER_SOL", type=click.Path(dir_okay=False))
def export_verifier_cmd(zkey_path: str, sol_path: str) -> None:
    """Write a Solidity verifier for ZKEY with snarkjs's verifyProof ABI."""
    from prover.formats.snarkjs_json import vk_from_zkey
    from prover.formats.zkey import read_zkey
    from prover.solidity import groth16_verifier_source

    src = groth16_verifier_source(vk_from_zkey(read_zkey(zkey_path), with_alphabeta=False))
    with open(sol_path, "w", encoding="utf-8") as f:
        f.write(src)


# --- r1cs, wtns --------------------------------------------------------------------------------

@click.group("r1cs")
def r1cs() -> None:
    """Inspect .r1cs files."""


BLS12_381_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


def r1cs_info_lines(path: str) -> list[str]:
    """The facts `snarkjs r1cs info` prints, in its words and order."""
    from prover.formats import BN254_R
    from prover.formats.r1cs import read_r1cs

    c = read_r1cs(path, prime=None)
    curve = {BN254_R: "Curve: bn-128", BLS12_381_R: "Curve: bls12-381"}.get(
        c.prime, f"Unknown Curve. Prime: {c.prime}")
    return [curve, f"# of Wires: {c.n_wires}", f"# of Constraints: {c.n_constraints}",
            f"# of Private Inputs: {c.n_prv_in}", f"# of Public Inputs: {c.n_pub_in}",
            f"# of Labels: {c.n_labels}", f"# of Outputs: {c.n_pub_out}"]


@r1cs.command("info")
@click.argument("r1cs_path", metavar="R1CS", type=click.Path(exists=True, dir_okay=False))
def r1cs_info_cmd(r1cs_path: str) -> None:
    """Curve, wires, constraints, inputs, labels and outputs of a circuit."""
    for line in r1cs_info_lines(r1cs_path):
        click.echo(line)


@click.group("wtns")
def wtns() -> None:
    """Compute and check .wtns files."""


@wtns.command("calculate")
@click.argument("wasm", type=click.Path(exists=True, dir_okay=False))
@click.argument("input_json", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.argument("wtns_path", metavar="WTNS", type=click.Path(dir_okay=False))
def wtns_calculate_cmd(wasm: str, input_json: str, wtns_path: str) -> None:
    """The witness of INPUT by circom's witness generator WASM, as snarkjs writes it.

    The circuit's log() lines go to stdout, as with snarkjs.
    """
    from prover.witness_wasm import calculate_wtns

    calculate_wtns(wasm, input_json, wtns_path)


@wtns.command("check")
@click.argument("r1cs_path", metavar="R1CS", type=click.Path(exists=True, dir_okay=False))
@click.argument("wtns_path", metavar="WTNS", type=click.Path(exists=True, dir_okay=False))
def wtns_check_cmd(r1cs_path: str, wtns_path: str) -> None:
    """Exit 0 when the witness satisfies every constraint; else name the first that fails."""
    from prover.formats.r1cs import read_r1cs
    from prover.formats.wtns import read_wtns
    from prover.r1cs_check import check_satisfied

    c = read_r1cs(r1cs_path)
    check_satisfied(c, read_wtns(wtns_path, prime=c.prime))
    click.echo(f"OK: the witness satisfies all {c.n_constraints} constraints")


# --- powersoftau ---------------------------------------------------------------------------------

@click.group("powersoftau")
def powersoftau() -> None:
    """Phase 1 (powers of tau) files: snarkjs's .ptau, its verbs and arguments."""


_PTAU_VERBOSE = click.option("--verbose", "-v", is_flag=True, help="Progress on stderr.")


def _ptau_progress(verbose: bool):
    if not verbose:
        return None
    t0 = time.perf_counter()
    return lambda msg: click.echo(f"[{time.perf_counter() - t0:7.1f} s] {msg}", err=True)


def _announce_compile(*names: str) -> None:
    """One line on stderr when the kernels a command runs are not compiled yet (first use)."""
    from prover.kernels.cpu.cache import needs_compiling
    from prover.powersoftau import kernels_for

    if needs_compiling(kernels_for(*names)):
        click.echo("compiling powersoftau kernels (first use; cached for later runs, up to a "
                   "few minutes)...", err=True)


def _warn_if_prepared(path: str) -> None:
    from prover.formats.ptau import read_ptau

    if read_ptau(path).prepared:
        click.echo("warning: contributing into a file prepared for phase 2: the output has no "
                   "phase-2 sections, run `powersoftau prepare phase2` again", err=True)


def _echo_hash(h: bytes, title: str) -> None:
    from prover.groth16.zkey_verify import format_hash

    click.echo(format_hash(h, title))


@powersoftau.command("new")
@click.argument("curve")
@click.argument("power", type=int)
@click.argument("ptau_path", metavar="[PTAU]", required=False, type=click.Path(dir_okay=False))
@_PTAU_VERBOSE
def ptau_new_cmd(curve: str, power: int, ptau_path: str | None, verbose: bool) -> None:
    """Start a ceremony: PTAU (default powersOfTau<POWER>_0000.ptau) for 2^POWER, bn128."""
    from prover.powersoftau.ceremony import check_curve, new_file

    check_curve(curve)
    path = ptau_path or f"powersOfTau{power}_0000.ptau"
    _announce_compile("new")
    _echo_hash(new_file(power, path), "First Contribution Hash:")


@powersoftau.command("contribute")
@click.argument("ptau_in", metavar="PTAU", type=click.Path(exists=True, dir_okay=False))
@click.argument("ptau_out", metavar="NEW_PTAU", type=click.Path(dir_okay=False))
@click.option("--name", "-n", help="Contributor name recorded in the transcript.")
@click.option("--entropy", "-e", help="Extra entropy mixed into the OS randomness.")
@_PTAU_VERBOSE
def ptau_contribute_cmd(ptau_in: str, ptau_out: str, name: str | None, entropy: str | None,
                        verbose: bool) -> None:
    """Add a contribution from fresh randomness (`snarkjs powersoftau verify` checks it)."""
    from prover.powersoftau.ceremony import contribute_file

    _warn_if_prepared(ptau_in)
    _announce_compile("contribute")
    res = contribute_file(ptau_in, ptau_out, name, entropy, _ptau_progress(verbose))
    _echo_hash(res.response_hash, "Contribution Response Hash imported: ")
    _echo_hash(res.next_challenge, "Next Challenge Hash: ")


@powersoftau.command("beacon")
@click.argument("ptau_in", metavar="OLD_PTAU", type=click.Path(exists=True, dir_okay=False))
@click.argument("ptau_out", metavar="NEW_PTAU", type=click.Path(dir_okay=False))
@click.argument("beacon_hex", metavar="BEACON_HASH")
@click.argument("num_iterations_exp", metavar="NUM_ITERATIONS_EXP", type=int)
@click.option("--name", "-n", help="Contributor name recorded in the transcript.")
@_PTAU_VERBOSE
def ptau_beacon_cmd(ptau_in: str, ptau_out: str, beacon_hex: str, num_iterations_exp: int,
                    name: str | None, verbose: bool) -> None:
    """The final contribution from a public beacon (hex), hashed 2^NUM_ITERATIONS_EXP times:
    byte for byte the file `snarkjs powersoftau beacon` writes."""
    from prover.powersoftau.ceremony import beacon_file, parse_beacon_hex

    raw = parse_beacon_hex(beacon_hex)
    _warn_if_prepared(ptau_in)
    _announce_compile("contribute")
    res = beacon_file(ptau_in, ptau_out, raw, num_iterations_exp, name, _ptau_progress(verbose))
    _echo_hash(res.response_hash, "Contribution Response Hash imported: ")
    _echo_hash(res.next_challenge, "Next Challenge Hash: ")


@powersoftau.group("prepare")
def ptau_prepare() -> None:
    """Prepare a .ptau for a phase-2 setup."""


@ptau_prepare.command("phase2")
@click.argument("ptau_in", metavar="PTAU", type=click.Path(exists=True, dir_okay=False))
@click.argument("ptau_out", metavar="NEW_PTAU", type=click.Path(dir_okay=False))
@_PTAU_VERBOSE
def ptau_prepare_phase2_cmd(ptau_in: str, ptau_out: str, verbose: bool) -> None:
    """Add the Lagrange bases (sections 12-15) that `groth16 setup` reads: snarkjs's bytes."""
    from prover.powersoftau.lagrange import prepare_file

    _announce_compile("prepare")
    t0 = time.perf_counter()
    prepare_file(ptau_in, ptau_out, _ptau_progress(verbose))
    if verbose:
        click.echo(f"prepare phase2: {time.perf_counter() - t0:.1f} s", err=True)


@powersoftau.command("verify")
@click.argument("ptau_path", metavar="PTAU", type=click.Path(exists=True, dir_okay=False))
@_PTAU_VERBOSE
def ptau_verify_cmd(ptau_path: str, verbose: bool) -> None:
    """Exit 0 when every contribution and the file's points check out (snarkjs's checks);
    else one line naming the first that fails (exit 1)."""
    from prover.powersoftau.verify import verify_ptau

    _announce_compile("verify")
    rep = verify_ptau(ptau_path, _ptau_progress(verbose))
    for line in rep.lines[:-1]:
        click.echo(line)
    if not rep.prepared:
        click.echo("warning: this file does not contain phase2 precalculated values: run "
                   "`powersoftau prepare phase2` before a phase-2 setup", err=True)
    click.echo(rep.lines[-1])


@powersoftau.group("export")
def ptau_export() -> None:
    """Export a .ptau."""


@ptau_export.command("json")
@click.argument("ptau_path", metavar="PTAU", type=click.Path(exists=True, dir_okay=False))
@click.argument("json_path", metavar="JSON", type=click.Path(dir_okay=False))
def ptau_export_json_cmd(ptau_path: str, json_path: str) -> None:
    """The whole (prepared) .ptau as JSON, byte for byte `snarkjs powersoftau export json`."""
    from prover.powersoftau.export import export_json_file

    export_json_file(ptau_path, json_path)


# --- the console script ---------------------------------------------------------------------------

GROUPS = (groth16, zkey, r1cs, wtns, powersoftau)


@click.group("zkprove", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Groth16 (BN254) with snarkjs's files, verbs and argument order."""


for _g in GROUPS:
    cli.add_command(_g)


def main() -> None:
    run_main(cli)


if __name__ == "__main__":
    main()
