"""The one owner of the sequencer and its journal behind the API.

Every operation (a request, and every read, so that reads see a state between requests) runs on
one worker thread, in arrival order: that thread is the lock that serializes requests into the
sequencer, and the journal's SQLite connection is only ever used from the thread that opened it.
``Sequencer.submit`` journals a request (committed, ``synchronous=FULL``) before it applies it,
so a receipt returned here is for a request that is on disk.

Start-up: an empty journal gets the genesis of the configuration (checked on a scratch sequencer
first, so a bad genesis leaves the journal empty; ``genesis.json`` records its length once it is
all journaled, and a genesis cut short by a crash is completed on the next start); a journal
with rows is recovered (``rollup.engine.restart.recover``: the newest usable snapshot plus the
rows after it; the signatures were checked when the rows were accepted). Snapshots follow the
journal's policy (``[data] snapshot_every`` requests apart, and at a clean stop), so a restart's
time is bounded by the snapshot interval, not by the journal's length. The fill history is the
journal's ``fills`` table (written with the requests), read a page at a time.

Group commit: one fsync per request caps throughput under concurrent clients, so when the worker
takes a submit from its queue it also takes the submits queued right behind it (up to
``group_max`` requests; never past a call of another kind, so reads, status and everything else
keep their place relative to the submits) and hands them to ``Sequencer.submit_many``: applied
in queue order, journaled in one transaction, and answered only once that is on disk. Each
caller gets what a submit of its own would have given it (the same receipt, or the same typed
error for a rejected request, which changes nothing), except that the tree is hashed once for
the group: every receipt of a group carries the root after the group (a root after each request
costs a tree path per changed account each: at depth 32 about three times the group's). A
submit that finds nothing queued behind it takes the one-request path (``Sequencer.submit``),
exactly as before grouping existed.

A group whose journal write fails is different from one request's: the group's requests are in
the sequencer's memory but not on disk, so the sequencer stops (``Sequencer.failed``) and every
later submit is refused with JournalError until a restart replays the journal; every caller of
that group gets the JournalError (nothing of the group was acknowledged).
"""

from __future__ import annotations

import gc
import itertools
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from rollup.api.codec import fill_json, hex32, side_name
from rollup.config import Config
from rollup.durability.journal import Journal
from rollup.engine.receipts import Receipt
from rollup.engine.restart import recover
from rollup.engine.sequencer import Sequencer
from rollup.errors import EngineError, JournalError
from rollup.keys import compress, public_json
from rollup.recovery.genesis import genesis_requests
from rollup.settlement.files import genesis_file, last_batch, read_genesis  # noqa: F401
from rollup.state.encoding import RISK_SCALE
from rollup.state.state import State
from rollup.transactions import Request


class ServiceError(RuntimeError):
    """The service cannot start on this data folder (another sequencer holds it...)."""


def admin_token_file(cfg: Config) -> Path:
    """The operator endpoint's bearer token, written (mode 0600) while the service runs."""
    return cfg.data / "admin.token"




def _same(a: list[Request], b: list[Request]) -> bool:
    def key(r):
        return json.dumps(r.to_json(), sort_keys=True)

    return [key(r) for r in a] == [key(r) for r in b]


GROUP_MAX = 512  # requests in one group commit (a batch larger than this is one group alone)


class _Submits:
    """A queue entry of requests to journal and apply, in order: one ``submit`` (``single``:
    the future gets the receipt dict or the error) or one ``submit_batch`` (the future gets the
    list of receipt dicts and errors)."""

    __slots__ = ("reqs", "fut", "single", "pre")

    def __init__(self, reqs: list[Request], single: bool, pre: list) -> None:
        self.reqs, self.single, self.fut, self.pre = reqs, single, Future(), pre


class SequencerService:
    """Owns one Sequencer (+ journal) on a worker thread; ``call(fn)`` runs ``fn(self)`` there."""

    def __init__(self, cfg: Config, log: Callable[[str], None] | None = None, *,
                 group_max: int = GROUP_MAX) -> None:
        self.cfg = cfg
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self.seq: Sequencer | None = None
        self.journal: Journal | None = None
        self.genesis_seq = 0
        self.started = time.time()
        self.accepted = 0
        self.rejected = 0
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sequencer", daemon=True)
        self._ready: Future = Future()
        self._lock = None
        # 1: every submit is journaled on its own (one fsync each), as without group commit
        self.group_max = max(1, group_max)
        self.groups = 0  # group commits of more than one request (status: how much grouping)
        self.grouped = 0  # requests that went through those groups
        self._fill_id = 0  # the last fill id given out in a receipt
        self._frozen = 0  # snapshots written when the collector was last frozen
        self.admin_token: str | None = None  # POST /v1/admin's bearer token (admin_token_file)

    # --- thread -----------------------------------------------------------------------------------
    def start(self) -> SequencerService:
        self._thread.start()
        self._ready.result()  # re-raises a start-up failure here
        return self

    def _loop(self) -> None:
        try:
            self._open()
        except BaseException as exc:
            self._ready.set_exception(exc)
            if self.journal is not None:
                self.journal.close()
            if self._lock is not None:
                self._lock.close()
            return
        self._ready.set_result(None)
        held = None  # an entry taken while gathering a group that must run after it
        while True:
            item, held = (held, None) if held is not None else (self._q.get(), None)
            if isinstance(item, _Submits):
                group, n = [item], len(item.reqs)
                # only what is already queued: a lone submit is not delayed waiting for company
                while n < self.group_max:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if not isinstance(nxt, _Submits) or n + len(nxt.reqs) > self.group_max:
                        held = nxt  # a call of another kind (or a full group): it runs next
                        break
                    group.append(nxt)
                    n += len(nxt.reqs)
                group = [g for g in group if g.fut.set_running_or_notify_cancel()]
                try:
                    self._run_group(group)
                except BaseException as exc:  # a failure of the service's own bookkeeping
                    for g in group:
                        if not g.fut.done():
                            g.fut.set_exception(exc)
                self._after_snapshot()
                continue
            fn, fut = item
            if fn is None:
                break
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(self))
            except BaseException as exc:
                fut.set_exception(exc)
            self._after_snapshot()
        if not self.seq.state.in_txn:
            self.journal.maybe_snapshot(self.seq, stopping=True)
        admin_token_file(self.cfg).unlink(missing_ok=True)
        self.journal.close()
        self._lock.close()
        fut.set_result(None)

    def call(self, fn: Callable[[SequencerService], object]):
        if not self._thread.is_alive():
            raise RuntimeError("the sequencer thread is not running")
        fut: Future = Future()
        self._q.put((fn, fut))
        return fut.result()

    def close(self) -> None:
        if self._thread.is_alive():
            fut: Future = Future()
            self._q.put((None, fut))
            self._thread.join(10)

    # --- start-up (worker thread) -----------------------------------------------------------------
    def _open(self) -> None:
        import fcntl

        cfg = self.cfg
        cfg.data.mkdir(parents=True, exist_ok=True)
        # one writer per journal: a second sequencer on the same folder would fork the state
        self._lock = open(cfg.data / "sequencer.lock", "w")  # held while running
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ServiceError(f"another sequencer is running on {cfg.data}") from None
        self._write_admin_token()
        self.journal = Journal(cfg.journal_path, snapshot_every=cfg.snapshot_every, log=self.log)
        if self.journal.fills_from > 1:
            self.log(f"warning: the fill history starts at journal row {self.journal.fills_from}"
                     " (the rows before it were journaled without their fills)")
        if self.journal.last_seq() == 0:
            self._genesis([])
            return
        t = time.perf_counter()
        self.seq = recover(self.journal, cfg.domain(), cfg.tree_depth)
        first = self.journal.restored_from
        self.log((f"restored the snapshot at {first}, " if first is not None else "")
                 + f"replayed {self.seq.seq - (first or 0)} journal rows in "
                 f"{time.perf_counter() - t:.1f} s")
        g = read_genesis(cfg)
        if g is not None:
            self.genesis_seq = g["seq"]
            self._check_genesis()
            return
        # no genesis record: the previous run stopped during (or right after) the genesis
        want = genesis_requests(cfg)
        done = [r for _, r in itertools.islice(self.journal.requests_after(0), len(want) + 1)]
        if _same(done, want[:len(done)]) and len(done) <= len(want):
            self._genesis(done)
        elif _same(done[:len(want)], want):
            self._write_genesis(len(want), want)
        else:
            self.log("warning: no genesis record and the journal does not start with the "
                     "configured genesis")

    def _write_admin_token(self) -> None:
        """A fresh random token for this run, readable by the data folder's owner only (like a
        node's cookie file): ``rollup sequencer list-asset`` / ``set-oracle-key`` read it."""
        import os
        import secrets

        token = secrets.token_hex(32)
        path = admin_token_file(self.cfg)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, token.encode() + b"\n")
        finally:
            os.close(fd)
        tmp.replace(path)
        self.admin_token = token

    def _after_snapshot(self) -> None:
        """After a snapshot was written, what is alive is mostly the state: frozen out of the
        collector's full passes (see ``rollup sequencer run``)."""
        if self.journal.policy.written != self._frozen:
            self._frozen = self.journal.policy.written
            gc.freeze()

    def _genesis(self, done: list[Request]) -> None:
        """Journal the configured genesis (the part of it not yet journaled: ``done``)."""
        cfg = self.cfg
        reqs = genesis_requests(cfg)
        scratch = Sequencer(State(cfg.tree_depth), cfg.domain())
        # the operator's own set-up (prices unsigned, as at a deployment's genesis); a bad
        # genesis fails on the scratch sequencer, before anything is journaled
        for r in reqs:
            scratch.apply_verified(r)
        if self.seq is None:
            self.seq = Sequencer(State(cfg.tree_depth), cfg.domain(), journal=self.journal)
        for r in reqs[len(done):]:
            self.seq.apply_verified(r)
        self._write_genesis(len(reqs), reqs)
        self.log(f"genesis: {len(reqs)} requests, {len(cfg.markets)} market(s), "
                 f"{len(cfg.genesis_accounts)} funded account(s)")

    def _write_genesis(self, n: int, reqs: list[Request]) -> None:
        scratch = Sequencer(State(self.cfg.tree_depth), self.cfg.domain())
        for r in reqs:
            scratch.apply_verified(r)
        self.genesis_seq = n
        path = genesis_file(self.cfg)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": n, "root": hex32(scratch.state.root)}) + "\n")
        tmp.replace(path)

    def _check_genesis(self) -> None:
        try:
            want = genesis_requests(self.cfg)
        except Exception as exc:  # keys moved: the journal is still authoritative
            self.log(f"warning: cannot rebuild the configured genesis: {exc}")
            return
        have = [r for _, r in itertools.islice(self.journal.requests_after(0), len(want))]
        if not _same(have, want):
            self.log("warning: the journal's genesis differs from the configuration's "
                     "(markets, keys or genesis accounts edited after genesis); the journal wins")

    # --- operations (each runs on the worker thread: through ``call``, submits as queue entries)
    def submit(self, req: Request) -> dict:
        """The receipt of one request (raises its typed error if it is rejected)."""
        return self._enqueue(_Submits([req], single=True, pre=self._preverify([req])))

    def admin(self, req: Request) -> dict:
        """An operator action (ListAsset, SetOracleKey) checked against what the configured
        batch circuit can prove before it is submitted: a listing or key change no batch can
        carry would stop every later batch. A key change must carry the current oracle key's
        signature (``Sequencer.submit`` checks it)."""
        from rollup.errors import InvalidRequest
        from rollup.transactions import ListAsset

        cfg = self.cfg
        if cfg.batch_l1_slots < 1:
            raise InvalidRequest("batches of this configuration have no L1 slot to carry an "
                                 "operator action ([batch] l1_slots = 0)")
        if isinstance(req, ListAsset) and not 1 <= req.asset < cfg.batch_assets:
            raise InvalidRequest(f"asset id {req.asset} outside the batch circuit's table: "
                                 f"1..{cfg.batch_assets - 1} ([batch] assets)")
        return self.submit(req)

    def submit_batch(self, reqs: list[Request]) -> list[dict | EngineError]:
        """Several requests applied in order in one group commit: per request its receipt or
        the typed error that rejected it. A JournalError (nothing journaled) is raised."""
        if not reqs:
            return []
        reqs = list(reqs)
        return self._enqueue(_Submits(reqs, single=False, pre=self._preverify(reqs)))

    def _preverify(self, reqs: list[Request]) -> list:
        """The signatures checked on the caller's thread (an HTTP handler's), in one batch, while
        the worker thread applies other requests: the compiled kernels release the GIL, so on
        more than one core verification runs beside the single writer. Only an answer for the
        signer key that is still current at the request's turn is used (``Sequencer.submit``);
        anything that goes wrong here only leaves the check to the worker."""
        seq = self.seq
        if seq is None:
            return [None] * len(reqs)
        try:
            return seq.preverify(reqs)
        except Exception:
            return [None] * len(reqs)

    def _enqueue(self, entry: _Submits):
        if not self._thread.is_alive():
            raise RuntimeError("the sequencer thread is not running")
        self._q.put(entry)
        return entry.fut.result()

    def _run_group(self, group: list[_Submits]) -> None:
        """One group commit for these entries (worker thread); resolves every entry's future."""
        if not group:
            return
        if len(group) == 1 and group[0].single:
            self._run_singly(group[0])  # nothing to group with: the one-request path
            return
        reqs = [r for g in group for r in g.reqs]
        before = self.seq.seq
        self._fill_id = self.journal.fills_total
        try:
            # verification included (verified=False): submit_many decides how to check the
            # group's signatures
            results = self.seq.submit_many(reqs, group_root=True,
                                           pre=[p for g in group for p in g.pre])
        except JournalError as exc:
            # the group is not on disk and the sequencer has stopped (or had stopped already):
            # nobody in it is acknowledged; counted as rejected, as one request's would be
            self.rejected += len(reqs)
            for g in group:
                g.fut.set_exception(exc)
            return
        except BaseException as exc:
            if self.seq.seq == before:
                # nothing was applied: answer each entry on the one-request path, so each gets
                # exactly its own answer (the failing request its own exception)
                for g in group:
                    self._run_singly(g)
                return
            # some requests of the group were applied and journaled before the failure, but
            # their receipts are lost: fills and counters would no longer match the journal.
            # Stop accepting requests; a restart replays the journal into a consistent state.
            self.seq.failed = (f"{type(exc).__name__} in a group commit after request "
                               f"{self.seq.seq}: {exc}")
            self.log(f"error: {self.seq.failed}")
            for g in group:
                g.fut.set_exception(exc)
            return
        self.groups += 1
        self.grouped += len(reqs)
        it = iter(zip(reqs, results, strict=True))
        for g in group:
            outs: list[dict | EngineError] = []
            for req, res in itertools.islice(it, len(g.reqs)):
                if isinstance(res, EngineError):
                    self.rejected += 1
                    outs.append(res)
                else:
                    self.accepted += 1
                    outs.append(self._receipt_json(req, res))
            if not g.single:
                g.fut.set_result(outs)
            elif isinstance(outs[0], EngineError):
                g.fut.set_exception(outs[0])
            else:
                g.fut.set_result(outs[0])

    def _run_singly(self, g: _Submits) -> None:
        """Each request of the entry on the one-request path (its own journal transaction)."""
        outs: list = []
        for req, pre in zip(g.reqs, g.pre, strict=True):
            try:
                outs.append(self._submit(req, pre))
            except BaseException as exc:
                if g.single:
                    g.fut.set_exception(exc)
                    return
                outs.append(exc)  # as separate submits would: the others still go ahead
        g.fut.set_result(outs[0] if g.single else outs)

    def _submit(self, req: Request, pre=None) -> dict:
        self._fill_id = self.journal.fills_total
        try:
            r = self.seq.submit(req, pre)
        except Exception:
            self.rejected += 1
            raise
        self.accepted += 1
        return self._receipt_json(req, r)

    def _receipt_json(self, req: Request, r: Receipt) -> dict:
        """The answer to an accepted request; its fills are numbered as the journal numbered
        them (in journal order, after the fills of the requests before it)."""
        first = self._fill_id + 1
        self._fill_id += len(r.fills)
        out = {"accepted": True, "seq": r.seq, "root": hex32(r.root), "type": type(req).__name__,
               "fills": [fill_json(f, first + k, r.seq) for k, f in enumerate(r.fills)],
               "resting": None,
               "dropped": [{"account": a, "order_id": o, "reason": why}
                           for a, o, why in r.dropped],
               "note": r.note, "public_data": [rec.hex() for rec in r.records]}
        if r.resting:
            out["resting"] = {"asset": req.asset, "order_id": req.order_id,
                              "side": side_name(req.side), "price": req.price,
                              "remaining": r.resting}
        return out

    def account(self, i: int) -> dict:
        return self.call(lambda s: s._account(i))

    def _account(self, i: int) -> dict:
        v = self.seq.account_view(i)  # UnknownAccount -> 404
        m = v.margin
        return {
            "id": i, "public_key": public_json(v.pk), "nonce": v.nonce,
            "collateral": v.collateral,
            "positions": [{"asset": a, "balance": b, "funding_snapshot": s}
                          for a, b, s in v.positions],
            "open_orders": [{"asset": o.asset, "order_id": o.order_id,
                             "side": side_name(o.side), "price": o.price, "size": o.size,
                             "remaining": o.remaining, "expiry": o.expiry, "flags": o.flags}
                            for o in v.open_orders],
            "margin": {"value": m.value,
                       "unsettled_funding": m.unsettled_funding,
                       "risk_initial": m.risk_initial // RISK_SCALE,
                       "risk_maintenance": m.risk_maintenance // RISK_SCALE,
                       "excess_initial": m.excess_initial // RISK_SCALE,
                       "excess_maintenance": m.excess_maintenance // RISK_SCALE,
                       "healthy": m.healthy, "liquidatable": m.liquidatable},
        }

    def book(self, asset: int, depth: int) -> dict:
        return self.call(lambda s: s._book(asset, depth))

    def _book(self, asset: int, depth: int) -> dict:
        b = self.seq.book_levels(asset, depth)  # UnknownMarket -> 404

        def levels(side):
            return [{"price": x.price, "size": x.size, "orders": x.orders} for x in side]

        return {"asset": asset, "kind": b.kind, "oracle_price": b.oracle_price, "time": b.time,
                "bids": levels(b.bids), "asks": levels(b.asks)}

    def fills_since(self, since: int, limit: int, account: int | None) -> dict:
        return self.call(lambda s: s._fills(since, limit, account))

    def _fills(self, since: int, limit: int, account: int | None) -> dict:
        rows = [fill_json(f, f.id, f.seq)
                for f in self.journal.fills_after(max(since, 0), limit, account)]
        return {"since": since, "fills": rows,
                "next": rows[-1]["id"] if rows else max(since, 0),
                "total": self.journal.fills_total}

    def status(self) -> dict:
        return self.call(lambda s: s._status())

    def _status(self) -> dict:
        cfg = self.cfg
        st = self.seq.status()
        last = last_batch(cfg)
        batched_to = last["last_seq"] if last else self.genesis_seq
        return {
            "root": hex32(st.root), "seq": st.seq, "genesis_seq": self.genesis_seq,
            "time": st.time, "chain_id": cfg.chain_id, "rollup_address": cfg.rollup_address,
            "tree_depth": cfg.tree_depth, "accounts": st.accounts, "assets": st.assets,
            "oracle_key": compress(st.oracle_pk) if st.oracle_pk is not None else None,
            "resting_orders": st.resting_orders,
            "fills": self.journal.fills_total, "accepted": self.accepted,
            "rejected": self.rejected,
            "group_commits": {"groups": self.groups, "requests": self.grouped},
            "stopped": st.stopped,
            "uptime_s": round(time.time() - self.started, 1),
            "batch": {"slots": cfg.batch_slots, "l1_slots": cfg.batch_l1_slots,
                      "assets": cfg.batch_assets, "time_limit": cfg.batch_time_limit,
                      "last_built": last["number"] if last else 0,
                      "last_built_seq": batched_to,
                      "unbatched_requests": st.seq - batched_to},
        }
