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
