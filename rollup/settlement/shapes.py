"""Batch shapes and their keys: the shape of ``[batch]`` (keys DATA/keys/batch.zkey and
batch_vk.json) and the further shapes the deployed contract verifies with keys of their own
(``[batch] shapes``, written by the deployment), whose keys sit beside them as
``batch-<slots>x<l1>.zkey`` and ``batch-<slots>x<l1>_vk.json`` (`rollup setup --named`).

Key files on disk that the configuration does not list are never used to prove (the contract
would refuse their batches): ``on_disk`` finds them for a deployment. ``choose`` closes a batch
with the smallest shape whose first batch takes every pending request, else with the shape whose
first batch takes the most; the provers prove each batch with its shape's key only
(``rollup.node.provers.UnknownShape`` otherwise) and the contract verifies it with that shape's
key (contracts/Rollup.sol, batch shapes). The node checks at start that the contract verifies
each shape with the key here (``rollup.node.node``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rollup.config import Config, parse_shape

_NAMED = re.compile(r"batch-(\d+x\d+)\.zkey")


class ShapeError(ValueError):
    """A configured batch shape has no keys here."""


@dataclass(frozen=True)
class Shape:
    slots: int
    l1_slots: int
    zkey: Path
    vk: Path

    @property
    def key(self) -> tuple[int, int]:
        return (self.slots, self.l1_slots)

    @property
    def name(self) -> str:
        return f"{self.slots}x{self.l1_slots}"


def shape_stem(slots: int, l1_slots: int) -> str:
    """File stem of a named shape's keys: batch-<slots>x<l1_slots>."""
    return f"batch-{slots}x{l1_slots}"


def _named(cfg: Config, slots: int, l1_slots: int) -> Shape:
    stem = cfg.keys_dir / shape_stem(slots, l1_slots)
    return Shape(slots, l1_slots, stem.with_suffix(".zkey"), Path(f"{stem}_vk.json"))


def batch_shapes(cfg: Config) -> list[Shape]:
    """The configured shape (whether or not its keys exist yet) and every shape ``[batch]
    shapes`` lists, by slots then L1 slots. A listed shape without both key files: ShapeError."""
    d = cfg.keys_dir
    out = [Shape(cfg.batch_slots, cfg.batch_l1_slots, d / "batch.zkey", d / "batch_vk.json")]
    for name in cfg.batch_shapes:
        s = _named(cfg, *parse_shape(name))  # validated when the configuration was read
        for f in (s.zkey, s.vk):
            if not f.is_file():
                raise ShapeError(f"batch shape {name} is in [batch] shapes (the contract "
                                 f"verifies it) but {f} is missing (`rollup setup --named "
                                 f"--slots {s.slots} --l1-slots {s.l1_slots} ...`)")
        out.append(s)
    return sorted(out, key=lambda s: s.key)


def on_disk(cfg: Config) -> list[Shape]:
    """Named shapes with both key files in the keys folder, other than the configured shape
    (what a deployment registers on the contract), by slots then L1 slots."""
    d = cfg.keys_dir
    out = []
    for p in sorted(d.glob("batch-*x*.zkey")) if d.is_dir() else ():
        m = _NAMED.fullmatch(p.name)
        shape = parse_shape(m[1]) if m else None
        if shape is None or shape == (cfg.batch_slots, cfg.batch_l1_slots):
            continue
        s = _named(cfg, *shape)
        if s.vk.is_file():
            out.append(s)
    return sorted(out, key=lambda s: s.key)


def shape_of(cfg: Config, slots: int, l1_slots: int) -> Shape:
    """The keys of a batch of this shape (a built batch's metadata names it)."""
    if (slots, l1_slots) == (cfg.batch_slots, cfg.batch_l1_slots):
        return Shape(slots, l1_slots, cfg.keys_dir / "batch.zkey",
                     cfg.keys_dir / "batch_vk.json")
    return _named(cfg, slots, l1_slots)


def choose(shapes: Sequence[Shape], plan: Callable[[Shape], list]) -> tuple[Shape, list]:
    """(shape, its plan): the smallest shape (fewest slots) whose plan is one batch, that is
    whose batch holds every request; else the shape whose first batch holds the most requests
    (the fewest slots among equals: a batch limited by its L1 slots gains nothing from more
    slots). ``plan(shape)`` is ``plan_batches`` for that shape; a shape that cannot take the
    first request (Unsupported) is passed over; if no shape can, the last shape's error stands."""
    # lazy: the batch builder loads the circuit package (Numba); the provers read shapes only
    from rollup.settlement.batch import Unsupported

    best, error = None, None
    for s in shapes:
        try:
            p = plan(s)
        except Unsupported as exc:
            error = exc
            continue
        if len(p) <= 1:
            return s, p
        if best is None or len(p[0]) > len(best[1][0]):
            best = (s, p)
    if best is None:
        raise error if error is not None else ValueError("no batch shape")
    return best
