"""Client for tests/js/circomlibjs_ref.mjs: circomlibjs 0.1.7 in node as an independent oracle.

Tests using it are marked ``node`` and skipped when node or node_modules/circomlibjs is absent.
Node starts slowly (the wasm fields are built on start), so each caller batches its requests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "js" / "circomlibjs_ref.mjs"


def available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "circomlibjs").is_dir()


requires_node = pytest.mark.skipif(
    not available(), reason="node or node_modules/circomlibjs not installed"
)


def call(requests: list[dict], timeout: float = 600) -> list:
    """Answer a batch of requests (see the script for the ops) with circomlibjs."""
    proc = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=True,
    )
    answers = json.loads(proc.stdout)
    assert len(answers) == len(requests)
    return answers
