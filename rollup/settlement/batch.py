"""The batch builder: applied requests, in order -> slots -> the batch circuit's witness.

``build_batch(pre, requests, ...)`` replays the requests on a copy of the pre-batch sequencer
(the engine's transition, yielding the records), each record on a second copy of the state with
``rollup.state.rebuild.apply_record`` (one record = one slot), and the circuit's own view on a
third (the batch's fees credited to account 0 at the end), from which the slots' openings come.
Checked for every batch: the record replay gives the engine's root after every request, the
circuit's chained root ends at the same root, and the public input equals
``rollup.chain.layout.batch_public_input``. What the circuit cannot prove raises `Unsupported`,
so a batch never closes with it. ``BatchQueue`` closes batches on size or on age.
Details: docs/settlement.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from circuits.babyjubjub import pack_point, unpack_point
from circuits.batch import (
    DIFF_BYTES,
    EMPTY_ORDERS_ROOT,
    FEE_FIELDS,
    ORACLE_FIELDS,
    ORDER_SIBLINGS,
    REGISTRY_FIELDS,
    SLOT_SCALARS,
    batch_solver,
    build_batch_circuit,
    input_names,
    key_unusable,
)
from rollup.chain import layout
from rollup.chain.layout import QueueEntry
from rollup.engine.sequencer import Sequencer
from rollup.state.encoding import KIND_PERP, ORDER_TREE_DEPTH, SCENARIO_CHUNK, SCENARIOS, encode
from rollup.state.rebuild import apply_in_transaction, fees_of_trade
from rollup.state.state import FEE_ACCOUNT, Account, State
from rollup.state.tree import SparseMerkleTree
from rollup.transactions import (
    BUY,
    T_DEPOSIT,
    T_EXPIRY_SETTLEMENT,
    T_FORCED_WITHDRAWAL,
    T_FUNDING,
    T_LIQUIDATION,
    T_LIST_ASSET,
    T_ORACLE,
    T_REFUND,
    T_SCENARIO,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    T_TRADE,
    T_TRANSFER,
    T_WITHDRAWAL,
    Deposit,
    ForcedWithdrawal,
    Order,
    Request,
    decode_record,
)

DEFAULT_ASSETS = 8
_TYPE_FLAG = {T_DEPOSIT: "dep", T_WITHDRAWAL: "wd", T_TRANSFER: "tr", T_TRADE: "trd",
              T_ORACLE: "orc", T_FUNDING: "fnd", T_SETTLEMENT_PRICE: "spx",
              T_LIQUIDATION: "liq", T_EXPIRY_SETTLEMENT: "xps", T_FORCED_WITHDRAWAL: "fwd",
              T_REFUND: "rfd", T_LIST_ASSET: "lst", T_SET_ORACLE_KEY: "okey",
              T_SCENARIO: "scn"}
_L1_TYPES = (T_DEPOSIT, T_WITHDRAWAL, T_FORCED_WITHDRAWAL, T_REFUND, T_LIST_ASSET,
             T_SET_ORACLE_KEY)
_ORDER_SLOTS = 1 << ORDER_TREE_DEPTH


class Unsupported(ValueError):
    """A transaction (or a batch shape) the batch circuit does not prove."""


@dataclass
class Batch:
    slots: int
    depth: int
    values: dict[str, int]
    old_root: int
    new_root: int
    queue_before: bytes
    queue_after: bytes
    queue_consumed: int
    public_data: bytes
    public_input: int
    batch_number: int
    l1_slots: int = 0
    assets: int = DEFAULT_ASSETS
    records: list[bytes] = field(default_factory=list)
    underlyings: int = 1

    def circuit(self):
        """The batch circuit built with this batch's values (the reference witness; tens of
        seconds per batch: `solver` gives the same witness in a fraction of a second)."""
        return build_batch_circuit(self.slots, self.depth, self.values, l1_slots=self.l1_slots,
                                   assets=self.assets, underlyings=self.underlyings)

    def solver(self, *, constraints: bool = False):
        """The compiled witness solver of this batch's shape, kept between batches
        (``circuits.batch.batch_solver``); ``solver().solve(values)`` as ``circuit().values``."""
        return batch_solver(self.slots, self.depth, l1_slots=self.l1_slots, assets=self.assets,
                            underlyings=self.underlyings, constraints=constraints)


def _check_entry(e: QueueEntry, index: int, kind: int, asset: int, account: int, amount: int,
                 l1: int, key: bytes) -> None:
    """The queue entry a slot consumes must be exactly the one its record describes."""
    got = (e.kind, e.asset, e.account_id, e.amount, int.from_bytes(layout._addr(e.l1_address),
                                                                   "big"), bytes(e.l2_key))
    if got != (kind, asset, account, amount, l1, key):
        raise ValueError(f"queue entry {index} is not this slot's {kind=} request")


def _key_split(key: bytes) -> dict[str, int]:
    k = int.from_bytes(key, "big")
    return {"key_hi": k >> 128, "key_lo": k & ((1 << 128) - 1)}


def refund_witness(key: bytes, asset: int) -> dict[str, int]:
    """The refund slot's key inputs: a token deposit is refunded only for an unusable key."""
    out = dict(_key_split(key), kx=0, kw=0, r_nc=0, r_nr=0, r_so=0)
    why = key_unusable(key)
    if asset == layout.ASSET_TOKEN:
        if why is None:
            raise Unsupported("a token deposit to a usable key is credited, not refunded")
        reason, w = why
        out[reason] = 1
        out["kx" if reason == "r_so" else "kw"] = w
    return out


def _copy_tree(t: SparseMerkleTree) -> SparseMerkleTree:
    c = SparseMerkleTree(t.depth, t.hasher)
    c.nodes = dict(t.nodes)
    return c


def _side_values(st: State, i: int, acc: Account, order_id: int) -> dict[str, int]:
    """An account's leaf fields, expanded positions and the opening of order slot
    order_id mod 2**ORDER_TREE_DEPTH (the sibling list of the account's order tree; 0s when no
    order)."""
    out = {"pk_x": acc.pk[0], "pk_y": acc.pk[1], "nonce": acc.nonce,
           "collateral": encode(acc.collateral),
           "orders": st.orders_root(i) if i in st.accounts else EMPTY_ORDERS_ROOT}
    for j, (a, b, s) in enumerate(acc.positions):
        out.update({f"p{j}_asset": a, f"p{j}_bal": encode(b), f"p{j}_snap": encode(s)})
    if order_id:
        k = order_id % _ORDER_SLOTS
        sid, filled = acc.orders.get(k, (0, 0))
        tree = st.order_trees.get(i) or SparseMerkleTree(ORDER_TREE_DEPTH, st.hasher)
        out.update(osid=sid, ofill=filled)
        out.update({f"osib{k_}": x for k_, x in enumerate(tree.proof(k))})
    else:
        out.update(osid=0, ofill=0)
        out.update({f"osib{k_}": 0 for k_ in range(ORDER_SIBLINGS)})
    return out


def _header(st: State, seq: Sequencer, batch_number: int, queue_before: bytes,
            assets: int) -> dict[str, int]:
    dom = seq.domain
    if any(a >= assets for a in st.assets):
        raise Unsupported(f"asset ids must be below the circuit's table size {assets}")
    v = {"chain_id": dom.chain_id, "rollup": dom.rollup_address, "batch_number": batch_number,
         "time": st.time, "oracle_pk_x": st.oracle_pk[0], "oracle_pk_y": st.oracle_pk[1],
         "accounts_root": st.account_tree.root,
         "queue_before_hi": int.from_bytes(queue_before[:16], "big"),
         "queue_before_lo": int.from_bytes(queue_before[16:], "big"),
         "stage_asset": st.stage.asset, "stage_time": st.stage.time,
         "stage_next": st.stage.next}
    v.update({f"stage_dv{s}": encode(x) for s, x in enumerate(st.stage.rows)})
    for k in range(1, assets):
        o = st.oracle.get(k)
        ofields = o.fields()[:len(ORACLE_FIELDS)] if o is not None else [0] * len(ORACLE_FIELDS)
        v.update({f"orc{k}_{n}": x for n, x in zip(ORACLE_FIELDS, ofields, strict=True)})
        rows = o.rows if o is not None else (0,) * SCENARIOS
        v.update({f"orc{k}_dv{s}": encode(x) for s, x in enumerate(rows)})
    return v


def _registry(st: State, before: set[int], assets: int) -> dict[str, int]:
    """The registry table after the batch (``st``), each entry flagged new unless it was listed
    before the batch (``before``)."""
    v = {}
    for k in range(1, assets):
        a = st.assets.get(k)
        v[f"reg{k}_listed"] = int(a is not None)
        v[f"reg{k}_new"] = int(a is not None and k not in before)
        fields = a.fields() if a is not None else [0] * len(REGISTRY_FIELDS)
        v.update({f"reg{k}_{n}": x for n, x in zip(REGISTRY_FIELDS, fields, strict=True)})
    return v


def _sig(values: dict, prefix: str, req) -> None:
    (r8x, r8y), s = req.sig
    values.update({prefix + "r8x": r8x, prefix + "r8y": r8y, prefix + "s": s})


def build_batch(pre: Sequencer, requests: list[Request], *, slots: int, batch_number: int,
                queue: list[QueueEntry] = (), queue_before: bytes = layout.ZERO32,
                l1_slots: int | None = None, assets: int = DEFAULT_ASSETS,
                underlyings: int = 1, strict: bool = True) -> Batch:
    """Replay `requests` (already accepted by the engine, in order) on a copy of `pre`, the
    sequencer as it stood when the batch opened, into a batch of `slots` slots (one per
    published record) of which the first `l1_slots` (default all) may carry deposits and
    withdrawals; the circuit's scenario rule takes at most `underlyings` perpetuals listed.
    `queue` holds the L1 entries the deposits consume, in order; `queue_before`
    is the chain hash before the first of them. ``strict=False`` (tests) skips the refusals
    about account 0 and the checks against the engine's root: the witness then follows the
    circuit's rules wherever they lead, and ``new_root`` is the root the circuit computes."""
    l1_slots = slots if l1_slots is None else l1_slots
    seq = pre.clone()
    rs = pre.state.clone()  # the record-by-record replay
    cv = pre.state.clone()  # the circuit's view: fees at the end
    depth = rs.account_depth
    old_root = rs.root
    tree = _copy_tree(rs.account_tree)  # the circuit's running accounts tree
    v = _header(rs, seq, batch_number, queue_before, assets)
    listed_before = set(rs.assets)
    if FEE_ACCOUNT not in rs.accounts:
        raise Unsupported("the fee account (account 0) must exist before any batch")

    def pad() -> int:  # an account opened (unchanged) by slots that touch none
        return min((i for i in rs.accounts if i != FEE_ACCOUNT), default=FEE_ACCOUNT)

    qhash, q_used, fees = bytes(queue_before), 0, 0
    l1, diffs, records = [], [], []
    s = 0
    for req in requests:
        resting = dict(getattr(seq, "resting", {}))
        n0 = len(seq.records)
        seq.apply_verified(req)
        for rec in seq.records[n0:]:
            if s >= slots:
                raise ValueError(f"the requests publish more than {slots} records")
            t, f, _ = decode_record(rec)
            flag = _TYPE_FLAG.get(t)
            if flag is None:
                raise Unsupported(f"record type {t} is not proven by the batch circuit")
            if t in _L1_TYPES and s >= l1_slots:
                raise Unsupported(f"a {flag} record in slot {s}, past the {l1_slots} L1 slots")
            sv = dict.fromkeys(SLOT_SCALARS, 0)
            sv[flag] = 1
            a_id = b_id = pad()
            a_oid = b_oid = 0
            e = None
            if t in (T_DEPOSIT, T_REFUND, T_FORCED_WITHDRAWAL):  # the next L1 queue entry
                if q_used >= len(queue):
                    raise ValueError(f"a {flag} record without its L1 queue entry")
                e = queue[q_used]
                e_l1 = int.from_bytes(layout._addr(e.l1_address), "big")
            if t == T_DEPOSIT:
                a_id = b_id = f["account"]
                if not isinstance(req, Deposit):
                    raise Unsupported("deposit records come from Deposit requests")
                _check_entry(e, q_used, layout.KIND_DEPOSIT, layout.ASSET_TOKEN, a_id,
                             f["amount"], e_l1, pack_point(req.pk))
                sv.update(new=int(a_id not in rs.accounts), amount=f["amount"],
                          famount=f["amount"], eacc=a_id, easset=1,
                          depositor=e_l1, **_key_split(bytes(e.l2_key)))
            elif t == T_REFUND:
                _check_entry(e, q_used, layout.KIND_DEPOSIT, f["asset"], f["account"],
                             f["amount"], f["to"], bytes(e.l2_key))
                sv.update(amount=f["amount"], famount=f["amount"], to=f["to"],
                          depositor=f["to"], eacc=f["account"], easset=f["asset"],
                          **refund_witness(bytes(e.l2_key), f["asset"]))
            elif t == T_FORCED_WITHDRAWAL:
                a_id = b_id = f["account"]
                if not isinstance(req, ForcedWithdrawal):
                    raise Unsupported("forced-withdrawal records come from ForcedWithdrawal")
                _check_entry(e, q_used, layout.KIND_FORCED_WITHDRAWAL, req.asset, a_id,
                             req.amount, req.to, req.l2_key.to_bytes(32, "big"))
                sv.update(famount=req.amount, to=req.to, depositor=req.to, eacc=a_id,
                          easset=e.asset, absent=int(a_id not in rs.accounts),
                          **_key_split(bytes(e.l2_key)))
                if sv["absent"]:
                    b_id = pad()
            elif t == T_WITHDRAWAL:
                a_id = b_id = f["account"]
                sv["eacc"] = a_id
                sv.update(amount=f["amount"], to=f["to"], expiry=req.expiry)
                _sig(sv, "sa_", req)
            elif t == T_TRANSFER:
                a_id, b_id = f["sender"], f["receiver"]
                sv.update(amount=f["amount"], expiry=req.expiry)
                _sig(sv, "sa_", req)
            elif t == T_TRADE:
                a_id, b_id = f["buyer"], f["seller"]
                a_oid, b_oid = f["buyer_order"], f["seller_order"]
                orders = {}
                for who, oid in ((a_id, a_oid), (b_id, b_oid)):
                    o = req if (isinstance(req, Order) and (req.account, req.order_id)
                                == (who, oid)) else resting.get((who, oid))
                    if o is None:
                        raise ValueError(f"no signed order {oid} of account {who}")
                    orders[who] = o
                ob, os_ = orders[a_id], orders[b_id]
                if f["taker_buyer"] != (req.side == BUY):
                    raise AssertionError("the record's taker flag is not the request's side")
                sv.update(asset=f["asset"], qty=f["size"], price=f["price"],
                          taker_buyer=f["taker_buyer"], expiry=ob.expiry,
                          a_size=ob.size, a_price=ob.price, a_oid=a_oid, a_flags=ob.flags,
                          b_size=os_.size, b_price=os_.price, b_oid=b_oid, b_flags=os_.flags,
                          b_expiry=os_.expiry)
                _sig(sv, "sa_", ob)
                _sig(sv, "sb_", os_)
            elif t == T_SCENARIO:
                sv.update(asset=f["asset"], otime=f["time"], chunk=f["chunk"],
                          **{f"dv{i}": encode(f[f"dv{i}"]) for i in range(SCENARIO_CHUNK)})
                _sig(sv, "sa_", req)
            elif t in (T_ORACLE, T_FUNDING, T_SETTLEMENT_PRICE):
                sv.update(asset=f["asset"], otime=f["time"],
                          price=f.get("price", 0), index=encode(f.get("index", 0)))
                _sig(sv, "sa_", req)
            elif t == T_LIQUIDATION:
                a_id, b_id = f["liquidator"], f["liquidated"]
                sv.update(asset=f["asset"], qty=abs(f["size"]), price=f["price"],
                          expiry=req.expiry)
                _sig(sv, "sa_", req)
            elif t == T_EXPIRY_SETTLEMENT:
                a_id = b_id = f["account"]
                sv.update(asset=f["asset"])
            elif t == T_SET_ORACLE_KEY:
                key = f["key"].to_bytes(32, "big")
                sv.update(kx=unpack_point(key)[0], **_key_split(key))
                if rs.oracle_pk != (0, 0):  # signed by the key it replaces
                    if getattr(req, "sig", None) is None:
                        raise ValueError("an oracle-key change without the current oracle "
                                         "key's signature")
                    _sig(sv, "sa_", req)
            elif t == T_LIST_ASSET:
                if f["asset"] >= assets:
                    raise Unsupported(f"asset ids must be below the circuit's table size {assets}")
                sv.update(asset=f["asset"])
            if e is not None:
                q_used += 1
                qhash = layout.queue_next(qhash, e)
            if strict and fees and FEE_ACCOUNT in (a_id, b_id):
                raise Unsupported("account 0 is touched after fees accrued in this batch")
            sv.update(a_id=a_id, b_id=b_id)
            p = f"s{s}_"
            # A before: a created account opens the empty leaf with its new key
            if sv["new"]:
                acc_a = Account(tuple(req.pk))
            elif sv["absent"]:  # a forced withdrawal naming an account the state lacks
                acc_a = Account((0, 0))
            else:
                acc_a = cv.account(a_id)
            a_vals = _side_values(cv, a_id, acc_a, a_oid)
            b_vals = _side_values(cv, b_id, cv.account(b_id), b_oid) if b_id != a_id else None
            a_sib = tree.proof(a_id)
            apply_in_transaction(rs, t, f)
            rs.flush()
            apply_in_transaction(cv, t, f, credit_fees=False)
            cv.flush()
            if t == T_TRADE:
                fees += sum(fees_of_trade(cv, f))
            if not sv["absent"]:
                tree.set(a_id, cv.account_leaf(a_id, cv.account(a_id)))
            if b_vals is None:  # B = A, reopened after A's update
                b_vals = _side_values(cv, b_id, cv.account(b_id), 0)
            b_sib = tree.proof(b_id)
            tree.set(b_id, cv.account_leaf(b_id, cv.account(b_id)))
            v.update({p + k: x for k, x in sv.items()})
            v.update({f"{p}a_{k}": x for k, x in a_vals.items()})
            v.update({f"{p}b_{k}": x for k, x in b_vals.items()})
            v.update({f"{p}a_sib{k}": x for k, x in enumerate(a_sib)})
            v.update({f"{p}b_sib{k}": x for k, x in enumerate(b_sib)})
            if s < l1_slots:
                out = f["amount"] if t in (T_WITHDRAWAL, T_REFUND) else \
                    f["paid"] if t == T_FORCED_WITHDRAWAL else 0
                asset = f["asset"] if t == T_REFUND else layout.ASSET_TOKEN
                l1.append(layout.Withdrawal(sv["eacc"], asset, f["to"].to_bytes(20, "big"),
                                            out).encode() if out else bytes(layout.RECORD_BYTES))
            diffs.append(rec.ljust(DIFF_BYTES, b"\0"))
            records.append(rec)
            s += 1
        if strict and rs.root != seq.state.root:
            raise AssertionError(f"record replay of {type(req).__name__} differs from the engine")

    # padding: no-ops opening the fee account twice
    pad_id = pad()
    for s_ in range(s, slots):
        p = f"s{s_}_"
        sv = dict.fromkeys(SLOT_SCALARS, 0)
        sv.update(a_id=pad_id, b_id=pad_id)
        vals = _side_values(cv, pad_id, cv.account(pad_id), 0)
        sib = tree.proof(pad_id)
        v.update({p + k: x for k, x in sv.items()})
        for side in ("a", "b"):
            v.update({f"{p}{side}_{k}": x for k, x in vals.items()})
            v.update({f"{p}{side}_sib{k}": x for k, x in enumerate(sib)})
        if s_ < l1_slots:
            l1.append(bytes(layout.RECORD_BYTES))
        diffs.append(bytes(DIFF_BYTES))

    # fees: account 0 as the circuit last wrote it (it holds no positions: the circuit's rule),
    # then credited with the batch's fees
    before = cv.account(FEE_ACCOUNT)
    if strict and any(a for a, _, _ in before.positions):
        raise Unsupported("the fee account (0) holds positions; the circuit credits fees only to "
                          "a fee account without any")
    fv = {"pk_x": before.pk[0], "pk_y": before.pk[1], "nonce": before.nonce,
          "collateral": encode(before.collateral), "positions": cv.positions_root(before),
          "orders": cv.orders_root(FEE_ACCOUNT)}
    if cv.account_leaf(FEE_ACCOUNT, before) != tree.leaf(FEE_ACCOUNT):
        raise AssertionError("the circuit's view of the fee account differs from its tree")
    v.update({f"fee_{k}": fv[k] for k in FEE_FIELDS})
    v.update({f"fee_sib{k}": x for k, x in enumerate(tree.proof(FEE_ACCOUNT))})
    cv.begin()
    cv.edit_account(FEE_ACCOUNT).collateral += fees
    cv.commit()
    tree.set(FEE_ACCOUNT, cv.account_leaf(FEE_ACCOUNT, cv.account(FEE_ACCOUNT)))
    if tree.root != cv.account_tree.root:
        raise AssertionError("the circuit's chained accounts root differs from its view's")
    if strict and cv.root != rs.root:
        raise AssertionError("the circuit's root differs from the record replay's")

    v.update(_registry(rs, listed_before, assets))
    if sum(a.kind == KIND_PERP for a in rs.assets.values()) > underlyings:
        raise Unsupported(f"more perpetuals listed than the circuit's {underlyings} underlyings")
    names = input_names(slots, depth, assets)
    if len(v) != len(names):
        raise AssertionError(f"witness has {len(v)} values for {len(names)} inputs")
    data = len(l1).to_bytes(4, "big") + b"".join(l1) + b"".join(diffs)
    new_root = cv.root
    if strict and new_root != seq.state.root:
        raise AssertionError("record replay differs from the engine")
    dom = seq.domain
    pub = layout.batch_public_input(dom.chain_id, dom.rollup_address.to_bytes(20, "big"),
                                    batch_number, old_root, new_root, bytes(queue_before), qhash,
                                    data)
    return Batch(slots, depth, v, old_root, new_root, bytes(queue_before), qhash, q_used, data,
                 pub, batch_number, l1_slots, assets, records, underlyings)


def plan_batches(pre: Sequencer, requests: list[Request], *, slots: int,
                 l1_slots: int | None = None, first_only: bool = False) -> list[list[Request]]:
    """Split `requests` (in order) into consecutive batches that `build_batch` accepts: each
    request's records stay in one batch, deposits and withdrawals land in the first `l1_slots`
    slots, and account 0 is not opened after fees accrued. Requests that publish nothing
    (cancels, orders that only rest) join the batch in progress. `first_only`: stop once the
    first batch is closed, returning [first batch, every later request (not planned)]."""
    l1_slots = slots if l1_slots is None else l1_slots
    seq = pre.clone()
    out: list[list[Request]] = []
    cur: list[Request] = []
    used, fees = 0, False
    for req in requests:
        n0 = len(seq.records)
        seq.apply_verified(req)
        recs = [decode_record(r) for r in seq.records[n0:]]
        if len(recs) > slots:
            raise Unsupported(f"{type(req).__name__} publishes {len(recs)} records, more than "
                              f"the {slots} slots of a batch")

        def fits(start: int, fees_before: bool, recs=recs) -> bool:
            f_ = fees_before
            for k, (t, f, _) in enumerate(recs):
                if t in _L1_TYPES and start + k >= l1_slots:
                    return False
                ids = {f.get(n) for n in ("account", "sender", "receiver", "buyer", "seller",
                                          "liquidator", "liquidated")}
                if f_ and FEE_ACCOUNT in ids:
                    return False
                f_ = f_ or (t == T_TRADE and sum(fees_of_trade(seq.state, f)) > 0)
            return start + len(recs) <= slots

        if not fits(used, fees):
            if not fits(0, False):
                raise Unsupported(f"{type(req).__name__} cannot fit any batch of this shape")
            out.append(cur)
            if first_only:
                return [cur, requests[len(cur):]]
            cur, used, fees = [], 0, False
        cur.append(req)
        for t, f, _ in recs:
            fees = fees or (t == T_TRADE and sum(fees_of_trade(seq.state, f)) > 0)
        used += len(recs)
    if cur:
        out.append(cur)
    return out


@dataclass
class BatchQueue:
    """Requests the engine applied, waiting for a batch: closes at `slots` requests or when the
    oldest has waited `max_age` seconds (`clock` is injectable for tests). A request can publish
    several records (an order with several fills), so callers size `slots` to the circuit's
    slot count divided by the most records they let one request publish."""

    slots: int
    max_age: float
    clock: object = time.monotonic
    pending: list[Request] = field(default_factory=list)
    opened: float | None = None

    def add(self, req: Request) -> list[Request] | None:
        if self.opened is None:
            self.opened = self.clock()
        self.pending.append(req)
        return self.poll()

    def poll(self) -> list[Request] | None:
        """The closed batch's requests when one closes now, else None."""
        if not self.pending:
            return None
        if len(self.pending) >= self.slots or self.clock() - self.opened >= self.max_age:
            out, self.pending = self.pending[: self.slots], self.pending[self.slots:]
            self.opened = self.clock() if self.pending else None
            return out
        return None
