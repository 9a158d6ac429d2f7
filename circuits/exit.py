"""The exit circuit (exodus mode): an account's value at a finalized root, as one public input.

Proves that the account leaf at ``account_id`` sits under ``root`` with its 8 position slots,
each opened against the oracle prices the root commits; that
``token = max(value, 0)`` with ``value = collateral + sum_j b_j * (price_j - (F_j - snap_j))``;
and that the account key signed H5(EXIT_TAG, chain_id, rollup, account_id, owner). The one public
input is sha256(root | chain_id | rollup | account_id | owner | eth = 0 | token) mod 2**253 (the
bytes of docs/public-input.md, "Exit public input"), so a proof verifies only against the root
the contract finalized, for one deployment and one owner.
The full statement and the reasons for each choice: docs/circuits.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from .batch.layout import ASSET_BITS, ASSET_DEPTH, BALANCE_BITS
from .cs import ConstraintSystem
from .gadgets import babyjubjub as g
from .gadgets.bits import to_bits
from .gadgets.comparators import is_zero
from .gadgets.eddsa import eddsa_poseidon_verify
from .gadgets.merkle import merkle_inclusion
from .gadgets.poseidon import poseidon
from .gadgets.sha256 import digest_to_field, sha256_bits
from .gadgets.signed import assert_signed, relu
from .lc import LC, R, lin
from .merkle import sibling_count
from .poseidon import poseidon as poseidon_native

EXIT_TAG = int.from_bytes(b"zkderiv/exit", "big")
POSITION_SLOTS = 8
ORACLE_DEPTH = ASSET_DEPTH
# |collateral| < 2**95 and each |b * (p - F + snap)| < 2**63 * 2**65, so 8 slots stay < 2**132
VALUE_BITS = 134
AMOUNT_BITS = 128

SLOT_FIELDS = ("asset", "balance", "snapshot", "price", "funding", "settlement", "settled",
               "rows")  # rows: the hash of the asset's scenario rows, the oracle leaf's 5th


def input_names(depth: int) -> list[str]:
    """Every private input of the exit circuit, in creation order."""
    names = ["accounts_root", "registry_root", "time", "oracle_root", "oracle_pk_x",
             "oracle_pk_y", "stage", "account_id", "pk_x", "pk_y", "nonce", "collateral",
             "orders_root", "owner", "sig_r8x", "sig_r8y", "sig_s", "chain_id", "rollup"]
    names += [f"account_sib{k}" for k in range(sibling_count(depth))]
    for j in range(POSITION_SLOTS):
        names += [f"slot{j}_{f}" for f in SLOT_FIELDS]
        names += [f"slot{j}_sib{k}" for k in range(sibling_count(ORACLE_DEPTH))]
    return names


def _bits254(x: int) -> list[int]:
    return [(x >> i) & 1 for i in range(254)]


def field_to_bits_be(cs: ConstraintSystem, x: LC | int) -> list[LC]:
    """The 256 big-endian bits of a field element as 32 bytes, proving x's canonical form
    (254 bits <= r - 1, so the bytes are the ones the contract hashes, never x + r)."""
    with cs.component("num2bits254"):
        bits = cs.hint(_bits254, x, n_out=254)
        for b in bits:
            cs.assert_bool(b)
        cs.assert_equal(lin(((1 << i, b) for i, b in enumerate(bits)), cs), x)
        g.assert_bits_le(cs, bits, R - 1)
    return [cs.const(0), cs.const(0), *reversed(bits)]


def uint_bits_be(cs: ConstraintSystem, x: LC | int, n_bits: int, width: int) -> list[LC]:
    """x as `width` big-endian bits, proving x < 2**n_bits (n_bits <= width)."""
    bits = to_bits(cs, x, n_bits)
    return [cs.const(0)] * (width - n_bits) + list(reversed(bits))


def build_exit_circuit(depth: int, values: Mapping[str, int] | None = None) -> ConstraintSystem:
    """The exit circuit for an accounts tree of `depth` (<= 32). With `values` (a dict over
    `input_names(depth)`) the witness is computed while building; without, the system is built
    for setup only (the same constraints and wire order; `solve` fills a witness later)."""
    if not 1 <= depth <= 32:
        raise ValueError("account depth must be in 1..32 (ids are u32)")
    cs = ConstraintSystem(compute_witness=values is not None)
    v = {n: cs.private_input(n, None if values is None else values[n])
         for n in input_names(depth)}

    with cs.component("root"):
        glob = poseidon(cs, [v["time"], v["oracle_root"], v["oracle_pk_x"], v["oracle_pk_y"],
                             v["stage"]])
        root = poseidon(cs, [v["accounts_root"], v["registry_root"], glob])

    value = v["collateral"]
    words, snaps = [], []
    for j in range(POSITION_SLOTS):
        s = {f: v[f"slot{j}_{f}"] for f in SLOT_FIELDS}
        with cs.component(f"slot{j}"):
            # the word asset + 2**ASSET_BITS * balance names one (asset, balance) given the
            # ranges: asset < 2**ORACLE_DEPTH (its path bits) and |balance| < 2**63
            assert_signed(cs, s["balance"], BALANCE_BITS)
            words.append(s["asset"] + s["balance"] * (1 << ASSET_BITS))
            snaps.append(s["snapshot"])
            with cs.component("oracle"):
                path = to_bits(cs, s["asset"], ORACLE_DEPTH)
                empty = is_zero(cs, s["asset"])
                cs.constrain(empty, s["balance"], 0)  # an empty slot holds nothing
                leaf = poseidon(cs, [s["price"], s["funding"], s["settlement"], s["settled"],
                                     s["rows"]])
                leaf = leaf - empty * leaf  # the empty leaf 0 under index 0
                sib = [v[f"slot{j}_sib{k}"] for k in range(sibling_count(ORACLE_DEPTH))]
                merkle_inclusion(cs, leaf, sib, path, v["oracle_root"], bits_checked=True)
            with cs.component("value"):
                value = value + s["balance"] * (s["price"] - s["funding"] + s["snapshot"])

    with cs.component("account"):
        positions = poseidon(cs, [*words, *snaps])
        leaf = poseidon(cs, [v["pk_x"], v["pk_y"], v["nonce"], v["collateral"], positions,
                             v["orders_root"]])
        id_bits = to_bits(cs, v["account_id"], depth)
        sib = [v[f"account_sib{k}"] for k in range(sibling_count(depth))]
        merkle_inclusion(cs, leaf, sib, id_bits, v["accounts_root"], bits_checked=True)

    with cs.component("owner_signature"):
        chain_bits = uint_bits_be(cs, v["chain_id"], 64, 64)
        rollup_bits = uint_bits_be(cs, v["rollup"], 160, 160)
        msg = poseidon(cs, [EXIT_TAG, v["chain_id"], v["rollup"], v["account_id"], v["owner"]])
        eddsa_poseidon_verify(cs, (v["pk_x"], v["pk_y"]), msg,
                              ((v["sig_r8x"], v["sig_r8y"]), v["sig_s"]))

    with cs.component("amount"):
        token = relu(cs, value, VALUE_BITS)

    with cs.component("public_input"):
        bits = field_to_bits_be(cs, root) + chain_bits + rollup_bits
        bits += [cs.const(0)] * (32 - depth) + list(reversed(id_bits))
        bits += uint_bits_be(cs, v["owner"], 160, 160)
        bits += [cs.const(0)] * AMOUNT_BITS  # eth amount
        bits += uint_bits_be(cs, token, AMOUNT_BITS, AMOUNT_BITS)
        digest = sha256_bits(cs, bits)
        cs.public_output("input", digest_to_field(digest, cs))
    return cs


def exit_message(chain_id: int, rollup: int, account_id: int, owner: int) -> int:
    """The message the account key signs to exit to `owner` (a 160-bit L1 address) from the
    rollup at `rollup` (a 160-bit address) on chain `chain_id`."""
    return poseidon_native([EXIT_TAG, chain_id, rollup, account_id, owner])


def root_of(values: Mapping[str, int]) -> int:
    """The state root the inputs open (native; for the witness builder's checks)."""
    glob = poseidon_native([values["time"], values["oracle_root"], values["oracle_pk_x"],
                            values["oracle_pk_y"], values["stage"]])
    return poseidon_native([values["accounts_root"], values["registry_root"], glob])

