"""`zkprove wtns calculate` and `zkprove groth16 fullprove` (prover/witness_wasm.py): circom's
witness generator run in-process, compared byte for byte with `snarkjs wtns calculate` on
circuits of several shapes (zero, one and many public signals, 2-D array inputs, log, assert)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from prover.errors import CircuitInputError
from prover.witness_wasm import (
    WitnessCalculator,
    calculate_wtns,
    fnv_hash,
    load_inputs,
    parse_value,
    qualify,
)
from tests.support.snark import CIRCOM, ROOT, SNARKJS, R, needs_node, run_snarkjs, snarkjs_verify

# 2-D private input, one public input, five public signals (out + sums[3] are outputs), a
# boolean constraint, a log() line and an assert the constraints do not state.
SHAPES = """pragma circom 2.0.0;

template Shapes(n) {
    signal input x[n][2];
    signal input k;
    signal input flag;
    signal output out;
    signal output sums[n];
    for (var i = 0; i < n; i++) {
        sums[i] <== x[i][0] * x[i][1] + k;
    }
    flag * (flag - 1) === 0;
    log("k", k, "flag", flag);
    assert(k != 13);
    signal t;
    t <== sums[0] * flag;
    out <== t + k;
}

component main {public [k]} = Shapes(3);
"""

# No public signal at all: no public input, no output.
NOPUB = """pragma circom 2.0.0;

template NoPub() {
    signal input a;
    signal input b;
    signal c;
    c <== a * b;
    signal d;
    d <== c * b;
}

component main = NoPub();
"""

GOOD_INPUTS = [
    {"x": [[1, 2], [3, "4"], ["0x10", "-5"]], "k": "7", "flag": 1},
    {"x": [[str(R - 1), str(R + 3)], [0, 0], [" 12 ", "0b101"]], "k": -2, "flag": "0"},
    {"k": "0o17", "x": [["", True], [False, 9007199254740991], [1, 1]], "flag": 0},
]


@dataclass(frozen=True)
class Compiled:
    dir: Path
    wasm: Path
    r1cs: Path
    zkey: Path
    vk: Path


def compile_circuit(d: Path, name: str, source: str, ptau: Path) -> Compiled:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.circom").write_text(source)
    subprocess.run([str(CIRCOM), str(d / f"{name}.circom"), "--r1cs", "--wasm", "-o", str(d)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    c = Compiled(d, d / f"{name}_js" / f"{name}.wasm", d / f"{name}.r1cs", d / f"{name}.zkey",
                 d / f"{name}_vk.json")
    run_snarkjs("groth16", "setup", c.r1cs, ptau, c.zkey, cwd=d)
    run_snarkjs("zkey", "export", "verificationkey", c.zkey, c.vk, cwd=d)
    return c


@pytest.fixture(scope="module")
def circuits(snark, tmp_path_factory):  # noqa: F811 - the session's snarkjs circuit
    base = tmp_path_factory.mktemp("wasm")
    return {"shapes": compile_circuit(base / "shapes", "shapes", SHAPES, snark.ptau),
            "nopub": compile_circuit(base / "nopub", "nopub", NOPUB, snark.ptau)}


def zkprove(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "prover.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def snarkjs_wtns(wasm, inp, out, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(SNARKJS), "wtns", "calculate", str(wasm), str(inp), str(out)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


# --- the input rules, without a circuit --------------------------------------------------------

def test_fnv_hash_is_circoms():
    # FNV-1a 64 of "main.in" style names; the empty name is the offset basis
    assert fnv_hash("") == (0xCBF29CE4, 0x84222325)
    h = 0xCBF29CE484222325
    for ch in b"seed":
        h = ((h ^ ch) * 0x100000001B3) % 2**64
    assert fnv_hash("seed") == (h >> 32, h & 0xFFFFFFFF)


def test_parse_value_follows_bigint():
    assert parse_value("123", "a") == 123
    assert parse_value(" -7\n", "a") == -7
    assert parse_value("0xfF", "a") == 255 and parse_value("0X10", "a") == 16
    assert parse_value("0o17", "a") == 15 and parse_value("0b101", "a") == 5
    assert parse_value("", "a") == 0 and parse_value(True, "a") == 1
    assert parse_value(3.0, "a") == 3 and parse_value(-(2**53 - 1), "a") == -(2**53 - 1)
    for bad in ("1.5", "1e3", "-0x10", "+0b1", "12a", "0x", None, 1.5, {"a": 1}):
        with pytest.raises(CircuitInputError):
            parse_value(bad, "a")
    with pytest.raises(CircuitInputError, match="2\\^53"):  # JSON numbers lose precision
        parse_value(2**53 + 1, "a")


def test_qualify_names_nested_inputs_as_circom():
    assert qualify({"a": 1, "b": [[1, 2]]}) == {"a": 1, "b": [[1, 2]]}
    assert qualify({"p": {"x": 1, "y": [2, 3]}}) == {"p.x": 1, "p.y": [2, 3]}
    assert qualify({"ps": [{"x": 1}, {"x": 2}]}) == {"ps[0].x": 1, "ps[1].x": 2}
    with pytest.raises(CircuitInputError, match="mixed"):
        qualify({"a": [1, {"x": 2}]})


def test_load_inputs_rejects_non_objects(tmp_path):
    for text in ("[1, 2]", "{", "3"):
        p = tmp_path / "in.json"
        p.write_text(text)
        with pytest.raises(CircuitInputError):
            load_inputs(p)


def test_not_a_wasm_is_a_format_error(tmp_path):
    from prover.formats import FormatError

    p = tmp_path / "x.wasm"
    p.write_bytes(b"r1cs\x01\x00\x00\x00")
    with pytest.raises(FormatError, match="not a WebAssembly module"):
        WitnessCalculator(p)
    p.write_bytes(b"\0asm\x01\x00\x00\x00")  # a valid, empty module: not circom's
    with pytest.raises(FormatError, match="not a circom 2 witness generator"):
        WitnessCalculator(p)


# --- against snarkjs ---------------------------------------------------------------------------

@needs_node
def test_wtns_calculate_matches_fixture(snark, tmp_path):  # noqa: F811
    out = tmp_path / "ours.wtns"
    res = zkprove("wtns", "calculate", snark.wasm, snark.input, out)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == snark.wtns.read_bytes()


@needs_node
@pytest.mark.parametrize("case", range(len(GOOD_INPUTS)))
def test_wtns_calculate_matches_snarkjs(circuits, tmp_path, case):
    c = circuits["shapes"]
    inp = tmp_path / "input.json"
    inp.write_text(json.dumps(GOOD_INPUTS[case]))
    theirs, ours = tmp_path / "theirs.wtns", tmp_path / "ours.wtns"
    ref = snarkjs_wtns(c.wasm, inp, theirs, tmp_path)
    assert ref.returncode == 0, ref.stderr
    res = zkprove("wtns", "calculate", c.wasm, inp, ours)
    assert res.returncode == 0, res.stderr
    assert ours.read_bytes() == theirs.read_bytes()
    # circom's log() lines on stdout, as snarkjs prints them ("k 7 flag 1")
    assert res.stdout.splitlines() == [ln for ln in ref.stdout.splitlines() if ln.startswith("k ")]
    ok = zkprove("wtns", "check", c.r1cs, ours)
    assert ok.returncode == 0, ok.stderr


@needs_node
def test_wtns_calculate_no_public_signals(circuits, tmp_path):
    c = circuits["nopub"]
    inp = tmp_path / "input.json"
    inp.write_text('{"a": "3", "b": "11"}')
    theirs, ours = tmp_path / "theirs.wtns", tmp_path / "ours.wtns"
    assert snarkjs_wtns(c.wasm, inp, theirs, tmp_path).returncode == 0
    calculate_wtns(c.wasm, inp, ours)
    assert ours.read_bytes() == theirs.read_bytes()


BAD_INPUTS = [  # (input, words of snarkjs's message that ours carries too, our error type)
    ({"x": [[1, 2], [3, 4], [5]], "k": 1, "flag": 1},
     "Not enough values for input signal x", "CircuitInputError"),
    ({"x": [[1, 2], [3, 4], [5, 6, 7]], "k": 1, "flag": 1},
     "Too many values for input signal x", "CircuitInputError"),
    ({"x": [[1, 2], [3, 4], [5, 6]], "flag": 1},
     "Not all inputs have been set. Only 7 out of 8", "CircuitInputError"),
    ({"x": [[1, 2], [3, 4], [5, 6]], "k": 1, "flag": 1, "zz": 5},
     "Too many values for input signal zz", "CircuitInputError"),
    ({"x": [[1, 2], [3, 4], [5, 6]], "k": 13, "flag": 1},
     "Assert Failed. Error in template Shapes_0 line: 14", "WitnessCalculationError"),
    ({"x": [[1, 2], [3, 4], [5, 6]], "k": 1, "flag": 2},
     "Assert Failed. Error in template Shapes_0 line: 12", "WitnessCalculationError"),
]


@needs_node
@pytest.mark.parametrize("case", range(len(BAD_INPUTS)))
def test_wtns_calculate_errors_like_snarkjs(circuits, tmp_path, case):
    c = circuits["shapes"]
    doc, words, kind = BAD_INPUTS[case]
    inp = tmp_path / "input.json"
    inp.write_text(json.dumps(doc))
    ref = snarkjs_wtns(c.wasm, inp, tmp_path / "theirs.wtns", tmp_path)
    assert ref.returncode != 0 and words in ref.stderr + ref.stdout, ref.stderr
    out = tmp_path / "ours.wtns"
    res = zkprove("wtns", "calculate", c.wasm, inp, out)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines == [f"error: {kind}: {words}"], res.stderr
    assert not out.exists()


@needs_node
def test_wtns_calculate_malformed_files(circuits, tmp_path):
    c = circuits["shapes"]
    inp = tmp_path / "input.json"
    for text in ("[1]", "{not json", '{"x": [[1, 2], [3, 4], [5, 6]], "k": "1.5", "flag": 1}'):
        inp.write_text(text)
        res = zkprove("wtns", "calculate", c.wasm, inp, tmp_path / "o.wtns")
        assert res.returncode == 1 and res.stderr.startswith("error: CircuitInputError: ")
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    inp.write_text(json.dumps(GOOD_INPUTS[0]))
    res = zkprove("wtns", "calculate", c.r1cs, inp, tmp_path / "o.wtns")  # not a wasm
    assert res.returncode == 1 and res.stderr.startswith("error: FormatError: ")
    res = zkprove("wtns", "calculate", tmp_path / "none.wasm", inp, tmp_path / "o.wtns")
    assert res.returncode == 2 and "does not exist" in res.stderr


@needs_node
def test_calculator_is_reusable(circuits):
    """One instance, several inputs: each result equals a fresh instance's."""
    c = circuits["shapes"]
    wc = WitnessCalculator(c.wasm, log=lambda line: None)
    with pytest.raises(CircuitInputError):
        wc.calculate({"k": 1})
    first = [wc.calculate(doc).copy() for doc in GOOD_INPUTS]
    for doc, w in zip(GOOD_INPUTS, first, strict=True):
        again = WitnessCalculator(c.wasm, compiler="cranelift", log=lambda line: None)
        assert (again.calculate(doc) == w).all()


# --- fullprove -------------------------------------------------------------------------------

@needs_node
@pytest.mark.parametrize("name", ["shapes", "nopub", "fixture"])
def test_fullprove_verifies_with_snarkjs(circuits, snark, tmp_path, name):  # noqa: F811
    if name == "fixture":
        wasm, zkey, vk, inp = snark.wasm, snark.zkey, snark.vk, snark.input
    else:
        c = circuits[name]
        wasm, zkey, vk, inp = c.wasm, c.zkey, c.vk, tmp_path / "input.json"
        doc = GOOD_INPUTS[1] if name == "shapes" else {"a": "3", "b": "11"}
        inp.write_text(json.dumps(doc))
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    res = zkprove("groth16", "fullprove", inp, wasm, zkey, proof, public)
    assert res.returncode == 0, res.stderr
    assert snarkjs_verify(vk, public, proof, tmp_path)
    sproof, spublic = tmp_path / "sproof.json", tmp_path / "spublic.json"
    run_snarkjs("groth16", "fullprove", inp, wasm, zkey, sproof, spublic, cwd=tmp_path)
    assert public.read_bytes() == spublic.read_bytes()
    n_public = len(json.loads(public.read_text()))
    assert n_public == {"shapes": 5, "nopub": 0, "fixture": 2}[name]


@needs_node
def test_fullprove_errors_write_nothing(circuits, tmp_path):
    c = circuits["shapes"]
    inp = tmp_path / "input.json"
    inp.write_text(json.dumps({"x": [[1, 2], [3, 4], [5, 6]], "k": 13, "flag": 1}))
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    res = zkprove("groth16", "fullprove", inp, c.wasm, c.zkey, proof, public)
    assert res.returncode == 1 and "Assert Failed" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not proof.exists() and not public.exists()
    inp.write_text(json.dumps(GOOD_INPUTS[0]))
    other = circuits["nopub"].zkey  # another circuit's key
    res = zkprove("groth16", "fullprove", inp, c.wasm, other, proof, public)
    assert res.returncode == 1 and "WitnessError" in res.stderr, res.stderr
    assert not proof.exists()
