"""Shared fixtures for tests/test_contracts_*.py and tests/test_chain_*.py (no tests here).

Circuits taken through the pinned snarkjs pipeline once per session:
- `standin`: one public input x and a private w with x * w and w * w constrained, so a proof
  exists for ANY public input value: it stands in for the batch and exit circuits.
- `multi`: three public inputs, for the N-input verifier.
Chains: py-evm always, Anvil when the npm package is installed.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rollup.chain import node
from tests.support.snark import CIRCOM, ROOT, run_snarkjs

STANDIN = """pragma circom 2.0.0;
template StandIn() {
    signal input x;
    signal input w;
    signal xw;
    signal ww;
    xw <== x * w;
    ww <== w * w;
}
component main {public [x]} = StandIn();
"""

MULTI = """pragma circom 2.0.0;
template Multi() {
    signal input a;
    signal input b;
    signal input c;
    signal input w;
    signal out;
    signal t;
    t <== a * w;
    out <== t * b + c;
}
component main {public [a, b, c]} = Multi();
"""


# A long-lived node process proving with the snarkjs library (groth16.fullProve): one line of
# JSON in ({input, wasm, zkey}), one line out ({proof, publicSignals} or {error}). Saves the
# node start-up and module load of a CLI call per proof (seconds on a loaded 2-core machine).
_PROVER_JS = r"""
const snarkjs = require(process.argv[1]);
const readline = require('readline');
const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    try {
      const req = JSON.parse(line);
      const { proof, publicSignals } = await snarkjs.groth16.fullProve(req.input, req.wasm,
                                                                       req.zkey);
      process.stdout.write(JSON.stringify({ proof, publicSignals }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
    }
  });
});
rl.on('close', () => { chain.then(() => process.exit(0)); });
"""


class _NodeProver:
    def __init__(self):
        self.proc = subprocess.Popen(
            ["node", "-e", _PROVER_JS, str(ROOT / "node_modules" / "snarkjs")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def prove(self, inputs: dict, wasm: Path, zkey: Path) -> dict:
        req = {"input": {k: str(v) for k, v in inputs.items()}, "wasm": str(wasm),
               "zkey": str(zkey)}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("snarkjs prover process exited")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"snarkjs fullProve: {out['error']}")
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_prover: list[_NodeProver] = []


def node_prover() -> _NodeProver:
    if not _prover:
        _prover.append(_NodeProver())
        atexit.register(_prover[0].close)
    return _prover[0]


@dataclass
class Circuit:
    dir: Path
    name: str
    zkey: Path
    wasm: Path
    vk: Path
    _proofs: dict = field(default_factory=dict)

    def prove(self, inputs: dict) -> tuple[Path, Path]:
        """(proof.json, public.json) for `inputs` (signal -> int), cached."""
        key = json.dumps(inputs, sort_keys=True)
        if key in self._proofs:
            return self._proofs[key]
        i = len(self._proofs)
        out = node_prover().prove(inputs, self.wasm, self.zkey)
        proof, public = self.dir / f"proof{i}.json", self.dir / f"public{i}.json"
        proof.write_text(json.dumps(out["proof"]))
        public.write_text(json.dumps(out["publicSignals"]))
        self._proofs[key] = (proof, public)
        return proof, public


_cache: dict[str, Circuit] = {}


def setup_circuit(base: Path, name: str, src: str, entropy: str) -> Circuit:
    if name in _cache:
        return _cache[name]
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.circom").write_text(src)
    subprocess.run([str(CIRCOM), str(d / f"{name}.circom"), "--r1cs", "--wasm", "-l",
                    str(ROOT / "node_modules"), "-o", str(d)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    run_snarkjs("powersoftau", "new", "bn128", 4, "p0.ptau", cwd=d)
    run_snarkjs("powersoftau", "contribute", "p0.ptau", "p1.ptau", "--name=a",
                f"-e={entropy} 1", cwd=d)
    run_snarkjs("powersoftau", "prepare", "phase2", "p1.ptau", "p.ptau", cwd=d)
    run_snarkjs("groth16", "setup", f"{name}.r1cs", "p.ptau", "z0.zkey", cwd=d)
    run_snarkjs("zkey", "contribute", "z0.zkey", "z.zkey", "--name=b", f"-e={entropy} 2", cwd=d)
    run_snarkjs("zkey", "export", "verificationkey", "z.zkey", "vk.json", cwd=d)
    c = Circuit(d, name, d / "z.zkey", d / f"{name}_js" / f"{name}.wasm", d / "vk.json")
    _cache[name] = c
    return c




CHAIN_KINDS = ["py-evm", "anvil"]


def open_chain(kind: str) -> node.Chain:
    if kind == "py-evm":
        return node.embedded()
    if node.anvil_path() is None:
        pytest.skip("anvil is not installed (npm ci installs @foundry-rs/anvil-linux-amd64)")
    return node.anvil()



GAS_REPORT: dict[str, dict] = {}


# The workers of one parallel run share one id; a single process is a run of its own.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid()}-{time.time_ns()}"


def record_gas(chain_kind: str, what: str, value) -> None:
    """Add one figure to .pytest_cache/contracts_gas.json, the gas report of this run: the
    workers of a parallel run merge into it under a lock; a new run starts it afresh."""
    GAS_REPORT.setdefault(chain_kind, {})[what] = value
    out = ROOT / ".pytest_cache" / "contracts_gas.json"
    out.parent.mkdir(exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            report = json.loads(out.read_text())
        except (OSError, ValueError):
            report = {}
        if report.pop("run", None) != _RUN:
            report = {}
        for kind, figures in GAS_REPORT.items():
            report.setdefault(kind, {}).update(figures)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**report, "run": _RUN}, indent=1, sort_keys=True))
        tmp.replace(out)
