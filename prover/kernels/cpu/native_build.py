"""Builds the shared library of prover.kernels.native from the Numba kernels.

Each entry point (prover.kernels.native.SIGNATURES) is a numba.cfunc that views its pointer
arguments as arrays (numba.carray) and calls the kernel. The cfuncs' LLVM modules are linked
into one, each exported as zk_<name>; what only the error paths of Numba's generated code
reference (the Python C API, Numba's runtime: never reached, since the kernels allocate nothing
and raise nothing) becomes a trapping stub, so the library needs no symbol from Numba. All but
the entry points become internal and LLVM's O3 pipeline runs over the whole (`_optimize`).
llvmlite emits a position-independent object for this CPU and the system linker (cc or ld)
makes a .so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import llvmlite.binding as ll
from numba import carray, cfunc, njit, types

from prover.groth16 import kernels as kg
from prover.kernels.cpu import COMPILE_NOTICE
from prover.kernels.cpu import msm as km
from prover.kernels.cpu import ntt as kn
from prover.kernels.cpu import pairing as kp

_TYPES = {"i": types.int64, "u64*": types.CPointer(types.uint64),
          "u32*": types.CPointer(types.uint32), "i32*": types.CPointer(types.int32),
          "i64*": types.CPointer(types.int64), "u8*": types.CPointer(types.uint8)}


def _sig(arg_types: tuple[str, ...]):
    return types.void(*(_TYPES[t] for t in arg_types))


@njit(inline="always")
def _t4(p):
    """The four limbs at p as the tuple a kernel takes for a constant."""
    return (p[0], p[1], p[2], p[3])


def _entries() -> dict:
    """name -> the Python function compiled by cfunc for that entry point."""
    out = {}

    def scalar_digits(kp, n, montgomery, glv, c_bits, nw, d0p, d1p):
        km.scalar_digits(carray(kp, (n, 4)), montgomery != 0, glv != 0, c_bits,
                         carray(d0p, (nw, n)), carray(d1p, (nw, n)))

    out["scalar_digits"] = scalar_digits

    for g, tail in (("g1", (4,)), ("g2", (2, 4))):
        entries = _group_entries(tail, (2, *tail), (3, *tail))
        out.update({f"{k}_{g}": fn for k, fn in entries.items()})

    def odd_points(xp, n, twip, twp, invp, gp):
        h = max(n // 2, 1)
        kg.odd_points(carray(xp, (n, 4)), carray(twip, (h, 4)), carray(twp, (h, 4)),
                      _t4(invp), _t4(gp))

    def mul_sub(ap, bp, cp, n):
        kg.mul_sub(carray(ap, (n, 4)), carray(bp, (n, 4)), carray(cp, (n, 4)))

    def mul_rows(ap, bp, outp, lo, hi):
        kg.mul_rows(carray(ap, (hi, 4)), carray(bp, (hi, 4)), carray(outp, (hi, 4)), lo, hi)

    def eval_ab_chunks(recp, nrec, wp, nw, sp, ns, t0, t1, ap, bp, n):
        kg.eval_ab_chunks(carray(recp, (nrec, 11)), carray(wp, (nw, 4)), carray(sp, (ns,)),
                          t0, t1, carray(ap, (n, 4)), carray(bp, (n, 4)))

    def powers(gp, n, outp):
        kn.powers(_t4(gp), n, carray(outp, (n, 4)))

    def combine(ap, b1p, b2p, cp, hp, al1, be1, be2, de1, de2, rp, sp, rsp, oa, ob, oc):
        j1, j2, a1, a2 = (1, 3, 4), (1, 3, 2, 4), (1, 2, 4), (1, 2, 2, 4)
        kg.combine(carray(ap, j1), carray(b1p, j1), carray(b2p, j2), carray(cp, j1),
                   carray(hp, j1), carray(al1, a1), carray(be1, a1), carray(be2, a2),
                   carray(de1, a1), carray(de2, a2), _t4(rp), _t4(sp), _t4(rsp),
                   carray(oa, a1), carray(ob, a2), carray(oc, a1))

    def pairing_product_is_one(xp, yp, x2p, y2p, n, swp, sbits, frobp, e2p, e2bits, e3p,
                               e3bits, outp):
        fr = carray(frobp, (4, 2, 4))
        frob = ((_t4(fr[0, 0]), _t4(fr[0, 1])), (_t4(fr[1, 0]), _t4(fr[1, 1])),
                (_t4(fr[2, 0]), _t4(fr[2, 1])), (_t4(fr[3, 0]), _t4(fr[3, 1])))
        ok = kp.product_is_one(carray(xp, (n, 4)), carray(yp, (n, 4)), carray(x2p, (n, 2, 4)),
                               carray(y2p, (n, 2, 4)), carray(swp, ((sbits + 63) // 64,)),
                               sbits, frob, carray(e2p, ((e2bits + 63) // 64,)), e2bits,
                               carray(e3p, ((e3bits + 63) // 64,)), e3bits)
        carray(outp, (1,))[0] = 1 if ok else 0

    out.update(odd_points=odd_points, mul_sub=mul_sub, mul_rows=mul_rows,
               eval_ab_chunks=eval_ab_chunks, powers=powers, combine=combine,
               pairing_product_is_one=pairing_product_is_one)
    return out


def _group_entries(coord: tuple, aff: tuple, jac: tuple) -> dict:
    """The entries taking points: coord / aff / jac, the shape of one coordinate / affine /
    Jacobian point (closure constants, so each group compiles its own)."""

    def window_task(b0p, n0, b1p, n1, d0p, d1p, nw, ncols, w, first, c_bits, batch, outp,
                    affp, naff, jacp, njac, flp, nfl, idxp, nidx):
        km.window_task(carray(b0p, (n0,) + aff), carray(b1p, (n1,) + coord),
                       carray(d0p, (nw, ncols)), carray(d1p, (nw, ncols)), w, first, n1, c_bits,
                       batch, carray(outp, (nw,) + jac), carray(affp, (naff,) + aff),
                       carray(jacp, (njac,) + jac), carray(flp, (nfl,)), carray(idxp, (nidx,)))

    def combine_windows(wp, nw, c_bits, outp):
        km.combine_windows(carray(wp, (nw,) + jac), c_bits, carray(outp, (1,) + jac))

    def phi_points(pp, n, betap, outp):
        km.phi_points(carray(pp, (n,) + aff), _t4(betap), carray(outp, (n,) + coord))

    return {"window_task": window_task, "combine_windows": combine_windows,
            "phi_points": phi_points}


_DECLARE = re.compile(r'^declare\s+(?P<sig>.*?@(?P<name>"[^"]+"|[\w.$]+)\(.*\))(?P<attrs>.*)$')


# What Numba's generated code calls only when a kernel raises or frees an array it owns (the
# kernels do neither): stubbed. Any other undefined function (a Numba runtime helper that a
# kernel really calls) stops the build.
_ERROR_PATHS = re.compile(r"^(Py[A-Z_]\w*|numba_(gil_ensure|gil_release|do_raise|unpickle|"
                          r"runtime_build_excinfo_struct)|NRT_(MemInfo_call_dtor|Free))$")


def _stub_undefined(ir: str) -> str:
    """Give every function the module only declares (outside LLVM's intrinsics) a body that
    traps, and every external global a zero definition."""
    lines = []
    for line in ir.splitlines():
        m = _DECLARE.match(line.strip())
        name = m.group("name").strip('"') if m else ""
        if m and not name.startswith("llvm.") and name not in ("memset", "memcpy", "memmove"):
            if not _ERROR_PATHS.match(name):
                raise RuntimeError(f"a kernel calls {name}, which exists only inside Numba")
            line = f"define {m.group('sig')} {{\n  call void @llvm.trap()\n  unreachable\n}}"
        elif re.match(r"^@[\w.$\"]+ = external (global|constant) ", line):
            line = re.sub(r" = external (global|constant) (.*?)(, align \d+)?$",
                          r" = weak \1 \2 zeroinitializer\3", line)
        lines.append(line)
    if "declare void @llvm.trap()" not in ir:
        lines.append("declare void @llvm.trap()")
    return "\n".join(lines)


# Numba compiles each jitted function on its own and links the callees' code in, uninlined: the
# Fq2 product and square, ~3 Fq products each and called in the G2 bucket additions, are
# inlined into their callers (the rest is left to LLVM's inliner).
_ALWAYS_INLINE = re.compile(r"fq2_(mul|sqr)B")


def _optimize(mod, tm) -> None:
    """Only the zk_* aliases stay visible: every function becomes internal (calls bind inside
    the library instead of through the PLT) and LLVM's O3 pipeline runs over the whole library,
    inlining across what were separately compiled Numba functions. At 65k constraints, CPU
    seconds of a proof: ~7% fewer than the library as Numba leaves it."""
    for fn in mod.functions:
        if not fn.is_declaration:
            fn.linkage = ll.Linkage.internal
            if _ALWAYS_INLINE.search(fn.name):
                fn.add_function_attribute("alwaysinline")
    pb = ll.create_pass_builder(tm, ll.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(mod, pb)
    mod.verify()


def _linker() -> list[str]:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return [cc, "-shared", "-nostdlib"]
    if shutil.which("ld"):
        return ["ld", "-shared"]
    raise RuntimeError("no linker (cc, gcc, clang or ld) on PATH")


def build_library(path: Path, signatures: dict[str, tuple[str, ...]]) -> None:
    """Compile every entry point of `signatures` (prover.kernels.native.SIGNATURES: name ->
    C argument types) and write the shared library to `path` (atomically)."""
    linker = _linker()  # before minutes of compiling: no linker, no library
    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    ll.initialize_native_asmparser()  # the field product's inline assembly (adx.py)
    main = None
    COMPILE_NOTICE.muted = True
    try:
        entries = _entries()
        if set(entries) != set(signatures):
            raise RuntimeError(f"entry points differ: {sorted(set(entries) ^ set(signatures))}")
        cfuncs = {name: cfunc(_sig(signatures[name]), error_model="numpy")(fn)
                  for name, fn in entries.items()}
    finally:
        COMPILE_NOTICE.muted = False
    for name, cf in cfuncs.items():
        mod = ll.parse_assembly(str(cf._library._final_module))
        if main is None:
            main = mod
        else:
            main.link_in(mod)
        fn_type = main.get_function(cf.native_name).global_value_type
        main = ll.parse_assembly(
            str(main) + f'\n@zk_{name} = alias {fn_type}, ptr @"{cf.native_name}"\n')
    target = ll.Target.from_default_triple()
    tm = target.create_target_machine(cpu=ll.get_host_cpu_name(),
                                      features=ll.get_host_cpu_features().flatten(),
                                      reloc="pic", codemodel="default", opt=3)
    mod = ll.parse_assembly(_stub_undefined(str(main)))
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    mod.verify()
    _optimize(mod, tm)
    obj = tm.emit_object(mod)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        o, so = Path(tmp) / "kernels.o", Path(tmp) / "kernels.so"
        o.write_bytes(obj)
        res = subprocess.run([*linker, "-o", str(so), str(o)], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"linking failed: {res.stderr.strip()[:300]}")
        os.replace(so, path)
