"""Snapshot files: a versioned container of named numpy arrays plus a JSON map, and the policy.

A snapshot at sequence number n holds what replaying journal rows 1..n gives (the engine fills
``meta`` and ``arrays``; the fields of format 1 are listed in ``docs/durability.md``). File:
``MAGIC``, the format version (u32), the header length (u32), the SHA-256 of header + body, the
header (UTF-8 JSON: seq, root, meta, and per array its name, dtype, shape, offset) and the body
(the arrays' raw little-endian bytes). ``decode`` checks the magic, the version and the hash
before it reads anything else and raises ``SnapshotError`` for any file it cannot take; only
plain numeric dtypes are accepted (no Python object is ever loaded). Files are written to a
temporary name, fsynced and renamed (``SnapshotStore``): a crash leaves the older files intact.
``SnapshotPolicy``: a snapshot every ``every`` requests and at a clean stop (0: never).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

MAGIC = b"ZKDSNAP\n"
FORMAT_VERSION = 1
_FIXED = struct.Struct(">II32s")  # format version, header length, SHA-256 of header + body
_DTYPES = frozenset({"<i8", "<u8", "|u1", "<i4", "<u4", "|b1"})
KEEP_SNAPSHOTS = 2  # the newest files are kept; older ones are removed once a new one lands


class SnapshotError(Exception):
    """A snapshot that cannot be used (damaged, unknown version, another journal or engine);
    recovery falls back to an older snapshot or to the journal alone."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Snapshot(NamedTuple):
    seq: int  # journal rows 1..seq are in it
    root: int  # the state root at seq
    meta: dict  # JSON-able
    arrays: dict[str, np.ndarray]


def encode(snap: Snapshot) -> bytes:
    """The file's bytes (see the module docstring)."""
    index, chunks, offset = [], [], 0
    for name, a in snap.arrays.items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt.str not in _DTYPES:
            raise SnapshotError(f"array {name}: dtype {a.dtype} has no place in a snapshot")
        raw = a.astype(dt, copy=False).tobytes()
        index.append({"name": name, "dtype": dt.str, "shape": list(a.shape), "offset": offset})
        chunks.append(raw)
        offset += len(raw)
    header = json.dumps({"seq": snap.seq, "root": f"0x{snap.root:064x}", "meta": snap.meta,
                         "arrays": index}, separators=(",", ":")).encode()
    body = b"".join(chunks)
    digest = hashlib.sha256(header)
    digest.update(body)
    return MAGIC + _FIXED.pack(FORMAT_VERSION, len(header), digest.digest()) + header + body


def decode(data: bytes) -> Snapshot:
    """The snapshot in ``data``; SnapshotError if it is not a whole, known-version file."""
    n = len(MAGIC) + _FIXED.size
    if len(data) < n or not data.startswith(MAGIC):
        raise SnapshotError("not a snapshot file")
    version, hlen, digest = _FIXED.unpack_from(data, len(MAGIC))
    if version != FORMAT_VERSION:
        raise SnapshotError(f"snapshot format {version}, this version reads {FORMAT_VERSION}")
    view = memoryview(data)[n:]
    if len(view) < hlen or hashlib.sha256(view).digest() != digest:
        raise SnapshotError("snapshot content hash does not match (damaged or cut short)")
    try:
        header = json.loads(bytes(view[:hlen]))
        body = view[hlen:]
        arrays = {}
        for spec in header["arrays"]:
            if spec["dtype"] not in _DTYPES:
                raise SnapshotError(f"array {spec['name']}: dtype {spec['dtype']}")
            dt, shape = np.dtype(spec["dtype"]), tuple(int(x) for x in spec["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            start = int(spec["offset"])
            if start < 0 or start + count * dt.itemsize > len(body):
                raise SnapshotError(f"array {spec['name']} runs past the end of the file")
            arrays[spec["name"]] = np.frombuffer(body, dt, count, start).reshape(shape)
        return Snapshot(int(header["seq"]), int(header["root"], 16), header["meta"], arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"malformed snapshot header: {exc!r}") from None


@dataclass
class SnapshotPolicy:
    """When to write: every ``every`` requests after the last snapshot, and at a clean stop if
    any request came since (``every`` = 0: never). ``last``: the newest snapshot's number
    (written or restored); ``error``: why the last attempt failed, None after a success."""

    every: int = 0
    last: int = 0
    error: str | None = None
    written: int = 0  # files written under this policy

    def due(self, seq: int, stopping: bool = False) -> bool:
        return bool(self.every) and seq - self.last >= (1 if stopping else self.every)


class SnapshotStore:
    """The snapshot files of one journal: ``<dir>/snap-<seq>.snap``, the newest
    ``KEEP_SNAPSHOTS`` kept; a file being written is ``.snap-<seq>.<pid>.tmp`` until it is
    renamed into place."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)

    def write(self, snap: Snapshot) -> Path:
        """Write ``snap`` (temporary file, fsync, rename, directory fsync); its path."""
        data = encode(snap)
        d = self.dir
        d.mkdir(exist_ok=True)
        final = d / f"snap-{snap.seq:012d}.snap"
        tmp = d / f".snap-{snap.seq:012d}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        _fsync_dir(d)
        self._prune(snap.seq)
        return final

    def files(self) -> list[tuple[int, Path]]:
        """(seq, path) of the snapshot files, oldest first."""
        if not self.dir.is_dir():
            return []
        out = []
        for path in self.dir.glob("snap-*.snap"):
            try:
                out.append((int(path.name[5:-5]), path))
            except ValueError:
                continue
        return sorted(out)

    def newest_first(self, upto: int | None = None) -> Iterator[Snapshot | SnapshotError]:
        """Each file at or before ``upto``, newest first: its snapshot, or the SnapshotError
        that makes it unusable (a file whose header disagrees with its name included)."""
        for seq, path in reversed(self.files()):
            if upto is not None and seq > upto:
                continue
            try:
                snap = decode(path.read_bytes())
                if snap.seq != seq:
                    raise SnapshotError(f"holds sequence number {snap.seq}")
            except OSError as exc:
                yield SnapshotError(f"{path.name}: {exc}")
            except SnapshotError as exc:
                yield SnapshotError(f"{path.name}: {exc.reason}")
            else:
                yield snap

    def _prune(self, newest: int) -> None:
        for _, path in self.files()[:-KEEP_SNAPSHOTS]:
            path.unlink(missing_ok=True)
        for path in self.dir.glob(".snap-*.tmp"):
            if not path.name.startswith(f".snap-{newest:012d}."):
                path.unlink(missing_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view[: 1 << 22])
        view = view[n:]


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
