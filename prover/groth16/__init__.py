"""Groth16 over BN254, compatible with snarkjs's zkey, wtns and JSON files.

    result = prove("circuit.zkey", "witness.wtns")     # proof, public signals, phase timings
    verify(vk, result.public_signals, result.proof)    # True / False, typed error if malformed

The names load on first use (PEP 562): `verify` runs on plain ints, so importing it must not
load numpy, Numba and the prover's kernels (about a second in a fresh process).
"""

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING

_WHERE = {"export_verification_key": "keys", "verification_key": "keys", "ProveResult": "prove",
          "prove": "prove", "verify": "verify"}

__all__ = ["ProveResult", "export_verification_key", "prove", "verification_key", "verify"]

if TYPE_CHECKING:
    from prover.groth16.keys import export_verification_key, verification_key
    from prover.groth16.prove import ProveResult, prove
    from prover.groth16.verify import verify


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'prover.groth16' has no attribute {name!r}")
    value = getattr(import_module(f"prover.groth16.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The import system binds each loaded submodule as an attribute of its package; `prove`
    and `verify` name functions here (as their eager imports made them before), not modules."""

    def __setattr__(self, name: str, value) -> None:
        if name in ("prove", "verify") and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
