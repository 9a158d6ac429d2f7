"""A small ceremony made by snarkjs (power 3), shared by the powersoftau tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.snark import HAVE_NODE, run_snarkjs

POWER = 3
BEACON = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


@dataclass(frozen=True)
class SnarkjsCeremony:
    dir: Path
    new: Path  # powersoftau new bn128 3
    first: Path  # + contribute --name=first
    beacon: Path  # + beacon BEACON 10 --name="Final Beacon"
    prepared: Path  # + prepare phase2
    json: Path  # export json of prepared


@pytest.fixture(scope="session")
def sj(tmp_path_factory) -> SnarkjsCeremony:
    if not HAVE_NODE:
        pytest.skip("node_modules/.bin/snarkjs is absent")
    d = tmp_path_factory.mktemp("sjptau")
    c = SnarkjsCeremony(d, d / "p0.ptau", d / "p1.ptau", d / "p2.ptau", d / "p3.ptau",
                        d / "p3.json")
    run_snarkjs("powersoftau", "new", "bn128", POWER, c.new, cwd=d)
    run_snarkjs("powersoftau", "contribute", c.new, c.first, "--name=first", "-e=some entropy",
                cwd=d)
    run_snarkjs("powersoftau", "beacon", c.first, c.beacon, BEACON, 10, "--name=Final Beacon",
                cwd=d)
    run_snarkjs("powersoftau", "prepare", "phase2", c.beacon, c.prepared, cwd=d)
    run_snarkjs("powersoftau", "export", "json", c.prepared, c.json, cwd=d)
    return c
