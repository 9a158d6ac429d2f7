"""Committed artifacts in contracts/build/ match a fresh solc-js compile and load without node."""

from __future__ import annotations

import hashlib

import pytest

from rollup.chain import build
from rollup.chain.artifacts import BUILD_DIR, load, names

EXPECTED = {"Groth16Verifier", "Groth16VerifierN", "Rollup", "TestToken", "ReentrantReceiver",
            "EdDSAPoseidonVerifier", "PoseidonT6", "OperatorWallet"}
GENERATED = {"PoseidonT6"}  # circomlibjs's generated EVM code, not Solidity


def test_artifacts_load_without_node():
    assert EXPECTED <= set(names())
    for n in names():
        a = load(n)
        assert a.bytecode.startswith("0x") and len(a.bytecode) > 2
        assert a.deployed_bytecode.startswith("0x")
        if n in GENERATED:
            code = bytes.fromhex(a.bytecode[2:])
            assert hashlib.sha256(code).hexdigest() == a.source_sha256, n
            continue
        assert a.compiler_version.startswith("0.8.37+")
        src = build.CONTRACTS / build.sources_by_contract()[n]
        assert hashlib.sha256(src.read_bytes()).hexdigest() == a.source_sha256, n


@pytest.mark.node
@pytest.mark.skipif(not build.have_solc(), reason="node or node_modules/solc is absent")
def test_recompile_matches_committed():
    arts = build.build_all()
    assert build.diff(arts) == [], "run `python -m rollup.chain.build` and commit contracts/build"
    for n, art in arts.items():
        assert (BUILD_DIR / f"{n}.json").read_text() == build.render(art)
