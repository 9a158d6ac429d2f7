"""Montgomery product of a 4 x 64-bit field as x86-64 inline assembly: MULX with ADCX/ADOX.

`mont_mul_asm(modulus)` is a Numba intrinsic (a, b) -> a*b*2^-256 mod p, a and b 4-tuples of
integer limbs of Montgomery elements in [0, p), p < 2^254: the no-carry CIOS of
field.mont_mul, the same result bit for bit. Each row adds a_i*b on two independent carry chains
(ADOX: low words, ADCX: high words), so the adds of one product overlap those of the next. The
text is emitted as llvmlite `ir.InlineAsm`, so the JIT and the native library (native_build)
compile it alike. ENABLED: the host has BMI2 (MULX) and ADX, Numba targets the host, and
ZKPROVE_FIELD_ASM is not 0; otherwise fq.py / fr.py use the portable field.mont_mul.
"""

from __future__ import annotations

import os

import llvmlite.binding as ll
from llvmlite import ir
from numba import types
from numba.core import config
from numba.extending import intrinsic

from prover.kernels.cpu.params import MontParams

FORCED_OFF = os.environ.get("ZKPROVE_FIELD_ASM", "1") == "0"


def host_supports() -> bool:
    """MULX and ADCX/ADOX are available to the code Numba generates here."""
    if config.CPU_NAME or config.CPU_FEATURES:  # a cross-target build: the flags it names
        feats = set((config.CPU_FEATURES or "").split(","))
        return {"+bmi2", "+adx"} <= feats
    try:
        import platform  # lazy: only the asm path needs the machine name

        if platform.machine().lower() not in ("x86_64", "amd64"):
            return False
        host = ll.get_host_cpu_features()
        return bool(host.get("bmi2")) and bool(host.get("adx"))
    except Exception:  # no feature query on this LLVM: the portable path
        return False


ENABLED = host_supports() and not FORCED_OFF
if ENABLED:
    ll.initialize_native_asmparser()  # LLVM parses inline asm only with an asm parser
elif FORCED_OFF and host_supports():
    # Numba's on-disk cache keys a kernel by its own source and the CPU, not by the field code
    # it inlines: kernels compiled with the portable product get a cache of their own.
    _base = config.CACHE_DIR or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zkprove", "numba")
    config.CACHE_DIR = os.path.join(_base, "portable-field")

_U64 = types.uint64
_T4 = types.UniTuple(_U64, 4)

# Operands: outputs $0-$3 t0..t3, $4 A (the fifth word), $5 lo, $6 hi (scratch); inputs
# $7-$10 a and $11-$14 b in memory (stack copies: with them in registers the operands outgrow
# the 14 free registers and LLVM spills anyway), $15 the address of p's limbs (a constant
# global: one register, where constant-pool operands take one each under the JIT's large code
# model). pinv is an immediate in the text.
_T = ["$0", "$1", "$2", "$3"]
_A, _LO, _HI = "$4", "$5", "$6"
_AIN = ["$7", "$8", "$9", "$10"]
_B = ["$11", "$12", "$13", "$14"]
_P = ["($15)", "8($15)", "16($15)", "24($15)"]
_CONSTRAINTS = ",".join(["=&r"] * 7 + ["m"] * 8 + ["r"]
                        + ["~{rdx}", "~{dirflag}", "~{fpsr}", "~{flags}"])


def _first_row() -> list[str]:
    """t = a0*b: lows of the partial products on the OF chain (t is zero, no CF chain)."""
    t0, t1, t2, t3 = _T
    return [f"movq {_AIN[0]}, %rdx", f"xorq {_LO}, {_LO}",
            f"mulxq {_B[0]}, {t0}, {t1}",
            f"mulxq {_B[1]}, {_LO}, {t2}", f"adoxq {_LO}, {t1}",
            f"mulxq {_B[2]}, {_LO}, {t3}", f"adoxq {_LO}, {t2}",
            f"mulxq {_B[3]}, {_LO}, {_A}", f"adoxq {_LO}, {t3}",
            f"movq $$0, {_LO}", f"adoxq {_LO}, {_A}"]


def _row(i: int) -> list[str]:
    """(t, A) = t + a_i*b: low words on OF, high words on CF."""
    t0, t1, t2, t3 = _T
    return [f"movq {_AIN[i]}, %rdx", f"xorq {_LO}, {_LO}",
            f"mulxq {_B[0]}, {_LO}, {_HI}", f"adoxq {_LO}, {t0}", f"adcxq {_HI}, {t1}",
            f"mulxq {_B[1]}, {_LO}, {_HI}", f"adoxq {_LO}, {t1}", f"adcxq {_HI}, {t2}",
            f"mulxq {_B[2]}, {_LO}, {_HI}", f"adoxq {_LO}, {t2}", f"adcxq {_HI}, {t3}",
            f"mulxq {_B[3]}, {_LO}, {_A}", f"adoxq {_LO}, {t3}",
            f"movq $$0, {_LO}", f"adcxq {_LO}, {_A}", f"adoxq {_LO}, {_A}"]


def _reduce_step(pinv: int) -> list[str]:
    """t = (t + A*2^256 + m*p) / 2^64 with m = t0 * pinv mod 2^64, so the low word is 0.
    The no-carry bound (p's top word < 2^62) keeps the result in four words."""
    t0, t1, t2, t3 = _T
    return [f"movabsq $${pinv}, %rdx", f"imulq {t0}, %rdx", f"xorq {_LO}, {_LO}",
            f"mulxq {_P[0]}, {_LO}, {_HI}", f"adcxq {t0}, {_LO}",  # t0 + lo(m p0) = 0 mod 2^64
            f"movq {_HI}, {t0}", f"adcxq {t1}, {t0}",
            f"mulxq {_P[1]}, {_LO}, {t1}", f"adoxq {_LO}, {t0}", f"adcxq {t2}, {t1}",
            f"mulxq {_P[2]}, {_LO}, {t2}", f"adoxq {_LO}, {t1}", f"adcxq {t3}, {t2}",
            f"mulxq {_P[3]}, {_LO}, {t3}", f"adoxq {_LO}, {t2}", f"adcxq {_A}, {t3}",
            f"movq $$0, {_LO}", f"adoxq {_LO}, {t3}"]


def _final_subtract() -> list[str]:
    """t < 2p: t - p when that does not borrow (four scratch words: A, lo, hi, rdx)."""
    t0, t1, t2, t3 = _T
    return [f"movq {t0}, {_LO}", f"subq {_P[0]}, {_LO}",
            f"movq {t1}, {_HI}", f"sbbq {_P[1]}, {_HI}",
            f"movq {t2}, {_A}", f"sbbq {_P[2]}, {_A}",
            f"movq {t3}, %rdx", f"sbbq {_P[3]}, %rdx",
            f"cmovaeq {_LO}, {t0}", f"cmovaeq {_HI}, {t1}",
            f"cmovaeq {_A}, {t2}", f"cmovaeq %rdx, {t3}"]


def mont_mul_text(pinv: int) -> str:
    """The whole product, one instruction a line (AT&T syntax, LLVM operand numbering)."""
    lines = _first_row() + _reduce_step(pinv)
    for i in (1, 2, 3):
        lines += _row(i) + _reduce_step(pinv)
    return "\n\t".join(lines + _final_subtract())


def mont_mul_asm(modulus: int):
    """The intrinsic (a, b) -> a*b*2^-256 mod `modulus` for this field's constants."""
    mp = MontParams.of(modulus)
    limbs = [int(x) for x in mp.p]
    text = mont_mul_text(int(mp.pinv))
    name = f"zk_adx_modulus_{modulus:064x}"

    @intrinsic
    def mont_mul(typingctx, a, b):
        ok = all(isinstance(t, types.BaseTuple) and len(t) == 4
                 and all(isinstance(x, types.Integer) for x in t) for t in (a, b))
        if not ok:
            return None

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            ins = []
            for val, ty in zip(args, signature.args, strict=True):
                ins += [context.cast(builder, builder.extract_value(val, k), ty[k], _U64)
                        for k in range(4)]
            mod = builder.module
            gv = mod.globals.get(name)
            if gv is None:
                gv = ir.GlobalVariable(mod, ir.ArrayType(i64, 4), name)
                gv.initializer = ir.Constant(ir.ArrayType(i64, 4), limbs)
                gv.global_constant = True
                gv.linkage = "internal"
            ins.append(gv)
            fty = ir.FunctionType(ir.LiteralStructType([i64] * 7), [i64] * 8 + [gv.type])
            asm = ir.InlineAsm(fty, text, _CONSTRAINTS, side_effect=False)
            out = builder.call(asm, ins)
            res = [builder.extract_value(out, k) for k in range(4)]
            return context.make_tuple(builder, _T4, res)

        return _T4(a, b), codegen

    return mont_mul
