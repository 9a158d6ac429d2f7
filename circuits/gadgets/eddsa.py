"""EdDSA-Poseidon verification on Baby Jubjub, as circomlib's ``EdDSAPoseidonVerifier``.

Native twin: `circuits.eddsa.eddsa_verify` (circomlibjs ``verifyPoseidon``). With ``enabled`` = 1
the circuit is satisfiable exactly when

    S < l,  hm = Poseidon(R8x, R8y, Ax, Ay, M),  8A != identity,  S * base8 == R8 + hm * (8A),

as circomlib states it (it multiplies A by 8, not R8; the x of 4A != 0 test is its small-order
rejection: 4A has x = 0 exactly when 8A is the identity). In addition A and R8 are asserted to be
on the curve (6 constraints), as the native verifier requires; circomlib leaves that out. So the
circuit accepts a signature iff ``eddsa_verify`` does and the key passes ``public_key_is_safe``.

``enabled`` (a bit, default the constant 1) turns the whole check off: A and R8 are then replaced
by base8 inside the circuit, so that a padding slot can carry any values.
"""

from __future__ import annotations

from .. import babyjubjub as bj
from ..cs import ConstraintSystem
from ..lc import LC, as_lc
from . import babyjubjub as g
from .bits import to_bits
from .poseidon import poseidon

L = bj.SUBGROUP_ORDER


def _nonzero_inv(x: int, en: int) -> int:
    return pow(x, -1, bj.P) if (x and en) else 0


def eddsa_poseidon_verify(cs: ConstraintSystem, public_key, message: LC | int, signature,
                          enabled: LC | int = 1) -> None:
    """Assert that ``signature = ((R8x, R8y), S)`` signs `message` under ``public_key = (Ax, Ay)``
    (all LCs or ints), when `enabled`. `enabled` must be boolean-constrained by the caller."""
    (r8x, r8y), s = signature
    enabled = as_lc(enabled)
    with cs.component("eddsa"):
        a = g.point(public_key)
        r8 = g.point((r8x, r8y))
        if not (enabled.is_constant() and enabled.constant() == 1):
            with cs.component("gate"):
                a = g.select_point(cs, enabled, bj.BASE8, a)
                r8 = g.select_point(cs, enabled, bj.BASE8, r8)
        with cs.component("points"):
            g.on_curve(cs, a, enabled)
            g.on_curve(cs, r8, enabled)
        # S < l: 251 bits suffice (l < 2^251) with a constant comparison; circomlib takes 253
        # bits and gates only the comparison, so a disabled slot keeps the 253-bit width
        with cs.component("s_range"):
            width = 251 if enabled.is_constant() else 253
            s_bits = to_bits(cs, s, width)
            g.assert_bits_le(cs, s_bits, L - 1, enabled)
        hm = poseidon(cs, [r8[0], r8[1], a[0], a[1], message])
        with cs.component("times8"):
            a2 = g.double(cs, a)
            a4 = g.double(cs, a2)
            t = g.double(cs, a4)
        with cs.component("small_order"):
            # x(4A) * inv == enabled: 4A has x = 0 iff 8A is the identity
            inv = cs.hint(_nonzero_inv, a4[0], enabled)
            cs.constrain(a4[0], inv, enabled)
        ht = g.scalar_mul_any(cs, hm, t)
        right = g.add(cs, r8, ht)
        left = g.scalar_mul_fixed(cs, s_bits, bj.BASE8)
        with cs.component("verify"):
            cs.constrain(enabled, left[0] - right[0], 0)
            cs.constrain(enabled, left[1] - right[1], 0)
