"""`powersoftau` commands, ours against the snarkjs CLI on the same files, in the same run.

    python -m benchmarks ptau --powers 12,14 --json benchmarks/results/ptau.json

Per power: a ceremony file with one contribution (ours, cached: the input both sides read),
then whole processes as a user runs them, best of --repeat: `prepare phase2` (the outputs must
be byte-identical), `contribute` and `verify` of the prepared file. Our kernels are compiled
before timing (a warm cache, as after the first use). Records: {"op", "power", "seconds",
"cpu_seconds" (user + system), "peak_rss_mib", "reference": "snarkjs", "reference_seconds",
"reference_cpu_seconds", "reference_peak_rss_mib", "ratio" (reference_seconds / seconds),
"cpu_ratio", "load_avg" (1-minute load before and after: the machine is shared)}.
--snarkjs-max-power skips snarkjs above a power (its prepare takes ~15 min at 2^14 here);
such records have no reference.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.prove import ROOT, SNARKJS, cache_dir, measured_child

OPS = ("prepare", "contribute", "verify")


def _ours() -> list:
    return [sys.executable, "-m", "prover.cli", "powersoftau"]


def input_ptau(power: int, log=print) -> Path:
    """A contributed (not prepared) .ptau of 2^power, cached: the input of every timing."""
    d = cache_dir()
    path = d / f"ptau{power}_contributed.ptau"
    if not path.exists():
        log(f"ptau 2^{power}: new + contribute (ours) ...")
        tmp = d / f"ptau{power}_new.ptau"
        measured_child([*_ours(), "new", "bn128", power, tmp], cwd=ROOT)
        measured_child([*_ours(), "contribute", tmp, path.with_suffix(".tmp"), "-n", "bench",
                        "-e", os.urandom(16).hex()], cwd=ROOT)
        path.with_suffix(".tmp").rename(path)
        tmp.unlink()
    return path


def _best(cmd: list, repeat: int) -> dict:
    runs = [measured_child(cmd, cwd=ROOT) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["wall"])
    return {"seconds": round(best["wall"], 2), "cpu_seconds": round(best["cpu"], 2),
            "peak_rss_mib": round(max(r["rss_mib"] for r in runs), 1)}


def _warm_kernels(tmp: Path) -> None:
    """Compile (or load) every kernel once on a tiny file, so no timing includes compiling."""
    a, b, c = tmp / "w0.ptau", tmp / "w1.ptau", tmp / "w2.ptau"
    measured_child([*_ours(), "new", "bn128", 2, a], cwd=ROOT)
    measured_child([*_ours(), "contribute", a, b, "-e", "warm"], cwd=ROOT)
    measured_child([*_ours(), "prepare", "phase2", b, c], cwd=ROOT)
    measured_child([*_ours(), "verify", c], cwd=ROOT)


def measure(power: int, ops, repeat: int, snarkjs: bool, log=print) -> list[dict]:
    src = input_ptau(power, log)
    out: list[dict] = []
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp_name:
        tmp = Path(tmp_name)
        _warm_kernels(tmp)
        ours_p, theirs_p = tmp / "ours_prepared.ptau", tmp / "theirs_prepared.ptau"
        plan = {
            "prepare": ([*_ours(), "prepare", "phase2", src, ours_p],
                        [SNARKJS, "powersoftau", "prepare", "phase2", src, theirs_p]),
            "contribute": ([*_ours(), "contribute", src, tmp / "oc.ptau", "-e", "x"],
                           [SNARKJS, "powersoftau", "contribute", src, tmp / "tc.ptau",
                            "-e=x"]),
            "verify": ([*_ours(), "verify", ours_p], [SNARKJS, "powersoftau", "verify", ours_p]),
        }
        for op in [o for o in OPS if o in ops or (o == "prepare" and "verify" in ops)]:
            load0 = os.getloadavg()[0]
            log(f"ptau 2^{power} {op}: ours ...")
            rec = {"op": f"ptau_{op}" if op != "prepare" else "ptau_prepare_phase2",
                   "power": power, **_best(plan[op][0], repeat)}
            if snarkjs:
                log(f"ptau 2^{power} {op}: snarkjs ...")
                ref = _best(plan[op][1], 1 if op == "prepare" else repeat)
                rec.update({"reference": "snarkjs", "reference_seconds": ref["seconds"],
                            "reference_cpu_seconds": ref["cpu_seconds"],
                            "reference_peak_rss_mib": ref["peak_rss_mib"],
                            "ratio": round(ref["seconds"] / rec["seconds"], 2),
                            "cpu_ratio": round(ref["cpu_seconds"] / rec["cpu_seconds"], 2)})
                if op == "prepare" and ours_p.read_bytes() != theirs_p.read_bytes():
                    raise RuntimeError(f"2^{power}: our prepared file differs from snarkjs's")
                if op == "prepare":
                    rec["identical"] = True
            rec["load_avg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            log(json.dumps(rec))
            if op in ops:
                out.append(rec)
    return out


def main(powers: list[int], ops, repeat: int, json_path: str | None, snarkjs_max_power: int,
         log=print) -> list[dict]:
    records = []
    for p in powers:
        records += measure(p, ops, repeat, p <= snarkjs_max_power, log)
    if json_path:
        Path(json_path).write_text(json.dumps(records, indent=2) + "\n")
    return records
