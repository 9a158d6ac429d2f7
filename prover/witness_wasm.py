"""circom's witness generator (the .wasm of `circom --wasm`) run in-process with wasmtime.

Contract: `WitnessCalculator(wasm).calculate(inputs)` returns the values that circom's own
witness_calculator.js and `snarkjs wtns calculate` compute for the same input.json, and
`calculate_wtns` writes them as the same bytes. Inputs are read as snarkjs reads them: a JSON
object of signal name -> value or nested arrays (objects nest as circom's `a.b` bus names);
a value is a decimal, 0x, 0o or 0b string, a safe integer or a boolean, reduced mod p.
Errors: CircuitInputError (a name, count or value that does not fit the circuit),
WitnessCalculationError (the circuit's own failure: a failed assert, ...), FormatError (not a
circom 2 witness generator). The generator's `log()` output goes to the `log` callback.
Only circom 2 generators: circom 1's ABI is not supported. A small helper module (WAT below)
moves inputs and the witness in one call each, since every call from Python into wasm costs
tens of microseconds.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import struct
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.errors import CircuitInputError, FormatError, WitnessCalculationError

if TYPE_CHECKING:
    import numpy as np

# circom's exceptionHandler codes (code_producers/src/wasm_elements/common/witness_calculator.js)
EXCEPTIONS = {1: "Signal not found.", 2: "Too many signals set.", 3: "Signal already set.",
              4: "Assert Failed.", 5: "Not enough memory.",
              6: "Input signal array access exceeds the size.",
              7: "Out of bounds array access."}

# Number.MAX_SAFE_INTEGER: a JSON number beyond it reaches snarkjs already rounded to a double.
MAX_SAFE_INTEGER = 2**53 - 1

_REQUIRED_EXPORTS = ("getVersion", "getFieldNumLen32", "getRawPrime", "readSharedRWMemory",
                     "writeSharedRWMemory", "init", "setInputSignal", "getInputSignalSize",
                     "getInputSize", "getWitnessSize", "getWitness", "getMessageChar")

_HELPER_WAT = """
(module
  (import "c" "getWitness" (func $getWitness (param i32)))
  (import "c" "readSharedRWMemory" (func $read (param i32) (result i32)))
  (import "c" "writeSharedRWMemory" (func $write (param i32 i32)))
  (import "c" "setInputSignal" (func $set (param i32 i32 i32)))
  (memory (export "memory") 1)
  ;; memory[4 * (i * n32 + j)] = word j of witness i, for i < n: the .wtns value layout
  (func (export "readWitness") (param $n i32) (param $n32 i32)
    (local $i i32) (local $j i32) (local $p i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $getWitness (local.get $i))
      (local.set $j (i32.const 0))
      (block $words_done (loop $words
        (br_if $words_done (i32.ge_u (local.get $j) (local.get $n32)))
        (i32.store (local.get $p) (call $read (local.get $j)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $words)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))
  ;; signal (hmsb, hlsb)[i] = the value of n32 words at memory[4 * i * n32], for i < count
  (func (export "setInput") (param $hmsb i32) (param $hlsb i32) (param $count i32)
        (param $n32 i32)
    (local $i i32) (local $j i32) (local $p i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $j (i32.const 0))
      (block $words_done (loop $words
        (br_if $words_done (i32.ge_u (local.get $j) (local.get $n32)))
        (call $write (local.get $j) (i32.load (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $words)))
      (call $set (local.get $hmsb) (local.get $hlsb) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))
)
"""

_WASM_PAGE = 65536
_engines: dict[str, Any] = {}
# Drop the engines before interpreter shutdown tears down wasmtime's ctypes bindings, which
# their finalizers call ("Exception ignored in Managed.__del__" otherwise).
atexit.register(_engines.clear)


def _engine(compiler: str):
    """One wasmtime engine per compiler, with wasmtime's on-disk cache of compiled code.

    "winch" (the default) is wasmtime's baseline compiler: ~7x faster to compile than
    Cranelift on circom's large straight-line functions, ~1.5x slower to run, which wins for
    a one-shot `wtns calculate`; the cache makes later runs of the same .wasm skip compiling.
    The pinned wasmtime-py has no setter for it: the C API's WASMTIME_STRATEGY_WINCH is 2.
    """
    if compiler not in _engines:
        import wasmtime

        cfg = wasmtime.Config()
        if compiler == "winch":
            try:
                from wasmtime import _ffi

                _ffi.wasmtime_config_strategy_set(cfg.ptr(), 2)
            except (ImportError, AttributeError):  # pragma: no cover - other wasmtime-py
                cfg.strategy = "cranelift"
        elif compiler != "cranelift":
            raise ValueError(f"unknown wasm compiler {compiler!r} (winch or cranelift)")
        if os.environ.get("ZKPROVE_WASM_CACHE", "1") != "0":
            try:
                cfg.cache = True
            except wasmtime.WasmtimeError:  # no writable cache directory: compile every time
                pass
        _engines[compiler] = wasmtime.Engine(cfg)
    return _engines[compiler]


def fnv_hash(name: str) -> tuple[int, int]:
    """(high, low) 32-bit halves of the 64-bit FNV-1a hash circom uses to find an input
    signal, over the name's UTF-16 code units as JavaScript's charCodeAt sees them."""
    h = 0xCBF29CE484222325
    units = name.encode("utf-16-le")
    for k in range(0, len(units), 2):
        h = ((h ^ (units[k] | units[k + 1] << 8)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h >> 32, h & 0xFFFFFFFF


def _i32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


_DEC = re.compile(r"[+-]?[0-9]+")
_PREFIXED = {"x": (re.compile(r"0[xX][0-9a-fA-F]+"), 16), "o": (re.compile(r"0[oO][0-7]+"), 8),
             "b": (re.compile(r"0[bB][01]+"), 2)}


def parse_value(v: Any, name: str) -> int:
    """One input value as snarkjs reads it: JavaScript's BigInt(v) after unstringifyBigInts.

    Strings follow BigInt's grammar (surrounding blanks ignored, "" is 0, a sign only on
    decimals). A JSON number beyond 2^53 - 1 is refused: JavaScript has already rounded it
    to a double, so snarkjs would compute with a different value than the one written.
    """
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        if abs(v) > MAX_SAFE_INTEGER:
            raise CircuitInputError(f"input {name}: the number {v} is beyond 2^53 - 1, where "
                                    "JSON numbers lose precision: write it as a string")
        return v
    if isinstance(v, float):
        if not v.is_integer():
            raise CircuitInputError(f"input {name}: {v} is not an integer")
        if abs(v) > MAX_SAFE_INTEGER:
            raise CircuitInputError(f"input {name}: the number {v} is beyond 2^53 - 1, where "
                                    "JSON numbers lose precision: write it as a string")
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return 0
        if _DEC.fullmatch(s):
            return int(s)
        pre = _PREFIXED.get(s[1:2].lower()) if s[:1] == "0" else None
        if pre and pre[0].fullmatch(s):
            return int(s[2:], pre[1])
        raise CircuitInputError(f"input {name}: cannot convert {v!r} to an integer")
    raise CircuitInputError(f"input {name}: cannot convert {json.dumps(v)} to an integer")


def _flatten(v: Any) -> list:
    if isinstance(v, list):
        return [x for e in v for x in _flatten(e)]
    return [v]


def qualify(inputs: Any, prefix: str = "", out: dict | None = None) -> dict[str, Any]:
    """Signal name -> value, nested objects named `a.b` and arrays of objects `a[i]`, as
    circom's witness_calculator.js names inputs (the same dict for flat inputs)."""
    out = {} if out is None else out
    if isinstance(inputs, dict):
        for k, v in inputs.items():
            qualify(v, k if prefix == "" else f"{prefix}.{k}", out)
    elif isinstance(inputs, list):
        flat = _flatten(inputs)
        if flat and isinstance(flat[0], dict):
            if not all(isinstance(x, dict) for x in flat):
                raise CircuitInputError(f"input {prefix}: objects mixed with values")
            for i, e in enumerate(inputs):
                qualify(e, f"{prefix}[{i}]", out)
        else:
            if any(isinstance(x, dict) for x in flat):
                raise CircuitInputError(f"input {prefix}: objects mixed with values")
            out[prefix] = inputs
    else:
        out[prefix] = inputs
    return out


def load_inputs(path: str | os.PathLike) -> dict[str, Any]:
    """input.json as a dict; a file that is not a JSON object is a CircuitInputError."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise CircuitInputError(f"{path}: not JSON ({e})") from None
    except UnicodeDecodeError as e:
        raise CircuitInputError(f"{path}: not UTF-8 text ({e.reason})") from None
    if not isinstance(doc, dict):
        raise CircuitInputError(f"{path}: the inputs must be a JSON object of signal values")
    return doc


class WitnessCalculator:
    """One instantiated witness generator; `calculate` may be called repeatedly."""

    def __init__(self, wasm: bytes | str | os.PathLike, *, compiler: str = "winch",
                 log: Callable[[str], None] | None = None) -> None:
        import wasmtime

        self._wt = wasmtime
        code = wasm if isinstance(wasm, bytes | bytearray) else Path(wasm).read_bytes()
        self.name = "<bytes>" if isinstance(wasm, bytes | bytearray) else str(wasm)
        self._log = log if log is not None else stdout_log
        if bytes(code[:4]) != b"\0asm":
            raise FormatError(f"{self.name}: not a WebAssembly module (no \\0asm magic)")
        engine = _engine(compiler)
        try:
            module = wasmtime.Module(engine, bytes(code))
        except wasmtime.WasmtimeError as e:
            raise FormatError(f"{self.name}: not a WebAssembly module "
                              f"({str(e).splitlines()[0]})") from None
        exports = {e.name for e in module.exports}
        missing = [n for n in _REQUIRED_EXPORTS if n not in exports]
        if missing:
            raise FormatError(f"{self.name}: not a circom 2 witness generator (no export "
                              f"{', '.join(missing[:3])})")
        self._store = store = wasmtime.Store(engine)
        host = {"exceptionHandler": self._exception, "printErrorMessage": self._error_message,
                "writeBufferMessage": self._buffer_message,
                "showSharedRWMemory": self._show_shared}
        imports = []
        for imp in module.imports:
            if imp.module != "runtime" or imp.name not in host:
                raise FormatError(f"{self.name}: unknown import {imp.module}.{imp.name} "
                                  "(not a circom 2 witness generator)")
            imports.append(wasmtime.Func(store, imp.type, host[imp.name]))
        self._ex = ex = wasmtime.Instance(store, module, imports).exports(store)
        self._err_str = ""
        self._msg_str = ""
        self.version = (ex["getVersion"](store),
                        *(ex[f](store) if f in exports else 0
                          for f in ("getMinorVersion", "getPatchVersion")))
        if self.version[0] != 2:
            raise FormatError(f"{self.name}: circom {self.version[0]} witness generator "
                              "(only circom 2 is supported)")
        self.n32 = ex["getFieldNumLen32"](store)
        ex["getRawPrime"](store)
        self.prime = self._read_shared()
        self.witness_size = ex["getWitnessSize"](store)
        helper = wasmtime.Module(engine, _HELPER_WAT)
        self._helper = wasmtime.Instance(store, helper, [
            ex["getWitness"], ex["readSharedRWMemory"], ex["writeSharedRWMemory"],
            ex["setInputSignal"]]).exports(store)

    # --- the runtime imports: circom_runtime's builder, in Python ------------------------------

    def _message(self) -> str:
        get, chars = self._ex["getMessageChar"], []
        while c := get(self._store):
            chars.append(chr(c))
        return "".join(chars)

    def _read_shared(self) -> int:
        read = self._ex["readSharedRWMemory"]
        return sum((read(self._store, j) & 0xFFFFFFFF) << (32 * j) for j in range(self.n32))

    def _exception(self, code: int) -> None:
        text = EXCEPTIONS.get(code, "Unknown error.")
        detail = " ".join(self._err_str.split())
        raise WitnessCalculationError(f"{text} {detail}".strip(), code=code)

    def _error_message(self) -> None:
        self._err_str += self._message() + "\n"

    def _buffer_message(self) -> None:
        msg = self._message()
        if msg == "\n":  # a log() call ends with "\n": emit the line
            self._log(self._msg_str)
            self._msg_str = ""
        else:
            self._msg_str += (" " if self._msg_str else "") + msg

    def _show_shared(self) -> None:
        value = str(self._read_shared())
        if self.version[1] < 1 and self.version[2] < 7:  # before circom 2.0.7: a line each
            self._log(value)
        else:
            self._msg_str += (" " if self._msg_str else "") + value

    # --- computing -----------------------------------------------------------------------------

    def _ensure_memory(self, nbytes: int):
        mem = self._helper["memory"]
        have = mem.size(self._store) * _WASM_PAGE
        if nbytes > have:
            mem.grow(self._store, -(-(nbytes - have) // _WASM_PAGE))
        return mem

    def _call(self, fn, *args):
        """Call into the generator; its traps become WitnessCalculationError."""
        try:
            return fn(self._store, *args)
        except self._wt.Trap as e:
            raise WitnessCalculationError(f"the witness generator trapped: "
                                          f"{e.message.splitlines()[0]}") from None

    def _set_inputs(self, inputs: Mapping[str, Any]) -> None:
        ex, store = self._ex, self._store
        n8 = 4 * self.n32
        set_count = 0
        for name, value in qualify(dict(inputs)).items():
            hi, lo = fnv_hash(name)
            values = _flatten(value)
            size = ex["getInputSignalSize"](store, _i32(hi), _i32(lo))
            if size < 0:
                raise CircuitInputError(f"Signal {name} not found")
            if len(values) < size:
                raise CircuitInputError(f"Not enough values for input signal {name}")
            if len(values) > size:
                raise CircuitInputError(f"Too many values for input signal {name}")
            if not values:
                continue
            data = b"".join((parse_value(v, name) % self.prime).to_bytes(n8, "little")
                            for v in values)
            self._ensure_memory(len(data)).write(store, data, 0)
            self._call(self._helper["setInput"], _i32(hi), _i32(lo), len(values), self.n32)
            set_count += len(values)
        total = ex["getInputSize"](store)
        if set_count < total:
            raise CircuitInputError(f"Not all inputs have been set. Only {set_count} out of "
                                    f"{total}")

    def calculate_bytes(self, inputs: Mapping[str, Any], sanity_check: bool = False) -> bytes:
        """The witness as n32-word little-endian values, back to back (.wtns section 2)."""
        if not isinstance(inputs, Mapping):
            raise CircuitInputError("the inputs must be an object of signal values")
        self._err_str = self._msg_str = ""
        self._ex["init"](self._store, 1 if sanity_check else 0)
        self._set_inputs(inputs)
        nbytes = self.witness_size * 4 * self.n32
        mem = self._ensure_memory(nbytes)
        self._call(self._helper["readWitness"], self.witness_size, self.n32)
        return bytes(mem.read(self._store, 0, nbytes))

    def calculate(self, inputs: Mapping[str, Any], sanity_check: bool = False) -> np.ndarray:
        """The witness as uint64[n, 4] canonical limbs (256-bit fields such as BN254's)."""
        if self.n32 != 8:
            raise FormatError(f"{self.name}: {32 * self.n32}-bit field, only 256-bit is "
                              "supported here")
        import numpy as np

        raw = self.calculate_bytes(inputs, sanity_check)
        return np.frombuffer(raw, dtype="<u8").reshape(self.witness_size, 4)

    def wtns_bytes(self, inputs: Mapping[str, Any], sanity_check: bool = False) -> bytes:
        """The .wtns file for `inputs` (prover/formats/wtns.py's layout, written here without
        numpy to keep `wtns calculate`'s start-up short): header section 1 (n8, prime, size),
        then section 2 (the values)."""
        n8 = 4 * self.n32
        values = self.calculate_bytes(inputs, sanity_check)
        header = struct.pack("<I", n8) + self.prime.to_bytes(n8, "little") + struct.pack(
            "<I", self.witness_size)
        return (b"wtns" + struct.pack("<II", 2, 2) + struct.pack("<IQ", 1, len(header)) + header
                + struct.pack("<IQ", 2, len(values)) + values)


def calculate_wtns(wasm: str | os.PathLike, inputs: str | os.PathLike | Mapping[str, Any],
                   wtns: str | os.PathLike, *, log: Callable[[str], None] | None = None,
                   compiler: str = "winch") -> int:
    """`snarkjs wtns calculate WASM INPUT WTNS`: write the .wtns; return the witness size.

    Nothing is written when the calculation fails.
    """
    doc = inputs if isinstance(inputs, Mapping) else load_inputs(inputs)
    wc = WitnessCalculator(wasm, compiler=compiler, log=log)
    data = wc.wtns_bytes(doc)
    with open(wtns, "wb") as f:
        f.write(data)
    return wc.witness_size


def stdout_log(line: str) -> None:
    """The default `log` callback: circom's log() lines on stdout, as snarkjs prints them."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
