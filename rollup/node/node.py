"""`rollup node run`: the whole rollup in one supervised process tree.

Stages, each restart-safe from its own durable state: ``api`` (the HTTP API in front of the
sequencer service; DATA/journal.db), ``l1feed`` (the L1 queue into the sequencer;
DATA/l1-feed.db), ``oracle`` (signed prices and funding ticks from ``[node] oracle``),
``batcher`` (closes a batch when it is full or its oldest row waited ``[batch] time_limit``
seconds, and builds it in a builder process: ``rollup.node.builder``), ``provers`` (N processes
proving built batches in any order) and ``relayer`` (proven batches onto Rollup.sol in batch
order, exactly once).
A stage that fails logs one line, records the error for ``status`` and retries after a pause. A
kill -9 at any moment loses no acknowledged request, and a restart rebuilds, proves and submits
only what is missing (files written last and atomically, sent transaction hashes stored, the
chain's batch number final). In exodus the sequencer refuses every request and the batcher and
relayer stop. See docs/node.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from prover.formats.snarkjs_json import load_vk, vk_from_zkey
from prover.formats.zkey import read_zkey
from rollup.chain import layout
from rollup.chain.errors import ContractRevert
from rollup.chain.node import rpc
from rollup.chain.rollup import RollupClient
from rollup.chain.verifier import verifier_holds, vk_args
from rollup.config import Config
from rollup.margin.scenario import changed_rows
from rollup.node import builder
from rollup.node import metrics as M
from rollup.node.l1feed import L1Feed
from rollup.node.oracle import FileSource, OracleFeeder, make_source
from rollup.node.provers import ProofJob, ProverPool, stop_executor
from rollup.settlement import files as F
from rollup.settlement.relayer import BatchStore, Relayer
from rollup.settlement.shapes import Shape, ShapeError, batch_shapes
from rollup.settlement.stage import pending_rows, stored_batch
from rollup.state.state import KIND_PERP


class NodeError(RuntimeError):
    """The node cannot start (missing keys, no deployment, unreachable chain ...)."""


@dataclass
class Stage:
    name: str
    state: str = "starting"  # starting | ok | idle | error | stopped
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None
    passes: int = 0

    def ok(self, state: str = "ok") -> None:
        self.state, self.last_ok_at = state, time.time()
        self.passes += 1

    def failed(self, exc: BaseException) -> None:
        self.state = "error"
        self.last_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        self.last_error_at = time.time()
        M.STAGE_ERRORS.labels(self.name).inc()

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "name"}


def check_batch_shapes(cfg: Config, chain) -> list[Shape]:
    """The batch shapes this node proves (``rollup.settlement.shapes``), each checked against
    the deployed contract: it routes the shape's public data to a verifier holding the very key
    in the keys folder. A shape it would refuse, or verify with another key, is a NodeError
    before anything is proven (a regenerated key after the deployment, a shape never deployed)."""
    try:
        shapes = batch_shapes(cfg)
    except ShapeError as exc:
        raise NodeError(str(exc)) from None
    client = RollupClient(chain, cfg.rollup_address)  # chain: a rollup.chain.node.Chain
    for s in shapes:
        if not s.vk.is_file():
            raise NodeError(f"no verification key at {s.vk}: the node checks each batch shape's "
                            "key against the contract")
        size = layout.public_data_bytes(s.slots, s.l1_slots)
        try:
            verifier = client.batch_verifier_for(s.l1_slots.to_bytes(4, "big") + bytes(size - 4))
        except ContractRevert as exc:
            raise NodeError(f"the contract at {cfg.rollup_address} does not take {s.name} batches "
                            f"({exc}): deploy with this shape, or change [batch]") from None
        if not s.zkey.is_file():
            raise NodeError(f"no proving key at {s.zkey} for {s.name} batches")
        params = s.zkey.with_name(s.zkey.stem + "_circuit.json")  # rollup setup writes it
        if params.is_file():
            got = json.loads(params.read_text())
            want = {"slots": s.slots, "l1_slots": s.l1_slots, "depth": cfg.tree_depth,
                    "assets": cfg.batch_assets, "underlyings": cfg.batch_underlyings}
            if any(got.get(k) != v for k, v in want.items()):
                raise NodeError(f"{s.zkey} proves {got.get('slots')}x{got.get('l1_slots')} "
                                f"batches at depth {got.get('depth')} with {got.get('assets')} "
                                f"assets, {got.get('underlyings')} underlyings ({params.name}); "
                                f"this node needs {s.name} at depth {cfg.tree_depth} with "
                                f"{cfg.batch_assets}, {cfg.batch_underlyings} ([batch])")
        # the provers' key (its header: memory-mapped) is what must match the contract's
        vk = vk_from_zkey(read_zkey(s.zkey), with_alphabeta=False)
        if vk_args(vk) != vk_args(load_vk(s.vk)):
            raise NodeError(f"{s.zkey} and {s.vk} are not one key pair (a setup stopped "
                            f"midway, or a file copied by hand): make the {s.name} keys again")
        if not verifier_holds(chain, verifier, vk):
            raise NodeError(f"the contract verifies {s.name} batches with another key than "
                            f"{s.zkey} (keys made again after the deployment?): its proofs "
                            "would be refused")
    return shapes


@dataclass
class Node:
    cfg: Config
    service: object  # rollup.api.service.SequencerService, started
    log: Callable[[str], None]
    node_url: str
    pool: ProverPool | None = None
    oracle_key: bytes | None = None
    l1_account: object = None  # the relayer's key (eth-account LocalAccount), signing here
    stop: threading.Event = field(default_factory=threading.Event)
    stages: dict[str, Stage] = field(default_factory=dict)
    chain_batch: int = 0  # the contract's batch number, as last read
    chain_root: str | None = None
    exodus: bool = False
    in_flight: dict[int, cf.Future] = field(default_factory=dict)
    closed_at: dict[int, float] = field(default_factory=dict)  # batch -> time it was built
    proven_at: dict[int, float] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("l1feed", "oracle", "batcher", "provers", "relayer"):
            self.stages[name] = Stage(name)
        self._builder = self._new_builder()
        self._pending_since: float | None = None
        self._next_try = 0  # the journal row count at which a not-yet-full batch is tried again
        # the batcher asks for a full batch once the smallest shape could be full: the builder
        # answers None while a shape could still take every pending row (build_next), so a
        # batch held back by its L1 slots closes at once and trades wait for the largest shape
        self._min_slots = min(s.slots for s in batch_shapes(self.cfg))

    @staticmethod
    def _new_builder() -> cf.ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(1, mp_context=ctx, initializer=builder.init,
                                      initargs=(os.getpid(),))

    # --- supervision ---------------------------------------------------------------------------
    def _loop(self, stage: Stage, every: float, body: Callable[[], None],
              setup: Callable[[], None] | None = None) -> None:
        pause = every
        while not self.stop.is_set():
            try:
                if setup is not None:
                    setup()
                    setup = None
                body()
                pause = every
            except Exception as exc:  # a stage never takes the node down: log, record, retry
                if self.stop.is_set():
                    break  # stopping: the pools were shut under it
                stage.failed(exc)
                self.log(f"{stage.name}: {stage.last_error}")
                pause = min(max(pause * 2, every), 30.0)
            self.stop.wait(pause)
        stage.state = "stopped"

    def _spawn(self, name: str, *args) -> None:
        t = threading.Thread(target=self._loop, args=(self.stages[name], *args), name=name,
                             daemon=True)
        t.start()
        self._threads.append(t)

    def start(self) -> Node:
        cfg = self.cfg
        self._start_l1feed()
        if cfg.node_oracle != "off" and self.oracle_key is not None:
            self._start_oracle()
        else:
            self.stages["oracle"].state = "off"
        self._spawn("batcher", cfg.node_poll, self._batch_pass)
        self._spawn("relayer", cfg.node_poll, self._relay_pass, self._open_relayer)
        threading.Thread(target=self._status_loop, name="status", daemon=True).start()
        return self

    def close(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=10)
        stop_executor(self._builder)
        if self.pool is not None:
            self.pool.close()
        self._write_status()

    # --- L1 feed -------------------------------------------------------------------------------
    def _start_l1feed(self) -> None:
        c = self.cfg.node_confirmations
        feed = L1Feed(self.service, node=self.node_url, confirmations=None if c < 0 else c,
                      log=self.log)
        self.feed = feed

        def body() -> None:
            n = feed.poll()
            if feed.exodus and not self.exodus:
                self.exodus = True
                M.EXODUS.set(1)
            M.L1_ENTRIES.inc(n)
            self.stages["l1feed"].ok()

        self._spawn("l1feed", self.cfg.node_l1_poll, body)

    # --- oracle --------------------------------------------------------------------------------
    def _start_oracle(self) -> None:
        def market():
            def read(s):
                st = s.seq.state
                live = {a: x for a, x in st.assets.items()
                        if not st.oracle[a].settled and not (x.expiry and st.time >= x.expiry)}
                return (st.time, {a: st.oracle[a].price for a in live},
                        {a: st.oracle[a].funding_index for a, x in live.items()
                         if x.kind == KIND_PERP})
            return self.service.call(read)

        def scenarios():
            return self.service.call(lambda s: changed_rows(s.seq.state))

        source = make_source(self.cfg.node_oracle, self.cfg.chain_id, self.cfg.data)
        feeder = OracleFeeder(source, self.oracle_key, self.cfg.domain(), self.service.submit,
                              market, funding_every=self.cfg.node_funding_interval,
                              scenarios=scenarios)
        self.oracle = feeder

        def body() -> None:
            if self.exodus:
                self.stages["oracle"].ok("idle")
                return
            n = feeder.tick()
            M.ORACLE_MESSAGES.inc(n)
            self.stages["oracle"].ok("idle" if isinstance(source, FileSource) and source.done
                                     else "ok")

        self._spawn("oracle", self.cfg.node_oracle_interval, body)

    # --- batcher and provers -------------------------------------------------------------------
    def _batch_pass(self) -> None:
        st = self.stages["batcher"]
        if self.exodus:
            st.ok("idle")
            return
        self._dispatch_proofs()
        first, last = pending_rows(self.cfg)
        M.UNBATCHED.set(max(0, last - first + 1))
        if last < first:
            self._pending_since = None
            st.ok("idle")
            return
        now = time.time()
        if self._pending_since is None:
            self._pending_since = now
        due = now - self._pending_since >= self.cfg.batch_time_limit
        if not due and (last - first + 1 < self._min_slots or last < self._next_try):
            st.ok("idle")
            return
        t0 = time.perf_counter()
        try:
            meta = self._builder.submit(builder.build, str(self.cfg.path), not due).result()
        except BrokenProcessPool:  # the builder died (killed, out of memory)
            self._builder = self._new_builder()
            raise
        if meta is None:  # not full yet: try again once as many rows as slots have come
            self._next_try = last + self._min_slots
            st.ok("idle")
            return
        M.BUILD_SECONDS.observe(time.perf_counter() - t0)
        self.closed_at[meta["number"]] = time.time()
        self._pending_since = None if meta["last_seq"] >= last else now
        self.log(f"batch {meta['number']}: built, rows {meta['first_seq']}..{meta['last_seq']} "
                 f"({meta['records']} of {meta['slots']} slots), {meta['constraints']:,} "
                 f"constraints")
        st.ok()
        self._dispatch_proofs()

    def _dispatch_proofs(self) -> None:
        """Hand every built, unproven batch above the chain's number to the pool."""
        prov = self.stages["provers"]
        for n, fut in list(self.in_flight.items()):
            if not fut.done():
                continue
            del self.in_flight[n]
            try:
                done = fut.result()
            except Exception as exc:
                prov.failed(exc)
                self.log(f"provers: batch {n}: {prov.last_error}")
                if isinstance(exc, BrokenProcessPool) and self.pool is not None:
                    self.pool.restart()  # a worker died: the others' jobs come back too
                continue
            self.proven_at[n] = time.time()
            if n in self.closed_at:
                M.PROVE_LATENCY.observe(self.proven_at[n] - self.closed_at[n])
            M.PROVE_SECONDS.observe(done.seconds)
            self.log(f"batch {n}: proven in {done.seconds:.1f} s")
            prov.ok()
        if self.pool is None:
            return
        for n in F.built_numbers(self.cfg):
            if (n <= self.chain_batch or n in self.in_flight or F.is_proven(self.cfg, n)
                    or len(self.in_flight) >= 2 * self.pool.workers):
                continue
            path = F.batch_stem(self.cfg, n).with_suffix(".json")
            self.in_flight[n] = self.pool.submit(ProofJob(n, str(path)))
            self.closed_at.setdefault(n, time.time())
        M.PROOFS_IN_FLIGHT.set(len(self.in_flight))
        if not self.in_flight and prov.state == "starting":
            prov.ok("idle")

    # --- relayer -------------------------------------------------------------------------------
    def _open_relayer(self) -> None:
        chain = rpc(self.node_url)
        sender = self.cfg.node_sender or None
        if self.l1_account is not None:
            sender = chain.add_signer(self.l1_account)
        store = BatchStore(self.cfg.data / F.RELAYER_STORE)
        store.lock()
        self.relayer = Relayer(RollupClient(chain, self.cfg.rollup_address), store,
                               sender=sender, log=self.log)

    def _relay_pass(self) -> None:
        rel, st = self.relayer, self.stages["relayer"]
        state, done = rel.reconcile()
        self._chain(state)
        if state.exodus:
            if not self.exodus:
                self.exodus = True
                M.EXODUS.set(1)
                self.log("relayer: the contract is in exodus; no batch is submitted from now on")
            st.ok("idle")
            return
        stored = {b.number for b in rel.store.batches()}
        for n in F.built_numbers(self.cfg):  # in order: a later proof waits for this one
            if n <= state.batch_number or n in stored:
                continue
            if not F.is_proven(self.cfg, n):
                break
            rel.store.put(stored_batch(self.cfg, n))
            stored.add(n)
        sent = rel.submit_pending()
        for s in sent:
            M.FINALIZED.inc()
            if s.gas_used:
                M.GAS.observe(s.gas_used)
            t = self.proven_at.get(s.number)
            if t is not None:
                M.FINALIZE_LATENCY.observe(time.time() - t)
        if sent:
            self._chain(rel.client.state())
        st.ok("ok" if sent else "idle")

    def _chain(self, state) -> None:
        self.chain_batch = state.batch_number
        self.chain_root = "0x" + state.state_root.hex()
        M.CHAIN_BATCH.set(state.batch_number)

    # --- status --------------------------------------------------------------------------------
    def status(self) -> dict:
        svc = self.service.status()
        built = F.built_numbers(self.cfg)
        proven = [n for n in built if F.is_proven(self.cfg, n)]
        M.LOCAL_SEQ.set(svc["seq"])
        return {
            "updated_at": time.time(),
            "local": {"root": svc["root"], "seq": svc["seq"], "stopped": svc["stopped"]},
            "finalized": {"batch": self.chain_batch, "root": self.chain_root},
            "exodus": self.exodus,
            "batches": {"built": built[-1] if built else 0,
                        "proven": proven[-1] if proven else 0,
                        "finalized": self.chain_batch,
                        "awaiting_proof": sorted(n for n in built if n > self.chain_batch
                                                 and n not in proven),
                        "proving": sorted(self.in_flight),
                        "awaiting_submission": sorted(n for n in proven
                                                      if n > self.chain_batch),
                        "unbatched_requests": svc["batch"]["unbatched_requests"]},
            "queue": {"l1_entries_applied": getattr(self.feed, "applied", None)},
            "provers": {"workers": self.pool.workers if self.pool else 0,
                        **getattr(self.pool, "stats", dict)()},  # a Ray pool's counts
            "stages": {name: s.to_json() for name, s in self.stages.items()},
        }

    def _write_status(self) -> None:
        try:
            F.write_atomic(self.cfg.data / "node-status.json",
                           json.dumps(self.status(), indent=1) + "\n")
        except Exception as exc:  # status is best effort; never stop the node for it
            self.log(f"status: {type(exc).__name__}: {exc}")

    def _status_loop(self) -> None:
        while not self.stop.wait(1.0):
            self._write_status()
