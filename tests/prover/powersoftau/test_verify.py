"""`powersoftau verify` rejects what snarkjs rejects: tampered points, broken pairing ratios, a
broken hash chain, wrong phase-2 values, each with one line naming the check."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from prover.formats.container import read_container
from prover.formats.ptau import RECORD_FIXED
from prover.powersoftau.verify import PtauMismatch, verify_ptau
from tests.support.snark import SNARKJS, needs_node

from .test_ceremony import zkprove

G1B, G2B = 64, 128
# offsets inside a contribution record (formats.ptau): 5 points, then the key's 6 G1 and 3 G2
KEY_TAU_G1_SX = 3 * G1B + 2 * G2B + G1B
PARTIAL = 3 * G1B + 2 * G2B + 6 * G1B + 3 * G2B
NEXT_CHALLENGE = PARTIAL + 216
FIRST_RECORD_LEN = RECORD_FIXED + 8 + 2 + len("first")  # params: name "first"


def patch(src, dst, section: int, offset: int, data: bytes) -> None:
    shutil.copy(src, dst)
    s = next(x for x in read_container(src, b"ptau", 1).sections if x.id == section)
    raw = bytearray(dst.read_bytes())
    raw[s.offset + offset : s.offset + offset + len(data)] = data
    dst.write_bytes(bytes(raw))


def flip(b: bytes, at: int = 3) -> bytes:
    return b[:at] + bytes([b[at] ^ 1]) + b[at + 1 :]


def _read(path, section: int, offset: int, n: int) -> bytes:
    s = next(x for x in read_container(path, b"ptau", 1).sections if x.id == section)
    return path.read_bytes()[s.offset + offset : s.offset + offset + n]


def point(path, section: int, index: int, size: int) -> bytes:
    return _read(path, section, index * size, size)


def tampering(sj):
    """(name, section, offset, new bytes, message) over snarkjs's prepared power-3 file: two
    contributions (#1 "first", #2 a beacon)."""
    f = sj.prepared
    rec2 = 4 + FIRST_RECORD_LEN
    return [
        ("wrong tauG1 point", 2, 5 * G1B, point(f, 2, 6, G1B), "tauG1 section. Powers do not"),
        ("tauG2 point off the curve", 3, 2 * G2B, flip(point(f, 3, 2, G2B)), "not on the curve"),
        ("betaTauG1 swapped with alpha", 5, 1 * G1B, point(f, 4, 1, G1B), "betaTauG1 section"),
        ("generator replaced by infinity", 2, 0, bytes(G1B), "tauG1 section. Powers do not"),
        ("key ratio of #1", 7, 4 + KEY_TAU_G1_SX, point(f, 2, 3, G1B), "INVALID key (tau) in"),
        ("next challenge of #1", 7, 4 + NEXT_CHALLENGE,
         flip(_read(f, 7, 4 + NEXT_CHALLENGE, 64)), "challenge #2"),
        ("next challenge of #2", 7, rec2 + NEXT_CHALLENGE,
         flip(_read(f, 7, rec2 + NEXT_CHALLENGE, 64)), "does not match the next challenge"),
        ("partial hash of #2", 7, rec2 + PARTIAL + 130, b"\x55", "does not match the next"),
        ("Lagrange tauG1 point", 12, 5 * G1B, point(f, 12, 6, G1B), "tauG1: the phase 2"),
        ("Lagrange tauG2 point", 13, 2 * G2B, point(f, 13, 1, G2B), "tauG2: the phase 2"),
    ]


@needs_node
@pytest.mark.adversarial
def test_tampered_files_are_rejected_by_both(sj, tmp_path):
    for i, (name, section, offset, data, message) in enumerate(tampering(sj)):
        bad = tmp_path / f"bad{i}.ptau"
        patch(sj.prepared, bad, section, offset, data)
        with pytest.raises(PtauMismatch, match=re.escape(message)):
            verify_ptau(bad)
        res = subprocess.run([str(SNARKJS), "powersoftau", "verify", str(bad)],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode != 0 or "Powers of Tau Ok!" not in res.stdout, name


@needs_node
@pytest.mark.adversarial
def test_rejection_is_one_line(sj, tmp_path):
    bad = tmp_path / "bad.ptau"
    patch(sj.prepared, bad, 2, 5 * G1B, point(sj.prepared, 2, 6, G1B))
    res = zkprove("powersoftau", "verify", bad)
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("error: PtauMismatch: tauG1 section. Powers do not match")
    assert "Powers of Tau Ok!" not in res.stdout
