"""CUDA kernels under Numba's CUDA simulator, against the CPU kernels, on tiny inputs.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba is first imported, and
this pytest process already runs numba for real, so each group of checks runs in a subprocess:
`cuda_checks.py GROUP` (the same checks run on a GPU with --device: benchmarks/device_run.sh).
The groups start together on first use, to spread over the cores; each test waits for its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.prover.kernels.cuda_checks import GROUPS

ROOT = Path(__file__).resolve().parents[3]
CHECKS = Path(__file__).with_name("cuda_checks.py")
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def sim_runs():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    procs = {
        g: subprocess.Popen([sys.executable, str(CHECKS), g], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for g in GROUPS
    }
    yield procs
    for p in procs.values():
        if p.poll() is None:
            p.kill()


@pytest.mark.parametrize("group", GROUPS)
def test_cuda_kernels_match_cpu_in_simulator(sim_runs, group):
    proc = sim_runs[group]
    out, _ = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"simulator checks '{group}' failed:\n{out[-6000:]}"
    assert f"ok {group} on Numba CUDA simulator" in out, out[-2000:]


def test_checks_refuse_to_run_without_a_mode():
    """Without the simulator and without --device the script says how to run it (no silent
    runs of simulator checks on a device or the reverse)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, str(CHECKS), "field"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--device" in out.stderr
