"""benchmarks/device_run: the step runner (status, records, log tails, time-outs, the budget),
the device plan's shape, the synthetic circuit, and the whole script under the CUDA simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from benchmarks import device_run as dr

PY = sys.executable


def _py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_run_plan_records_ok_failed_timeout_and_skipped(tmp_path):
    rec = json.dumps({"op": "msm_g1", "n": 16, "seconds": 0.5})
    phases = [
        dr.Phase("a", [
            dr.Step("good", _py(f"print('noise'); print({rec!r}); print('{{not json}}')"), 30),
            dr.Step("bad", _py("import sys; print('partial'); sys.exit('boom: no device')"), 30),
        ], parallel=True),
        dr.Phase("b", [
            # prints one record, then hangs: the record survives the kill
            dr.Step("slow", _py(f"import time; print({rec!r}, flush=True); time.sleep(60)"), 1.5),
            dr.Step("sleep", _py("import time; time.sleep(60)"), 60),
            dr.Step("late", _py("print('never')"), 30),
        ]),
    ]
    t0 = time.monotonic()
    summary = dr.run_plan(phases, tmp_path / "out", budget_s=8)
    assert time.monotonic() - t0 < 20
    status = {s["step"]: s["status"] for s in summary["steps"]}
    assert status == {"good": "ok", "bad": "failed", "slow": "timeout", "sleep": "timeout",
                      "late": "skipped"}
    out = tmp_path / "out"
    good = json.loads((out / "good.json").read_text())
    assert good["records"] == [json.loads(rec)] and good["returncode"] == 0
    bad = json.loads((out / "bad.json").read_text())
    assert bad["returncode"] == 1 and "boom: no device" in bad["log_tail"]
    assert "partial" in (out / bad["log"]).read_text()
    slow = json.loads((out / "slow.json").read_text())
    assert slow["records"] == [json.loads(rec)] and slow["timeout_s"] == 1.5
    sleep = json.loads((out / "sleep.json").read_text())
    assert sleep["timeout_s"] < 8  # clamped to what was left of the budget
    late = json.loads((out / "late.json").read_text())
    assert "budget" in late["log_tail"] and late["records"] == []
    assert json.loads((out / "summary.json").read_text())["budget_s"] == 8


def test_device_plan_runs_checks_on_the_device_and_large_sizes_last(tmp_path):
    phases = dr.plan(sim=False, work=tmp_path)
    assert [p.name for p in phases] == ["env", "setup", "small", "large"]
    names = [s.name for p in phases for s in p.steps]
    assert len(names) == len(set(names))
    tests = [s for s in phases[1].steps if s.name.startswith("gpu_tests_")]
    assert {s.argv[2] for s in tests} == set(dr.TEST_GROUPS)
    assert all(s.argv[-1] == "--device" for s in tests)
    small = {s.name: s.argv for s in phases[2].steps}
    assert small["msm_g1_numba"][-1] == "numba" and "field_throughput" in small
    assert ["circuit_16", "circuit_20"] == [s.name for s in phases[1].steps
                                            if s.name.startswith("circuit_")]
    assert "24" in phases[3].steps[0].argv[-1] and "prove_20" == phases[3].steps[-1].name
    # The groups of the plan are those of the checks file.
    from tests.prover.kernels.cuda_checks import GROUPS

    assert dr.TEST_GROUPS == GROUPS


def test_synthetic_circuit_fills_its_domain_and_is_satisfied():
    from prover.fields import ints_to_limbs
    from prover.groth16.setup import domain_power
    from prover.r1cs_check import first_unsatisfied

    r1, w = dr.synthetic_r1cs(5)
    assert domain_power(r1) == 5 and r1.n_constraints == (1 << 5) - 3
    assert r1.n_public == 2 and len(w) == r1.n_wires
    assert first_unsatisfied(r1, ints_to_limbs(w)) is None
    w[-3] += 1  # one wrong wire breaks its constraints
    assert first_unsatisfied(r1, ints_to_limbs(w)) is not None


def test_script_says_what_is_missing_without_running_anything(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=str(tmp_path / "no-python"))
    out = subprocess.run(["bash", str(dr.ROOT / "benchmarks" / "device_run.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "missing on this machine" in out.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "failed"


@pytest.mark.slow  # every step under the CUDA simulator: about 3 minutes on 2 cores
def test_script_under_the_simulator_writes_every_step(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, DEVICE_RUN_SIM="1", OUT=str(out), PYTHON=PY,
               DEVICE_RUN_WORK=str(tmp_path / "work"))
    env.pop("DEVICE_RUN_BUDGET_S", None)
    run = subprocess.run(["bash", str(dr.ROOT / "benchmarks" / "device_run.sh")], env=env,
                         capture_output=True, text=True, timeout=900)
    summary = json.loads((out / "summary.json").read_text())
    steps = {s["step"]: s for s in summary["steps"]}
    want = {"env", "gpu_tests_field", "gpu_tests_ptx", "cpu_warm", "circuit_3", "msm_g1_small",
            "msm_g1_jacobian", "field_throughput", "ntt_small", "msm_g2_small", "prove_3",
            "msm_g1_cpu", "msm_g1_large", "ntt_large"}
    assert set(steps) == want
    bad = {k: json.loads((out / f"{k}.json").read_text())["log_tail"][-1500:]
           for k, s in steps.items() if s["status"] != "ok"}
    assert not bad and run.returncode == 0, (bad, run.stdout[-3000:], run.stderr[-3000:])

    def records(step):
        return json.loads((out / f"{step}.json").read_text())["records"]

    (env_rec,) = records("env")
    assert env_rec["simulator"] and env_rec["device"] == "Numba CUDA simulator"
    assert env_rec["missing"] == []
    assert [r["n"] for r in records("msm_g1_small") + records("msm_g1_large")] == [4, 8]
    assert all(r["results_match"] for r in records("msm_g1_small") + records("msm_g2_small"))
    assert [r["accumulate"] for r in records("msm_g1_small") + records("msm_g1_jacobian")] == [
        "affine", "jacobian"]
    assert [r["n"] for r in records("ntt_small") + records("ntt_large")] == [8, 16]
    # The CUDA C kernels cannot run in the simulator: their steps pass and say why.
    assert {r["field"] for r in records("msm_g1_small")} == {"numba"}
    for step, op in (("gpu_tests_ptx", "ptx_checks"), ("field_throughput", "field_throughput")):
        (rec,) = records(step)
        assert rec["op"] == op and "simulator" in rec["skipped"]
    proofs = records("prove_3")
    assert [r["backend"] for r in proofs[:2]] == ["cuda", "cpu"]
    assert all(r["verified"] for r in proofs[:2])
    assert proofs[2] == {"op": "prove_compare", "log_n": 3, "proofs_equal": True}
    assert "ok field on Numba CUDA simulator" in (out / "logs" / "gpu_tests_field.log").read_text()
