"""Batch shapes and their keys: the shape of ``[batch]`` (keys DATA/keys/batch.zkey and
batch_vk.json) and every other shape whose keys sit beside them as ``batch-<slots>x<l1>.zkey``
and ``batch-<slots>x<l1>_vk.json`` (`rollup setup --named`).

``choose`` closes a batch with the smallest shape whose first batch takes every pending
request, else with the largest; the provers prove each batch with its shape's key and the
contract verifies it with that shape's key (contracts/Rollup.sol, batch shapes). A shape's depth
and asset table are the configuration's: keys of another depth fail at proving (witness size).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rollup.config import Config

_NAMED = re.compile(r"batch-(\d+)x(\d+)\.zkey")


@dataclass(frozen=True)
class Shape:
    slots: int
    l1_slots: int
    zkey: Path
    vk: Path

    @property
    def key(self) -> tuple[int, int]:
        return (self.slots, self.l1_slots)


def shape_stem(slots: int, l1_slots: int) -> str:
    """File stem of a named shape's keys: batch-<slots>x<l1_slots>."""
    return f"batch-{slots}x{l1_slots}"


def batch_shapes(cfg: Config) -> list[Shape]:
    """The configured shape (whether or not its keys exist yet) and every named shape with
    both keys in the keys folder, by slots then L1 slots."""
    d = cfg.keys_dir
    main = Shape(cfg.batch_slots, cfg.batch_l1_slots, d / "batch.zkey", d / "batch_vk.json")
    out = {main.key: main}
    for p in sorted(d.glob("batch-*x*.zkey")) if d.is_dir() else ():
        m = _NAMED.fullmatch(p.name)
        if m is None:
            continue
        s = Shape(int(m[1]), int(m[2]), p, p.with_name(f"{p.stem}_vk.json"))
        if 1 <= s.slots and 0 <= s.l1_slots <= s.slots and s.key not in out and s.vk.is_file():
            out[s.key] = s
    return sorted(out.values(), key=lambda s: s.key)


def shape_of(cfg: Config, slots: int, l1_slots: int) -> Shape:
    """The keys of a batch of this shape (a built batch's metadata names it)."""
    for s in batch_shapes(cfg):
        if s.key == (slots, l1_slots):
            return s
    stem = cfg.keys_dir / shape_stem(slots, l1_slots)
    return Shape(slots, l1_slots, stem.with_suffix(".zkey"), Path(f"{stem}_vk.json"))


def choose(shapes: Sequence[Shape], plan: Callable[[Shape], list]) -> tuple[Shape, list]:
    """(shape, its plan): the smallest shape (fewest slots) whose plan is one batch, that is
    whose batch holds every request; else the largest (more requests than it holds: a full
    batch). ``plan(shape)`` is ``plan_batches`` for that shape; a shape that cannot take the
    first request (Unsupported) is passed over, unless it is the largest."""
    # lazy: the batch builder loads the circuit package (Numba); the provers read shapes only
    from rollup.settlement.batch import Unsupported

    for s in shapes[:-1]:
        try:
            p = plan(s)
        except Unsupported:
            continue
        if len(p) <= 1:
            return s, p
    return shapes[-1], plan(shapes[-1])
