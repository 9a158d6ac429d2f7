"""`rollup prover ...`: the `zkprove` commands (prover/cli.py) under the rollup CLI.

    rollup prover groth16 prove <zkey> <wtns> <proof.json> <public.json> [--verbose]
    rollup prover groth16 verify <verification_key.json> <public.json> <proof.json>
    rollup prover zkey export verificationkey <zkey> <verification_key.json>
    ...

See prover/cli.py for the list; `zkprove X` and `rollup prover X` are the same command.
"""

from __future__ import annotations

import click

from prover.cli import GROUPS, print_timings

__all__ = ["print_timings", "prover"]


@click.group("prover")
def prover() -> None:
    """Groth16 prover and verifier compatible with snarkjs (zkey, wtns, JSON files)."""


for _g in GROUPS:
    prover.add_command(_g)
