"""`python -m benchmarks ...`: the entry point for every benchmark; each writes JSON with
--json PATH. The benchmarks live beside the package, not in it: run them from a checkout."""

from __future__ import annotations

import click


@click.group("bench")
def bench() -> None:
    """Benchmarks (JSON out with --json; side by side with a peer where one exists)."""


@bench.command("field")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--quick", is_flag=True, help="Fewer iterations (a smoke run).")
def bench_field(json_path: str | None, quick: bool) -> None:
    """ns per op: Fq/Fr multiplication, G1 mixed add and double, G2 add, vs py_ecc."""
    from benchmarks import field

    field.main(json_path, quick)


def _sizes(spec: str) -> list[int]:
    """'16,18' or '2^16,2^18' -> exponents [16, 18]."""
    out = []
    for part in spec.split(","):
        part = part.strip().replace("2^", "").replace("2**", "")
        if part:
            out.append(int(part))
    return out


@bench.command("msm")
@click.option(
    "--sizes",
    default="12,14,16,18,20",
    show_default=True,
    help="log2 of the G1 point counts (comma separated).",
)
@click.option(
    "--g2-sizes",
    default="12,14,16,18",
    show_default=True,
    help="log2 of the G2 point counts; '' to skip G2.",
)
@click.option(
    "--vs/--no-vs",
    default=True,
    show_default=True,
    help="Time ffjavascript on the same inputs (needs node and node_modules).",
)
@click.option("--window", type=int, default=None, help="Force the Pippenger window size.")
@click.option("--repeats", type=int, default=2, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG of seconds vs n.")
@click.option(
    "--backend",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="cuda: device timings, transfer apart from compute (benchmarks/gpu.py).",
)
def bench_msm(sizes, g2_sizes, vs, window, repeats, json_path, plot_path, backend):
    """G1 and G2 MSM, ours vs ffjavascript (snarkjs's engine) on identical inputs."""
    from benchmarks import msm

    spec = {"msm_g1": [1 << k for k in _sizes(sizes)], "msm_g2": [1 << k for k in _sizes(g2_sizes)]}
    if backend == "cuda":
        from benchmarks import gpu
        from prover.backend import BackendUnavailable

        try:
            gpu.main_msm(spec, json_path, repeats, window)
        except BackendUnavailable as exc:
            raise click.ClickException(str(exc)) from exc
        return
    msm.main(spec, json_path, vs, plot_path, repeats, window)


@bench.command("ntt")
@click.option(
    "--sizes",
    default="12,14,16,18,20,22",
    show_default=True,
    help="log2 of the transform sizes (comma separated).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_ntt(sizes, json_path):
    """Forward and inverse NTT over Fr."""
    from benchmarks import ntt

    ntt.main(_sizes(sizes), json_path)


@bench.command("cuda-ptx")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
def bench_cuda_ptx(json_path: str | None) -> None:
    """Static (no GPU): PTX/SASS of one Fq/Fr product, Numba vs CUDA C with carry chains."""
    from benchmarks import cuda_ptx

    cuda_ptx.run(json_path)


@bench.command("engine")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--quick", is_flag=True, help="Small sizes (a smoke run).")
def bench_engine(json_path: str | None, quick: bool) -> None:
    """Orders matched/s, account updates/s with the root recomputed, liquidation scan over
    100,000 accounts, Greeks for 1,000,000 option positions."""
    from benchmarks import engine

    engine.main(json_path, quick)

@bench.command("margin")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--quick", is_flag=True, help="Small sizes (a smoke run).")
def bench_margin(json_path: str | None, quick: bool) -> None:
    """Scenario margin: Greeks for 1,000,000 positions (vs pyvolr where installed), the
    requirement of 100,000 accounts x 8 positions x 26 scenarios, 100 series revalued."""
    from benchmarks import margin

    margin.main(json_path, quick)


@bench.command("api")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--quick", is_flag=True, help="Small sizes (a smoke run).")
@click.option("--clients", default=16, show_default=True, help="Concurrent HTTP clients.")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, exists=True),
              help="Where the data folders go (the disk whose fsync counts).")
@click.option("--label", default=None, help="Tag every record (e.g. the code measured).")
@click.option("--mode", "modes", multiple=True,
              type=click.Choice(["ack", "batch", "stack", "ws", "trace"]),
              help="Run only these (repeatable; default: all). trace: where a lone order's ack "
                   "time goes.")
@click.option("--keys", type=click.Choice(["shared", "own"]), default="shared",
              show_default=True, help="Every account signs with one key, or each with its own.")
@click.option("--stages", is_flag=True,
              help="Record the batch runs' server CPU per order by stage (stages_us).")
def bench_api(json_path: str | None, quick: bool, clients: int, work_dir: str | None,
              label: str | None, modes: tuple[str, ...], keys: str, stages: bool) -> None:
    """Single-order ack p50/p99 over loopback at 1 and N clients next to this disk's fsync
    p50 and journal-commit p50, and orders/s through the batch endpoint; with and without
    signature checks; WebSocket fill and trade events after the ack (--mode ws)."""
    from benchmarks import api

    api.main(json_path, quick, clients=clients, work_dir=work_dir, label=label,
             modes=modes or api.MODES, keys=keys, stages=stages)


@bench.command("prove")
@click.option("--constraints", "sizes", default="2^12,2^14", show_default=True,
              help="Circuit sizes, comma separated: 2^k or integers.")
@click.option("--vs", type=click.Choice(["snarkjs"]), help="Also time this reference prover.")
@click.option("--repeat", default=3, show_default=True, help="Runs per prover (best is kept).")
@click.option("--setup", type=click.Choice(["auto", "snarkjs", "dev"]), default="auto",
              show_default=True,
              help="Who makes the zkey: snarkjs (ptau cached), our dev setup, or auto by size.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu",
              show_default=True, help="Our prover's MSM/NTT kernels.")
@click.option("--startup", is_flag=True,
              help="Start-up only: `import prover.cli`, time to the first kernel, whole-process "
                   "`zkprove groth16 prove` (ints and kernels) and `verify` vs snarkjs's.")
@click.option("--rapidsnark", "rapidsnark", type=click.Path(exists=True, dir_okay=False),
              help="Also time this rapidsnark `prover` binary, interleaved with ours.")
def bench_prove(sizes: str, vs: str | None, repeat: int, setup: str,
                json_path: str | None, backend: str, startup: bool,
                rapidsnark: str | None) -> None:
    """Groth16 prove: ours (process and in-process, phase split) vs the snarkjs CLI."""
    from benchmarks import prove

    if startup:
        records = prove.run_startup(prove.parse_sizes(sizes), json_path, repeat,
                                    log=lambda m: click.echo(m, err=True), setup=setup)
        prove.print_startup(records)
        return
    records = prove.run(prove.parse_sizes(sizes), vs, json_path, repeat,
                        log=lambda m: click.echo(m, err=True), setup=setup, backend=backend,
                        rapidsnark=rapidsnark)
    prove.print_records(records)


@bench.command("ptau")
@click.option("--powers", default="12,14", show_default=True,
              help="log2 of the ceremony sizes (comma separated).")
@click.option("--ops", default="prepare,contribute,verify", show_default=True,
              help="Commands to time: prepare (phase2), contribute, verify.")
@click.option("--repeat", default=1, show_default=True, help="Runs of ours (best is kept).")
@click.option("--snarkjs-max-power", default=16, show_default=True,
              help="Time snarkjs only up to this power (its prepare is slow).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_ptau(powers: str, ops: str, repeat: int, snarkjs_max_power: int,
               json_path: str | None) -> None:
    """powersoftau prepare phase2 / contribute / verify: ours vs the snarkjs CLI."""
    from benchmarks import ptau

    ptau.main(_sizes(powers), [o.strip() for o in ops.split(",") if o.strip()], repeat,
              json_path, snarkjs_max_power, log=lambda m: click.echo(m, err=True))


@bench.command("witness")
@click.option("--constraints", "sizes", default="2^10,2^12", show_default=True,
              help="Circuit sizes, comma separated: 2^k or integers.")
@click.option("--repeat", default=3, show_default=True, help="Runs per tool (best is kept).")
@click.option("--setup", type=click.Choice(["auto", "snarkjs", "dev"]), default="dev",
              show_default=True, help="Who makes the zkey both provers use.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
def bench_witness(sizes: str, repeat: int, setup: str, json_path: str | None) -> None:
    """wtns calculate and groth16 fullprove: ours vs the snarkjs CLI, whole processes."""
    from benchmarks import prove, witness

    records = witness.run(prove.parse_sizes(sizes), json_path, repeat,
                          log=lambda m: click.echo(m, err=True), setup=setup)
    witness.print_records(records)


@bench.command("batch")
@click.option("--slots", default="4", show_default=True, help="Slot counts (comma separated).")
@click.option("--l1-slots", type=int, default=1, show_default=True,
              help="L1 slots per batch (withdrawals in the benchmark batch).")
@click.option("--depth", type=int, default=16, show_default=True, help="Accounts tree depth.")
@click.option("--prove/--no-prove", default=False, show_default=True,
              help="Also set up (development keys, cached) and time a proof.")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False),
              default=".bench-keys", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_batch(slots: str, l1_slots: int, depth: int, prove: bool, keys_dir: str,
                json_path: str | None) -> None:
    """Batch circuit: constraints per slot, witness and proving seconds per batch."""
    from pathlib import Path

    from benchmarks import batch

    batch.main([int(s) for s in slots.split(",") if s.strip()], l1_slots, depth, prove,
               json_path, Path(keys_dir))


@bench.command("tree")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_tree(json_path: str | None) -> None:
    """Engine Merkle tree updates: leaves per CPU second at depths 12 and 24."""
    from benchmarks import tree  # lazy: the tree's kernels load only for this command

    tree.main(json_path)


@bench.command("slot-cost")
@click.option("--depths", default="16,24", show_default=True,
              help="Accounts tree depths (comma separated).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_slot_cost(depths: str, json_path: str | None) -> None:
    """Constraints of one trading slot by component (Merkle paths, leaves, signatures...)."""
    from benchmarks import slot_cost

    slot_cost.main([int(d) for d in depths.split(",") if d.strip()], json_path)


@bench.command("builder")
@click.option("--slots", default="4,16", show_default=True, help="Slot counts (comma separated).")
@click.option("--l1-slots", type=int, default=1, show_default=True,
              help="L1 slots per batch (withdrawals in the benchmark batches).")
@click.option("--depth", type=int, default=8, show_default=True, help="Accounts tree depth.")
@click.option("--batches", type=int, default=2, show_default=True,
              help="Batches built each way per slot count.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_builder(slots: str, l1_slots: int, depth: int, batches: int,
                  json_path: str | None) -> None:
    """Batcher: seconds per batch witness, circuit rebuilt per batch vs the kept solver."""
    from benchmarks import builder

    builder.main([int(s) for s in slots.split(",") if s.strip()], l1_slots, depth, batches,
                 json_path)


@bench.command("snapshot")
@click.option("--accounts", default="2000,20000", show_default=True,
              help="Funded accounts (comma separated).")
@click.option("--orders", type=int, default=20_000, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_snapshot(accounts: str, orders: int, json_path: str | None) -> None:
    """Sequencer snapshots: write, load and clone seconds, file bytes (pickle for reference)."""
    from benchmarks import snapshot

    snapshot.main([int(s) for s in accounts.split(",") if s.strip()], orders, json_path)


@bench.command("gas")
@click.option("--slots", default="1,2", show_default=True,
              help="Batch circuit sizes (comma separated); each needs its own key setup.")
@click.option("--chain", "chain_kind", type=click.Choice(["anvil", "embedded"]), default="anvil",
              show_default=True)
@click.option("--cache", type=click.Path(file_okay=False), default=None,
              help="Development keys are kept here [default: ~/.cache/zkderiv/keys].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--per-trade", "per_trade", default=None, metavar="SLOTS,...",
              help="Instead: gas per trade of full batches of trades at these sizes (e.g. "
                   "4,16,32,64), 4 L1 slots, a stand-in verifier key (no setup).")
def bench_gas(slots: str, chain_kind: str, cache: str | None, json_path: str | None,
              per_trade: str | None) -> None:
    """Gas with real proofs: submitBatch (1- and 2-slot), the verifier alone, deposits,
    withdraw, exodus and exit (development keys: NOT a ceremony); or, with --per-trade, gas
    per finalized trade at each batch size."""
    from benchmarks import gas

    if per_trade:
        gas.main_per_trade([int(s) for s in per_trade.split(",") if s.strip()], chain_kind,
                           json_path)
        return
    gas.main([int(s) for s in slots.split(",") if s.strip()], chain_kind, cache, json_path)


@bench.command("node")
@click.option("--seconds", default=60.0, show_default=True, help="Load duration.")
@click.option("--rate", default=0.5, show_default=True, help="Trades per second per client.")
@click.option("--clients", default=2, show_default=True)
@click.option("--slots", default=4, show_default=True, help="Batch circuit slots.")
@click.option("--depth", default=8, show_default=True, help="Accounts tree depth.")
@click.option("--provers", default=1, show_default=True, help="Prover processes.")
@click.option("--drain", default=600.0, show_default=True,
              help="Seconds after the load for the node to finalize every trade.")
@click.option("--keys-cache", default=".cache/devkeys", show_default=True,
              help="Development keys, made on first use.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_node(seconds, rate, clients, slots, depth, provers, drain, keys_cache, json_path):
    """`rollup node run` on Anvil under a sustained load: ack and finality latency, finalized
    trades per second, CPU seconds per finalized trade."""
    from benchmarks import node

    node.main(json_path, seconds, rate, clients, slots, depth, provers, drain, keys_cache)


@bench.command("settle")
@click.option("--slots", default=4, show_default=True, help="Batch circuit slots.")
@click.option("--depth", default=8, show_default=True, help="Accounts tree depth.")
@click.option("--batches", default=4, show_default=True, help="Batches proven per pool.")
@click.option("--pools", default=",".join(("local:1", "local:2", "ray:1", "ray:2")),
              show_default=True, help="KIND:WORKERS, comma separated (local or ray).")
@click.option("--target", default=40.0, show_default=True,
              help="Trades per second the model sizes the cluster for.")
@click.option("--keys-cache", default=".cache/devkeys", show_default=True,
              help="Development keys, made on first use.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def bench_settle(slots, depth, batches, pools, target, keys_cache, json_path):
    """Batches of real trades proven by the process pool and by Ray workers (proofs/s,
    trades/s), submitted in order on Anvil, and a model of N workers."""
    from benchmarks import settle

    specs = [p.strip() for p in pools.split(",") if p.strip()]
    for p in specs:
        kind, _, n = p.partition(":")
        if kind not in ("local", "ray") or not n.isdigit() or int(n) < 1:
            raise click.BadParameter(f"{p!r} is not local:N or ray:N", param_hint="--pools")
    settle.main(json_path, slots, depth, batches, specs, keys_cache, target)
