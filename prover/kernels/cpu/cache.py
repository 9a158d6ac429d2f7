"""Whether jitted kernels are already compiled on disk (Numba's `cache=True` index files).

A command that is about to run kernels compiled on first use says so instead of pausing
silently; this reads Numba's cache index, which holds one entry per compiled signature.
"""

from __future__ import annotations


def cached_signatures(dispatcher) -> int:
    """Signatures of `dispatcher` in its on-disk cache for the current source; -1 if unknown."""
    try:
        return len(dispatcher._cache._cache_file._load_index())
    except Exception:  # a Numba without these internals: unknown
        return -1


def needs_compiling(kernels) -> bool:
    """True when some (dispatcher, signatures expected) pair lacks cached signatures."""
    return any(0 <= cached_signatures(d) < n for d, n in kernels)
