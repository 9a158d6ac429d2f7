"""The transcript's encodings and hash state against @noble/hashes and ffjavascript."""

from __future__ import annotations

import json
import random
import subprocess

import numpy as np
from py_ecc.optimized_bn128 import G1 as PG1
from py_ecc.optimized_bn128 import G2 as PG2
from py_ecc.optimized_bn128 import multiply, neg, normalize

from prover.constants import Q
from prover.curves import G1, G2
from prover.formats.ptau import parse_contributions, read_ptau
from prover.powersoftau.transcript import NobleBlake2b, compressed, first_challenge, uncompressed
from tests.support.snark import ROOT, needs_node

from .conftest import POWER

# The state snarkjs stores (misc.js toPartialHash) of a noble BLAKE2b fed these chunks.
NOBLE_PARTIAL = r"""
const { blake2b } = require("@noble/hashes/blake2b");
const spec = JSON.parse(require("fs").readFileSync(0, "utf8"));
const h = blake2b.create({ dkLen: 64 });
for (const c of spec) h.update(Uint8Array.from(Buffer.from(c, "hex")));
const out = new Uint8Array(216);
const w = new Uint32Array(out.buffer, 128, 20);
out.set(h.buffer);
const v = [h.v0l, h.v0h, h.v1l, h.v1h, h.v2l, h.v2h, h.v3l, h.v3h,
           h.v4l, h.v4h, h.v5l, h.v5h, h.v6l, h.v6h, h.v7l, h.v7h];
v.forEach((x, i) => { w[i] = x; });
w[16] = h.length - h.pos;
w[18] = h.pos;
process.stdout.write(Buffer.from(out).toString("hex"));
"""


@needs_node
def test_partial_state_is_nobles():
    """Chunk lengths as the ceremony feeds them (multiples of 32), including whole blocks kept
    in the buffer and stale bytes left past `pos`."""
    rng = random.Random(3)
    for sizes in ([64], [64, 4096, 64, 32], [128, 128], [64, 160, 32 * 41, 96, 64, 2048, 64],
                  [32] * 9, [1024, 32, 32, 128 * 3]):
        chunks = [bytes(rng.randrange(256) for _ in range(s)) for s in sizes]
        res = subprocess.run(["node", "-e", NOBLE_PARTIAL], input=json.dumps(
            [c.hex() for c in chunks]), capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert res.returncode == 0, res.stderr
        h = NobleBlake2b()
        for c in chunks:
            h.update(c)
        assert h.partial().hex() == res.stdout, sizes


def be(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _pe_affine(p):
    x, y = normalize(p)
    return x, y


def test_encodings_of_points():
    for k in (1, 2, 3, 12345):
        for group, pe in ((G1, PG1), (G2, PG2)):
            for pt in (multiply(pe, k), neg(multiply(pe, k))):
                x, y = _pe_affine(pt)
                if group is G1:
                    ints = (int(x), int(y))
                else:
                    ints = (tuple(int(c) for c in x.coeffs), tuple(int(c) for c in y.coeffs))
                arr = group.from_ints([ints])
                if group is G1:
                    want_u = be(ints[0]) + be(ints[1])
                    negative = ints[1] > (Q - 1) // 2
                    xb = be(ints[0])
                else:
                    (x0, x1), (y0, y1) = ints
                    want_u = be(x1) + be(x0) + be(y1) + be(y0)
                    negative = (y1 if y1 else y0) > (Q - 1) // 2
                    xb = be(x1) + be(x0)
                assert uncompressed(group, arr) == want_u
                want_c = bytes([xb[0] | (0x80 if negative else 0)]) + xb[1:]
                assert compressed(group, arr) == want_c
    for group, size in ((G1, 32), (G2, 64)):
        inf = group.empty_affine(1)
        assert compressed(group, inf) == b"\x40" + bytes(size - 1)
        assert uncompressed(group, inf) == bytes(2 * size)


@needs_node
def test_first_challenge_and_partial_hash_of_snarkjs(sj):
    """The first contribution's stored state, recomputed from the file snarkjs wrote."""
    p = read_ptau(sj.first)
    c = parse_contributions(p.contributions)[0]
    h = NobleBlake2b().update(first_challenge(POWER))
    for group, pts in ((G1, p.tau_g1), (G2, p.tau_g2), (G1, p.alpha_tau_g1),
                       (G1, p.beta_tau_g1), (G2, np.asarray(p.beta_g2)[None])):
        h.update(compressed(group, pts))
    assert h.partial() == c.partial_hash
