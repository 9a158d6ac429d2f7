"""The prover pool on a Ray cluster: the same ``submit``/``close`` as ``LocalProverPool``.

Long-lived actors (``ProverWorker``) each load the proving keys once (the configured batch
shape's and every named shape's): from ``key_path`` on their machine when it is there, else from
the machine's key cache, else fetched once per machine through Ray's object store into that
cache; every copy is checked against the node's key's SHA-256 before use (``KeyMismatch``). A
job ships the batch metadata and witness and brings back the proof's texts; the node writes
``.public.json`` then ``.proof.json`` itself, so workers need no shared folder. A worker lost
mid-proof is replaced and its job goes back to the front of the queue (``max_attempts`` losses
fail it; the node proves it again on its next pass); a job resolves once, and the relayer
submits from the files in order, as with local processes. CPU workers use the CPU backend;
``gpu`` workers hold one GPU and use CUDA when present. ``make_pool`` builds the pool
``[node] cluster`` names. See docs/cluster.md.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prover.formats.snarkjs_json import vk_from_json
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey
from rollup.node.provers import (
    LocalProverPool,
    ProofDone,
    ProofJob,
    ProverPool,
    ShapeKeys,
    select_key,
)
from rollup.settlement.shapes import batch_shapes
from rollup.settlement.stage import Proven, prove_witness, write_proof

# lazy: the proving backend (`prover.backend`, with the prover's Numba kernels) loads in the Ray
# worker that proves, not in the node that dispatches; Ray itself loads only for a Ray pool.

KEY_CACHE_ENV = "ZKDERIV_KEY_CACHE"  # a worker machine's key cache (default ~/.cache/zkderiv/keys)
NAMESPACE = "zkderiv-provers"


class ClusterError(RuntimeError):
    """The Ray prover pool cannot start or lost a job too many times."""


class KeyMismatch(ClusterError):
    """A worker's proving key is not the node's (its SHA-256 differs)."""


def make_pool(cfg, zkey: str | Path, *, vk: str | Path | None = None,
              workers: int | None = None, log=None) -> ProverPool:
    """The pool ``[node] cluster`` names (a ``rollup.config.Config``): ``local`` processes, or
    Ray workers: ``embedded`` starts Ray here, anything else is the address of a cluster.
    Workers also hold the keys of the further batch shapes ``[batch] shapes`` lists, and prove
    no batch of a shape they have no key for."""
    n = cfg.node_provers if workers is None else workers
    main = (cfg.batch_slots, cfg.batch_l1_slots)
    shapes = tuple((s.slots, s.l1_slots, str(s.zkey), str(s.vk)) for s in batch_shapes(cfg)
                   if s.key != main)
    if cfg.node_cluster == "local":  # Ray is never imported then
        return LocalProverPool(zkey, vk=vk, workers=n, backend=cfg.node_backend, shapes=shapes,
                               main_shape=main)
    return RayProverPool(zkey, vk=vk, workers=n, gpu_workers=cfg.node_gpu_provers,
                         cpus=cfg.node_prover_cpus, log=log, shapes=shapes, main_shape=main,
                         address=None if cfg.node_cluster == "embedded" else cfg.node_cluster)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def key_cache_dir(cache: str | None) -> Path:
    d = cache or os.environ.get(KEY_CACHE_ENV) or "~/.cache/zkderiv/keys"
    return Path(d).expanduser()


def find_key(sha256: str, key_path: str | None, cache: Path) -> Path | None:
    """The proving key on this machine: KEY_PATH if it exists (it must hash to SHA256:
    KeyMismatch otherwise), else the cached copy if it hashes right (a damaged one is removed),
    else None."""
    import socket

    if key_path and Path(key_path).is_file():
        got = sha256_file(key_path)
        if got != sha256:
            raise KeyMismatch(f"{socket.gethostname()}: {key_path} has SHA-256 {got[:16]}…, the "
                              f"node's proving key {sha256[:16]}…")
        return Path(key_path)
    cached = cache / f"{sha256}.zkey"
    if cached.is_file():
        if sha256_file(cached) == sha256:
            return cached
        cached.unlink(missing_ok=True)
    return None


def install_key(sha256: str, data: bytes, cache: Path) -> Path:
    """Write DATA (fetched from the object store) as this machine's cached key, after checking
    its hash; one writer per machine (a file lock), the others find it done."""
    import fcntl

    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise KeyMismatch(f"the proving key fetched has SHA-256 {got[:16]}…, expected "
                          f"{sha256[:16]}…")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{sha256}.zkey"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            tmp = cache / f".{sha256}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(target)
    return target


class ProverWorker:
    """One Ray actor (``ray.remote`` is applied by the pool): loaded proving keys, a backend,
    one proof at a time. Everything crossing the wire is plain data (dicts, str, arrays).
    KEYS: [{"shape": [slots, l1_slots] (None: any shape no other key has), "sha256",
    "key_path", "vk_json"}], the configured shape's first."""

    def __init__(self, keys: list[dict], cache: str | None, backend: str) -> None:
        self.keys, self.cache, self.backend_name = keys, cache, backend
        self.loaded: dict = {}  # shape -> (key, vk) (rollup.node.provers.select_key)
        self.backend = None

    def load(self, shas: list[str] | None = None, *data: bytes) -> dict:
        """Load every key (DATA: the bytes of the keys SHAS, fetched for this machine). Returns
        {"missing": [sha256, ...]} while some key has no copy here, else the description."""
        from prover.backend import get_backend

        cache = key_cache_dir(self.cache)
        given = dict(zip(shas or [], data, strict=True))
        paths, missing = {}, []
        for k in self.keys:
            path = find_key(k["sha256"], k["key_path"], cache)
            if path is None and k["sha256"] in given:
                path = install_key(k["sha256"], given[k["sha256"]], cache)
            if path is None:
                missing.append(k["sha256"])
            paths[k["sha256"]] = path
        if missing:
            return {"missing": missing}
        self.loaded = {None if k["shape"] is None else tuple(k["shape"]): (
            read_zkey(paths[k["sha256"]]),
            vk_from_json(json.loads(k["vk_json"])) if k["vk_json"] else None) for k in self.keys}
        self.backend = get_backend(self.backend_name)
        return self.describe(str(paths[self.keys[0]["sha256"]]))

    def describe(self, key: str = "") -> dict:
        import socket

        import ray

        return {"host": socket.gethostname(), "pid": os.getpid(), "key": key,
                "backend": getattr(self.backend, "name", self.backend_name),
                "gpus": [str(g) for g in ray.get_gpu_ids()]}

    def prove(self, meta: dict, witness) -> dict:
        key, vk = select_key(self.loaded, meta)  # UnknownShape: no key of the batch's shape
        p = prove_witness(meta, witness, key, vk=vk, backend=self.backend)
        return {"number": p.number, "public_json": p.public_json, "proof_json": p.proof_json,
                "seconds": p.seconds}


@dataclass
class _Job:
    job: ProofJob
    future: cf.Future
    attempts: int = 0  # workers lost while proving it


@dataclass
class _Worker:
    gpu: bool
    handle: object = None
    state: str = "loading"  # loading | idle | busy | refused
    ref: object = None  # the call in flight (load or prove)
    job: _Job | None = None
    info: dict = field(default_factory=dict)
    failures: int = 0  # deaths in a row before it was ready
    started: float = field(default_factory=time.time)


class RayProverPool:
    """WORKERS CPU actors (CPUS each) and GPU_WORKERS GPU actors on the Ray cluster at ADDRESS
    (None: a Ray instance started here, with INIT's options); jobs go to idle workers in the
    order submitted."""

    def __init__(self, zkey: str | Path, *, vk: str | Path | None = None, workers: int = 1,
                 gpu_workers: int = 0, cpus: int = 1, address: str | None = None,
                 key_path: str | None = None, key_cache: str | None = None,
                 init: dict | None = None, max_attempts: int = 3,
                 log: Callable[[str], None] | None = None,
                 shapes: tuple[ShapeKeys, ...] = (),
                 main_shape: tuple[int, int] | None = None) -> None:
        import ray  # Ray is a cluster runtime of hundreds of MB: imported only when configured

        if workers + gpu_workers < 1:
            raise ClusterError("a Ray prover pool needs at least one worker")
        self._ray = ray
        self.zkey = Path(zkey).resolve()
        self.sha256 = sha256_file(self.zkey)
        self.key_path = str(self.zkey) if key_path is None else key_path
        self.key_cache = key_cache
        self.vk_json = Path(vk).read_text() if vk else None
        # the configured shape's key, then the named shapes' (found at the node's paths, or
        # fetched): sha256 -> path for the fetch
        self.keys = [{"shape": list(main_shape) if main_shape else None,
                      "sha256": self.sha256, "key_path": self.key_path,
                      "vk_json": self.vk_json}]
        self._paths = {self.sha256: self.zkey}
        for n, l1, z, v in shapes:
            sha = sha256_file(z)
            self.keys.append({"shape": [n, l1], "sha256": sha, "key_path": str(z),
                              "vk_json": Path(v).read_text() if v else None})
            self._paths[sha] = Path(z)
        self.workers = workers + gpu_workers
        self.cpus, self.max_attempts = cpus, max_attempts
        self.log = log or (lambda m: None)
        self.lost = self.retried = 0  # workers lost; jobs put back after a loss
        self.error: BaseException | None = None  # why workers refused to start (KeyMismatch)
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            try:
                ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                         **({"include_dashboard": False} if address is None else {}),
                         **(init or {}))
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Ray cluster at {address or 'here'}: "
                                   f"{' '.join(str(exc).split())[:200]}") from None
        self._actor = ray.remote(max_restarts=0, max_task_retries=0)(ProverWorker)
        self._key_refs: dict[str, object] = {}  # sha256 -> the key's bytes in the object store
        self._lock = threading.Lock()
        self._queue: collections.deque[_Job] = collections.deque()
        self._slots = [_Worker(gpu=False) for _ in range(workers)] + \
            [_Worker(gpu=True) for _ in range(gpu_workers)]
        for w in self._slots:
            self._start(w)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ray-provers", daemon=True)
        self._thread.start()

    # --- the interface the node uses ------------------------------------------------------
    def submit(self, job: ProofJob) -> cf.Future:
        fut: cf.Future = cf.Future()
        with self._lock:
            if self.error is not None and all(w.state == "refused" for w in self._slots):
                fut.set_exception(self.error)
            else:
                self._queue.append(_Job(job, fut))
        return fut

    def restart(self) -> None:
        """Nothing to do: a lost worker is replaced as soon as it is noticed."""

    def close(self) -> None:
        """Stop now: queued and running jobs are dropped (proven again after a restart)."""
        self._stop.set()
        self._thread.join(10)
        with self._lock:
            for j in [*self._queue, *(w.job for w in self._slots if w.job)]:
                j.future.cancel()
            self._queue.clear()
        for w in self._slots:
            if w.handle is not None:
                self._ray.kill(w.handle)
        if self._owns_ray:
            self._ray.shutdown()

    # --- for the operator and the tests ---------------------------------------------------
    def wait_ready(self, timeout: float = 300.0, every: bool = False) -> list[dict]:
        """Block until one worker (EVERY: all) holds the key; their descriptions. Raises the
        workers' KeyMismatch, or ClusterError when none is ready in time (too few resources)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                ready = [w.info for w in self._slots if w.state in ("idle", "busy")]
                refused = [w for w in self._slots if w.state == "refused"]
                if refused and (every or len(refused) == len(self._slots)):
                    raise self.error
                if ready and (not every or len(ready) == len(self._slots)):
                    return ready
            if time.time() > deadline:
                raise ClusterError(
                    f"{len(ready)} of {len(self._slots)} Ray prover workers ready after "
                    f"{timeout:.0f} s: the cluster needs {self.cpus} CPU(s) per worker and a "
                    "GPU per GPU worker (`ray status`)")
            time.sleep(0.05)

    def busy(self) -> dict[int, dict]:
        """batch number -> the description of the worker proving it."""
        with self._lock:
            return {w.job.job.number: dict(w.info) for w in self._slots
                    if w.state == "busy" and w.job}

    def stats(self) -> dict:
        """For the node's status: workers by state, workers lost, jobs put back."""
        with self._lock:
            states = collections.Counter(w.state for w in self._slots)
        return {"ready": states["idle"] + states["busy"], "busy": states["busy"],
                "loading": states["loading"], "refused": states["refused"],
                "lost": self.lost, "retried": self.retried}

    # --- the dispatcher thread --------------------------------------------------------------
    def _start(self, w: _Worker) -> None:
        opts = {"num_cpus": self.cpus,
                # the prover's Numba kernels use as many threads as the worker reserved
                "runtime_env": {"env_vars": {"NUMBA_NUM_THREADS": str(self.cpus)}}}
        if w.gpu:
            opts["num_gpus"] = 1
        w.handle = self._actor.options(**opts).remote(
            self.keys, self.key_cache, "auto" if w.gpu else "cpu")
        w.state, w.job, w.info, w.started = "loading", None, {}, time.time()
        w.ref = w.handle.load.remote()

    def _run(self) -> None:
        ray = self._ray
        while not self._stop.is_set():
            try:
                self._dispatch()
                refs = [w.ref for w in self._slots if w.ref is not None]
                if not refs:
                    self._stop.wait(0.05)
                    continue
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0.05)
                for ref in done:
                    w = next(w for w in self._slots if w.ref == ref)
                    w.ref = None
                    self._finished(w, ref)
            except Exception as exc:  # keep dispatching: a bad file fails its job, not the pool
                self.log(f"ray provers: {type(exc).__name__}: {exc}")
                self._stop.wait(0.5)

    def _dispatch(self) -> None:
        for w in self._slots:
            if w.state != "idle":
                continue
            with self._lock:
                if not self._queue:
                    return
                j = self._queue.popleft()
            if j.future.cancelled():
                continue
            try:
                path = Path(j.job.batch_json)
                meta = json.loads(path.read_text())
                witness = read_wtns(path.parent / meta["witness"])
            except Exception as exc:  # the batch's files: the node's problem, not a worker's
                j.future.set_exception(exc)
                continue
            with self._lock:
                w.state, w.job = "busy", j
            w.ref = w.handle.prove.remote(meta, witness)

    def _finished(self, w: _Worker, ref) -> None:
        from ray.exceptions import (
            ActorUnavailableError,
            ObjectLostError,
            RayActorError,
            WorkerCrashedError,
        )

        try:
            out = self._ray.get(ref)
        except (RayActorError, ActorUnavailableError, WorkerCrashedError, ObjectLostError) as exc:
            self._lost(w, exc)
            return
        except Exception as exc:  # raised by our code in the worker: Ray wraps it
            exc = _cause(exc)
            if w.state == "loading":  # a wrong key, no CUDA ...: that worker will not start
                self._refused(w, exc)
            else:  # the proof itself failed (BatchError ...): the job's error
                j, w.state, w.job = w.job, "idle", None
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        if w.state == "loading":
            if "missing" in out:  # no copy on that machine: fetch once through the object store
                for sha in out["missing"]:
                    if sha not in self._key_refs:
                        self._key_refs[sha] = self._ray.put(self._paths[sha].read_bytes())
                w.ref = w.handle.load.remote(out["missing"],
                                             *(self._key_refs[sha] for sha in out["missing"]))
                return
            with self._lock:
                w.state, w.info, w.failures = "idle", out, 0
            self.log(f"ray provers: worker {out['host']}:{out['pid']} ready ({out['backend']}"
                     f"{', GPU ' + ','.join(out['gpus']) if out['gpus'] else ''}) in "
                     f"{time.time() - w.started:.1f} s")
            return
        j = w.job
        with self._lock:
            w.state, w.job = "idle", None
        if j.future.done():  # resolved already (the pool is closing): write nothing
            return
        write_proof(Path(j.job.batch_json), Proven(**out))
        j.future.set_result(ProofDone(j.job.number, out["seconds"], w.info["pid"],
                                      w.info["host"]))

    def _lost(self, w: _Worker, exc: BaseException) -> None:
        """A worker died (process killed, machine gone): requeue its job, start another."""
        self.lost += 1
        w.failures += 1
        j = w.job
        self.log(f"ray provers: worker {w.info.get('host', '?')}:{w.info.get('pid', '?')} lost "
                 f"({type(exc).__name__}){f' while proving batch {j.job.number}' if j else ''}")
        if j is not None and not j.future.done():
            j.attempts += 1
            if j.attempts >= self.max_attempts:
                j.future.set_exception(ClusterError(
                    f"batch {j.job.number}: {j.attempts} workers lost while proving it"))
            else:
                self.retried += 1
                with self._lock:
                    self._queue.appendleft(j)
        try:
            self._ray.kill(w.handle)
        except Exception:  # already gone
            pass
        if w.failures >= self.max_attempts and j is None:  # it dies while loading: stop trying
            self._refused(w, ClusterError(f"a Ray prover worker died {w.failures} times while "
                                          f"loading the key ({type(exc).__name__})"))
            return
        self._start(w)

    def _refused(self, w: _Worker, exc: BaseException) -> None:
        with self._lock:
            w.state, w.job, w.ref, self.error = "refused", None, None, exc
            self._fail_all_if_refused()
        self.log(f"ray provers: {type(exc).__name__}: {exc}")

    def _fail_all_if_refused(self) -> None:
        if all(w.state == "refused" for w in self._slots):
            while self._queue:
                self._queue.popleft().future.set_exception(self.error)


def _cause(exc: BaseException) -> BaseException:
    """The exception our code raised in a worker, without Ray's wrapper (one-line errors)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc
