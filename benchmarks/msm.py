"""G1/G2 MSM timings, beside ffjavascript (snarkjs's engine) on the same inputs in the same run.

Both sides get identical bytes: affine bases in Montgomery form and little-endian scalars, which
is ffjavascript's internal layout as well as ours; the results are compared, not just timed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, threads, write_json
from prover.curves import G1, G2
from prover.msm import choose_window, msm

ROOT = Path(__file__).resolve().parent.parent
JS = Path(__file__).resolve().parent / "js" / "msm_ffjavascript.js"


def ffjavascript_available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "ffjavascript").exists()


def random_scalars(n: int, seed: int) -> np.ndarray:
    """Uniform-looking scalars below 2^253 < r (plain limbs)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64) * np.uint64(2)
    k += rng.integers(0, 2, size=(n, 4), dtype=np.uint64)
    k[:, 3] &= np.uint64((1 << 61) - 1)
    return k


def _ffjs(group: str, bases: np.ndarray, scalars: np.ndarray, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        bp, sp = Path(d) / "bases.bin", Path(d) / "scalars.bin"
        bp.write_bytes(np.ascontiguousarray(bases).tobytes())
        sp.write_bytes(np.ascontiguousarray(scalars).astype("<u8").tobytes())
        out = subprocess.run(
            ["node", str(JS), group, str(bp), str(sp), str(repeats)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
    return json.loads(out.stdout)


def run(
    sizes: dict[str, list[int]],
    json_path=None,
    vs: bool = True,
    repeats: int = 2,
    window: int | None = None,
) -> list[dict]:
    records = []
    peer = vs and ffjavascript_available()
    for op, group in (("msm_g1", G1), ("msm_g2", G2)):
        for n in sizes.get(op, []):
            bases = group.random_points(n, seed=n)
            k = random_scalars(n, seed=n + 1)
            msm(group, bases[:64], k[:64])  # compile / warm
            best, ours = float("inf"), None
            for _ in range(repeats):
                t0 = time.perf_counter()
                ours = msm(group, bases, k, window=window)
                best = min(best, time.perf_counter() - t0)
            rec = {
                "op": op,
                "n": n,
                "backend": "cpu",
                "threads": threads(),
                "window": window or choose_window(n, bases[0].nbytes),
                "seconds": round(best, 4),
            }
            if peer:
                ref = _ffjs(group.name, bases, k, repeats)
                ours_ints = group.to_ints(ours[None])[0]
                ref_pt = ref["point"]
                ref_ints = (
                    (int(ref_pt[0]), int(ref_pt[1]))
                    if group is G1
                    else tuple(tuple(int(c) for c in xy) for xy in ref_pt[:2])
                )
                if ours_ints != ref_ints:
                    raise RuntimeError(f"{op} n={n}: result differs from ffjavascript")
                rec.update(
                    reference="ffjavascript",
                    reference_seconds=round(ref["seconds"], 4),
                    ratio=round(ref["seconds"] / best, 2),
                    results_match=True,
                )
            records.append(rec)
            print(json.dumps(rec), flush=True)
    write_json(records, json_path)
    return records


def plot(records: list[dict], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib (pip install matplotlib)") from exc
    fig, ax = plt.subplots(figsize=(6, 4))
    for op in sorted({r["op"] for r in records}):
        rs = [r for r in records if r["op"] == op]
        ax.loglog([r["n"] for r in rs], [r["seconds"] for r in rs], "o-", label=f"{op} ours")
        if all("reference_seconds" in r for r in rs):
            ax.loglog(
                [r["n"] for r in rs],
                [r["reference_seconds"] for r in rs],
                "s--",
                label=f"{op} ffjavascript",
            )
    ax.set_xlabel("points")
    ax.set_ylabel("seconds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main(sizes, json_path=None, vs=True, plot_path=None, repeats=2, window=None):
    records = run(sizes, json_path, vs, repeats, window)
    print_table(
        "MSM (wall seconds, all cores)",
        records,
        [
            ("op", "op"),
            ("n", "n"),
            ("threads", "threads"),
            ("window", "c"),
            ("seconds", "ours s"),
            ("reference_seconds", "ffjavascript s"),
            ("ratio", "x faster"),
        ],
    )
    if plot_path:
        plot(records, plot_path)
    return records
