"""One prepared run on a GPU machine: environment, GPU checks, MSM/NTT timings, whole proofs.

    benchmarks/device_run.sh                   # on the GPU machine; JSON to $OUT (./out)
    DEVICE_RUN_SIM=1 benchmarks/device_run.sh  # the same plumbing under the CUDA simulator

`run_plan` runs steps as child processes in phases (the steps of a parallel phase together,
the others one after another), each under its own timeout and all under one budget: a step
that fails or times out is recorded and the run goes on; a step that no longer fits is
recorded as skipped. Per step it writes $OUT/<step>.json ({"step", "status": "ok" | "failed"
| "timeout" | "skipped", "returncode", "seconds", "timeout_s", "records", "log_tail"}) and
its whole output to $OUT/logs/<step>.log; $OUT/summary.json lists every step. A step's
records are the JSON objects with an "op" key that it prints, one per line, as each size
finishes, so a time-out loses only the size in progress. Sizes grow from phase to phase.
Design and what each record holds: docs/prover.md (GPU).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ROOT / "tests" / "prover" / "kernels" / "cuda_checks.py"
TEST_GROUPS = ("field", "ntt", "msm_g1", "msm_g2", "backend", "ptx")
LOG_TAIL = 4000  # characters of a step's output kept in its JSON (all of it in logs/)
MIN_STEP_S = 5  # a step is not started with less budget than this left


@dataclass
class Step:
    name: str
    argv: list[str]
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Phase:
    name: str
    steps: list[Step]
    parallel: bool = False


def _self(*args: object) -> list[str]:
    return [sys.executable, "-m", "benchmarks.device_run", *map(str, args)]


def _csv(xs) -> str:
    return ",".join(map(str, xs))


def plan(sim: bool, work: Path) -> list[Phase]:
    """The device plan (sizes as log2), or under the simulator the same steps at toy sizes
    (one check group, no large proof: the simulator runs a kernel thread as a Python thread)."""
    if sim:
        groups, t_setup, t = ("field", "ptx"), 240, 120  # ptx: records why it is skipped
        small = {"g1": [2], "g2": [2], "ntt": [3], "prove": 3, "cpu": [3]}
        large = {"g1": [3], "g2": [], "ntt": [4], "prove": None}
    else:
        groups, t_setup, t = TEST_GROUPS, 150, 60
        small = {"g1": [16, 18, 20], "g2": [16, 18], "ntt": [16, 18, 20], "prove": 16,
                 "cpu": [16, 20]}
        large = {"g1": [22, 24], "g2": [20, 22], "ntt": [22, 24], "prove": 20}
    test_argv = [] if sim else ["--device"]
    circuits = [k for k in (small["prove"], large["prove"]) if k is not None]
    return [
        Phase("env", [Step("env", _self("env"), 60)]),
        Phase("setup", [
            *(Step(f"gpu_tests_{g}", [sys.executable, str(CHECKS), g, *test_argv], t_setup)
              for g in groups),
            Step("cpu_warm", _self("warm"), t_setup),
            *(Step(f"circuit_{k}", _self("circuit", k, work), t_setup) for k in circuits),
        ], parallel=True),
        Phase("small", [
            Step("field_throughput", _self("field_throughput"), t),
            Step("msm_g1_small", _self("msm", "g1", _csv(small["g1"])), t),
            # beside msm_g1_small (CUDA C rounds on a device); the simulator runs Numba only
            *([] if sim else [Step("msm_g1_numba", _self("msm", "g1", _csv(small["g1"]),
                                                         "affine", "numba"), t)]),
            Step("msm_g1_jacobian", _self("msm", "g1", _csv(small["g1"]), "jacobian"), t),
            Step("ntt_small", _self("ntt", _csv(small["ntt"])), t),
            Step("msm_g2_small", _self("msm", "g2", _csv(small["g2"])), t),
            Step(f"prove_{small['prove']}", _self("prove", small["prove"], work), 1.5 * t),
            Step("msm_g1_cpu", _self("msm_cpu", _csv(small["cpu"])), t),
        ]),
        Phase("large", [
            Step("msm_g1_large", _self("msm", "g1", _csv(large["g1"])), t),
            Step("ntt_large", _self("ntt", _csv(large["ntt"])), t),
            *([Step("msm_g2_large", _self("msm", "g2", _csv(large["g2"])), 1.5 * t)]
              if large["g2"] else []),
            *([Step(f"prove_{large['prove']}", _self("prove", large["prove"], work), 2.5 * t)]
              if large["prove"] else []),
        ]),
    ]


# ---- running steps ----------------------------------------------------------------------------


def _records(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "op" in rec:
                out.append(rec)
    return out


class _Running:
    """One step's child process: own process group (killed whole on time-out), output to a
    log file that survives the kill."""

    def __init__(self, step: Step, out: Path, env: dict[str, str], timeout_s: float) -> None:
        self.step, self.out, self.timeout_s = step, out, timeout_s
        self.log_path = out / "logs" / f"{step.name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in finish)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(step.argv, cwd=ROOT, env={**env, **step.env},
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.timed_out = False

    def poll(self) -> bool:
        """True once the child has ended (killed here when past its timeout)."""
        if self.proc.poll() is not None:
            return True
        if time.monotonic() - self.t0 > self.timeout_s:
            self.timed_out = True
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            return True
        return False

    def finish(self) -> dict:
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        rc = self.proc.returncode
        status = "timeout" if self.timed_out else "ok" if rc == 0 else "failed"
        rec = {"step": self.step.name, "status": status, "returncode": rc,
               "seconds": round(time.monotonic() - self.t0, 2),
               "timeout_s": round(self.timeout_s, 1), "argv": self.step.argv[1:],
               "records": _records(text), "log": str(self.log_path.relative_to(self.out)),
               "log_tail": text[-LOG_TAIL:]}
        _write(self.out / f"{self.step.name}.json", rec)
        print(f"[device_run] {self.step.name}: {status} in {rec['seconds']} s"
              + ("" if status == "ok" else f" (see {rec['log']})"), flush=True)
        return rec


def _write(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def _skip(step: Step, out: Path, why: str) -> dict:
    rec = {"step": step.name, "status": "skipped", "returncode": None, "seconds": 0.0,
           "timeout_s": step.timeout_s, "argv": step.argv[1:], "records": [], "log": None,
           "log_tail": why}
    _write(out / f"{step.name}.json", rec)
    print(f"[device_run] {step.name}: skipped ({why})", flush=True)
    return rec


def run_plan(phases: list[Phase], out: Path, budget_s: float,
             env: dict[str, str] | None = None) -> dict:
    """Run the phases in order within budget_s; write each step's JSON and summary.json."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    t_start, started = time.monotonic(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results: list[dict] = []

    def left() -> float:
        return budget_s - (time.monotonic() - t_start)

    for phase in phases:
        # The CPU prover falls back to the Numba kernels if the native ones were not built.
        warm = next((r for r in results if r["step"] == "cpu_warm"), None)
        if warm is not None and warm["status"] != "ok":
            env["ZKPROVE_NATIVE"] = "0"
        pending = list(phase.steps)
        running: list[_Running] = []
        while pending or running:
            while pending and (phase.parallel or not running):
                step = pending.pop(0)
                if left() < MIN_STEP_S:
                    results.append(_skip(step, out, f"budget of {budget_s:.0f} s spent"))
                    continue
                running.append(_Running(step, out, env, min(step.timeout_s, left())))
            for r in [r for r in running if r.poll()]:
                running.remove(r)
                results.append(r.finish())
            time.sleep(0.05)
    summary = {"started_utc": started, "budget_s": budget_s,
               "seconds": round(time.monotonic() - t_start, 2),
               "steps": [{k: r[k] for k in ("step", "status", "seconds", "timeout_s")}
                         | {"records": len(r["records"])} for r in results]}
    _write(out / "summary.json", summary)
    return summary


# ---- the steps, each run as `python -m benchmarks.device_run STEP ...` -------------------------


def _emit(rec: dict) -> None:
    print(json.dumps(rec), flush=True)


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _command(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable: {exc}"
    return (out.stdout + out.stderr).strip()


def step_env() -> int:
    """The machine, the versions, and whether the prover's GPU path imports; fails (rc 1)
    naming what is missing."""
    rec: dict = {"op": "env", "python": sys.version.split()[0], "platform": platform.platform(),
                 "cpus": os.cpu_count(),
                 "simulator": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                 "cuda_kernel_cache": os.environ.get("ZKPROVE_CUDA_CACHE") == "1",
                 "versions": {d: _version(d) for d in (
                     "numpy", "numba", "numba-cuda", "llvmlite", "cupy-cuda13x",
                     "cupy-cuda12x", "cuda-python", "py_ecc")},
                 "nvidia_smi": _command(["nvidia-smi", "--query-gpu=name,memory.total,"
                                         "driver_version,clocks.max.sm", "--format=csv"]),
                 "nvcc": _command(["nvcc", "--version"])}
    missing = []
    for mod in ("numpy", "numba", "llvmlite", "numba.cuda", "prover.backend",
                "prover.groth16.prove", "prover.groth16.setup", "prover.groth16.verify",
                "prover.kernels.cuda.registry", "benchmarks.gpu"):
        try:
            __import__(mod)
        except Exception as exc:  # report every failure, not only ImportError
            missing.append(f"{mod}: {type(exc).__name__}: {exc}")
    try:
        import cupy

        rec["cupy_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        rec["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
    except Exception as exc:
        rec["cupy"] = f"unavailable: {type(exc).__name__}: {exc}"
    if not missing:
        from prover.backend import cuda_unavailable_reason
        from prover.kernels.cuda.memory import device_name

        reason = cuda_unavailable_reason()
        rec["device"] = device_name() if reason is None else None
        if reason is not None:
            missing.append(f"CUDA: {reason}")
    rec["missing"] = missing
    _emit(rec)
    for m in missing:
        print(f"missing: {m}", file=sys.stderr)
    return 1 if missing else 0


def step_warm() -> int:
    """Build the native CPU kernels (or say why not) and fill Numba's caches: a tiny proof."""
    from prover.kernels import native

    t = time.perf_counter()
    lib = native.load()
    _emit({"op": "cpu_warm", "native": lib is not None, "seconds": round(time.perf_counter()
                                                                          - t, 2),
           "reason": None if lib is not None else native.unavailable_reason()})
    return 0 if lib is not None else 1


def synthetic_r1cs(log_n: int):
    """A chain filling the 2^log_n domain: s_0 = a (public input), s_1 = b (private input),
    (s_(j-1) + s_(j-2)) * (s_(j-1) + 7) = s_j, and out = s_last (public output).
    Wires: 0 one, 1 out, 2 a, 3 b, then s_j at wire j + 2. Returns (R1CS, witness); the
    matrices are built as arrays (2^20 constraints as dicts take most of a minute)."""
    import numpy as np

    from prover.constants import R
    from prover.formats.r1cs import R1CS, SparseMatrix

    m = (1 << log_n) - 4  # + the final copy + nPublic (2) + 1 rows = 2^log_n
    s = [3, 5]
    for j in range(2, m + 2):
        s.append((s[j - 1] + s[j - 2]) * (s[j - 1] + 7) % R)
    witness = [1, s[-1], *s]
    n_wires = len(witness)

    j = np.arange(2, m + 2, dtype=np.int64)
    rows = np.repeat(np.arange(m, dtype=np.int64), 2)

    def matrix(row, col, coeff):
        limbs = np.zeros((len(row), 4), dtype=np.uint64)
        limbs[:, 0] = coeff
        return SparseMatrix(np.asarray(row, np.int64), np.asarray(col, np.int64), limbs)

    last = np.array([m], np.int64)
    # constraint j - 2: A = s_(j-1) + s_(j-2), B = s_(j-1) + 7, C = s_j; then out = s_last * 1
    a = matrix(np.concatenate([rows, last]),
               np.concatenate([np.stack([j + 1, j], 1).ravel(), [m + 3]]), 1)
    b = matrix(np.concatenate([rows, last]),
               np.concatenate([np.stack([j + 1, np.zeros_like(j)], 1).ravel(), [0]]),
               np.concatenate([np.tile(np.array([1, 7], np.uint64), m), np.ones(1, np.uint64)]))
    c = matrix(np.concatenate([j - 2, last]), np.concatenate([j + 2, [1]]), 1)
    r1 = R1CS(R, n_wires, 1, 1, 1, n_wires, m + 1, a, b, c,
              wire_to_label=np.arange(n_wires, dtype=np.uint64))
    r1.validate()
    return r1, witness


def _circuit_paths(log_n: int, work: Path) -> tuple[Path, Path]:
    return work / f"chain{log_n}.zkey", work / f"chain{log_n}.wtns"


def step_circuit(log_n: int, work: Path) -> int:
    """Write the synthetic circuit's zkey (development setup) and witness under `work`."""
    from prover.formats.wtns import write_wtns
    from prover.formats.zkey import write_zkey
    from prover.groth16.setup import dev_setup

    work.mkdir(parents=True, exist_ok=True)
    zkey, wtns = _circuit_paths(log_n, work)
    t = time.perf_counter()
    r1, witness = synthetic_r1cs(log_n)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    z = dev_setup(r1)
    part = zkey.with_suffix(".part")
    write_zkey(z, part)
    part.replace(zkey)
    write_wtns(wtns, witness)
    _emit({"op": "circuit", "log_n": log_n, "constraints": r1.n_constraints,
           "build_seconds": round(t_build, 2), "setup_seconds": round(time.perf_counter() - t, 2),
           "zkey_bytes": zkey.stat().st_size})
    return 0


def step_prove(log_n: int, work: Path, repeat: int = 2) -> int:
    """Prove the circuit on the GPU and on the CPU with the same r, s: the proofs must be
    equal and verify. One record per backend (best of `repeat` after a warm-up)."""
    from prover.backend import get_backend
    from prover.formats.snarkjs_json import vk_from_zkey
    from prover.formats.zkey import read_zkey
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    zkey_path, wtns = _circuit_paths(log_n, work)
    if not zkey_path.exists():
        print(f"no zkey at {zkey_path}: the circuit_{log_n} step did not finish",
              file=sys.stderr)
        return 1
    vk = vk_from_zkey(read_zkey(zkey_path), with_alphabeta=False)  # verify needs no e(a, b)
    proofs = {}
    for name in ("cuda", "cpu"):
        be = get_backend(name)
        zkey = read_zkey(zkey_path)
        prove(zkey, wtns, r=1, s=2, backend=be, kernels=True)  # compile / warm
        best, res = float("inf"), None
        for _ in range(repeat):
            t = time.perf_counter()
            res = prove(zkey, wtns, r=11, s=13, backend=be, kernels=True)
            best = min(best, time.perf_counter() - t)
        proofs[name] = res.proof
        ok = bool(verify(vk, res.public_signals, res.proof))
        _emit({"op": "prove", "log_n": log_n, "constraints": (1 << log_n) - 3,
               "backend": res.engine, "device": res.device, "seconds": round(best, 4),
               "phases": {k: round(v, 4) for k, v in res.timings.items()},
               "work": {k: round(v, 4) for k, v in res.work.items()}, "verified": ok})
        if not ok:
            print(f"{name} proof does not verify", file=sys.stderr)
            return 1
    same = proofs["cuda"] == proofs["cpu"]
    _emit({"op": "prove_compare", "log_n": log_n, "proofs_equal": same})
    return 0 if same else 1


def step_msm(group: str, log_sizes: list[int], accumulate: str = "affine",
             field: str | None = None) -> int:
    """`field`: "ptx" | "numba" for the G1 rounds; None: the default (CUDA C where it loads)."""
    from benchmarks import gpu

    op = f"msm_{group}"
    # Distinct bases up to 2^20 (G1) / 2^18 (G2), tiled above: making 2^24 points on the host
    # would cost much of the budget, and bucket work does not depend on distinctness.
    gpu.run_msm({op: [1 << k for k in log_sizes]}, repeats=2,
                max_distinct=1 << (20 if group == "g1" else 18), accumulate=accumulate,
                field=field)
    return 0


def step_field_throughput(log_n: int = 20, iters: int = 64) -> int:
    """Fq products per second, Numba (fq_mul_chain) vs CUDA C (fq_mul_chain_k) on the same
    inputs: 2^log_n threads, 2 * iters dependent products each; outputs must be equal. Under
    the simulator (no CUDA C) a record says why it was skipped."""
    from prover.kernels.cuda.ptx import launch

    reason = launch.unavailable_reason()
    if reason is not None:
        _emit({"op": "field_throughput", "skipped": reason})
        return 0
    import cupy as cp
    import numpy as np

    from benchmarks.gpu import _Events
    from prover.kernels.cuda import fq as kfq
    from prover.kernels.cuda import memory as mem

    n = 1 << log_n
    rng = np.random.default_rng(1)
    limbs = rng.integers(0, 2**64, (n, 4), dtype=np.uint64, endpoint=False)
    limbs[:, 3] &= np.uint64((1 << 61) - 1)  # < 2^253 < q: elements in Montgomery form
    x = cp.asarray(limbs)
    outs, secs = {}, {}
    for which in ("numba", "ptx", "numba", "ptx"):  # the first of each compiles and warms
        out = cp.zeros_like(x)
        with _Events() as ev:
            if which == "ptx":
                launch.launch("fq_mul_chain_k", n, x, out, n, iters)
            else:
                kfq.fq_mul_chain_kernel[mem.grid(n)](x, out, iters)
        outs[which], secs[which] = cp.asnumpy(out), ev.seconds
    same = bool(np.array_equal(outs["numba"], outs["ptx"]))
    products = 2 * iters * n
    _emit({"op": "field_throughput", "n": n, "iters": iters, "products": products,
           "numba_seconds": round(secs["numba"], 5), "ptx_seconds": round(secs["ptx"], 5),
           "numba_products_per_s": round(products / secs["numba"]),
           "ptx_products_per_s": round(products / secs["ptx"]),
           "speedup": round(secs["numba"] / secs["ptx"], 2), "results_equal": same})
    return 0 if same else 1


def step_ntt(log_sizes: list[int]) -> int:
    from benchmarks import gpu

    gpu.run_ntt(log_sizes, repeats=2)
    return 0


def step_msm_cpu(log_sizes: list[int]) -> int:
    from benchmarks import msm

    msm.run({"msm_g1": [1 << k for k in log_sizes]}, vs=False, repeats=2)
    return 0


def _ints(spec: str) -> list[int]:
    return [int(x) for x in spec.split(",") if x.strip()]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "run":
        sim = os.environ.get("DEVICE_RUN_SIM") == "1"
        out = Path(os.environ.get("OUT") or ROOT / "out").resolve()
        work = Path(os.environ.get("DEVICE_RUN_WORK") or out.parent / "device_run_work")
        budget = float(os.environ.get("DEVICE_RUN_BUDGET_S") or (300 if sim else 450))
        env = dict(os.environ)
        if sim:
            env["NUMBA_ENABLE_CUDASIM"] = "1"
        else:  # the checks and timings run on the device; its steps share compiled kernels
            env.pop("NUMBA_ENABLE_CUDASIM", None)
            env.setdefault("ZKPROVE_CUDA_CACHE", "1")
        env.setdefault("ZKPROVE_NATIVE_CACHE", str(work / "native"))
        summary = run_plan(plan(sim, work), out, budget, env)
        failed = [s["step"] for s in summary["steps"] if s["status"] != "ok"]
        print(f"[device_run] {len(summary['steps']) - len(failed)} of {len(summary['steps'])} "
              f"steps ok in {summary['seconds']} s; JSON in {out}"
              + (f"; not ok: {', '.join(failed)}" if failed else ""), flush=True)
        return 1 if failed else 0
    steps = {"env": lambda: step_env(), "warm": lambda: step_warm(),
             "circuit": lambda: step_circuit(int(argv[1]), Path(argv[2])),
             "prove": lambda: step_prove(int(argv[1]), Path(argv[2])),
             "msm": lambda: step_msm(argv[1], _ints(argv[2]), *argv[3:5]),
             "field_throughput": lambda: step_field_throughput(),
             "ntt": lambda: step_ntt(_ints(argv[1])),
             "msm_cpu": lambda: step_msm_cpu(_ints(argv[1]))}
    if not argv or argv[0] not in steps:
        print(f"usage: python -m benchmarks.device_run run | {' | '.join(steps)} ...",
              file=sys.stderr)
        return 2
    return steps[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
