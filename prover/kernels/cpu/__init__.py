"""Numba CPU kernels (`cache=True`: compiled on first use, then loaded from disk).

Importing this package installs a listener on Numba's "numba:compile" event, which fires only
when a kernel is really compiled (never on a cache hit): one line on stderr names each kernel
as its compile starts, so a first use that takes minutes is never silent.
"""

from __future__ import annotations

import sys

from numba.core import event


class _CompileNotice(event.Listener):
    """`compiling <kernel> (first use; cached for later runs)` for each outermost compile."""

    def __init__(self) -> None:
        self.depth = 0
        self.muted = False  # while the native library builds: it says so once, itself

    def on_start(self, ev) -> None:
        self.depth += 1
        if self.depth == 1 and not self.muted:
            d = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            name = getattr(getattr(d, "py_func", None), "__qualname__", "a kernel")
            mod = getattr(getattr(d, "py_func", None), "__module__", "")
            print(f"compiling {mod}.{name} (first use; cached for later runs) ...",
                  file=sys.stderr, flush=True)

    def on_end(self, ev) -> None:
        self.depth -= 1


COMPILE_NOTICE = _CompileNotice()
event.register("numba:compile", COMPILE_NOTICE)

# Before any kernel module defines its dispatchers: the field product's choice (adx.py) may
# move Numba's cache directory.
from prover.kernels.cpu import adx  # noqa: E402, F401

