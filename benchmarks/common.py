"""Shared helpers for benchmarks: timing, JSON output, a results table."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Smallest wall time of `repeat` calls (the machines are shared and noisy)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def threads() -> int:
    import numba

    return numba.get_num_threads()


def write_json(records: list[dict], path: str | os.PathLike | None) -> None:
    if path:
        Path(path).write_text(json.dumps(records, indent=2) + "\n")


def print_table(title: str, records: list[dict], columns: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for _, header in columns:
        table.add_column(header, justify="right")
    for rec in records:
        row = []
        for key, _ in columns:
            v = rec.get(key)
            row.append("-" if v is None else f"{v:,.4g}" if isinstance(v, float) else str(v))
        table.add_row(*row)
    Console().print(table)
