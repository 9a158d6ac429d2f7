"""The prover pool: a job queue, witness in, proof out.

``ProofJob(number, batch_json)`` names a built batch (its metadata file; the witness sits
beside it); a worker proves it with the proving key of the batch's shape (the configured one, or
a named shape's: ``rollup.settlement.shapes``), each loaded once (memory-mapped), checks the
public input (and the proof, given a verification key) and writes ``.public.json`` then
``.proof.json`` atomically beside the batch. ``submit`` returns a Future of ``ProofDone``: jobs
finish in any order; the node submits proofs to L1 in batch order.

``LocalProverPool`` runs N worker processes (spawned, not forked: the node has threads);
``rollup.node.cluster.RayProverPool`` runs them as actors on a Ray cluster, and
``rollup.node.cluster.make_pool`` picks one from ``[node] cluster``.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prover.formats.snarkjs_json import load_vk
from prover.formats.zkey import read_zkey
from rollup.chain.lifetime import die_with_parent
from rollup.settlement.stage import prove_file

# lazy: the proving backend (`prover.backend`, with the prover's Numba kernels) loads in the
# worker processes that prove, not in the node that only hands them jobs.


@dataclass(frozen=True)
class ProofJob:
    number: int
    batch_json: str


@dataclass(frozen=True)
class ProofDone:
    number: int
    seconds: float
    worker: int  # the worker's process id
    host: str = ""  # its machine (a cluster pool)


class ProverPool(Protocol):
    workers: int

    def submit(self, job: ProofJob) -> cf.Future: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...


_KEY = None  # the worker's proving key, loaded once by _init
_VK = None
_SHAPES: dict = {}  # (slots, l1_slots) -> (key, vk) of the named batch shapes
_MAIN_SHAPE = None  # the configured shape's (slots, l1_slots), which _KEY proves
_BACKEND = None

# A named shape's keys as the pool hands them to its workers: slots, l1_slots, zkey, vk or None.
ShapeKeys = tuple[int, int, str, str | None]


def orphan_watch(parent: int) -> None:
    """Exit when the parent (the node, pid ``parent``) is gone: the kernel's parent-death
    signal, and a thread that notices a new parent within a second (a worker must never outlive
    a kill -9 of the node, holding hundreds of MB). A spawned child runs this only after its
    imports (seconds): if the node died meanwhile, the signal will never come and the child has
    already been reparented, so it exits here."""
    die_with_parent()
    if os.getppid() != parent:  # checked after prctl: no gap for the node to die unseen
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


class UnknownShape(ValueError):
    """A batch whose shape (slots, L1 slots) no loaded proving key has."""


def select_key(keys: dict, meta: dict):
    """(key, vk) of the batch META's shape from KEYS {(slots, l1_slots): (key, vk)}; a key
    under None proves any shape (a pool built without knowing its key's shape)."""
    shape = (meta.get("slots"), meta.get("l1_slots"))
    if shape in keys:
        return keys[shape]
    if None in keys:
        return keys[None]
    have = ", ".join(f"{n}x{l1}" for n, l1 in sorted(k for k in keys if k is not None))
    raise UnknownShape(f"batch {meta.get('number')} is {shape[0]}x{shape[1]} (slots x L1 "
                       f"slots): no proving key of that shape here (have {have})")


def _init(parent: int, zkey_path: str, vk_path: str | None, backend: str,
          shapes: tuple[ShapeKeys, ...] = (), main_shape: tuple[int, int] | None = None) -> None:
    global _KEY, _VK, _SHAPES, _MAIN_SHAPE, _BACKEND
    orphan_watch(parent)  # a kill -9 of the node takes its provers with it
    from prover.backend import get_backend

    _KEY = read_zkey(zkey_path)
    _VK = load_vk(vk_path) if vk_path else None
    _SHAPES = {(n, l1): (read_zkey(z), load_vk(v) if v else None) for n, l1, z, v in shapes}
    _MAIN_SHAPE = main_shape
    _BACKEND = get_backend(backend)


def _prove(job: ProofJob) -> ProofDone:
    path = Path(job.batch_json)
    meta = json.loads(path.read_text())
    key, vk = select_key({**_SHAPES, _MAIN_SHAPE: (_KEY, _VK)}, meta)
    seconds = prove_file(path, meta, key, vk=vk, backend=_BACKEND)
    return ProofDone(job.number, seconds, os.getpid())


class LocalProverPool:
    """N spawned processes, each holding the proving key (and the named shapes' keys, SHAPES).
    MAIN_SHAPE: the (slots, l1_slots) of ZKEY's circuit (None: ZKEY proves whatever shape no
    named key has; a batch of another shape is an UnknownShape error otherwise)."""

    def __init__(self, zkey: str | Path, *, vk: str | Path | None = None, workers: int = 1,
                 backend: str = "auto", shapes: tuple[ShapeKeys, ...] = (),
                 main_shape: tuple[int, int] | None = None) -> None:
        self.workers = workers
        self._args = (str(zkey), str(vk) if vk else None, backend, tuple(shapes),
                      tuple(main_shape) if main_shape else None)
        self._pool = self._new()

    def _new(self) -> cf.ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                      initializer=_init, initargs=(os.getpid(), *self._args))

    def restart(self) -> None:
        """A fresh set of workers after one died (the pool is broken then)."""
        stop_executor(self._pool)
        self._pool = self._new()

    def submit(self, job: ProofJob) -> cf.Future:
        return self._pool.submit(_prove, job)

    def close(self) -> None:
        """Stop now: a proof in progress is dropped (its batch is proven again after a restart);
        the workers are reaped, so their CPU time counts toward the node's."""
        stop_executor(self._pool)


def stop_executor(pool: cf.ProcessPoolExecutor) -> None:
    procs = list((pool._processes or {}).values())  # no public handle on the workers
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(10)
