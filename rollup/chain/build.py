"""Compile contracts/*.sol with the pinned solc-js and write contracts/build/<Name>.json.

    python -m rollup.chain.build            # rewrite the committed artifacts
    python -m rollup.chain.build --check    # recompile and compare, exit 1 on any difference

The compiler is the npm package `solc` in node_modules (solc-js, the Emscripten build), driven
through its standard-JSON interface with a fixed input (`standard_input`): optimizer on with a
fixed number of runs, a fixed EVM version, and no metadata hash appended to the bytecode, so the
bytes depend only on the sources and the compiler. Only this module needs node; the rest of the
Python side reads the JSON artifacts (`rollup.chain.artifacts`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
BUILD = CONTRACTS / "build"
SOLC_JS = ROOT / "node_modules" / "solc"

OPTIMIZER_RUNS = 10_000  # verify/submit are called far more often than deployed
# cancun: transient storage (EIP-1153) for the reentrancy lock; py-evm and Anvil both run it
EVM_VERSION = "cancun"

# solc-js's wrapper: standard JSON on stdin, standard JSON on stdout, version on stderr.
_DRIVER = """
const solc = require(process.argv[1]);
let s = '';
process.stdin.on('data', d => { s += d; });
process.stdin.on('end', () => {
  process.stdout.write(solc.compile(s));
  process.stderr.write(solc.version());
});
"""


def have_solc() -> bool:
    return (SOLC_JS / "package.json").exists() and shutil.which("node") is not None


def sources() -> dict[str, Path]:
    """Every .sol file under contracts/ (test helpers in contracts/test/ included), by unit name."""
    return {p.relative_to(CONTRACTS).as_posix(): p for p in sorted(CONTRACTS.rglob("*.sol"))
            if "build" not in p.relative_to(CONTRACTS).parts}


def standard_input(srcs: dict[str, Path]) -> dict:
    return {
        "language": "Solidity",
        "sources": {name: {"content": path.read_text()} for name, path in srcs.items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "metadata": {"bytecodeHash": "none", "appendCBOR": False},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object",
                                            "evm.deployedBytecode.object"]}},
        },
    }


class CompileError(RuntimeError):
    pass


def compile_all() -> dict[str, dict]:
    """Name -> artifact dict for every contract in contracts/."""
    srcs = sources()
    res = subprocess.run(["node", "-e", _DRIVER, str(SOLC_JS)],
                         input=json.dumps(standard_input(srcs)), capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    if res.returncode != 0:
        raise CompileError(f"solc-js failed: {res.stderr.strip()}")
    out = json.loads(res.stdout)
    version = res.stderr.strip()
    errors = [e for e in out.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompileError("\n".join(e["formattedMessage"] for e in errors))
    arts: dict[str, dict] = {}
    for unit, contracts in out["contracts"].items():
        src_sha = hashlib.sha256(srcs[unit].read_bytes()).hexdigest()
        for name, c in contracts.items():
            if not c["evm"]["bytecode"]["object"]:
                continue  # interfaces and abstract contracts
            if name in arts:
                raise CompileError(f"contract name {name} is defined twice")
            arts[name] = {
                "contractName": name,
                "sourceName": unit,
                "sourceSha256": src_sha,
                "compiler": {"name": "solc-js", "version": version,
                             "settings": standard_input({})["settings"]},
                "abi": c["abi"],
                "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
            }
    return arts


def sources_by_contract() -> dict[str, str]:
    """Contract name -> its source path relative to contracts/, from the committed artifacts."""
    return {p.stem: json.loads(p.read_text())["sourceName"] for p in BUILD.glob("*.json")}


def render(art: dict) -> str:
    return json.dumps(art, indent=1, sort_keys=True) + "\n"


def write(arts: dict[str, dict]) -> None:
    BUILD.mkdir(exist_ok=True)
    for old in BUILD.glob("*.json"):
        if old.stem not in arts:
            old.unlink()
    for name, art in arts.items():
        (BUILD / f"{name}.json").write_text(render(art))


def diff(arts: dict[str, dict]) -> list[str]:
    """Names whose committed artifact differs from `arts` (or is missing or extra)."""
    bad = []
    committed = {p.stem for p in BUILD.glob("*.json")}
    for name in sorted(committed | set(arts)):
        path = BUILD / f"{name}.json"
        if name not in arts or not path.exists() or path.read_text() != render(arts[name]):
            bad.append(name)
    return bad


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    arts = compile_all()
    if "--check" in argv:
        bad = diff(arts)
        for name in bad:
            print(f"out of date: contracts/build/{name}.json", file=sys.stderr)
        return 1 if bad else 0
    write(arts)
    for name in sorted(arts):
        size = (len(arts[name]["deployedBytecode"]) - 2) // 2
        print(f"{name}: {size} bytes runtime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
