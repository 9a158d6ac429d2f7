"""The batch circuit: N transaction slots chained root to root, one SHA-256 public input.

Slot types proven so far (one-hot flags per slot; a slot with no flag is a no-op):

* deposit (type 1), from the L1 priority queue: the entry ``kind 1 | asset 1 | accountId 0 |
  depositor 20 | amount u128 | l2Key`` (docs/public-input.md) is hashed into the queue chain,
  ``H' = sha256(H || entry)``, with ``l2Key`` the compressed key (circomlib ``packPoint``: y
  little-endian, bit 255 = [x > (p-1)/2]) of the credited account. The account either exists
  with that key, or its leaf was empty (0) and is created with nonce 0, no positions, no orders;
  a created key must be on the curve and not of small order (what the engine requires).
  ``collateral += amount``, amount < 2**64.
* withdrawal (type 2) and transfer (type 3): EdDSA-Poseidon signature of the account key over
  ``H(domain, type, fields...)`` exactly as ``Request.message`` (domain = H3(DOMAIN_TAG, chain id,
  rollup address), computed here from the header's own chain id and address), nonce == the
  account's nonce then +1, expiry >= the state's time, 0 < amount < 2**64, collateral after the
  debit >= 0; a transfer credits a different, existing account (its leaf is opened as a hash of
  fields, so an empty leaf cannot be). A withdrawal publishes an L1 record paying ``to``.
* no-op (type 0): both openings must verify and nothing changes.

Each slot proves two single-leaf Merkle updates of the accounts tree against the running root
(A: the depositor / withdrawer / sender, then B: the receiver; a leaf that does not change is
rewritten to itself). Registry and global roots are unchanged by these types, so
``root = H3(accounts_root, registry_root, global_root)`` before and after, with
``global_root = H4(time, oracle_root, oracle_pk)`` opened once for the time.

Public input (docs/public-input.md): sha256 of the 188-byte header (chain id, rollup address,
batch number, old root, new root, queue hash before, queue hash after) and the public data

    u32 count (= N) | N x L1 record (41 bytes: accountId u32 | asset u8 = 1 | to 20 | amount u128;
                                     all zero except for withdrawals)
                    | N x state-diff chunk (DIFF_BYTES: the engine's record of the slot,
                                     ``rollup.transactions.RECORDS``, zero-padded; all zero for a
                                     no-op)

truncated to 253 bits. Roots are decomposed canonically (254 bits <= r - 1), so the bytes are the
ones the contract hashes.

TODO (not proven yet; the batch builder refuses such transactions):
* margin with open positions: a debit is only proven for an account with no positions
  (positions root = the empty one), where "amount <= value and healthy" is "collateral after
  >= 0"; the general rule needs the oracle and registry openings of every slot (as the exit
  circuit opens prices) and the risk sums of rollup.state.encoding;
* trades (two signed orders, order-tree updates, fills, fees to account 0, margin), oracle
  price updates (oracle signature, time monotonic), funding ticks and settlement on touched
  accounts, liquidation, expiry settlement, forced withdrawals (queue kind 2), ETH deposits,
  listings and oracle-key changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from .cs import ConstraintSystem
from .gadgets import babyjubjub as g
from .gadgets.bits import to_bits
from .gadgets.comparators import is_zero
from .gadgets.eddsa import eddsa_poseidon_verify
from .gadgets.merkle import merkle_update
from .gadgets.poseidon import poseidon
from .gadgets.sha256 import digest_to_field, sha256_bits
from .gadgets.signed import assert_nonnegative, assert_signed
from .lc import LC, R, as_lc, lin
from .merkle import zero_hashes
from .poseidon import poseidon as poseidon_native

T_NOOP, T_DEPOSIT, T_WITHDRAWAL, T_TRANSFER = 0, 1, 2, 3
DOMAIN_TAG = int.from_bytes(b"zkderiv/v1", "big")
ORDER_TREE_DEPTH = 8
POSITION_SLOTS = 8
COLLATERAL_BITS = 96
AMOUNT_BITS = 64
TIME_BITS = 64
NONCE_BITS = 32
ASSET_TOKEN = 1
QUEUE_KIND_DEPOSIT = 1
L1_RECORD_BYTES = 41
DIFF_BYTES = 77  # the largest record proven here: deposit, 1 + 4 + 32 + 32 + 8
HALF = (R - 1) // 2

# roots of an account with no positions and no orders (the leaf a deposit creates)
EMPTY_POSITIONS_ROOT = poseidon_native([poseidon_native([0, 0, 0])] * POSITION_SLOTS)
EMPTY_ORDERS_ROOT = zero_hashes(ORDER_TREE_DEPTH)[ORDER_TREE_DEPTH]

LEAF_FIELDS = ("pk_x", "pk_y", "nonce", "collateral", "positions", "orders")
SLOT_SCALARS = ("dep", "wd", "tr", "new", "amount", "to", "expiry", "depositor",
                "sig_r8x", "sig_r8y", "sig_s", "a_id", "b_id")
HEADER_INPUTS = ("chain_id", "rollup", "batch_number", "registry_root", "time", "oracle_root",
                 "oracle_pk_x", "oracle_pk_y", "accounts_root", "queue_before_hi",
                 "queue_before_lo")


def input_names(slots: int, depth: int) -> list[str]:
    """Every private input of the batch circuit, in creation order."""
    names = list(HEADER_INPUTS)
    for i in range(slots):
        p = f"s{i}_"
        names += [p + n for n in SLOT_SCALARS]
        for side in ("a", "b"):
            names += [f"{p}{side}_{f}" for f in LEAF_FIELDS]
            names += [f"{p}{side}_sib{k}" for k in range(depth)]
    return names


# -- bits in transmission order ---------------------------------------------------------------


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


def _gate(cs: ConstraintSystem, flag: LC, bits: list) -> list[LC]:
    """flag * bit for each bit (1 constraint per non-constant bit)."""
    return [flag * as_lc(b) for b in bits]


def _sum_bits(cs: ConstraintSystem, *gated: list) -> list[LC]:
    n = max(len(x) for x in gated)
    out = []
    for k in range(n):
        out.append(lin([(1, x[k]) for x in gated if k < len(x)], cs))
    return out


# -- leaves -----------------------------------------------------------------------------------


def _leaf(cs: ConstraintSystem, f: Mapping[str, LC]) -> LC:
    return poseidon(cs, [f[n] for n in LEAF_FIELDS])


def _small_order_free(cs: ConstraintSystem, pk, enabled: LC) -> None:
    """(pk on the curve and 8 * pk != identity) when `enabled`: x(4A) invertible iff 8A != O."""
    g.on_curve(cs, pk, enabled)
    a = g.select_point(cs, enabled, g.bj.BASE8, g.point(pk))
    a4 = g.double(cs, g.double(cs, a))
    inv = cs.hint(lambda x, e: pow(x, -1, R) if (x and e) else 0, a4[0], enabled)
    cs.constrain(a4[0], inv, enabled)


def _sign_bit(cs: ConstraintSystem, x_bits: list[LC]) -> LC:
    """[x > (p-1)/2] for canonical bits of x: a hinted bit s with x <= HALF when s = 0 and
    x >= HALF + 1 when s = 1 (two gated constant comparisons)."""
    s = cs.hint(lambda *b: 1 if sum(v << i for i, v in enumerate(b)) > HALF else 0, *x_bits)
    cs.assert_bool(s)
    g.assert_bits_le(cs, x_bits, HALF, 1 - s)
    g.assert_bits_ge(cs, x_bits, HALF + 1, s)
    return s


# -- the circuit ------------------------------------------------------------------------------


def build_batch_circuit(slots: int, depth: int,
                        values: Mapping[str, int] | None = None) -> ConstraintSystem:
    """The batch circuit for `slots` slots over an accounts tree of `depth` (<= 32). With
    `values` (a dict over `input_names`), the witness is computed while building."""
    if not 1 <= depth <= 32 or slots < 1:
        raise ValueError("need 1 <= depth <= 32 and at least one slot")
    cs = ConstraintSystem(compute_witness=values is not None)
    v = {n: cs.private_input(n, None if values is None else values[n])
         for n in input_names(slots, depth)}

    with cs.component("header"):
        chain_bits = to_bits(cs, v["chain_id"], 64)
        rollup_bits = to_bits(cs, v["rollup"], 160)
        number_bits = to_bits(cs, v["batch_number"], 64)
        time_bits = to_bits(cs, v["time"], TIME_BITS)
        del time_bits
        glob = poseidon(cs, [v["time"], v["oracle_root"], v["oracle_pk_x"], v["oracle_pk_y"]])
        old_root = poseidon(cs, [v["accounts_root"], v["registry_root"], glob])
        domain = poseidon(cs, [DOMAIN_TAG, v["chain_id"], v["rollup"]])
        q_hi = to_bits(cs, v["queue_before_hi"], 128)
        q_lo = to_bits(cs, v["queue_before_lo"], 128)
        queue = be(q_hi, 128, cs) + be(q_lo, 128, cs)  # big-endian digest bits

    acc_root = v["accounts_root"]
    l1_bits: list[LC] = []
    diff_bits: list[LC] = []
    for i in range(slots):
        with cs.component(f"slot{i}"):
            acc_root, queue = _slot(cs, v, f"s{i}_", depth, acc_root, queue, domain,
                                    l1_bits, diff_bits)

    with cs.component("public_input"):
        new_root = poseidon(cs, [acc_root, v["registry_root"], glob])
        pre = be(chain_bits, 256, cs) + be(rollup_bits, 160, cs) + be(number_bits, 64, cs)
        pre += be(canonical_bits(cs, old_root), 256, cs)
        pre += be(canonical_bits(cs, new_root), 256, cs)
        pre += be(q_hi, 128, cs) + be(q_lo, 128, cs) + queue
        pre += be([cs.const((slots >> k) & 1) for k in range(32)], 32, cs)
        pre += l1_bits + diff_bits
        digest = sha256_bits(cs, pre)
        cs.public_output("input", digest_to_field(digest, cs))
    return cs


def _slot(cs, v, p, depth, root, queue, domain, l1_bits, diff_bits):
    dep, wd, tr, new = v[p + "dep"], v[p + "wd"], v[p + "tr"], v[p + "new"]
    amount, to, expiry = v[p + "amount"], v[p + "to"], v[p + "expiry"]
    a = {f: v[f"{p}a_{f}"] for f in LEAF_FIELDS}
    b = {f: v[f"{p}b_{f}"] for f in LEAF_FIELDS}
    with cs.component("type"):
        for f in (dep, wd, tr, new):
            cs.assert_bool(f)
        cs.assert_bool(dep + wd + tr)  # at most one type; none = no-op
        cs.constrain(new, 1 - dep, 0)  # only a deposit creates an account
        debit = wd + tr
    with cs.component("ranges"):
        amount_bits = to_bits(cs, amount, AMOUNT_BITS)
        to_bits_ = to_bits(cs, to, 160)
        dep_bits = to_bits(cs, v[p + "depositor"], 160)
        nonce_bits = to_bits(cs, a["nonce"], NONCE_BITS)
        to_bits(cs, expiry, TIME_BITS)
        a_id_bits = to_bits(cs, v[p + "a_id"], depth)
        b_id_bits = to_bits(cs, v[p + "b_id"], depth)

    # -- account A: deposit / withdrawal / transfer sender ------------------------------------
    with cs.component("account_a"):
        for f, empty in (("nonce", 0), ("collateral", 0), ("positions", EMPTY_POSITIONS_ROOT),
                         ("orders", EMPTY_ORDERS_ROOT)):
            cs.constrain(new, a[f] - empty, 0)  # a created account starts empty
        old_leaf = _leaf(cs, a)
        old_leaf = old_leaf - new * old_leaf  # a created account's old leaf is empty (0)
        delta = (dep - debit) * amount
        a_new = dict(a)
        a_new["collateral"] = a["collateral"] + delta
        a_new["nonce"] = a["nonce"] + debit
        assert_signed(cs, a_new["collateral"], COLLATERAL_BITS)
        new_leaf = _leaf(cs, a_new)
        _, root = merkle_update(cs, old_leaf, new_leaf,
                                [v[f"{p}a_sib{k}"] for k in range(depth)], a_id_bits,
                                old_root=root, bits_checked=True)
    with cs.component("key"):
        _small_order_free(cs, (a["pk_x"], a["pk_y"]), new)
        x_bits = canonical_bits(cs, a["pk_x"])
        y_bits = canonical_bits(cs, a["pk_y"])
        sign = _sign_bit(cs, x_bits)

    # -- rules of the debit types -----------------------------------------------------------------
    with cs.component("debit"):
        # collateral after >= 0 and no positions (see TODO: margin with positions)
        assert_nonnegative(cs, debit * a_new["collateral"], COLLATERAL_BITS)
        cs.constrain(debit, a["positions"] - EMPTY_POSITIONS_ROOT, 0)
        cs.constrain(debit, is_zero(cs, amount), 0)  # amount > 0
        to_bits(cs, debit * (expiry - v["time"]), TIME_BITS)  # expiry >= time
        same = is_zero(cs, v[p + "a_id"] - v[p + "b_id"])
        cs.constrain(tr, same, 0)  # no transfer to self
    with cs.component("signature"):
        # Request.message: H(domain, type, fields in dataclass order)
        m_wd = poseidon(cs, [domain, T_WITHDRAWAL, v[p + "a_id"], amount, to, a["nonce"], expiry])
        m_tr = poseidon(cs, [domain, T_TRANSFER, v[p + "a_id"], v[p + "b_id"], amount,
                             a["nonce"], expiry])
        msg = m_wd + tr * (m_tr - m_wd)
        eddsa_poseidon_verify(cs, (a["pk_x"], a["pk_y"]), msg,
                              ((v[p + "sig_r8x"], v[p + "sig_r8y"]), v[p + "sig_s"]), debit)

    # -- account B: transfer receiver (rewritten to itself otherwise) -----------------------------
    with cs.component("account_b"):
        b_new = dict(b)
        b_new["collateral"] = b["collateral"] + tr * amount
        assert_signed(cs, b_new["collateral"], COLLATERAL_BITS)
        _, root = merkle_update(cs, _leaf(cs, b), _leaf(cs, b_new),
                                [v[f"{p}b_sib{k}"] for k in range(depth)], b_id_bits,
                                old_root=root, bits_checked=True)

    # -- L1 queue -------------------------------------------------------------------------------
    with cs.component("queue"):
        key = list(y_bits) + [cs.const(0), sign]  # 256 little-endian bits of packPoint
        l2key = []
        for byte in range(32):  # y little-endian: byte k holds bits 8k..8k+7, MSB first
            l2key += [key[8 * byte + 7 - t] for t in range(8)]
        entry = be([cs.const((QUEUE_KIND_DEPOSIT >> k) & 1) for k in range(8)], 8, cs)
        entry += be([cs.const((ASSET_TOKEN >> k) & 1) for k in range(8)], 8, cs)
        entry += [cs.const(0)] * 32  # accountId: 0 for a deposit
        entry += be(dep_bits, 160, cs) + be(amount_bits, 128, cs) + l2key
        nxt = sha256_bits(cs, list(queue) + entry)
        queue = [q + dep * (n - q) for q, n in zip(queue, nxt, strict=True)]

    # -- public data ------------------------------------------------------------------------------
    with cs.component("public_data"):
        id32 = be(a_id_bits, 32, cs)
        l1 = id32 + be([cs.const(1)], 8, cs) + be(to_bits_, 160, cs) + be(amount_bits, 128, cs)
        l1_bits += _gate(cs, wd, l1)
        x256 = [cs.const(0), cs.const(0), *reversed(x_bits)]
        y256 = [cs.const(0), cs.const(0), *reversed(y_bits)]
        amt = be(amount_bits, 64, cs)
        nonce32 = be(nonce_bits, 32, cs)
        rec_dep = be([cs.const(1)], 8, cs) + id32 + x256 + y256 + amt
        rec_wd = be([cs.const(0), cs.const(1)], 8, cs) + id32 + amt + be(to_bits_, 160, cs) \
            + nonce32
        rec_tr = be([cs.const(1), cs.const(1)], 8, cs) + id32 + be(b_id_bits, 32, cs) + amt \
            + nonce32
        diff = _sum_bits(cs, _gate(cs, dep, rec_dep), _gate(cs, wd, rec_wd),
                         _gate(cs, tr, rec_tr))
        diff += [cs.const(0)] * (8 * DIFF_BYTES - len(diff))
        diff_bits += diff
    return root, queue
