"""`rollup demo`: the system's story as far as it is built, on the embedded defaults.

Three traders use the engine: one deposit arrives through the L1 queue, one trader transfers
collateral to another, one withdraws. Each accepted request becomes a one-slot batch: the builder
turns it into a witness of the batch circuit (accounts tree of depth 4), our Groth16 prover proves
it, our verifier checks it, and a verifier contract on the embedded py-evm chain checks it again.
The proving key comes from the development setup (NOT a ceremony) and is cached between runs.
Not in the story yet: trading, margin and liquidation inside batches, Rollup.submitBatch and the
escape hatch (the engine and contracts exist; the batch circuit does not prove those types yet).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from pathlib import Path

import click

DEPTH = 4
SLOTS = 1
CHAIN_ID = 31337
ROLLUP_ADDRESS = 0x5FBDB2315678AFECB367F032D93F642F64180AA3


def _cached_keys(cache: Path, console):
    """(zkey path, vk, constraints) for the batch circuit, set up once per circuit version."""
    from circuits.batch import build_batch_circuit
    from prover.formats.zkey import write_zkey
    from prover.groth16.keys import export_verification_key
    from prover.groth16.setup import dev_setup

    cs = build_batch_circuit(SLOTS, DEPTH)
    r1cs = cs.to_r1cs()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / "batch.r1cs"
    cs.write_r1cs(tmp)
    tag = hashlib.sha256(tmp.read_bytes()).hexdigest()[:16]
    zkey = cache / f"batch-{SLOTS}x{DEPTH}-{tag}.zkey"
    vk = cache / f"batch-{SLOTS}x{DEPTH}-{tag}_vk.json"
    if not zkey.exists():
        # dev_setup itself logs the NOT-A-CEREMONY warning
        t = time.perf_counter()
        z = dev_setup(r1cs)
        write_zkey(z, zkey.with_suffix(".tmp"))
        zkey.with_suffix(".tmp").replace(zkey)
        export_verification_key(z, vk)
        console.print(f"setup: {r1cs.n_constraints:,} constraints in "
                      f"{time.perf_counter() - t:.1f} s -> {zkey}")
    else:
        console.print(f"setup: cached keys {zkey}")
    return zkey, vk, r1cs.n_constraints


@click.command("demo")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the summary here.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              default=str(Path.home() / ".cache" / "zkderiv" / "demo"), show_default=True,
              help="Where the development keys are kept between runs.")
def demo(json_path: str | None, cache_dir: str) -> None:
    """Run the demo on the embedded defaults (py-evm chain, CPU prover, small sizes)."""
    from rich.console import Console
    from rich.table import Table

    from circuits import eddsa_public_key
    from circuits.babyjubjub import pack_point
    from prover.formats.snarkjs_json import load_vk
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify
    from rollup.batch import build_batch
    from rollup.chain.contracts import call, transact
    from rollup.chain.layout import ASSET_TOKEN, KIND_DEPOSIT, QueueEntry
    from rollup.chain.node import embedded
    from rollup.chain.verifier import deploy_verifier, proof_evm
    from rollup.engine.sequencer import Sequencer
    from rollup.state.state import State
    from rollup.transactions import Deposit, Domain, Transfer, Withdrawal

    console = Console()
    t_start = time.perf_counter()
    zkey, vk_path, n_constraints = _cached_keys(Path(cache_dir), console)
    vk = load_vk(vk_path)

    dom = Domain(CHAIN_ID, ROLLUP_ADDRESS)
    keys = {name: hashlib.sha256(name.encode()).digest() for name in ("alice", "bob", "carol")}
    pks = {n: eddsa_public_key(k) for n, k in keys.items()}
    seq = Sequencer(State(account_depth=DEPTH), dom)
    # genesis: alice and bob are already in the state
    seq.submit(Deposit(0, pks["alice"], 0))
    seq.submit(Deposit(1, pks["bob"], 1_000))
    far = 10**9
    story = [
        ("carol deposits 500 (L1 queue)", Deposit(2, pks["carol"], 500),
         [QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, 0, b"\x22" * 20, 500, pack_point(pks["carol"]))]),
        ("bob transfers 300 to carol", Transfer(1, 2, 300, 0, far).signed(keys["bob"], dom), []),
        ("carol withdraws 100 to L1", Withdrawal(2, 100, 0xABC, 0, far).signed(keys["carol"], dom),
         []),
    ]
    table = Table(title=f"Batches (1 slot, accounts depth {DEPTH}, {n_constraints:,} constraints)")
    for col in ("batch", "request", "new root", "witness s", "prove s", "verify", "on-chain gas"):
        table.add_column(col)
    summary = {"constraints_per_batch": n_constraints, "batches": []}
    queue_hash = bytes(32)
    with embedded() as chain:
        verifier = deploy_verifier(chain, vk)
        for number, (what, req, queue) in enumerate(story, start=1):
            pre = pickle.loads(pickle.dumps(seq))
            seq.submit(req)
            t = time.perf_counter()
            batch = build_batch(pre, [req], slots=SLOTS, batch_number=number, queue=queue,
                                queue_before=queue_hash)
            if batch.new_root != seq.state.root:
                raise click.ClickException("batch root differs from the engine's")
            witness = batch.circuit().witness()
            t_wit = time.perf_counter() - t
            t = time.perf_counter()
            res = prove(zkey, witness)
            t_prove = time.perf_counter() - t
            ok = verify(vk, res.public_signals, res.proof)
            fn = verifier.functions.verifyProof(proof_evm(res.proof), res.public_signals[0])
            on_chain = call(fn)
            gas = transact(chain, fn, gas=2_000_000).gas_used
            if not (ok and on_chain and res.public_signals[0] == batch.public_input):
                raise click.ClickException(f"batch {number} did not verify")
            queue_hash = batch.queue_after
            table.add_row(str(number), what, f"{batch.new_root:#x}"[:14] + "…", f"{t_wit:.1f}",
                          f"{t_prove:.1f}", "ok", f"{gas:,}")
            summary["batches"].append({"batch": number, "request": what,
                                       "old_root": hex(batch.old_root),
                                       "new_root": hex(batch.new_root),
                                       "witness_seconds": round(t_wit, 2),
                                       "proving_seconds": round(t_prove, 2),
                                       "verify_gas": gas})
    console.print(table)
    total = time.perf_counter() - t_start
    summary["seconds"] = round(total, 1)
    console.print(f"[green]demo finished in {total:.0f} s[/green]: three requests accepted by the "
                  "engine, each proven as a batch that our verifier and an on-chain verifier "
                  "accept. Trading inside batches, Rollup settlement and exodus come next.")
    if json_path:
        Path(json_path).write_text(json.dumps(summary, indent=2) + "\n")
