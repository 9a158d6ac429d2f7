"""The batch builder: applied requests, in order -> slots -> the batch circuit's witness.

``build_batch(pre, requests, ...)`` replays the requests on a copy of the pre-batch sequencer
(the same deterministic transition the engine applied), records for every slot the account
openings before and after (A first, then B against the tree with A updated: the order the
circuit chains them), pads with no-ops, and checks that the chained accounts root equals the
engine's after every slot and that the circuit's public input equals
``rollup.chain.layout.batch_public_input`` over the same bytes.

Slot types supported are the ones `circuits.batch` proves (deposits, withdrawals, transfers of
accounts without positions); anything else raises `Unsupported` so a batch never closes with a
transaction the circuit cannot prove. ``BatchQueue`` closes batches on size or on age.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field

from circuits.babyjubjub import pack_point
from circuits.batch import (
    DIFF_BYTES,
    EMPTY_POSITIONS_ROOT,
    build_batch_circuit,
    input_names,
)
from rollup.chain import layout
from rollup.chain.layout import QueueEntry
from rollup.engine.sequencer import Sequencer
from rollup.state.encoding import encode
from rollup.state.tree import SparseMerkleTree
from rollup.transactions import Deposit, Request, Transfer, Withdrawal


class Unsupported(ValueError):
    """A transaction the batch circuit does not prove yet (see circuits.batch's TODO)."""


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

    def circuit(self):
        return build_batch_circuit(self.slots, self.depth, self.values)


def _leaf_fields(state, i: int) -> dict[str, int]:
    acc = state.account(i)
    return {"pk_x": acc.pk[0], "pk_y": acc.pk[1], "nonce": acc.nonce,
            "collateral": encode(acc.collateral), "positions": state.positions_root(acc),
            "orders": state.orders_root(i)}


def _copy_tree(t: SparseMerkleTree) -> SparseMerkleTree:
    c = SparseMerkleTree(t.depth, t.hasher)
    c.nodes = dict(t.nodes)
    return c


def build_batch(pre: Sequencer, requests: list[Request], *, slots: int, batch_number: int,
                queue: list[QueueEntry] = (), queue_before: bytes = layout.ZERO32) -> Batch:
    """Replay `requests` (already accepted by the engine, in order) on a copy of `pre`, the
    sequencer as it stood when the batch opened. `queue` holds the L1 entries the deposits
    consume, in order; `queue_before` is the chain hash before the first of them."""
    if len(requests) > slots:
        raise ValueError(f"{len(requests)} requests do not fit {slots} slots")
    seq: Sequencer = pickle.loads(pickle.dumps(pre))
    st = seq.state
    depth = st.account_depth
    dom = seq.domain
    old_root = st.root
    tree = _copy_tree(st.account_tree)
    v: dict[str, int] = {
        "chain_id": dom.chain_id, "rollup": dom.rollup_address, "batch_number": batch_number,
        "registry_root": st.registry_tree.root, "time": st.time,
        "oracle_root": st.oracle_tree.root, "oracle_pk_x": st.oracle_pk[0],
        "oracle_pk_y": st.oracle_pk[1], "accounts_root": st.account_tree.root,
        "queue_before_hi": int.from_bytes(queue_before[:16], "big"),
        "queue_before_lo": int.from_bytes(queue_before[16:], "big"),
    }
    qhash, q_used = bytes(queue_before), 0
    l1, diffs = [], []
    pad_id = min(st.accounts) if st.accounts else None
    for s in range(slots):
        p = f"s{s}_"
        req = requests[s] if s < len(requests) else None
        sv = dict.fromkeys(["dep", "wd", "tr", "new", "amount", "to", "expiry", "depositor",
                            "sig_r8x", "sig_r8y", "sig_s"], 0)
        if req is None:
            if pad_id is None:
                raise Unsupported("no account to open in a padding slot")
            a_id = b_id = pad_id
        elif isinstance(req, Deposit):
            a_id = b_id = req.account
            if q_used >= len(queue):
                raise ValueError("a deposit without its L1 queue entry")
            e = queue[q_used]
            if (e.kind, e.asset, e.amount, bytes(e.l2_key)) != (
                    layout.KIND_DEPOSIT, layout.ASSET_TOKEN, req.amount, pack_point(req.pk)):
                raise ValueError(f"queue entry {q_used} is not this deposit")
            q_used += 1
            qhash = layout.queue_next(qhash, e)
            sv.update(dep=1, new=int(req.account not in st.accounts), amount=req.amount,
                      depositor=int.from_bytes(layout._addr(e.l1_address), "big"))
        elif isinstance(req, Withdrawal | Transfer):
            a_id = req.account if isinstance(req, Withdrawal) else req.sender
            b_id = a_id if isinstance(req, Withdrawal) else req.receiver
            if st.positions_root(st.account(a_id)) != EMPTY_POSITIONS_ROOT:
                raise Unsupported("debit of an account with positions (margin not proven yet)")
            (r8x, r8y), sig_s = req.sig
            sv.update(wd=int(isinstance(req, Withdrawal)), tr=int(isinstance(req, Transfer)),
                      amount=req.amount, expiry=req.expiry, sig_r8x=r8x, sig_r8y=r8y, sig_s=sig_s,
                      to=getattr(req, "to", 0))
        else:
            raise Unsupported(f"{type(req).__name__} is not proven by the batch circuit yet")
        sv["a_id"], sv["b_id"] = a_id, b_id
        # A before (a created account opens the empty leaf with its new key and empty roots)
        if sv["new"]:
            a_old = {"pk_x": req.pk[0], "pk_y": req.pk[1], "nonce": 0, "collateral": 0,
                     "positions": EMPTY_POSITIONS_ROOT, "orders": st.orders_root(a_id)}
        else:
            a_old = _leaf_fields(st, a_id)
        b_old_engine = _leaf_fields(st, b_id) if b_id in st.accounts and b_id != a_id else None
        a_sib = tree.proof(a_id)
        if req is not None:
            seq.apply_verified(req)
        a_new = _leaf_fields(st, a_id)
        tree.set(a_id, st.account_leaf(a_id, st.account(a_id)))
        b_old = b_old_engine if b_old_engine is not None else a_new
        b_sib = tree.proof(b_id)
        tree.set(b_id, st.account_leaf(b_id, st.account(b_id)))
        if tree.root != st.account_tree.root:
            raise AssertionError(f"slot {s}: chained accounts root differs from the engine's")
        del a_new
        v.update({p + k: x for k, x in sv.items()})
        v.update({f"{p}a_{f}": x for f, x in a_old.items()})
        v.update({f"{p}b_{f}": x for f, x in b_old.items()})
        v.update({f"{p}a_sib{k}": x for k, x in enumerate(a_sib)})
        v.update({f"{p}b_sib{k}": x for k, x in enumerate(b_sib)})
        # public data of the slot
        if sv["wd"]:
            l1.append(layout.Withdrawal(a_id, layout.ASSET_TOKEN, req.to.to_bytes(20, "big"),
                                        req.amount).encode())
        else:
            l1.append(bytes(layout.RECORD_BYTES))
        rec = seq.records[-1] if req is not None else b""
        diffs.append(rec.ljust(DIFF_BYTES, b"\0"))
    assert len(v) == len(input_names(slots, depth))
    data = len(l1).to_bytes(4, "big") + b"".join(l1) + b"".join(diffs)
    new_root = st.root
    rollup = dom.rollup_address.to_bytes(20, "big")
    pub = layout.batch_public_input(dom.chain_id, rollup, batch_number, old_root, new_root,
                                    bytes(queue_before), qhash, data)
    return Batch(slots, depth, v, old_root, new_root, bytes(queue_before), qhash, q_used, data,
                 pub, batch_number)


@dataclass
class BatchQueue:
    """Requests the engine applied, waiting for a batch: closes at `slots` requests or when the
    oldest has waited `max_age` seconds (`clock` is injectable for tests)."""

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
