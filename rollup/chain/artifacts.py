"""Compiled contracts, read from the committed JSON in contracts/build/ (no node needed).

`python -m rollup.chain.build` writes them; tests/contracts/test_build.py checks they match a
fresh compile.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from eth_utils import function_abi_to_4byte_selector

BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str  # creation code, 0x-hex
    deployed_bytecode: str
    compiler_version: str
    source_sha256: str


@functools.cache
def load(name: str) -> Artifact:
    path = BUILD_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no artifact {path}; run `python -m rollup.chain.build`")
    d = json.loads(path.read_text())
    return Artifact(d["contractName"], d["abi"], d["bytecode"], d["deployedBytecode"],
                    d["compiler"]["version"], d["sourceSha256"])


def names() -> list[str]:
    return sorted(p.stem for p in BUILD_DIR.glob("*.json"))


@functools.cache
def error_abis() -> dict[bytes, dict]:
    """4-byte selector -> error ABI entry, over every artifact plus Error(string)/Panic(uint256)."""
    out: dict[bytes, dict] = {}
    std = [{"type": "error", "name": "Error", "inputs": [{"name": "reason", "type": "string"}]},
           {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]}]
    entries = std + [e for n in names() for e in load(n).abi if e["type"] == "error"]
    for e in entries:
        out[function_abi_to_4byte_selector(e)] = e
    return out
