#!/usr/bin/env bash
# One prepared run on a GPU machine (one call, ~8 minutes, no network): the machine and its
# versions, the CUDA checks of tests/prover/kernels/cuda_checks.py on the device, G1/G2 MSM
# and NTT timings, and whole proofs on the GPU and on this machine's CPU. JSON per step to
# $OUT (default ./out); see benchmarks/device_run.py and docs/prover.md (GPU).
#
#   benchmarks/device_run.sh                   # on the GPU machine
#   DEVICE_RUN_SIM=1 benchmarks/device_run.sh  # here: the same steps, CUDA simulator, toy sizes
#
# Environment: OUT, PYTHON (default python3), DEVICE_RUN_BUDGET_S (default 450; 300 in the
# simulator), DEVICE_RUN_WORK (zkeys, native kernels; default $OUT/../device_run_work).
# Nothing is installed or downloaded: the checkout runs from PYTHONPATH with the numpy, numba
# (+ numba-cuda) and CuPy already on the machine. Exit status 0 only if every step passed.
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
export OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"

missing=$("$PYTHON" - <<'PY' 2>&1
import importlib.util
need = ["numpy", "numba", "llvmlite"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PY
) || missing="python ($PYTHON) does not run: $missing"
if [ -n "$missing" ]; then
    missing=$(printf '%s' "$missing" | tr '\n"\\' "  '")
    echo "device_run: missing on this machine: $missing (nothing is downloaded)" >&2
    printf '{"step": "deps", "status": "failed", "missing": "%s"}\n' "$missing" \
        > "$OUT/summary.json"
    exit 1
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m benchmarks.device_run run
