"""snarkjs JSON documents: proof.json, public.json, verification_key.json (Groth16, bn128).

Points are Python ints in plain tuples: G1 (x, y) or None for infinity; G2 ((x0, x1), (y0, y1))
or None, with x = x0 + x1*u. On disk snarkjs writes projective coordinates with z = 1 (affine),
every number a decimal string, and the point at infinity as [0, 1, 0]:

    G1  ["x", "y", "1"]                       infinity ["0", "1", "0"]
    G2  [["x0", "x1"], ["y0", "y1"], ["1", "0"]]   infinity [["0","0"], ["1","0"], ["0","0"]]

Files are written as snarkjs does (bfj with {space: 1}): JSON with one-space indentation, keys in
snarkjs's order, no trailing newline; json.dumps(obj, indent=1) but for empty containers.

vk_alphabeta_12 = e(alpha1, beta2) in GT, written as snarkjs's Fq12 tower
[[c0.c0, c0.c1, c0.c2], [c1.c0, c1.c1, c1.c2]] with each entry an Fq2 pair, where
Fq12 = Fq6[w]/(w^2 - v), Fq6 = Fq2[v]/(v^3 - (9 + u)), Fq2 = Fq[u]/(u^2 + 1).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from prover.constants import Q as BN254_Q
from prover.constants import R as BN254_R
from prover.errors import FormatError
from prover.pure.curve import g2_on_curve
from prover.pure.field import FQ12_ONE, fq12_pow
from prover.pure.pairing import final_exponentiation, miller_loop

# lazy: the zkey conversions (`._limbs`, numpy) load in the functions that read a zkey, so that
# `zkprove groth16 verify` reads its JSON without importing numpy.

G1Point = tuple[int, int] | None
G2Point = tuple[tuple[int, int], tuple[int, int]] | None
Fq2 = tuple[int, int]
Fq12 = tuple[tuple[Fq2, Fq2, Fq2], tuple[Fq2, Fq2, Fq2]]

PROTOCOL = "groth16"
CURVE = "bn128"
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)")
BN_X = 4965661367192848881  # BN254 curve parameter
SNARKJS_GT_EXPONENT = 2 * BN_X * (6 * BN_X * BN_X + 3 * BN_X + 1)


# --- scalars and points ----------------------------------------------------------------------

def parse_decimal(s: Any, modulus: int, what: str) -> int:
    """A canonical decimal string (no sign, no leading zeros, no spaces) below `modulus`."""
    if not isinstance(s, str) or not _DECIMAL.fullmatch(s):
        raise FormatError(f"{what}: expected a canonical decimal string, got {s!r}")
    v = int(s)
    if v >= modulus:
        raise FormatError(f"{what}: {v} is not below the modulus {modulus}")
    return v


def _list(obj: Any, n: int, what: str) -> list:
    if not isinstance(obj, list) or len(obj) != n:
        raise FormatError(f"{what}: expected a list of {n} items, got {obj!r:.80}")
    return obj


def _on_curve_g1(x: int, y: int) -> bool:
    return (y * y - x * x * x - 3) % BN254_Q == 0


def _on_curve_g2(x: Fq2, y: Fq2) -> bool:
    return g2_on_curve((x, y))


def g1_from_json(obj: Any, what: str = "G1 point", *, check_curve: bool = True) -> G1Point:
    x, y, z = (parse_decimal(v, BN254_Q, what) for v in _list(obj, 3, what))
    if z == 0:
        return None
    if z != 1:
        raise FormatError(f"{what}: expected affine coordinates (z = 1), got z = {z}")
    if check_curve and not _on_curve_g1(x, y):
        raise FormatError(f"{what}: point is not on the curve")
    return (x, y)


def g2_from_json(obj: Any, what: str = "G2 point", *, check_curve: bool = True) -> G2Point:
    x, y, z = (tuple(parse_decimal(v, BN254_Q, what) for v in _list(c, 2, what))
               for c in _list(obj, 3, what))
    if z == (0, 0):
        return None
    if z != (1, 0):
        raise FormatError(f"{what}: expected affine coordinates (z = 1), got z = {z}")
    if check_curve and not _on_curve_g2(x, y):
        raise FormatError(f"{what}: point is not on the twist curve")
    return (x, y)  # type: ignore[return-value]


def g1_to_json(p: G1Point) -> list[str]:
    if p is None:
        return ["0", "1", "0"]
    return [str(p[0]), str(p[1]), "1"]


def g2_to_json(p: G2Point) -> list[list[str]]:
    if p is None:
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    (x0, x1), (y0, y1) = p
    return [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]]


def fq12_from_json(obj: Any, what: str = "vk_alphabeta_12") -> Fq12:
    return tuple(  # type: ignore[return-value]
        tuple(tuple(parse_decimal(v, BN254_Q, what) for v in _list(c2, 2, what))
              for c2 in _list(c6, 3, what))
        for c6 in _list(obj, 2, what))


def fq12_to_json(e: Fq12) -> list:
    return [[[str(a), str(b)] for a, b in c6] for c6 in e]


# --- documents ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proof:
    pi_a: G1Point
    pi_b: G2Point
    pi_c: G1Point
    protocol: str = PROTOCOL
    curve: str = CURVE


@dataclass(frozen=True)
class VerificationKey:
    n_public: int
    alpha1: G1Point
    beta2: G2Point
    gamma2: G2Point
    delta2: G2Point
    ic: tuple[G1Point, ...]
    alphabeta_12: Fq12 | None = None  # computed on output when None
    protocol: str = PROTOCOL
    curve: str = CURVE


def _check_header(obj: Any, what: str) -> None:
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: expected a JSON object")
    if obj.get("protocol") != PROTOCOL:
        raise FormatError(f"{what}: unsupported protocol {obj.get('protocol')!r}")
    if obj.get("curve") != CURVE:
        raise FormatError(f"{what}: unsupported curve {obj.get('curve')!r}")


def _get(obj: dict, key: str, what: str) -> Any:
    if key not in obj:
        raise FormatError(f"{what}: missing key {key!r}")
    return obj[key]


def proof_from_json(obj: Any, *, check_curve: bool = True) -> Proof:
    _check_header(obj, "proof")
    return Proof(g1_from_json(_get(obj, "pi_a", "proof"), "proof.pi_a", check_curve=check_curve),
                 g2_from_json(_get(obj, "pi_b", "proof"), "proof.pi_b", check_curve=check_curve),
                 g1_from_json(_get(obj, "pi_c", "proof"), "proof.pi_c", check_curve=check_curve))


def proof_to_json(p: Proof) -> dict:
    return {"pi_a": g1_to_json(p.pi_a), "pi_b": g2_to_json(p.pi_b), "pi_c": g1_to_json(p.pi_c),
            "protocol": p.protocol, "curve": p.curve}


def public_from_json(obj: Any) -> list[int]:
    if not isinstance(obj, list):
        raise FormatError("public signals: expected a JSON list")
    return [parse_decimal(v, BN254_R, f"public signal {i}") for i, v in enumerate(obj)]


def public_to_json(values: list[int]) -> list[str]:
    for i, v in enumerate(values):
        if not isinstance(v, int) or not 0 <= v < BN254_R:
            raise FormatError(f"public signal {i}: {v!r} is not a field element")
    return [str(v) for v in values]


def vk_from_json(obj: Any, *, check_curve: bool = True) -> VerificationKey:
    what = "verification key"
    _check_header(obj, what)
    n = _get(obj, "nPublic", what)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise FormatError(f"{what}: nPublic must be a non-negative integer, got {n!r}")
    ic = _get(obj, "IC", what)
    if not isinstance(ic, list) or len(ic) != n + 1:
        raise FormatError(f"{what}: IC must hold nPublic + 1 = {n + 1} points")
    ab = obj.get("vk_alphabeta_12")
    return VerificationKey(
        n_public=n,
        alpha1=g1_from_json(_get(obj, "vk_alpha_1", what), "vk_alpha_1", check_curve=check_curve),
        beta2=g2_from_json(_get(obj, "vk_beta_2", what), "vk_beta_2", check_curve=check_curve),
        gamma2=g2_from_json(_get(obj, "vk_gamma_2", what), "vk_gamma_2",
                            check_curve=check_curve),
        delta2=g2_from_json(_get(obj, "vk_delta_2", what), "vk_delta_2",
                            check_curve=check_curve),
        ic=tuple(g1_from_json(p, f"IC[{i}]", check_curve=check_curve) for i, p in enumerate(ic)),
        alphabeta_12=None if ab is None else fq12_from_json(ab),
    )


def vk_to_json(vk: VerificationKey) -> dict:
    if len(vk.ic) != vk.n_public + 1:
        raise FormatError("IC must hold nPublic + 1 points")
    ab = vk.alphabeta_12
    if ab is None:
        ab = compute_alphabeta_12(vk.alpha1, vk.beta2)
    return {
        "protocol": vk.protocol, "curve": vk.curve, "nPublic": vk.n_public,
        "vk_alpha_1": g1_to_json(vk.alpha1), "vk_beta_2": g2_to_json(vk.beta2),
        "vk_gamma_2": g2_to_json(vk.gamma2), "vk_delta_2": g2_to_json(vk.delta2),
        "vk_alphabeta_12": fq12_to_json(ab), "IC": [g1_to_json(p) for p in vk.ic],
    }


def compute_alphabeta_12(alpha1: G1Point, beta2: G2Point) -> Fq12:
    """e(alpha1, beta2) in snarkjs's Fq12 tower layout, on plain ints (~30 ms).

    `prover.pure.pairing` uses snarkjs's tower (Fq12 = Fq6[w]/(w^2 - v), Fq6 = Fq2[v]/(v^3 - xi))
    and returns the standard reduced ate value; snarkjs's pairing (ffjavascript's final
    exponentiation) returns that value raised to SNARKJS_GT_EXPONENT = 2x(6x^2 + 3x + 1), x the
    BN parameter, so it is raised to that power here. Only pairing *products* compared with 1
    are convention-free; stored GT values are not.
    """
    if alpha1 is None or beta2 is None:
        return FQ12_ONE  # type: ignore[return-value]
    f = final_exponentiation(miller_loop([(tuple(alpha1), tuple(tuple(c) for c in beta2))]))
    return fq12_pow(f, SNARKJS_GT_EXPONENT)  # type: ignore[return-value]


def vk_from_zkey(z: Any, *, with_alphabeta: bool = True) -> VerificationKey:
    """The verification key of a prover.formats.zkey.Zkey (what `zkey export vk` writes)."""
    from ._limbs import g1_from_mont, g2_from_mont  # lazy: numpy; JSON keys and verify need none

    alpha1 = g1_from_mont(z.alpha1, z.q)[0]
    beta2 = g2_from_mont(z.beta2, z.q)[0]
    return VerificationKey(
        n_public=z.n_public, alpha1=alpha1, beta2=beta2,
        gamma2=g2_from_mont(z.gamma2, z.q)[0], delta2=g2_from_mont(z.delta2, z.q)[0],
        ic=tuple(g1_from_mont(z.ic, z.q)),
        alphabeta_12=compute_alphabeta_12(alpha1, beta2) if with_alphabeta else None)


def zkey_to_json(z: Any) -> dict:
    """What `snarkjs zkey export json` writes for a Groth16 prover.formats.zkey.Zkey: the header,
    every point as projective decimal strings (infinity [0, 1, 0]), coefficients canonical, and
    C indexed by wire (null for the constant and public wires, as snarkjs's sparse array)."""
    from ._limbs import g1_from_mont, g2_from_mont  # lazy: numpy; JSON keys and verify need none

    q = z.q

    def g1s(arr) -> list:
        return [g1_to_json(p) for p in g1_from_mont(arr, q)]

    def g2s(arr) -> list:
        return [g2_to_json(p) for p in g2_from_mont(arr, q)]

    coefs = [{"matrix": int(m), "constraint": int(c), "signal": int(sg), "value": str(v)}
             for m, c, sg, v in zip(z.coeffs["matrix"].tolist(), z.coeffs["constraint"].tolist(),
                                    z.coeffs["signal"].tolist(), z.coeff_values(), strict=True)]
    return {
        "protocol": PROTOCOL, "n8q": z.n8q, "q": str(q), "n8r": z.n8r, "r": str(z.r),
        "nVars": z.n_vars, "nPublic": z.n_public, "domainSize": z.domain_size,
        "power": z.power,
        "vk_alpha_1": g1s(z.alpha1)[0], "vk_beta_1": g1s(z.beta1)[0],
        "vk_beta_2": g2s(z.beta2)[0], "vk_gamma_2": g2s(z.gamma2)[0],
        "vk_delta_1": g1s(z.delta1)[0], "vk_delta_2": g2s(z.delta2)[0],
        "IC": g1s(z.ic), "ccoefs": coefs, "A": g1s(z.a), "B1": g1s(z.b1), "B2": g2s(z.b2),
        "C": [None] * (z.n_public + 1) + g1s(z.c), "hExps": g1s(z.h),
    }


# --- text and files ----------------------------------------------------------------------------

_STRING_OR_EMPTY = re.compile(r'"(?:[^"\\]|\\.)*"|\[\]|\{\}')


def _break_empty(m: re.Match) -> str:
    tok = m.group(0)
    if tok[0] == '"':
        return tok
    text, line = m.string, m.string.rfind("\n", 0, m.start()) + 1
    pad = len(text[line:m.start()]) - len(text[line:m.start()].lstrip(" "))
    return tok[0] + "\n" + " " * pad + tok[1]


def dumps(obj: Any) -> str:
    """snarkjs's layout, bfj.write(..., {space: 1}): JSON.stringify(obj, null, 1) except that
    an empty array or object still breaks its line ("[\\n]" for public.json without signals)."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    if "[]" in text or "{}" in text:
        text = _STRING_OR_EMPTY.sub(_break_empty, text)
    return text


def _load(src: str | os.PathLike) -> Any:
    try:
        with open(src, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"{os.fspath(src)}: invalid JSON: {e}") from None


def _save(path: str | os.PathLike, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(obj))


def load_proof(path: str | os.PathLike, *, check_curve: bool = True) -> Proof:
    return proof_from_json(_load(path), check_curve=check_curve)


def dump_proof(proof: Proof, path: str | os.PathLike) -> None:
    _save(path, proof_to_json(proof))


def load_public(path: str | os.PathLike) -> list[int]:
    return public_from_json(_load(path))


def dump_public(values: list[int], path: str | os.PathLike) -> None:
    _save(path, public_to_json(values))


def load_vk(path: str | os.PathLike, *, check_curve: bool = True) -> VerificationKey:
    return vk_from_json(_load(path), check_curve=check_curve)


def dump_vk(vk: VerificationKey, path: str | os.PathLike) -> None:
    _save(path, vk_to_json(vk))


def dump_zkey_json(z: Any, path: str | os.PathLike) -> None:
    _save(path, zkey_to_json(z))
