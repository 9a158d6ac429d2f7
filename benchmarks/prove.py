"""Groth16 proving time and peak memory, ours against the snarkjs CLI on the same zkey and witness.

    python -m benchmarks prove --constraints 2^12,2^14 --vs snarkjs --json prove.json

For each size: a circom circuit that chains Poseidon(2) hashes (circomlib) up to about that many
constraints, compiled with circom2 --O2; a snarkjs setup (powers of tau generated once per power
and cached in $ZKDERIV_CACHE or ~/.cache/zkderiv, since `powersoftau prepare phase2` is slow);
the witness from `snarkjs wtns calculate`. Above 2^13 the key comes from our development setup
instead (--setup; snarkjs's phase-2 preparation of large powers takes tens of minutes).
Then, best of --repeat runs each:

  * ours as a process: `zkprove groth16 prove zkey wtns proof public` of this checkout
    (start-up included, like the snarkjs CLI), wall seconds and peak RSS (os.wait4 rusage of
    that child);
  * ours in-process after a warm-up, with the per-phase split (witness read, A.w/B.w, H and
    MSMs) and the thread seconds of each part of "H and MSMs" (they overlap);
  * snarkjs (--vs snarkjs): `snarkjs groth16 prove` with the same files, wall seconds and RSS;
  * rapidsnark (--rapidsnark BINARY): its `prover zkey wtns proof public`, its runs interleaved
    with ours (ours, rapidsnark, ours, ...) so that both see the same load; its proof is checked
    with `snarkjs groth16 verify`.

Our proof is checked with `snarkjs groth16 verify` once per size. Records:
{"op": "prove", "constraints", "domain_size", "backend": "cpu", "seconds", "peak_rss_mib",
 "in_process_seconds", "phases", "work", "load_average", "reference": "snarkjs" | null,
 "reference_seconds",
 "reference_peak_rss_mib", "ratio"} with ratio = reference_seconds / seconds (> 1: we are faster);
with --rapidsnark also "rapidsnark_seconds", "rapidsnark_peak_rss_mib", "rapidsnark_ratio".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "node_modules" / ".bin"
SNARKJS = BIN / "snarkjs"
CIRCOM = BIN / "circom2"
POSEIDON2_CONSTRAINTS = 240  # circomlib Poseidon(2) with --O2 (chaining adds no constraints)

CIRCUIT = """pragma circom 2.0.0;
include "circomlib/circuits/poseidon.circom";

// s[i+1] = Poseidon(s[i], k): {n} hashes in a chain, one public input and one public output.
template PoseidonChain(n) {{
    signal input seed;
    signal input k;
    signal output out;
    signal s[n + 1];
    component h[n];
    s[0] <== seed;
    for (var i = 0; i < n; i++) {{
        h[i] = Poseidon(2);
        h[i].inputs[0] <== s[i];
        h[i].inputs[1] <== k;
        s[i + 1] <== h[i].out;
    }}
    out <== s[n];
}}

component main {{public [seed]}} = PoseidonChain({n});
"""


def cache_dir() -> Path:
    d = Path(os.environ.get("ZKDERIV_CACHE", Path.home() / ".cache" / "zkderiv"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def parse_sizes(spec: str) -> list[int]:
    out = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"2\^(\d+)", part)
        out.append(1 << int(m.group(1)) if m else int(part))
    return out


def _run(cmd: list, cwd: Path | None = None, timeout: int = 3600) -> str:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:3]))} failed:\n{res.stdout}\n{res.stderr}")
    return res.stdout + res.stderr


# Runs argv[2:] and writes {"wall", "maxrss_kib", "rc"} to argv[1]. A separate small process,
# because a child's peak RSS (getrusage/wait4 ru_maxrss) starts from the memory of the process
# it was forked from: forked straight from this (large) benchmark process, every child would
# report at least our own RSS.
_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    json.dump({"wall": wall, "maxrss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
               "rc": os.waitstatus_to_exitcode(status)}, f)
"""


def timed_child(cmd: list, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, output) of one child process, measured by a small launcher
    process (see _LAUNCHER) so that the RSS is the child's own; `env` adds variables."""
    r = measured_child(cmd, cwd, env)
    return r["wall"], r["rss_mib"], r["out"]


def measured_child(cmd: list, cwd: Path | None = None,
                   env: dict[str, str] | None = None) -> dict:
    """{"wall", "cpu" (user + system seconds), "rss_mib", "out"} of one child process."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res_path = Path(tmp) / "rusage.json"
        p = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, res_path,
                            *[str(c) for c in cmd]], cwd=cwd, capture_output=True, text=True,
                           env={**os.environ, **env} if env else None)
        out = p.stdout + p.stderr
        if p.returncode != 0 or not res_path.exists():
            raise RuntimeError(f"launcher failed ({p.returncode}):\n{out}")
        r = json.loads(res_path.read_text())
    if r["rc"] != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} failed ({r['rc']}):\n{out}")
    # ru_maxrss is in KiB on Linux
    return {"wall": r["wall"], "cpu": r["cpu"], "rss_mib": r["maxrss_kib"] / 1024.0, "out": out}


# --- setup, cached ---------------------------------------------------------------------------

def ptau_path(power: int, log=print) -> Path:
    """A phase-2-prepared powers-of-tau file of 2^power, made once (one contribution with
    throwaway entropy: a benchmark artifact, not a ceremony) and cached with its timings."""
    d = cache_dir()
    final = d / f"pot{power}_prepared.ptau"
    meta = d / f"pot{power}_prepared.json"
    if final.exists():
        return final
    t = {}
    p0, p1 = d / f"pot{power}_0.ptau", d / f"pot{power}_1.ptau"
    t0 = time.perf_counter()
    _run([SNARKJS, "powersoftau", "new", "bn128", power, p0], cwd=d)
    t["new"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _run([SNARKJS, "powersoftau", "contribute", p0, p1, "--name=bench", "-e=bench " +
          os.urandom(16).hex()], cwd=d)
    t["contribute"] = time.perf_counter() - t0
    log(f"ptau 2^{power}: preparing phase 2 (zkprove: snarkjs's bytes, faster) ...")
    t0 = time.perf_counter()
    _run([sys.executable, "-m", "prover.cli", "powersoftau", "prepare", "phase2", p1,
          final.with_suffix(".tmp")], cwd=ROOT)
    t["prepare_phase2"] = time.perf_counter() - t0
    final.with_suffix(".tmp").rename(final)
    p0.unlink()
    p1.unlink()
    meta.write_text(json.dumps({"power": power, "seconds": t}, indent=1))
    log(f"ptau 2^{power}: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()))
    return final


SNARKJS_SETUP_MAX_POWER = 13  # "auto" uses `snarkjs groth16 setup` up to this power, dev above


def build_circuit(target: int, setup: str = "auto", log=print) -> dict:
    """Compile, set up and compute the witness for a chain of about `target` constraints.

    setup "snarkjs": ptau (cached) + `snarkjs groth16 setup`; "dev": our development setup
    (prover.groth16.setup, fresh toxic waste; not a ceremony, fine for timing); "auto": snarkjs
    up to 2^SNARKJS_SETUP_MAX_POWER, dev above. Both provers always prove with the same zkey.
    """
    n_hash = max(1, (target - 64) // POSEIDON2_CONSTRAINTS)
    d = cache_dir() / f"chain{n_hash}"
    d.mkdir(parents=True, exist_ok=True)
    circ_path = d / "circuit.json"
    if circ_path.exists():
        circ = json.loads(circ_path.read_text())
    else:
        (d / "chain.circom").write_text(CIRCUIT.format(n=n_hash))
        (d / "input.json").write_text(json.dumps({"seed": "1", "k": "2"}))
        t0 = time.perf_counter()
        # circom2 runs under WASI with the working directory as its file-system root: run it
        # from the folder that really holds node_modules (a git worktree may link to another
        # checkout's) so that the relative include path reaches node_modules/circomlib.
        _run([CIRCOM, d / "chain.circom", "--r1cs", "--wasm", "--O2", "-l", "node_modules",
              "-o", d], cwd=(ROOT / "node_modules").resolve().parent)
        t_compile = time.perf_counter() - t0
        _run([SNARKJS, "wtns", "calculate", d / "chain_js" / "chain.wasm", d / "input.json",
              d / "chain.wtns"], cwd=d)
        from prover.formats.r1cs import read_r1cs

        r1 = read_r1cs(d / "chain.r1cs")
        rows = r1.n_constraints + r1.n_public + 1
        circ = {"dir": str(d), "hashes": n_hash, "constraints": r1.n_constraints,
                "power": max(1, (rows - 1).bit_length()), "r1cs": str(d / "chain.r1cs"),
                "wtns": str(d / "chain.wtns"), "compile_seconds": round(t_compile, 2)}
        circ_path.write_text(json.dumps(circ, indent=1))
    power = circ["power"]
    if setup == "auto":
        setup = "snarkjs" if power <= SNARKJS_SETUP_MAX_POWER else "dev"
    info_path = d / f"setup_{setup}.json"
    if info_path.exists():
        return json.loads(info_path.read_text())
    zkey, vk = d / f"{setup}.zkey", d / f"{setup}_vk.json"
    t0 = time.perf_counter()
    if setup == "snarkjs":
        ptau = ptau_path(power, log)
        t0 = time.perf_counter()
        _run([SNARKJS, "groth16", "setup", circ["r1cs"], ptau, zkey], cwd=d)
    elif setup == "dev":
        from prover.groth16.setup import dev_setup_file

        dev_setup_file(circ["r1cs"], zkey)
    else:
        raise ValueError(f"unknown setup {setup!r}")
    t_setup = time.perf_counter() - t0
    _run([SNARKJS, "zkey", "export", "verificationkey", zkey, vk], cwd=d)
    info = {**circ, "setup": setup, "zkey": str(zkey), "vk": str(vk),
            "setup_seconds": round(t_setup, 2)}
    info_path.write_text(json.dumps(info, indent=1))
    log(f"circuit {n_hash} x Poseidon(2): {circ['constraints']} constraints, domain 2^{power}, "
        f"{setup} setup {t_setup:.1f} s")
    return info


# --- measurements ----------------------------------------------------------------------------

def zkprove_cmd() -> list:
    """`zkprove` of this checkout: `python -m prover.cli` run from ROOT (the console script of
    a shared virtual environment may import another checkout's code). The checkout's bytecode
    is written first, as ``pip install`` does: a source tree without it (or a machine with
    PYTHONDONTWRITEBYTECODE set) recompiles every imported module in every process."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "prover"], cwd=ROOT, check=True,
                   capture_output=True)
    return [sys.executable, "-m", "prover.cli"]


def measure(info: dict, vs: str | None, repeat: int, log=print, backend: str = "cpu",
            rapidsnark: str | None = None) -> dict:
    from prover.backend import get_backend
    from prover.groth16 import prove

    be = get_backend(backend)
    d = Path(info["dir"])
    proof, public = d / "our_proof.json", d / "our_public.json"
    cmd = [*zkprove_cmd(), "groth16", "prove", info["zkey"], info["wtns"], proof, public,
           "--backend", be.name]
    rproof, rpublic = d / "rapidsnark_proof.json", d / "rapidsnark_public.json"
    rcmd = [rapidsnark, info["zkey"], info["wtns"], rproof, rpublic] if rapidsnark else None
    runs, rruns = [], []
    for _ in range(repeat):  # interleaved: both provers see the same load
        runs.append(timed_child(cmd, cwd=ROOT))
        if rcmd:
            rruns.append(timed_child(rcmd))
    seconds = min(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    _run([SNARKJS, "groth16", "verify", info["vk"], public, proof], cwd=d)  # raises if invalid
    if rcmd:
        _run([SNARKJS, "groth16", "verify", info["vk"], rpublic, rproof], cwd=d)

    prove(info["zkey"], info["wtns"], backend=be)  # warm-up: JIT cache loading, page cache
    best, phases, work, device = float("inf"), {}, {}, be.device_name
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = prove(info["zkey"], info["wtns"], backend=be)
        dt = time.perf_counter() - t0
        if dt < best:
            best, phases, work, device = dt, res.timings, res.work, res.device

    rec = {"op": "prove", "constraints": info["constraints"], "domain_size": 1 << info["power"],
           "setup": info["setup"], "setup_seconds": info["setup_seconds"], "backend": be.name,
           "device": device,
           "seconds": round(seconds, 4), "peak_rss_mib": round(rss, 1),
           "in_process_seconds": round(best, 4),
           "phases": {k: round(v, 4) for k, v in phases.items()},
           "work": {k: round(v, 4) for k, v in work.items()},
           "load_average": round(os.getloadavg()[0], 2),
           "reference": None, "reference_seconds": None, "reference_peak_rss_mib": None,
           "ratio": None}
    if vs == "snarkjs":
        sproof, spublic = d / "snarkjs_proof.json", d / "snarkjs_public.json"
        scmd = [SNARKJS, "groth16", "prove", info["zkey"], info["wtns"], sproof, spublic]
        sruns = [timed_child(scmd) for _ in range(repeat)]
        ref = min(r[0] for r in sruns)
        rec.update(reference="snarkjs", reference_seconds=round(ref, 4),
                   reference_peak_rss_mib=round(max(r[1] for r in sruns), 1),
                   ratio=round(ref / seconds, 3))
    if rruns:
        rsec = min(r[0] for r in rruns)
        rec.update(rapidsnark_seconds=round(rsec, 4),
                   rapidsnark_peak_rss_mib=round(max(r[1] for r in rruns), 1),
                   rapidsnark_ratio=round(rsec / seconds, 3))
        log(f"{info['constraints']} constraints: rapidsnark {rsec:.3f} s "
            f"({rec['rapidsnark_peak_rss_mib']:.0f} MiB), "
            f"rapidsnark/ours {rec['rapidsnark_ratio']}")
    log(f"{info['constraints']} constraints: ours {seconds:.3f} s ({rss:.0f} MiB, in-process "
        f"{best:.3f} s)" + (f", snarkjs {rec['reference_seconds']:.3f} s "
                             f"({rec['reference_peak_rss_mib']:.0f} MiB), ratio {rec['ratio']}"
                             if rec["reference"] else ""))
    return rec


def run(sizes: list[int], vs: str | None = None, json_path: str | None = None,
        repeat: int = 3, log=print, setup: str = "auto", backend: str = "cpu",
        rapidsnark: str | None = None) -> list[dict]:
    if not (SNARKJS.exists() and CIRCOM.exists() and shutil.which("node")):
        raise RuntimeError("the benchmark needs node and the pinned node tools (npm ci)")
    records = []
    for n in sizes:
        records.append(measure(build_circuit(n, setup, log), vs, repeat, log, backend,
                               rapidsnark))
        if json_path:  # written after every size: large sizes take long
            Path(json_path).write_text(json.dumps(records, indent=2) + "\n")
    return records


def print_records(records: list[dict]) -> None:
    from benchmarks.common import print_table

    print_table("Groth16 prove (best wall time; process start-up included)", records, [
        ("constraints", "constraints"), ("seconds", "ours s"), ("peak_rss_mib", "ours MiB"),
        ("in_process_seconds", "ours in-process s"), ("reference_seconds", "snarkjs s"),
        ("reference_peak_rss_mib", "snarkjs MiB"), ("ratio", "snarkjs/ours"),
        ("rapidsnark_seconds", "rapidsnark s"), ("rapidsnark_peak_rss_mib", "rapidsnark MiB"),
        ("rapidsnark_ratio", "rapidsnark/ours")])
    for r in records:
        split = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in r["phases"].items())
        print(f"  {r['constraints']}: {split}")
        if r.get("work"):
            parts = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in r["work"].items())
            print(f"    thread seconds inside 'A.w, B.w, H and MSMs' (overlapping): {parts}")


# --- start-up (--startup) --------------------------------------------------------------------

_FIRST_KERNEL = ("from prover.fields import Fr\n"
                 "Fr.mul(Fr.from_ints([2]), Fr.from_ints([3]))")


def _best(cmd: list, repeat: int) -> dict:
    runs = [measured_child(cmd, cwd=ROOT) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["wall"])
    return {"seconds": round(best["wall"], 4), "peak_rss_mib": round(best["rss_mib"], 1)}


def measure_startup(info: dict, repeat: int, log=print) -> dict:
    """Whole-process figures on one circuit, ours (`zkprove` = python -m prover.cli) beside
    snarkjs's CLI, best of `repeat`: imports only, the first cached kernel, prove with each
    engine, verify. Our proofs are checked by `snarkjs groth16 verify`."""
    d = Path(info["dir"])
    py = sys.executable
    zk = [py, "-m", "prover.cli"]
    proof, public = d / "su_proof.json", d / "su_public.json"
    rec = {"op": "startup", "constraints": info["constraints"],
           "domain_size": 1 << info["power"], "setup": info["setup"],
           "import_prover_cli": _best([py, "-c", "import prover.cli"], repeat),
           "first_kernel": _best([py, "-c", _FIRST_KERNEL], repeat)}
    for engine in ("auto", "ints", "native", "kernels"):
        rec[f"prove_{engine}"] = _best([*zk, "groth16", "prove", info["zkey"], info["wtns"],
                                        proof, public, "--engine", engine], repeat)
        _run([SNARKJS, "groth16", "verify", info["vk"], public, proof], cwd=d)
    rec["verify"] = _best([*zk, "groth16", "verify", info["vk"], public, proof], repeat)
    sproof, spublic = d / "su_sproof.json", d / "su_spublic.json"
    rec["snarkjs_prove"] = _best([SNARKJS, "groth16", "prove", info["zkey"], info["wtns"],
                                  sproof, spublic], repeat)
    rec["snarkjs_verify"] = _best([SNARKJS, "groth16", "verify", info["vk"], spublic, sproof],
                                  repeat)
    rec["prove_ratio"] = round(rec["snarkjs_prove"]["seconds"] / rec["prove_auto"]["seconds"], 3)
    rec["verify_ratio"] = round(rec["snarkjs_verify"]["seconds"] / rec["verify"]["seconds"], 3)
    log(f"{info['constraints']} constraints: " + ", ".join(
        f"{k} {v['seconds']:.3f} s" for k, v in rec.items() if isinstance(v, dict)))
    return rec


def fixture_circuit(log=print) -> dict:
    """The 3-constraint circuit of tests/support/snark.py (snarkjs's own setup), cached."""
    from tests.support.snark import build

    d = cache_dir() / "mul3"
    d.mkdir(parents=True, exist_ok=True)
    s = build(d) if not (d / "mul.zkey").exists() else None
    if s is not None:
        log("fixture circuit built (snarkjs setup)")
    return {"dir": str(d), "constraints": 3, "power": 3, "setup": "snarkjs",
            "zkey": str(d / "mul.zkey"), "wtns": str(d / "mul.wtns"), "vk": str(d / "vk.json")}


def run_startup(sizes: list[int], json_path: str | None = None, repeat: int = 3, log=print,
                setup: str = "auto") -> list[dict]:
    """Start-up records: the fixture circuit (size 3, or any size <= 8) and chains of the
    other sizes."""
    records = []
    for n in sizes:
        info = fixture_circuit(log) if n <= 8 else build_circuit(n, setup, log)
        records.append(measure_startup(info, repeat, log))
        if json_path:
            Path(json_path).write_text(json.dumps(records, indent=2) + "\n")
    return records


def print_startup(records: list[dict]) -> None:
    from benchmarks.common import print_table

    rows = [{"constraints": r["constraints"], "domain": r["domain_size"],
             **{k: r[k]["seconds"] for k in ("import_prover_cli", "first_kernel", "prove_auto",
                                             "prove_ints", "prove_native", "prove_kernels",
                                             "snarkjs_prove", "verify", "snarkjs_verify")}}
            for r in records]
    print_table("Start-up, whole process, best wall seconds", rows, [
        ("constraints", "constraints"), ("domain", "domain"), ("import_prover_cli", "import"),
        ("first_kernel", "1st kernel"), ("prove_auto", "prove"), ("prove_ints", "ints"),
        ("prove_native", "native"), ("prove_kernels", "kernels"), ("snarkjs_prove", "snarkjs"),
        ("verify", "verify"),
        ("snarkjs_verify", "snarkjs verify")])
