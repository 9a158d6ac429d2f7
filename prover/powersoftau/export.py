"""`powersoftau export json`: the .ptau as snarkjs 0.7.6 writes it with bfj (one-space indent).

snarkjs turns every byte buffer into a string with Fr.toString (misc.js
stringifyBigIntsWithField), so each point, hash and partial hash becomes the integer
(first 32 bytes, little-endian) * 2^-256 mod r: for a point, its x (c0 on G2) read as an Fr
element in Montgomery form. A buffer shorter than 32 bytes (a beacon hash) is copied over the
previous one in ffjavascript's scratch memory, so its missing bytes are the previous buffer's
(the contribution's response hash). Lagrange sections are exported for domains 2^0..2^power;
like snarkjs this needs a prepared file.
"""

from __future__ import annotations

import json
import os

import numpy as np

from prover.constants import R
from prover.errors import FormatError
from prover.formats.ptau import KEY_PARTS, Ptau, parse_contributions, read_ptau
from prover.powersoftau.verify import response_hash

_R_INV = pow(1 << 256, -1, R)


class _FrStrings:
    """Fr.toString over buffers, with ffjavascript's 32-byte scratch operand."""

    def __init__(self) -> None:
        self.mem = bytearray(32)

    def __call__(self, buf: bytes) -> str:
        b = bytes(buf)[:32]
        self.mem[: len(b)] = b
        return str(int.from_bytes(self.mem, "little") * _R_INV % R)

    def points(self, arr: np.ndarray) -> list[str]:
        """Each point's string; only the first 32 bytes (x, or x.c0) count."""
        a = np.ascontiguousarray(arr, dtype="<u8").reshape(len(arr), -1)
        if len(a):
            self.mem[:] = a[-1, :4].tobytes()
        x = a[:, :4]
        return [str(int.from_bytes(row.tobytes(), "little") * _R_INV % R) for row in x]


def _dump(v, level: int) -> str:
    """bfj.write(..., {space: 1})."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(v, dict):
        items = [f"{inner}{json.dumps(k)}: {_dump(x, level + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + ("\n" if items else "") + pad + "}"
    if isinstance(v, list):
        items = [inner + _dump(x, level + 1) for x in v]
        return "[\n" + ",\n".join(items) + ("\n" if items else "") + pad + "]"
    return json.dumps(v, ensure_ascii=False)


def ptau_json(p: Ptau) -> str:
    if not p.prepared:
        raise FormatError("export json needs a file prepared for phase 2 (snarkjs reads its "
                          "sections 12-15): run `powersoftau prepare phase2` first")
    s = _FrStrings()
    contributions = []
    for i, c in enumerate(parse_contributions(p.contributions)):
        d = {"tauG1": s(c.tau_g1.tobytes()), "tauG2": s(c.tau_g2.tobytes()),
             "alphaG1": s(c.alpha_g1.tobytes()), "betaG1": s(c.beta_g1.tobytes()),
             "betaG2": s(c.beta_g2.tobytes()),
             "key": {k: {"g1_s": s(c.key[k].g1_s.tobytes()), "g1_sx": s(c.key[k].g1_sx.tobytes()),
                         "g2_spx": s(c.key[k].g2_spx.tobytes())} for k in KEY_PARTS},
             "partialHash": s(c.partial_hash), "nextChallenge": s(c.next_challenge),
             "type": c.type, "responseHash": s(response_hash(c))}
        if c.name is not None:
            d["name"] = c.name
        if c.num_iterations_exp is not None:
            d["numIterationsExp"] = c.num_iterations_exp
        if c.beacon_hash is not None:
            d["beaconHash"] = s(c.beacon_hash)
        d["id"] = i + 1
        contributions.append(d)
    doc = {"q": str(p.q), "power": p.power, "contributions": contributions}
    doc["tauG1"] = s.points(p.tau_g1)
    doc["tauG2"] = s.points(p.tau_g2)
    doc["alphaTauG1"] = s.points(p.alpha_tau_g1)
    doc["betaTauG1"] = s.points(p.beta_tau_g1)
    doc["betaG2"] = s.points(np.asarray(p.beta_g2)[None])
    for key, sec in (("lTauG1", p.lagrange_tau_g1), ("lTauG2", p.lagrange_tau_g2),
                     ("lAlphaTauG1", p.lagrange_alpha_tau_g1),
                     ("lBetaTauG1", p.lagrange_beta_tau_g1)):
        doc[key] = [s.points(sec[(1 << k) - 1 : (2 << k) - 1]) for k in range(p.power + 1)]
    return _dump(doc, 0)


def export_json_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    text = ptau_json(read_ptau(src))
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)
