from __future__ import annotations

import random
import re
import subprocess

import pytest

from circuits.dsl import ConstraintSystem, R
from circuits.gadgets.poseidon import poseidon, poseidon_constraints
from circuits.poseidon import poseidon as poseidon_native
from tests.support.gadgets import failing_components, forged

CIRCOMLIB_POSEIDON = {2: 240, 5: 321}  # circomlib Poseidon(n), circom 2 --O2 (snarkjs r1cs info)


def hash_system(xs):
    cs = ConstraintSystem()
    ins = [cs.private_input(f"x{i}", v) for i, v in enumerate(xs)]
    with cs.component("h"):
        h = poseidon(cs, ins)
    out = cs.public_output("h", h)
    return cs, out


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
def test_matches_native(n):
    rng = random.Random(n)
    for xs in ([rng.randrange(R) for _ in range(n)], [0] * n, [R - 1] * n):
        cs, out = hash_system(xs)
        assert out.value == poseidon_native(xs)
        assert cs.check() == []
        assert cs.n_constraints == poseidon_constraints(n)


@pytest.mark.parametrize("n", sorted(CIRCOMLIB_POSEIDON))
def test_constraint_counts_match_circomlib(n):
    cs, _ = hash_system(list(range(1, n + 1)))
    print(f"Poseidon({n}): ours {cs.n_constraints}, circomlib {CIRCOMLIB_POSEIDON[n]}")
    assert cs.n_constraints <= CIRCOMLIB_POSEIDON[n]
    assert cs.n_constraints == poseidon_constraints(n)


def test_every_width_count_formula():
    # 3 * (8 t + R_P) - 3, without building 16 circuits
    assert [poseidon_constraints(n) for n in range(1, 17)] == [
        213, 240, 261, 297, 321, 354, 381, 402, 417, 459, 465, 504, 543, 537, 573, 609]


def test_constant_inputs_fold():
    cs = ConstraintSystem()
    h = poseidon(cs, [1, 2])
    assert h.is_constant() and h.constant() == poseidon_native([1, 2])
    assert cs.n_constraints == 0


def test_mixed_constant_and_signal_inputs():
    cs = ConstraintSystem()
    x = cs.private_input("x", 7)
    h = poseidon(cs, [x, 0, 5])
    assert h.value == poseidon_native([7, 0, 5])
    assert cs.check() == []


def test_forged_output_fails_in_poseidon():
    cs, out = hash_system([3, 4])
    assert failing_components(cs, forged(cs, out, out.value + 1)) == {"h/poseidon2"}


def test_bad_width():
    cs = ConstraintSystem()
    with pytest.raises(ValueError):
        poseidon(cs, [])
    with pytest.raises(ValueError):
        poseidon(cs, [1] * 17)


BIN = __import__("pathlib").Path(__file__).resolve().parents[3] / "node_modules" / ".bin"


@pytest.mark.node
@pytest.mark.skipif(not (BIN / "circom2").exists(), reason="node_modules/.bin/circom2 is absent")
def test_poseidon2_count_against_circom(tmp_path, repo_root):
    src = tmp_path / "p2.circom"
    src.write_text('pragma circom 2.0.0;\ninclude "circomlib/circuits/poseidon.circom";\n'
                   "component main = Poseidon(2);\n")
    res = subprocess.run([str(BIN / "circom2"), str(src), "--r1cs", "--O2", "-l",
                          str(repo_root / "node_modules"), "-o", str(tmp_path)], cwd=repo_root,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    info = subprocess.run([str(BIN / "snarkjs"), "r1cs", "info", str(tmp_path / "p2.r1cs")],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)
    theirs = int(re.search(r"# of Constraints: (\d+)", info.stdout + info.stderr).group(1))
    cs, _ = hash_system([1, 2])
    print(f"Poseidon(2): ours {cs.n_constraints}, circom --O2 {theirs}")
    assert theirs == CIRCOMLIB_POSEIDON[2]
    assert cs.n_constraints <= theirs
