"""A deployed Rollup with chosen batch-shape verifiers and an operator configuration whose keys
folder holds chosen keys: the set-up of the batch-shape start-up check's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from rollup.chain.contracts import deploy
from rollup.chain.rollup import RollupClient
from rollup.chain.verifier import deploy_verifier
from rollup.config import load
from tests.support.operator import write_config

ZERO = "0x" + "00" * 20


def vk_of(zkey: Path) -> Path:
    """The verification key file `tiny_key` writes beside a zkey."""
    return zkey.with_name(zkey.stem + "_vk.json")


def deployed(chain, tmp_path: Path, keys: list[Path], *, main: Path | None, shapes: dict,
             listed: list[str]):
    """(config, RollupClient): a Rollup with MAIN (None: no default verifier) and
    {(slots, l1 slots): key} verifiers; a configuration listing LISTED whose keys folder holds
    MAIN (else keys[0]) as the configured 1x1 shape and every key of `shapes`."""
    from prover.formats.snarkjs_json import load_vk

    addr = {k: deploy_verifier(chain, load_vk(vk_of(k))).address for k in keys}
    token = deploy(chain, "TestToken")
    r = RollupClient.deploy(chain, batch_verifier=addr[main] if main else ZERO,
                            exit_verifier=addr[keys[0]], token=token.address,
                            operator=chain.accounts[0], genesis_root=b"\x11" * 32,
                            priority_deadline=3 * 24 * 3600,
                            batch_shapes={s: addr[k] for s, k in shapes.items()})
    cfg = load(write_config(tmp_path / "op", slots=1, batch_l1_slots=1, batch_shapes=listed,
                            rollup_address=r.address))
    cfg.keys_dir.mkdir(parents=True)
    for (n, l1), k in {(1, 1): main or keys[0], **shapes}.items():
        stem = "batch" if (n, l1) == (1, 1) else f"batch-{n}x{l1}"
        shutil.copy(k, cfg.keys_dir / f"{stem}.zkey")
        shutil.copy(vk_of(k), cfg.keys_dir / f"{stem}_vk.json")
    return cfg, r
