"""Development keys for the rollup's circuits, cached on disk, and proofs in the contracts' form.

    keys = dev_keys("batch", slots=1, depth=4, cache=Path("~/.cache/zkderiv/keys"))
    proof = prove_for_chain(keys, batch.circuit(), batch.public_input)   # uint256[8]

The keys come from `prover.groth16.setup.dev_setup`: one process drew the toxic waste, so they
are for tests, demos and benchmarks only (the setup logs that warning), never for value. A cache
entry is named after the circuit's shape and a hash of the circuit sources, so a changed circuit
gets fresh keys and stale ones are never used. Processes sharing a cache (parallel test
workers, a demo beside a benchmark) set up each entry once: a file lock per entry.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import circuits
from circuits.batch import build_batch_circuit
from circuits.exit import build_exit_circuit
from prover.formats.snarkjs_json import load_vk
from prover.formats.zkey import write_zkey
from prover.groth16.keys import export_verification_key
from prover.groth16.prove import prove
from prover.groth16.setup import dev_setup
from rollup.chain.verifier import proof_evm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevKeys:
    circuit: str  # "batch" | "exit"
    zkey: Path
    vk_path: Path
    n_constraints: int
    setup_seconds: float | None  # None: read from the cache

    @property
    def vk(self):
        return load_vk(self.vk_path)


def _build(circuit: str, slots: int | None, depth: int, l1_slots: int | None, assets: int,
           underlyings: int):
    if circuit == "batch":
        if slots is None:
            raise ValueError("the batch circuit needs a slot count")
        return build_batch_circuit(slots, depth, l1_slots=l1_slots, assets=assets,
                                   underlyings=underlyings)
    if circuit == "exit":
        return build_exit_circuit(depth)
    raise ValueError(f"unknown circuit {circuit!r}: batch or exit")


def circuits_tag() -> str:
    """A version tag over the circuit sources (every module under circuits/): keys are reused
    only for the same circuit code, without building the circuit to hash its R1CS."""
    root = Path(circuits.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def dev_keys(circuit: str, *, depth: int, cache: str | Path, slots: int | None = None,
             l1_slots: int | None = None, assets: int = 8, underlyings: int = 1,
             on_setup: Callable[[str], None] | None = None) -> DevKeys:
    """zkey and verification key of the batch (`slots` x `depth`, `l1_slots`, `assets`,
    `underlyings`) or exit (`depth`) circuit, made by the development setup on first use and
    read from `cache` afterwards."""
    cache = Path(cache).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    if circuit == "batch":
        l1 = slots if l1_slots is None else l1_slots
        shape = f"{slots}s{l1}l1-d{depth}-a{assets}-u{underlyings}"
    else:
        shape = f"d{depth}"
    stem = cache / f"{circuit}-{shape}-{circuits_tag()}"
    zkey, vk, meta = stem.with_suffix(".zkey"), Path(f"{stem}_vk.json"), Path(f"{stem}.n")
    # held from the check to the rename: a second process waits, then reads the first's keys
    # (without it both would write the same .part and vk files at once)
    with open(stem.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if zkey.exists() and vk.exists() and meta.exists():
            return DevKeys(circuit, zkey, vk, int(meta.read_text()), None)
        cs = _build(circuit, slots, depth, l1_slots, assets, underlyings)
        r1cs = cs.to_r1cs()
        if on_setup is not None:
            on_setup(f"{circuit} {shape}: development setup of {r1cs.n_constraints:,} "
                     "constraints")
        t = time.perf_counter()
        z = dev_setup(r1cs)
        part = zkey.with_suffix(".zkey.part")
        write_zkey(z, part)
        export_verification_key(z, vk)
        meta.write_text(str(r1cs.n_constraints))
        part.replace(zkey)  # last: a zkey in the cache always has its vk beside it
    return DevKeys(circuit, zkey, vk, r1cs.n_constraints, time.perf_counter() - t)


def prove_for_chain(keys: DevKeys, cs, public_input: int | None = None) -> list[int]:
    """Prove the circuit `cs` (built with its witness values) and return the proof as the
    contracts' uint256[8]; checks the single public signal against `public_input` if given."""
    res = prove(keys.zkey, cs.witness())
    if public_input is not None and res.public_signals != [public_input]:
        raise AssertionError(f"the proof's public signal {res.public_signals} is not "
                             f"{public_input}")
    return proof_evm(res.proof)
