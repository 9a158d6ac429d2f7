"""The one owner of the sequencer and its journal behind the API (design: docs/api.md).

Every operation, each submit and each read, runs on one worker thread in arrival order: that
thread is the single writer, and the only user of the journal's SQLite connection. A receipt is
handed out only once its request is on disk (journal commit, ``synchronous=FULL``); submits
queued together are journaled as one group (one fsync), each caller answered as if alone except
that a group's receipts carry the root after the group. A failed group write stops the
sequencer (JournalError) until a restart replays the journal. ``call_soon`` / ``enqueue``
return futures, so an async server awaits them without blocking its loop; ``call`` / ``submit``
wait. Idempotent retries: the same signed request again gets its stored receipt (the newest
``[api] idempotency_window`` accepted requests, rebuilt from the journal on start), never a
second journal row; receipts are stored after the answers, before the next entry runs. Rate
limits (``limits``) are charged by ``admit`` before the sequencer sees a request: on the
caller's thread, or (``enqueue(admit=True)``) on the worker at the request's turn.
"""

from __future__ import annotations

import gc
import itertools
import json
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import msgspec

from rollup.api import types as W
from rollup.api.codec import hex32
from rollup.api.limits import GROUP_ITEMS_PER_TOKEN, RateLimiter, refusal
from rollup.api.orders import OrderHistory
from rollup.api.reads import Reads
from rollup.config import Config
from rollup.durability.journal import Journal, request_json
from rollup.durability.receipts import key_of
from rollup.engine.receipts import Receipt
from rollup.engine.restart import recover
from rollup.engine.sequencer import Sequencer
from rollup.errors import EngineError, InvalidRequest, JournalError
from rollup.margin.exposure import GreeksCache
from rollup.recovery.genesis import genesis_requests
from rollup.settlement.files import genesis_file, read_genesis
from rollup.state.encoding import KIND_PERP
from rollup.state.state import State
from rollup.transactions import (
    BUY,
    DropOrders,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Request,
    SettlementPrice,
    Transfer,
    request_from_json,
)


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
# the bookkeeping after the answers (``_settle``) waits for the server to say the answers are
# written (``answered``), so that the threads sending them are not kept waiting for the
# interpreter lock meanwhile, or at most this long for an idle queue
SETTLE_IDLE_S = 0.0005
_ANSWERED = object()  # queue marker: the answers are written, settle now (``answered``)


def now_us() -> int:
    """Wall-clock microseconds since the Unix epoch (the receive time of a request)."""
    return time.time_ns() // 1000


class Replayed(W.Receipt):
    """A stored receipt handed out again for a retry of the same signed request (encodes as the
    receipt it is)."""


class _Submits:
    """A queue entry of requests to journal and apply, in order: one ``submit`` (``single``:
    the future gets the receipt or the error) or one ``submit_batch`` (the future gets the list
    of receipts and errors). ``keys``: each request's idempotency key (b"": not deduplicated);
    ``received``: when the API received it; ``admit``: signatures and rate limits are checked
    by the worker at the entry's turn (``pre`` is None until then)."""

    __slots__ = ("reqs", "fut", "single", "pre", "keys", "received", "outs", "admit")

    def __init__(self, reqs: list[Request], single: bool, pre: list | None,
                 received: int | None = None, admit: bool = False) -> None:
        self.reqs, self.single, self.fut, self.pre = reqs, single, Future(), pre
        self.admit = admit
        # only signed requests are retried by their sender; two equal L1 deposits are two
        self.keys = [key_of(request_json(r)) if r.SIGNED else b"" for r in reqs]
        self.received = received if received is not None else now_us()
        self.outs: list = [None] * len(reqs)

    def resolve(self) -> None:
        if self.fut.done():
            return
        if not self.single:
            self.fut.set_result(self.outs)
        elif isinstance(self.outs[0], BaseException):
            self.fut.set_exception(self.outs[0])
        else:
            self.fut.set_result(self.outs[0])


class SequencerService(Reads):
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
        # idempotency: key -> journal seq of the newest ``window`` accepted requests
        self.window = max(1, cfg.api_idempotency_window)
        self._recent: OrderedDict[bytes, int] = OrderedDict()
        self.replayed = 0  # retries answered with their stored receipt
        self.history = OrderHistory(self.window)
        self.hub = None  # rollup.api.streams.Hub once a WebSocket client subscribed
        self.limiter = RateLimiter(cfg.api_rate, cfg.api_burst)
        self.greeks = GreeksCache()  # account views' Greeks, recomputed only when stale
        # accepted requests whose receipts are not stored yet (``_settle``, after the answers)
        self._unsettled: list[tuple[Request, bytes, W.Receipt]] = []
        self._fresh: dict[int, W.Receipt] = {}  # their receipts by seq, for retries meanwhile
        self._published = 0  # how many of ``_unsettled`` the streams were told of

    # --- thread -----------------------------------------------------------------------------------
    def start(self) -> SequencerService:
        self._thread.start()
        self._ready.result()  # re-raises a start-up failure here
        return self

    def _loop(self) -> None:
        try:
            self._open()
            self._load_receipts()
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
            if held is not None:
                self._settle()  # what the group before it answered: seen by this entry
                item, held = held, None
            else:
                item = self._next()
            if isinstance(item, _Submits):
                group, n = [item], len(item.reqs)
                # only what is already queued: a lone submit is not delayed waiting for company
                while n < self.group_max:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _ANSWERED:  # this group settles the answers before it anyway
                        continue
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
                self._publish()  # whatever was journaled before a failure
                self._after_snapshot()
                continue
            if item is _ANSWERED:
                self._settle()
                continue
            fn, fut = item
            if fn is None:
                break
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                res = fn(self)
            except BaseException as exc:
                self._publish()
                fut.set_exception(exc)
            else:
                self._publish()  # the streams before the answer, as for submits
                fut.set_result(res)
            self._after_snapshot()
        self._settle()
        if not self.seq.state.in_txn:
            self.journal.maybe_snapshot(self.seq, stopping=True)
        admin_token_file(self.cfg).unlink(missing_ok=True)
        self.journal.close()
        self._lock.close()
        fut.set_result(None)

    def _next(self):
        """The next queue entry; the bookkeeping of the last answers (``_settle``) first, once
        the server wrote them (``answered``), the queue stayed idle ``SETTLE_IDLE_S`` or an
        entry comes sooner. Settling right after the answers were written keeps it out of the
        way of a lone client's next order (which arrived ~0.5 ms after its answer on a 2-core
        machine, the moment the idle wait ended: it waited ~90 us behind the settle)."""
        if not self._unsettled:
            return self._q.get()
        try:
            item = self._q.get(timeout=SETTLE_IDLE_S)
        except queue.Empty:
            item = None
        self._settle()
        return item if item is not None else self._q.get()

    def call_soon(self, fn: Callable[[SequencerService], object]) -> Future:
        """A future of ``fn(self)`` run on the worker thread (in arrival order)."""
        if not self._thread.is_alive():
            raise RuntimeError("the sequencer thread is not running")
        fut: Future = Future()
        self._q.put((fn, fut))
        return fut

    def answered(self) -> None:
        """The server wrote the answers handed out so far: the writer may do its bookkeeping
        now (called on the event loop's thread; costs a queue put)."""
        self._q.put(_ANSWERED)

    def call(self, fn: Callable[[SequencerService], object]):
        return self.call_soon(fn).result()

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

    # --- receipts kept for retries and order status (worker thread) ------------------------------
    def _load_receipts(self) -> None:
        """The idempotency map and the order history from the newest stored receipts; receipts
        lost to a crash (rows journaled after the last stored receipt) rebuilt first."""
        j = self.journal
        last = j.last_seq()
        first = max(j.last_receipt_seq(), self.genesis_seq, last - self.window) + 1
        if first <= last:
            self._rebuild_receipts(first, last)
        for seq, key, body, text in j.recent_receipts(self.window):
            if key:
                self._remember_one(key, seq)
            self.history.observe(request_from_json(json.loads(text)),
                                 msgspec.json.decode(body, type=W.Receipt))

    def _rebuild_receipts(self, first: int, last: int) -> None:
        """Receipts of journal rows first..last from a replay of them (each row's own root; no
        receive time): only after a crash between a commit and its receipts' write, or for a
        journal written before receipts were stored."""
        t = time.perf_counter()
        scratch = recover(self.cfg.journal_path, self.cfg.domain(), self.cfg.tree_depth,
                          upto=first - 1)
        fill_ids = self.journal.fill_ids(first, last)
        rows = []
        for seq, text in self.journal.request_texts(first, last):
            req = request_from_json(json.loads(text))
            r = scratch.apply_verified(req)
            self._fill_id = fill_ids.get(seq, 1) - 1
            rec = self._receipt(req, r, None, scratch.state.time)
            key = key_of(text) if req.SIGNED else b""
            rows.append((seq, key, None, rec.engine_time, msgspec.json.encode(rec)))
        self.journal.store_receipts(rows)
        self.log(f"rebuilt the receipts of journal rows {first}..{last} in "
                 f"{time.perf_counter() - t:.1f} s")

    def _remember_one(self, key: bytes, seq: int) -> None:
        recent = self._recent
        recent[key] = seq
        recent.move_to_end(key)
        while len(recent) > self.window:
            recent.popitem(last=False)

    def _remember(self, done: list[tuple[Request, bytes, W.Receipt]]) -> None:
        """Accepted requests: in the idempotency map now; their receipts stored, the order
        history and the streams fed by ``_settle`` once their callers are answered (before the
        worker takes its next queue entry, so every later operation sees them)."""
        for _req, key, r in done:
            if key:
                self._remember_one(key, r.seq)
            self._fresh[r.seq] = r
        self._unsettled += done

    def _publish(self) -> None:
        """The streams told of the requests just journaled, before the books move again (and
        before their answers are handed back). A failure here loses stream messages, never an
        answer: it is logged, and subscribers resync."""
        new = self._unsettled[self._published:]
        self._published = len(self._unsettled)
        if not (new and self.hub is not None and self.hub.channels):
            return
        try:
            # the request's own fields, not ``to_json`` (a deep copy: ~50 us an order)
            self.hub.after_group([{"request": {**vars(req), "type": req.TYPE},
                                   "receipt": msgspec.to_builtins(r),
                                   "time": r.engine_time, "received_us": r.received_us}
                                  for req, _key, r in new])
        except Exception as exc:
            self.log(f"warning: streams not told of journal rows {new[0][2].seq}.."
                     f"{new[-1][2].seq}: {type(exc).__name__}: {exc}")

    def _settle(self) -> None:
        """The receipts of the requests answered stored (durable with the next commit) and the
        order history told: work off the path of the answers, done before the next entry."""
        done, self._unsettled = self._unsettled, []
        self._published = 0
        if not done:
            return
        enc = msgspec.json.encode
        try:
            self.journal.store_receipts([(r.seq, key, r.received_us, r.engine_time, enc(r))
                                         for _req, key, r in done])
        except JournalError as exc:  # the requests are journaled; a restart rebuilds these
            self.log(f"warning: {exc.reason}")
        finally:
            self._fresh.clear()
        for req, _key, r in done:
            self.history.observe(req, r)

    def _stored(self, key: bytes) -> Replayed | None:
        """The stored receipt of an accepted request with this key, if it is still kept."""
        seq = self._recent.get(key) if key else None
        if seq is None:
            return None
        fresh = self._fresh.get(seq)
        body = msgspec.json.encode(fresh) if fresh is not None else self.journal.receipt(seq)
        if body is None:
            return None
        self.replayed += 1
        return msgspec.json.decode(body, type=Replayed)

    # --- operations (each runs on the worker thread: through ``call``, submits as queue entries)
    def submit(self, req: Request) -> dict:
        """The receipt of one request as JSON values (raises its typed error if rejected)."""
        return msgspec.to_builtins(self.enqueue([req], single=True).result())

    def admin(self, req: Request) -> dict:
        """An operator action (ListAsset, SetOracleKey), as JSON values: ``check_admin``, then
        ``submit``."""
        self.check_admin(req)
        return self.submit(req)

    def check_admin(self, req: Request) -> None:
        """An operator action (ListAsset, SetOracleKey) checked against what the configured
        batch circuit can prove before it is submitted: a listing or key change no batch can
        carry would stop every later batch. A key change must carry the current oracle key's
        signature (``Sequencer.submit`` checks it)."""
        cfg = self.cfg
        if cfg.batch_l1_slots < 1:
            raise InvalidRequest("batches of this configuration have no L1 slot to carry an "
                                 "operator action ([batch] l1_slots = 0)")
        if isinstance(req, ListAsset) and not 1 <= req.asset < cfg.batch_assets:
            raise InvalidRequest(f"asset id {req.asset} outside the batch circuit's table: "
                                 f"1..{cfg.batch_assets - 1} ([batch] assets)")
        if isinstance(req, ListAsset) and req.kind == KIND_PERP:
            # a snapshot of the listings (the worker may list meanwhile: the batcher refuses
            # the state then, as for any listing this check could not see)
            perps = sum(a.kind == KIND_PERP for a in list(self.seq.state.assets.values()))
            if perps >= cfg.batch_underlyings:
                raise InvalidRequest(f"{perps} perpetual(s) listed: the batch circuit's scenario "
                                     f"margin takes {cfg.batch_underlyings} ([batch] "
                                     "underlyings)")

    def submit_batch(self, reqs: list[Request]) -> list[dict | EngineError]:
        """Several requests applied in order in one group commit: per request its receipt (as
        JSON values) or the typed error that rejected it. A JournalError (nothing journaled) is
        raised."""
        if not reqs:
            return []
        outs = self.enqueue(list(reqs), single=False).result()
        return [x if isinstance(x, BaseException) else msgspec.to_builtins(x) for x in outs]

    def enqueue(self, reqs: list[Request], *, single: bool, pre: list | None = None,
                received: int | None = None, public: bool = False,
                admit: bool = False) -> Future:
        """A future of the requests' answers (``single``: one request, its ``W.Receipt`` or
        its error; else the list of receipts and errors). ``pre``: ``preverify``'s answers
        (computed here if not given: on the caller's thread). ``admit``: instead, the worker
        checks the signatures (one batch with the entries queued beside) and charges the rate
        limits (``admit``: a refused request's answer is ``refusal``'s 429) at the entry's
        turn: no thread hop before the writer, for a lone order's latency. ``public``: from a
        trader endpoint, so OperatorOnly for any type outside ``PUBLIC_TYPES`` (the codec's
        tables already keep them out; this holds whatever the codec becomes)."""
        if not self._thread.is_alive():
            raise RuntimeError("the sequencer thread is not running")
        if public:
            for req in reqs:
                Sequencer.check_public(req)
        if admit:
            entry = _Submits(reqs, single, None, received, admit=True)
        else:
            entry = _Submits(reqs, single, self.preverify(reqs) if pre is None else pre,
                             received)
        self._q.put(entry)
        return entry.fut

    def enqueue_group(self, reqs: list[Request], *, pre: list | None = None,
                      received: int | None = None) -> Future:
        """A future of an atomic group's receipts (``Sequencer.submit_group``, public): all of
        one account's cancels, cancel-alls and orders applied, or GroupRejected and none. The
        same group again (every request accepted before, still kept) gets its stored receipts;
        its own transaction, never merged into another group commit."""
        reqs = list(reqs)
        pre = self.preverify(reqs) if pre is None else pre
        received = received if received is not None else now_us()
        for req in reqs:
            Sequencer.check_public(req)

        def run(svc: SequencerService) -> list[W.Receipt]:
            keys = [key_of(request_json(r)) for r in reqs]
            if keys and all(k in svc._recent for k in keys):
                stored = [svc._stored(k) for k in keys]
                if all(x is not None for x in stored):
                    return stored
            svc._fill_id = svc.journal.fills_total
            try:
                rs = svc.seq.submit_group(reqs, public=True, pre=pre)
            except EngineError:
                svc.rejected += 1
                raise
            t = svc.seq.state.time
            recs = [svc._receipt(req, r, received, t) for req, r in zip(reqs, rs, strict=True)]
            svc.accepted += len(recs)
            svc._remember(list(zip(reqs, keys, recs, strict=True)))
            return recs

        return self.call_soon(run)

    def drop_orders(self, account: int, why: str) -> Future:
        """The operator's DropOrders of every resting order of ``account`` (cancel-on-
        disconnect), journaled like any request, if any rests (else nothing is written); the
        future gets its receipt, or None."""

        def run(svc: SequencerService) -> W.Receipt | None:
            if not svc.seq.live.slots_of(account):
                return None
            svc.log(f"dropping the resting orders of account {account}: {why}")
            g = _Submits([DropOrders(account)], True, [None])
            svc._run_singly(g)
            if isinstance(g.outs[0], BaseException):
                raise g.outs[0]
            return g.outs[0]

        fut = self.call_soon(run)

        def failed(f: Future) -> None:
            if f.exception() is not None:
                self.log(f"warning: dropping the orders of account {account} failed: "
                         f"{f.exception()}")

        fut.add_done_callback(failed)
        return fut

    def preverify(self, reqs: list[Request]) -> list:
        """The signatures checked on the caller's thread (the API's, in one batch) while the
        worker thread applies other requests: the compiled kernels release the GIL, so on
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

    def admit(self, reqs: list[Request], pre: list) -> list[float | None]:
        """Per request, None if its account's rate limit lets it through (charged now) or the
        seconds until it would. Only requests whose signature verified (``pre``) are charged."""
        lim = self.limiter
        if not lim.enabled:
            return [None] * len(reqs)
        out: list[float | None] = []
        for req, p in zip(reqs, pre, strict=True):
            t = type(req)
            if p is None or not p[1] or t in (OracleUpdate, FundingTick, SettlementPrice):
                out.append(None)
                continue
            who = req.sender if t is Transfer else req.liquidator if t is Liquidation \
                else req.account
            out.append(lim.take(who))
        return out

    def admit_group(self, reqs: list[Request], pre: list) -> float | None:
        """``admit`` for an atomic group: one token per ``GROUP_ITEMS_PER_TOKEN`` items, charged
        to the first item's account once its signature verified."""
        if not self.limiter.enabled or not reqs or pre[0] is None or not pre[0][1]:
            return None
        who = getattr(reqs[0], "account", None)
        if not isinstance(who, int):
            return None
        return self.limiter.take(who, cost=-(-len(reqs) // GROUP_ITEMS_PER_TOKEN))

    def _admit_at_turn(self, group: list[_Submits]) -> None:
        """The signatures of the ``admit`` entries, in one batch, and their rate limits, in
        queue order (a refused request is answered in its place and goes no further)."""
        late = [g for g in group if g.admit]
        if not late:
            return
        pre = self.preverify([r for g in late for r in g.reqs])
        k = 0
        for g in late:
            g.pre, k = pre[k:k + len(g.reqs)], k + len(g.reqs)
            for i, wait in enumerate(self.admit(g.reqs, g.pre)):
                if wait is not None:
                    g.outs[i] = refusal(wait)

    def _run_group(self, group: list[_Submits]) -> None:
        """One group commit for these entries (worker thread); resolves every entry's future.
        A request accepted before (the same key) is answered with its stored receipt and not
        submitted again."""
        self._admit_at_turn(group)
        todo: list[tuple[_Submits, int]] = []
        for g in group:
            for i, k in enumerate(g.keys):
                if g.outs[i] is not None:  # refused by its rate limit
                    continue
                got = self._stored(k) if k in self._recent else None
                if got is not None:
                    g.outs[i] = got
                else:
                    todo.append((g, i))
        if len(todo) == 1 and todo[0][0].single:
            self._run_singly(todo[0][0])  # nothing to group with: the one-request path
        elif todo:
            self._run_todo(todo)
        # the group is journaled: the streams are told before the answers are handed back, so
        # on the socket loop the events are written first rather than after every answer of
        # the group (a fill event had waited behind them, and behind the writer's next group)
        self._publish()
        for g in group:
            g.resolve()

    def _run_todo(self, todo: list[tuple[_Submits, int]]) -> None:
        reqs = [g.reqs[i] for g, i in todo]
        before = self.seq.seq
        self._fill_id = self.journal.fills_total
        try:
            # verification included (verified=False): submit_many decides how to check the
            # group's signatures
            results = self.seq.submit_many(reqs, group_root=True,
                                           pre=[g.pre[i] for g, i in todo])
        except JournalError as exc:
            # the group is not on disk and the sequencer has stopped (or had stopped already):
            # nobody in it is acknowledged; counted as rejected, as one request's would be
            self.rejected += len(reqs)
            for g, _ in todo:
                if not g.fut.done():
                    g.fut.set_exception(exc)
            return
        except BaseException as exc:
            if self.seq.seq == before:
                # nothing was applied: answer each entry on the one-request path, so each gets
                # exactly its own answer (the failing request its own exception)
                for g in dict.fromkeys(g for g, _ in todo):
                    self._run_singly(g)
                return
            # some requests of the group were applied and journaled before the failure, but
            # their receipts are lost: fills and counters would no longer match the journal.
            # Stop accepting requests; a restart replays the journal into a consistent state.
            self.seq.failed = (f"{type(exc).__name__} in a group commit after request "
                               f"{self.seq.seq}: {exc}")
            self.log(f"error: {self.seq.failed}")
            for g, _ in todo:
                if not g.fut.done():
                    g.fut.set_exception(exc)
            return
        self.groups += 1
        self.grouped += len(reqs)
        done = []
        t = self.seq.state.time
        for (g, i), req, res in zip(todo, reqs, results, strict=True):
            if isinstance(res, EngineError):
                g.outs[i] = res
            else:
                self.accepted += 1
                g.outs[i] = rec = self._receipt(req, res, g.received, t)
                done.append((req, g.keys[i], rec))
        self._remember(done)
        for g, i in todo:  # a retry queued behind its original, in the same group
            if isinstance(g.outs[i], EngineError):
                got = self._stored(g.keys[i])
                if got is None:
                    self.rejected += 1
                g.outs[i] = got or g.outs[i]

    def _run_singly(self, g: _Submits) -> None:
        """Each unanswered request of the entry on the one-request path (its own journal
        transaction)."""
        for i, (req, pre) in enumerate(zip(g.reqs, g.pre, strict=True)):
            if g.outs[i] is not None:
                continue
            self._fill_id = self.journal.fills_total
            try:
                r = self.seq.submit(req, pre)
            except BaseException as exc:
                got = self._stored(g.keys[i]) if isinstance(exc, EngineError) else None
                if got is None:
                    self.rejected += 1
                g.outs[i] = got or exc
                if g.single:
                    return
                continue  # as separate submits would: the others still go ahead
            self.accepted += 1
            g.outs[i] = rec = self._receipt(req, r, g.received, self.seq.state.time)
            self._remember([(req, g.keys[i], rec)])

    def _receipt(self, req: Request, r: Receipt, received: int | None,
                 engine_time: int) -> W.Receipt:
        """The answer to an accepted request; its fills are numbered as the journal numbered
        them (in journal order, after the fills of the requests before it)."""
        first = self._fill_id + 1
        self._fill_id += len(r.fills)
        fills = [W.Fill(first + k, r.seq, f.asset, f.price, f.size, f.maker, f.taker,
                        f.maker_order, f.taker_order, "buy" if f.taker_side == BUY else "sell",
                        f.maker_fee, f.taker_fee, engine_time, received)
                 for k, f in enumerate(r.fills)]
        resting = None
        if r.resting:
            resting = W.Resting(req.asset, req.order_id, "buy" if req.side == BUY else "sell",
                                req.price, r.resting)
        return W.Receipt(r.seq, hex32(r.root), type(req).__name__, fills, resting,
                         [W.Dropped(a, o, why) for a, o, why in r.dropped], r.note,
                         [rec.hex() for rec in r.records], engine_time, received)
