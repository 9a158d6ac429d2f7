"""Child processes that die with their parent (Linux PR_SET_PDEATHSIG), so none outlives a
kill -9 of the process that started it: the Anvil node we start, the node's workers.

Kept apart from `rollup.chain.node` so that a worker process can use it without loading web3.
"""

from __future__ import annotations

import ctypes
import signal
import sys


def die_with_parent() -> None:
    """Ask the kernel to send SIGTERM to this process when its parent dies (a no-op off Linux);
    safe between fork and exec."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass
