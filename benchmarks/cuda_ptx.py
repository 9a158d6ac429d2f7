"""Static cost of one Fq (and Fr) Montgomery product on the GPU, no GPU needed: the PTX that
Numba emits (4 x 64-bit limbs, carries by setp/selp) against the CUDA C kernel of
prover/kernels/cuda/ptx (8 x 32-bit limbs, mad.lo.cc/madc.hi.cc/addc carry chains, NVRTC).

Both kernels do the same work (out[i] = a[i] * b[i] over (n, 4) uint64 arrays). Per kernel:
PTX instruction counts by kind; with ptxas (a CUDA toolkit) registers and spills; with nvdisasm
the SASS instruction count, the machine's own measure (a 64-bit multiply is several 32-bit
IMADs, so PTX counts flatter Numba). Tools not found are recorded as null.

    python -m benchmarks cuda-ptx --json benchmarks/results/cuda-ptx.json
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.common import print_table, write_json

PAIRS = (("fq_mul", "fq_mul_k"), ("fr_mul", "fr_mul_k"))
ARCHS = ((8, 0), (9, 0))


def _entry_body(ptx: str, entry: str | None) -> list[str]:
    """Instruction lines of the .entry named `entry` (the first .entry when None)."""
    lines = ptx.splitlines()
    start = next(i for i, ln in enumerate(lines) if ".entry" in ln
                 and (entry is None or re.search(rf"\.entry\s+{re.escape(entry)}\s*\(", ln)))
    body, depth, opened = [], 0, False
    for ln in lines[start:]:
        depth += ln.count("{") - ln.count("}")
        opened = opened or "{" in ln
        s = ln.strip()
        if s and not s.startswith(("//", ".", "{", "}")) and not s.endswith(":"):
            body.append(s)
        if opened and depth == 0:
            break
    return body


def ptx_stats(ptx: str, entry: str | None) -> dict:
    ops = []
    for s in _entry_body(ptx, entry):
        toks = s.split()
        op = toks[1] if toks[0].startswith("@") else toks[0]
        ops.append(op.rstrip(";"))

    def n(pred) -> int:
        return sum(1 for op in ops if pred(op))

    return {
        "ptx_instructions": len(ops),
        "mul": n(lambda o: o.startswith("mul.")),
        "mul_hi_u64": n(lambda o: o == "mul.hi.u64"),
        "mad": n(lambda o: o.startswith(("mad.", "madc."))),
        "carry_chain": n(lambda o: ".cc." in o or o.startswith(("addc", "subc", "madc"))),
        "setp": n(lambda o: o.startswith("setp")),
        "selp": n(lambda o: o.startswith("selp")),
        "u64_ops": n(lambda o: o.endswith((".u64", ".s64", ".b64"))),
        "calls": n(lambda o: o.startswith("call")),
        "local": sum(".local" in s for s in _entry_body(ptx, entry)),
    }


def _tool(name: str) -> str | None:
    env = os.environ.get(name.upper())
    if env and Path(env).exists():
        return env
    found = shutil.which(name)
    if found:
        return found
    for d in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if d and (Path(d) / "bin" / name).exists():
            return str(Path(d) / "bin" / name)
    return None


def machine_stats(ptx: str, arch: str, entry: str) -> dict:
    """ptxas registers/spills and nvdisasm SASS count of `entry`; nulls where a tool is absent."""
    out: dict = {"registers": None, "spill_bytes": None, "sass_instructions": None}
    ptxas = _tool("ptxas")
    if ptxas is None:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        src, cubin = Path(tmp) / "k.ptx", Path(tmp) / "k.cubin"
        src.write_text(ptx)
        res = subprocess.run([ptxas, f"-arch={arch}", "-v", str(src), "-o", str(cubin)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            out["ptxas_error"] = res.stderr[-500:]
            return out
        info = res.stderr.split(f"Compiling entry function '{entry}'")[1]
        info = info.split("Compiling entry function")[0]
        out["registers"] = int(re.search(r"Used (\d+) registers", info).group(1))
        out["spill_bytes"] = sum(int(x) for x in re.findall(r"(\d+) bytes spill", info))
        nvdisasm = _tool("nvdisasm")
        if nvdisasm is not None:
            sass = subprocess.run([nvdisasm, str(cubin)], capture_output=True, text=True).stdout
            section = sass.split(f".text.{entry}:")[1]
            section = re.split(r"\n\s*\.(?:section|text\.)", section)[0]
            out["sass_instructions"] = len(re.findall(r"/\*[0-9a-f]{4,}\*/", section))
    return out


def run(json_path=None) -> list[dict]:
    from prover.kernels.cuda.compile import compile_ptx  # lazy: NVVM loads on first use
    from prover.kernels.cuda.ptx import nvrtc  # lazy: libnvrtc loads on first use
    from prover.kernels.cuda.ptx.source import source
    from prover.kernels.cuda.registry import all_kernels

    all_kernels()  # registers the Numba kernels
    records = []
    for cc in ARCHS:
        arch = f"sm_{cc[0]}{cc[1]}"
        native = nvrtc.compile_ptx(source(), f"compute_{cc[0]}{cc[1]}")
        for numba_name, c_name in PAIRS:
            numba_ptx = compile_ptx(numba_name, cc)
            rec = {"op": numba_name, "arch": arch, "nvrtc": ".".join(map(str, nvrtc.version())),
                   "ptxas": _tool("ptxas") is not None, "nvdisasm": _tool("nvdisasm") is not None,
                   "numba": {"kernel": numba_name, **ptx_stats(numba_ptx, None)},
                   "cuda_c": {"kernel": c_name, **ptx_stats(native, c_name)}}
            numba_entry = re.search(r"\.entry\s+(\S+)\s*\(", numba_ptx).group(1)
            rec["numba"].update(machine_stats(numba_ptx, arch, numba_entry))
            rec["cuda_c"].update(machine_stats(native, arch, c_name))
            for key in ("ptx_instructions", "sass_instructions"):
                a, b = rec["numba"][key], rec["cuda_c"][key]
                rec[f"ratio_{key}"] = round(a / b, 2) if a and b else None
            records.append(rec)
    print_table("One Montgomery product per thread: Numba (4x64) vs CUDA C (8x32, PTX carries)",
                [{"op": r["op"], "arch": r["arch"],
                  "np": r["numba"]["ptx_instructions"], "cp": r["cuda_c"]["ptx_instructions"],
                  "ns": r["numba"]["sass_instructions"], "cs": r["cuda_c"]["sass_instructions"],
                  "rs": r["ratio_sass_instructions"], "sel": r["numba"]["setp"]
                  + r["numba"]["selp"], "cc": r["cuda_c"]["carry_chain"]} for r in records],
                [("op", "op"), ("arch", "arch"), ("np", "Numba PTX"), ("cp", "CUDA C PTX"),
                 ("ns", "Numba SASS"), ("cs", "CUDA C SASS"), ("rs", "SASS ratio"),
                 ("sel", "Numba setp+selp"), ("cc", "CUDA C carry ops")])
    write_json(records, json_path)
    return records
