import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "node_modules" / ".bin"

# Property tests: enough examples to find edge cases, few enough for a 2-core CI machine.
# CI draws the same examples on every run (a red CI then means a change, never a lucky draw);
# HYPOTHESIS_PROFILE=dev explores fresh ones.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def have_node_tool(name: str) -> bool:
    return (NODE_BIN / name).exists() and shutil.which("node") is not None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# Shared fixtures. Their builders live in tests/support/ and are imported when first used, so a
# test that needs none of them does not pay for web3 or node at collection.

@pytest.fixture(scope="session")
def snark(tmp_path_factory):
    """A small circom circuit set up, proven and verified by snarkjs (skips without node)."""
    from tests.support.snark import HAVE_NODE, build
    if not HAVE_NODE:
        pytest.skip("node_modules/.bin/snarkjs is absent")
    return build(tmp_path_factory.mktemp("snark"))


def _contract_circuit(tmp_path_factory, name: str):
    from tests.support import contracts
    from tests.support.snark import HAVE_NODE
    if not HAVE_NODE:
        pytest.skip("node_modules/.bin/snarkjs is absent")
    source = {"standin": contracts.STANDIN, "standin_b": contracts.STANDIN,
              "multi": contracts.MULTI}[name]
    return contracts.setup_circuit(tmp_path_factory.getbasetemp() / "contracts", name, source,
                                   f"{name} entropy")


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    """The stand-in circuit's keys (snarkjs), for verifier and rollup contract tests."""
    return _contract_circuit(tmp_path_factory, "standin")


@pytest.fixture(scope="session")
def standin_b(tmp_path_factory):
    """The stand-in circuit under a second, independent key (another batch shape's verifier)."""
    return _contract_circuit(tmp_path_factory, "standin_b")


@pytest.fixture(scope="session")
def multi(tmp_path_factory):
    """A circuit with many public inputs (snarkjs)."""
    return _contract_circuit(tmp_path_factory, "multi")


@pytest.fixture(scope="module", params=["py-evm", "anvil"])
def chain(request):
    """A fresh chain per module: embedded py-evm, and Anvil when installed."""
    from tests.support.contracts import open_chain
    ch = open_chain(request.param)
    yield ch
    ch.close()


@pytest.fixture(scope="session")
def story(tmp_path_factory):
    """Development keys, a deployed-address plan, real batch and exit proofs (made once)."""
    from tests.support.story import make_story
    cache = os.environ.get("ZKDERIV_TEST_KEYS")
    return make_story(Path(cache) if cache else tmp_path_factory.mktemp("devkeys"))


@pytest.fixture(scope="module", params=["py-evm", "anvil"])
def world(request, story):
    """The story's rollup deployed on a fresh chain, Alice's deposit made."""
    from tests.support.story import open_world
    w = open_world(request.param, story)
    yield w
    w.chain.close()
