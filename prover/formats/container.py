"""The binary container shared by iden3/snarkjs files (.r1cs, .wtns, .zkey, .ptau).

Layout (all integers little-endian):

    magic     4 bytes   e.g. b"r1cs", b"wtns", b"zkey", b"ptau"
    version   u32
    nSections u32
    nSections times:  id u32 | size u64 | payload (size bytes)

Section ids may repeat in principle and may appear in any order; readers look sections up by id.
Files are memory-mapped and payloads are returned as numpy views, so multi-GB files cost
nothing until touched.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from prover.errors import FormatError

from ._limbs import limbs_to_int

HEADER_SIZE = 12  # magic + version + nSections
SECTION_HEADER_SIZE = 12  # id u32 + size u64


__all__ = ["FormatError"]  # defined in prover.errors, named here as every reader raises it


@dataclass(frozen=True)
class Section:
    id: int
    offset: int  # absolute file offset of the payload
    size: int


Chunk = bytes | bytearray | memoryview | np.ndarray


@dataclass(frozen=True)
class Streamed:
    """A section payload of `size` bytes made chunk by chunk as it is written (`chunks()`), so a
    multi-GB section never exists whole in memory."""

    size: int
    chunks: Callable[[], Iterable[Chunk]]


Payload = Chunk | Sequence[Chunk] | Streamed


def _map_file(path: str | os.PathLike) -> np.ndarray:
    """Whole file as a read-only uint8 array backed by mmap (or empty for an empty file)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return np.zeros(0, dtype=np.uint8)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    # np.frombuffer keeps a reference to the mmap: views outlive this function safely.
    return np.frombuffer(mm, dtype=np.uint8)


def drop_pages(arr: np.ndarray) -> None:
    """Let this process's mapping of a read-only file drop the pages under `arr`
    (madvise MADV_DONTNEED): they stay in the page cache and map again on the next read, so a
    section read once (a zkey's, while proving) stops counting in the resident memory. No-op
    for an array that is not a view of a mapped file."""
    root, b = arr, arr.base
    while isinstance(b, np.ndarray):
        root, b = b, b.base
    mm = b.obj if isinstance(b, memoryview) else None
    if not isinstance(mm, mmap.mmap) or not hasattr(mm, "madvise") or arr.nbytes == 0:
        return
    start = arr.ctypes.data - root.ctypes.data
    page = mmap.PAGESIZE
    lo = start // page * page
    hi = min(len(mm), -(-(start + arr.nbytes) // page) * page)
    mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


class BinFile:
    """A parsed container: magic, version and the section table over a memory-mapped buffer."""

    def __init__(self, buf: np.ndarray, magic: bytes, version: int, sections: list[Section],
                 name: str = "<buffer>"):
        self.buf = buf
        self.magic = magic
        self.version = version
        self.sections = sections  # in file order
        self.name = name

    @property
    def section_ids(self) -> list[int]:
        return [s.id for s in self.sections]

    def has(self, sid: int) -> bool:
        return any(s.id == sid for s in self.sections)

    def section(self, sid: int) -> Section:
        found = [s for s in self.sections if s.id == sid]
        if not found:
            raise FormatError(f"{self.name}: missing section {sid}")
        if len(found) > 1:
            raise FormatError(f"{self.name}: duplicated section {sid}")
        return found[0]

    def payload(self, sid: int) -> np.ndarray:
        """uint8 view of one unique section's payload."""
        s = self.section(sid)
        return self.buf[s.offset : s.offset + s.size]

    def reader(self, sid: int) -> SectionReader:
        return SectionReader(self.payload(sid), f"{self.name}: section {sid}")


class SectionReader:
    """Sequential little-endian reads inside one section payload, with bounds checks."""

    def __init__(self, data: np.ndarray, where: str):
        self.data = data
        self.pos = 0
        self.where = where

    def _take(self, n: int) -> np.ndarray:
        if self.pos + n > len(self.data):
            raise FormatError(f"{self.where}: truncated (needs {self.pos + n} bytes, "
                              f"has {len(self.data)})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int.from_bytes(self._take(4).tobytes(), "little")

    def u64(self) -> int:
        return int.from_bytes(self._take(8).tobytes(), "little")

    def bigint(self, n8: int) -> int:
        return int.from_bytes(self._take(n8).tobytes(), "little")

    def raw(self, n: int) -> np.ndarray:
        return self._take(n)

    def array(self, count: int, shape: tuple[int, ...]) -> np.ndarray:
        """`count` records of uint64 limbs with the given per-record shape, as a view."""
        per = int(np.prod(shape)) * 8
        chunk = self._take(count * per)
        return as_u64(chunk).reshape((count, *shape))

    def limbs(self, n8: int) -> np.ndarray:
        return as_u64(self._take(n8))

    def rest(self) -> np.ndarray:
        return self._take(len(self.data) - self.pos)

    def expect_end(self) -> None:
        if self.pos != len(self.data):
            raise FormatError(f"{self.where}: {len(self.data) - self.pos} unexpected trailing "
                              f"bytes")


def as_u64(chunk: np.ndarray) -> np.ndarray:
    """View a uint8 array as little-endian uint64 without copying when alignment allows."""
    if len(chunk) % 8:
        raise FormatError("payload length is not a multiple of 8")
    view = chunk.view("<u8")
    if view.dtype != np.uint64:  # big-endian host: convert (copy)
        view = view.astype(np.uint64)
    return view


def ensure_aligned(arr: np.ndarray) -> np.ndarray:
    """The array itself when its data is aligned for its dtype, else an aligned copy.

    Section payloads start wherever the previous sections end, so mapped views of 8-byte limbs
    are not always 8-byte aligned; numpy and Numba accept them, but kernels may prefer copies.
    """
    return arr if arr.flags.aligned else np.require(arr, requirements=["A", "C"])


def read_container(src: str | os.PathLike | np.ndarray | bytes, magic: bytes,
                   max_version: int, min_version: int = 1) -> BinFile:
    """Parse the container header and section table; payloads are not read."""
    if isinstance(src, np.ndarray):
        buf, name = src.view(np.uint8).reshape(-1), "<buffer>"
    elif isinstance(src, bytes | bytearray | memoryview):
        buf, name = np.frombuffer(src, dtype=np.uint8), "<buffer>"
    else:
        buf, name = _map_file(src), os.fspath(src)
    size = len(buf)
    if size < HEADER_SIZE:
        raise FormatError(f"{name}: truncated header ({size} bytes)")
    got = buf[:4].tobytes()
    if got != magic:
        raise FormatError(f"{name}: bad magic {got!r}, expected {magic!r}")
    version, n_sections = struct.unpack("<II", buf[4:12].tobytes())
    if not (min_version <= version <= max_version):
        raise FormatError(f"{name}: unsupported version {version} for {magic.decode()} "
                          f"(supported {min_version}..{max_version})")
    sections: list[Section] = []
    pos = HEADER_SIZE
    for i in range(n_sections):
        if pos + SECTION_HEADER_SIZE > size:
            raise FormatError(f"{name}: truncated section table at section #{i} "
                              f"(declares {n_sections} sections)")
        sid, ssize = struct.unpack("<IQ", buf[pos : pos + SECTION_HEADER_SIZE].tobytes())
        pos += SECTION_HEADER_SIZE
        if pos + ssize > size:
            raise FormatError(f"{name}: truncated section {sid}: needs {ssize} bytes at offset "
                              f"{pos}, file has {size - pos}")
        sections.append(Section(sid, pos, ssize))
        pos += ssize
    if pos != size:
        raise FormatError(f"{name}: {size - pos} trailing bytes after the last section")
    return BinFile(buf, magic, version, sections, name)


def _chunks(payload: Payload) -> list[memoryview]:
    items = [payload] if isinstance(payload, bytes | bytearray | memoryview | np.ndarray) \
        else list(payload)
    out = []
    for c in items:
        if isinstance(c, np.ndarray):
            c = np.ascontiguousarray(c)
            if c.dtype.byteorder == ">":
                c = c.astype(c.dtype.newbyteorder("<"))
            out.append(memoryview(c.reshape(-1).view(np.uint8)))
        else:
            out.append(memoryview(c).cast("B"))
    return out


def write_container(path: str | os.PathLike, magic: bytes, version: int,
                    sections: Iterable[tuple[int, Payload]]) -> None:
    """Write a container; each section's payload is bytes, an array, or a list of those."""
    if len(magic) != 4:
        raise ValueError("magic must be 4 bytes")
    sections = list(sections)
    with open(path, "wb") as f:
        f.write(magic + struct.pack("<II", version, len(sections)))
        for sid, payload in sections:
            if isinstance(payload, Streamed):
                f.write(struct.pack("<IQ", sid, payload.size))
                done = 0
                for part in payload.chunks():
                    for c in _chunks(part):
                        f.write(c)
                        done += c.nbytes
                if done != payload.size:
                    raise ValueError(f"section {sid}: {done} bytes streamed, {payload.size} "
                                     "declared")
                continue
            chunks = _chunks(payload)
            f.write(struct.pack("<IQ", sid, sum(c.nbytes for c in chunks)))
            for c in chunks:
                f.write(c)


def u32(x: int) -> bytes:
    return struct.pack("<I", x)


def u64(x: int) -> bytes:
    return struct.pack("<Q", x)


def bigint_bytes(x: int, n8: int) -> bytes:
    return int(x).to_bytes(n8, "little")


__all__ = [
    "BinFile",
    "FormatError",
    "Section",
    "SectionReader",
    "Streamed",
    "as_u64",
    "bigint_bytes",
    "ensure_aligned",
    "limbs_to_int",
    "read_container",
    "u32",
    "u64",
    "write_container",
]
