"""The settlement files of a data folder: genesis record, built batches, proofs.

    DATA/genesis.json                  the genesis row of the journal (``seq``) and its root
    DATA/batches/batch-NNNNNN.wtns     the witness (snarkjs format), written first
    DATA/batches/batch-NNNNNN.json     the batch's metadata, written last (atomically): a batch
                                       is built once this file exists
    DATA/batches/batch-NNNNNN.proof.json, .public.json   the proof, public written first, proof
                                       last (atomically): a batch is proven once it exists
    DATA/l1-feed.db                    the L1 queue entries read by the feed (relayer store)

Every file is written to a temporary name and renamed, so a kill -9 leaves either the old or
the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from rollup.config import Config
from rollup.transactions import Deposit, ForcedWithdrawal, Refund

L1_TYPES = (Deposit, ForcedWithdrawal, Refund)  # the requests that consume L1 queue entries
FEED_STORE = "l1-feed.db"
RELAYER_STORE = "relayer.db"
_BATCH = re.compile(r"batch-(\d{6,})\.json")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write to PATH.tmp, fsync, rename over PATH."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def genesis_file(cfg: Config) -> Path:
    return cfg.data / "genesis.json"


def read_genesis(cfg: Config) -> dict | None:
    try:
        return json.loads(genesis_file(cfg).read_text())
    except (OSError, ValueError):
        return None


def batch_stem(cfg: Config, number: int) -> Path:
    return cfg.batches_dir / f"batch-{number:06d}"


def read_batch(cfg: Config, number: int) -> dict | None:
    """The metadata of built batch NUMBER, or None."""
    try:
        meta = json.loads(batch_stem(cfg, number).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("number") == number else None


def built_numbers(cfg: Config) -> list[int]:
    """The numbers of the batches built in the batches folder, ascending."""
    d = cfg.batches_dir
    if not d.is_dir():
        return []
    return sorted(int(m.group(1)) for p in d.iterdir() if (m := _BATCH.fullmatch(p.name)))


def last_batch(cfg: Config) -> dict | None:
    """The metadata of the highest-numbered batch built into the batches folder, if any."""
    for n in reversed(built_numbers(cfg)):
        meta = read_batch(cfg, n)
        if meta is not None:
            return meta
    return None


def proof_path(cfg: Config, number: int) -> Path:
    return batch_stem(cfg, number).with_suffix(".proof.json")


def is_proven(cfg: Config, number: int) -> bool:
    return proof_path(cfg, number).is_file()
