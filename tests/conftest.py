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


# Parallel runs (`make test`: pytest-xdist, `-n 2 --dist loadfile`). Correctness never depends
# on where a test runs: what workers share (key caches, proofs, ports) is locked or picked free.
# A file's tests stay on one worker, so its module fixtures are built once; files holding slow
# tests are handed out first, so that no long file starts last while the other worker sits idle.
# (xdist's loadgroup cannot be used: xdist 3.8 renames node ids through an attribute that pytest
# 9.2 no longer reads, so its groups are silently ignored.)
def pytest_collection_modifyitems(config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow = {item.nodeid.split("::", 1)[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in slow)  # stable


def run_dir(tmp_path_factory, name: str) -> Path:
    """A folder shared by every worker of this run (a worker's basetemp is a child of the
    run's); with one process, a folder of its own."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    return d


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
    # dev_keys locks each cache entry and make_story each proof: workers share one story
    return make_story(Path(cache) if cache else run_dir(tmp_path_factory, "devkeys"))


@pytest.fixture(scope="module", params=["py-evm", "anvil"])
def world(request, story):
    """The story's rollup deployed on a fresh chain, Alice's deposit made."""
    from tests.support.story import open_world
    w = open_world(request.param, story)
    yield w
    w.chain.close()
