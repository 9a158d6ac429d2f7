"""A tiny circom circuit taken through the pinned snarkjs pipeline (ptau -> setup -> contribute
-> witness -> prove), built once per process (the ``snark`` fixture in tests/conftest.py), and
py_ecc helpers for comparing points."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from prover.formats.snarkjs_json import dump_proof, dump_public

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "node_modules" / ".bin"
SNARKJS = BIN / "snarkjs"
CIRCOM = BIN / "circom2"
HAVE_NODE = SNARKJS.exists() and CIRCOM.exists() and shutil.which("node") is not None

_skip_no_node = pytest.mark.skipif(not HAVE_NODE, reason="node_modules/.bin/snarkjs is absent")


def needs_node(fn):
    """Mark a test as needing the pinned node tools; skip it only when they are absent."""
    return pytest.mark.node(_skip_no_node(fn))

# out = a*b*c + 7a - 3 with a public; the extra sq constraint repeats a row on purpose.
CIRCUIT = """pragma circom 2.0.0;

template Mul3() {
    signal input a;
    signal input b;
    signal input c;
    signal output out;
    signal ab;
    ab <== a * b;
    out <== ab * c + 7 * a - 3;
    signal sq;
    sq <== c * c;
    sq === c * c;
}

component main {public [a]} = Mul3();
"""
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
INPUT = {"a": 3, "b": 5, "c": R - 7}
PTAU_POWER = 4


@dataclass(frozen=True)
class Snark:
    dir: Path
    r1cs: Path
    wasm: Path
    input: Path
    wtns: Path
    ptau0: Path  # `powersoftau new`
    ptau1: Path  # after one contribution
    ptau: Path  # prepared for phase 2 (sections 12-15)
    zkey0: Path  # `groth16 setup` output
    zkey: Path  # after one phase-2 contribution
    vk: Path
    proof: Path
    public: Path


def run_snarkjs(*args: str | Path, cwd: Path) -> str:
    res = subprocess.run([str(SNARKJS), *map(str, args)], cwd=cwd, capture_output=True,
                         text=True, timeout=300)
    if res.returncode != 0:
        raise RuntimeError(f"snarkjs {args[:2]} failed:\n{res.stdout}\n{res.stderr}")
    return res.stdout + res.stderr


_cache: dict[str, Snark] = {}


def build(base: Path) -> Snark:
    if "snark" in _cache:
        return _cache["snark"]
    d = base
    (d / "mul.circom").write_text(CIRCUIT)
    (d / "input.json").write_text(json.dumps({k: str(v) for k, v in INPUT.items()}))
    subprocess.run([str(CIRCOM), str(d / "mul.circom"), "--r1cs", "--wasm", "-l",
                    str(ROOT / "node_modules"), "-o", str(d)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    s = Snark(d, d / "mul.r1cs", d / "mul_js" / "mul.wasm", d / "input.json", d / "mul.wtns",
              d / "pot0.ptau", d / "pot1.ptau", d / "pot.ptau", d / "mul0.zkey", d / "mul.zkey",
              d / "vk.json", d / "proof.json", d / "public.json")
    run_snarkjs("powersoftau", "new", "bn128", PTAU_POWER, s.ptau0, cwd=d)
    run_snarkjs("powersoftau", "contribute", s.ptau0, s.ptau1, "--name=first",
                "-e=test entropy one", cwd=d)
    run_snarkjs("powersoftau", "prepare", "phase2", s.ptau1, s.ptau, cwd=d)
    run_snarkjs("groth16", "setup", s.r1cs, s.ptau, s.zkey0, cwd=d)
    run_snarkjs("zkey", "contribute", s.zkey0, s.zkey, "--name=c1", "-e=test entropy two",
                cwd=d)
    run_snarkjs("zkey", "export", "verificationkey", s.zkey, s.vk, cwd=d)
    run_snarkjs("wtns", "calculate", s.wasm, s.input, s.wtns, cwd=d)
    run_snarkjs("groth16", "prove", s.zkey, s.wtns, s.proof, s.public, cwd=d)
    _cache["snark"] = s
    return s



# --- py_ecc helpers (slow reference arithmetic; tiny sizes only) ---------------------------

def pe_g1(p):
    """(x, y) | None -> py_ecc optimized_bn128 Jacobian point."""
    from py_ecc.optimized_bn128 import FQ, Z1
    return Z1 if p is None else (FQ(p[0]), FQ(p[1]), FQ.one())


def pe_g2(p):
    from py_ecc.optimized_bn128 import FQ2, Z2
    return Z2 if p is None else (FQ2(list(p[0])), FQ2(list(p[1])), FQ2.one())


def on_curve_g1(p) -> bool:
    from py_ecc.optimized_bn128 import b, is_on_curve
    return p is None or is_on_curve(pe_g1(p), b)


def on_curve_g2(p) -> bool:
    from py_ecc.optimized_bn128 import b2, is_on_curve
    return p is None or is_on_curve(pe_g2(p), b2)


def pe_eq(a, b) -> bool:
    from py_ecc.optimized_bn128 import eq
    return eq(a, b)


def pe_sum(points):
    from py_ecc.optimized_bn128 import add
    it = iter(points)
    acc = next(it)
    for p in it:
        acc = add(acc, p)
    return acc


def snarkjs_verify(vk, public, proof, cwd) -> bool:
    res = subprocess.run([str(SNARKJS), "groth16", "verify", str(vk), str(public), str(proof)],
                         cwd=cwd, capture_output=True, text=True, timeout=120)
    return res.returncode == 0 and "OK" in res.stdout


def write_pair(d, name, proof, public):
    p, q = d / f"{name}_proof.json", d / f"{name}_public.json"
    dump_proof(proof, p)
    dump_public(public, q)
    return p, q


def tiny_key(path: Path, k: int) -> Path:
    """A real zkey (and its vk beside) of a one-constraint circuit (x^k = y differs per k)."""
    from prover.formats.r1cs import R1CS
    from prover.formats.zkey import write_zkey
    from prover.groth16.keys import export_verification_key
    from prover.groth16.setup import dev_setup

    r1 = R1CS.from_constraints([({2: 1}, {2: k}, {1: 1})], n_wires=3, n_pub_out=1, n_pub_in=0,
                               n_prv_in=1)
    z = dev_setup(r1)
    write_zkey(z, path)
    export_verification_key(z, path.with_name(path.stem + "_vk.json"))
    return path
