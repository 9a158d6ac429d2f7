"""Small gadgets of the batch circuit: bit layouts (canonical, big-endian, signed), one-hot
selection and table lookup, fixed-point division, the account leaf, key checks, sparse-tree
roots and the signed-message hash."""

from __future__ import annotations

from ..cs import ConstraintSystem
from ..gadgets import babyjubjub as g
from ..gadgets import signed
from ..gadgets.bits import to_bits
from ..gadgets.poseidon import poseidon
from ..lc import LC, R, as_lc, lin, lsum
from ..merkle import level_widths, zero_hashes
from .layout import CMP_BITS, HALF, MSG_FIELDS, RISK_SCALE


def _bits254(x: int) -> list[int]:
    return [(x >> i) & 1 for i in range(254)]


def canonical_bits(cs: ConstraintSystem, x: LC | int) -> list[LC]:
    """254 little-endian bits of a field element, proven to be its canonical value (<= r - 1)."""
    with cs.component("num2bits254"):
        bits = cs.hint(_bits254, x, n_out=254)
        for b in bits:
            cs.assert_bool(b)
        cs.assert_equal(lin(((1 << i, b) for i, b in enumerate(bits)), cs), x)
        g.assert_bits_le(cs, bits, R - 1)
    return bits


def be(bits_le: list, width: int, cs: ConstraintSystem) -> list[LC]:
    """Little-endian bits (an integer < 2**len) as `width` big-endian bits (zero-extended)."""
    if len(bits_le) > width:
        raise ValueError("value wider than its field")
    return [cs.const(0)] * (width - len(bits_le)) + [as_lc(b) for b in reversed(bits_le)]


def const_bits(cs: ConstraintSystem, v: int, width: int) -> list[LC]:
    return [cs.const((v >> (width - 1 - k)) & 1) for k in range(width)]


def gate(cs: ConstraintSystem, flag: LC, bits: list) -> list[LC]:
    """flag * bit for each bit (1 constraint per non-constant bit)."""
    return [cs.mul(flag, b) for b in bits]


# chunk width of ``select_record``: below MAX_BITS, so a chunk's decomposition is unique
RECORD_CHUNK = 248


def select_record(cs: ConstraintSystem, records: list, width: int) -> list[LC]:
    """The big-endian bits of the record whose flag is set (flags boolean, at most one set),
    zero-padded to `width`; all zero when none is. Per chunk of RECORD_CHUNK bits:
    chunk = sum_r flag_r * (record r's chunk as an integer), then its `n` bits (to_bits), so
    the cost is one product per record and chunk plus one constraint per bit, where gating
    every bit cost one product per record and bit. The records' bits must be boolean."""
    out: list[LC] = []
    for c0 in range(0, width, RECORD_CHUNK):
        n = min(RECORD_CHUNK, width - c0)
        terms = []
        for flag, bits in records:
            part = bits[c0:c0 + n]  # missing bits: the record's zero padding
            if part:
                terms.append(cs.mul(flag, lin(((1 << (n - 1 - i), b)
                                               for i, b in enumerate(part)), cs)))
        out += list(reversed(to_bits(cs, lsum(terms, cs), n)))
    return out


def signed_bits(cs: ConstraintSystem, x: LC | int, n: int) -> tuple[list[LC], LC]:
    """(two's complement bits at width n, little-endian; negativity flag) of a signed value,
    proving -2**(n-1) <= v < 2**(n-1): the bits of v + 2**(n-1) with the top bit flipped."""
    bits = to_bits(cs, as_lc(x) + (1 << (n - 1)), n)
    neg = 1 - bits[n - 1]
    return bits[:-1] + [neg], neg


def is_negative(cs: ConstraintSystem, x: LC | int, n: int = CMP_BITS) -> LC:
    """[v < 0] for a value known to satisfy |v| < 2**(n-1): the signed gadget at the width
    the margin comparisons need by default."""
    return signed.is_negative(cs, x, n)


def onehot(cs: ConstraintSystem, x: LC, m: int) -> list[LC]:
    """m booleans, exactly one set, at position x (so x is proven < m): m + 0 constraints
    beyond the booleanity (the two sums are linear)."""
    sel = cs.hint(lambda v: [int(v == k) for k in range(m)], x, n_out=m)
    for s in sel:
        cs.assert_bool(s)
    cs.assert_equal(lsum(sel, cs), 1)
    cs.assert_equal(lin(((k, s) for k, s in enumerate(sel)), cs), x)
    return sel


def lookup(cs: ConstraintSystem, sel: list[LC], table: list) -> LC:
    """sum_k sel_k * table_k (entry 0 is the constant 0: the empty asset)."""
    return lsum([cs.mul(s, t) for s, t in zip(sel[1:], table[1:], strict=True)], cs)


def floor_div_ppm(cs: ConstraintSystem, num: LC, out_bits: int) -> LC:
    """floor(num / 10**6) for 0 <= num < 2**(out_bits + 20), the quotient proven < 2**out_bits."""
    q = cs.hint(lambda v: v // RISK_SCALE, num)
    rem = as_lc(num) - q * RISK_SCALE
    to_bits(cs, q, out_bits)
    to_bits(cs, rem, 20)
    to_bits(cs, RISK_SCALE - 1 - rem, 20)
    return q


def account_leaf(cs: ConstraintSystem, pk, nonce, collateral, positions, orders) -> LC:
    return poseidon(cs, [pk[0], pk[1], nonce, collateral, positions, orders])


def small_order_free(cs: ConstraintSystem, pk, enabled: LC) -> None:
    """(pk on the curve and 8 * pk != identity) when `enabled`: x(4A) invertible iff 8A != O."""
    g.on_curve(cs, pk, enabled)
    a = g.select_point(cs, enabled, g.bj.BASE8, g.point(pk))
    a4 = g.double(cs, g.double(cs, a))
    inv = cs.hint(lambda x, e: pow(x, -1, R) if (x and e) else 0, a4[0], enabled)
    cs.constrain(a4[0], inv, enabled)


def sign_bit(cs: ConstraintSystem, x_bits: list[LC]) -> LC:
    """[x > (p-1)/2] for canonical bits of x: a hinted bit s with x <= HALF when s = 0 and
    x >= HALF + 1 when s = 1 (two gated constant comparisons)."""
    s = cs.hint(lambda *b: 1 if sum(v << i for i, v in enumerate(b)) > HALF else 0, *x_bits)
    cs.assert_bool(s)
    g.assert_bits_le(cs, x_bits, HALF, 1 - s)
    g.assert_bits_ge(cs, x_bits, HALF + 1, s)
    return s


def tree_root(cs: ConstraintSystem, leaves: list, depth: int) -> LC:
    """Root of a depth-`depth` sparse tree (``circuits.merkle``: 4-ary levels, a binary top
    for an odd depth) whose first len(leaves) leaves are given and all others are empty: each
    level pads its nodes with the level's empty root to whole groups of children."""
    level = list(leaves)
    zeros = zero_hashes(depth)
    for k, w in enumerate(level_widths(depth)):
        fan = 1 << w
        level += [zeros[k]] * (-len(level) % fan)
        level = [poseidon(cs, level[i:i + fan]) for i in range(0, len(level), fan)]
    return level[0]


def signed_message(cs, domain, mtype, fields) -> LC:
    fields = list(fields) + [0] * (MSG_FIELDS - len(fields))
    return poseidon(cs, [domain, mtype, *fields])


def mux(cs, pairs) -> LC:
    """sum flag * value over (flag, value) pairs of one-hot flags."""
    return lsum([cs.mul(f, x) for f, x in pairs], cs)
