"""The MULX/ADCX/ADOX Montgomery product (kernels/cpu/adx.py) against Python integers and,
bit for bit, the portable CIOS; its machine code; the switch that forces the portable path;
a proof made on the portable path is the proof made on the assembly one."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from prover.constants import Q, R
from prover.fields import ints_to_limbs, limbs_to_ints
from prover.kernels import native
from prover.kernels.cpu import adx
from prover.kernels.cpu import field as f
from prover.kernels.cpu import fq as kq
from prover.kernels.cpu import fr as kr
from prover.kernels.cpu.params import MontParams

needs_adx = pytest.mark.skipif(not adx.ENABLED, reason="no BMI2+ADX here (or forced off)")

_FQ_MUL = adx.mont_mul_asm(Q) if adx.ENABLED else None
_FR_MUL = adx.mont_mul_asm(R) if adx.ENABLED else None
_FQ_P, _FQ_PINV = kq.FQ.p, kq.FQ.pinv
_FR_P, _FR_PINV = kr.FR.p, kr.FR.pinv


@njit
def _rows_fq(a, b, out, portable):
    for i in range(a.shape[0]):
        x, y = f.load(a, i), f.load(b, i)
        f.store(out, i, f.mont_mul(x, y, _FQ_P, _FQ_PINV) if portable else _FQ_MUL(x, y))


@njit
def _rows_fr(a, b, out, portable):
    for i in range(a.shape[0]):
        x, y = f.load(a, i), f.load(b, i)
        f.store(out, i, f.mont_mul(x, y, _FR_P, _FR_PINV) if portable else _FR_MUL(x, y))


def _edges(p: int) -> list[int]:
    """0, 1, p-1 and around it, R = 2^256 mod p and R^2 (Montgomery one and the entry factor),
    the reductions of 2^256 - 1 and 2^256 - p (the top of the word range), halves of p."""
    r = 1 << 256
    return sorted({0, 1, 2, p - 1, p - 2, (p - 1) // 2, (p + 1) // 2, r % p, r * r % p,
                   (r - 1) % p, (r - p) % p, p - (r - p) % p, (1 << 192) % p, (1 << 64) - 1,
                   (1 << 253) % p, p >> 1 << 1})


@needs_adx
@pytest.mark.parametrize("p,rows", [(Q, _rows_fq), (R, _rows_fr)], ids=["Fq", "Fr"])
def test_asm_product_is_the_montgomery_product(p, rows):
    rng = random.Random(20)
    e = _edges(p)
    xs = [x for x in e for _ in e] + [rng.randrange(p) for _ in range(3000)]
    ys = [y for _ in e for y in e] + [rng.randrange(p) for _ in range(3000)]
    # values with many top bits set stress every carry: p - small
    xs += [p - 1 - rng.randrange(1 << 20) for _ in range(200)]
    ys += [p - 1 - rng.randrange(1 << 64) for _ in range(200)]
    a, b = ints_to_limbs(xs), ints_to_limbs(ys)
    asm, port = np.empty_like(a), np.empty_like(a)
    rows(a, b, asm, False)
    rows(a, b, port, True)
    rinv = pow(1 << 256, -1, p)
    assert limbs_to_ints(asm) == [x * y * rinv % p for x, y in zip(xs, ys, strict=True)]
    assert np.array_equal(asm, port)


@needs_adx
def test_field_kernels_use_the_asm_product_and_agree_with_ints():
    """fq_mul / fr_mul (what the curve, MSM and NTT kernels inline) and the powers built on
    them: inverses and square roots."""
    rng = random.Random(7)
    for p, mul, inv in ((Q, kq.fq_mul, kq.fq_inv), (R, kr.fr_mul, kr.fr_inv)):
        mp = MontParams.of(p)
        for _ in range(50):
            x, y = rng.randrange(1, p), rng.randrange(p)
            xm = ints_to_limbs([x * (1 << 256) % p])[0]
            ym = ints_to_limbs([y * (1 << 256) % p])[0]
            got = limbs_to_ints(np.array([mul(tuple(xm), tuple(ym))], dtype=np.uint64))[0]
            assert got == x * y * (1 << 256) % p
            xi = limbs_to_ints(np.array([inv(tuple(xm))], dtype=np.uint64))[0]
            assert xi * x % p == (1 << 256) % p  # Montgomery form of x^-1 times x: one
        assert limbs_to_ints(np.array([inv(mp.one)], dtype=np.uint64))[0] == (1 << 256) % p
    s = rng.randrange(1, Q) ** 2 % Q
    root, ok = kq.fq_sqrt(tuple(ints_to_limbs([s * (1 << 256) % Q])[0]))
    r_int = limbs_to_ints(np.array([root], dtype=np.uint64))[0] * pow(1 << 256, -1, Q) % Q
    assert ok and r_int * r_int % Q == s


@njit
def _one_fq(a, b):
    return _FQ_MUL(a, b)


@needs_adx
def test_machine_code_has_the_dual_carry_chains():
    """fq_mul / fr_mul call the intrinsic (their code may come from Numba's cache, which keeps
    no assembly text): compiled here, it is one block of MULX, ADCX and ADOX, no call."""
    for fn in (kq.fq_mul, kr.fr_mul):
        assert "_ASM_MUL" in fn.py_func.__code__.co_names
    one = kq.FQ.one
    _one_fq(one, one)
    asm = _one_fq.inspect_asm(_one_fq.signatures[0])
    block = re.sub(r"#.*", "", asm.split("#APP")[1].split("#NO_APP")[0])
    counts = {op: len(re.findall(rf"\b{op}\b", block)) for op in ("mulxq", "adcxq", "adoxq")}
    text = adx.mont_mul_text(int(kq.FQ.pinv))
    assert counts["mulxq"] == 32  # 16 for a*b, 16 for the reductions m*p
    assert counts == {op: len(re.findall(rf"\b{op}\b", text)) for op in counts}
    assert "call" not in block


def test_forcing_the_portable_product():
    """ZKPROVE_FIELD_ASM=0: the portable CIOS, Numba's cache moved aside (its entries do not
    record which product a kernel inlined), and a native library of its own."""
    env = dict(os.environ, ZKPROVE_FIELD_ASM="0")
    script = ("from numba.core import config\nfrom prover.kernels.cpu import adx\n"
              "from prover.kernels import native\n"
              "print(adx.ENABLED, config.CACHE_DIR or '-', native.build_key())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    assert out[0] == "False"
    if adx.host_supports():
        assert out[1].endswith("portable-field")
    assert out[2] != native.build_key()


@needs_adx
def test_native_library_holds_the_asm_product():
    """ADCX r64 (66 REX.W 0F 38 F6) and ADOX r64 (F3 REX.W 0F 38 F6) in the built library."""
    k = native.load()
    assert k is not None, native.unavailable_reason()
    code = native.library_path().read_bytes()
    assert len(re.findall(rb"\x66[\x48-\x4f]\x0f\x38\xf6", code)) > 100
    assert len(re.findall(rb"\xf3[\x48-\x4f]\x0f\x38\xf6", code)) > 100


@pytest.mark.slow
@needs_adx
def test_portable_proof_is_the_asm_proof(tmp_path):
    """Same key, witness, r and s: the same proof bytes from the portable product (another
    process: the switch is read at import) as from the assembly one."""
    from prover.formats.wtns import write_wtns
    from prover.groth16 import prove
    from tests.support.snark import tiny_key

    zkey = tiny_key(tmp_path / "k.zkey", 1)
    write_wtns(tmp_path / "w.wtns", [1, 9, 3])
    script = ("import json, sys\nfrom prover.groth16 import prove\n"
              f"res = prove({str(zkey)!r}, {str(tmp_path / 'w.wtns')!r}, r=11, s=13, "
              "kernels=True)\nprint(json.dumps([res.device, repr(res.proof)]))")
    env = dict(os.environ, ZKPROVE_FIELD_ASM="0")
    device, proof = json.loads(subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env,
        check=True).stdout.strip().splitlines()[-1])
    ours = prove(zkey, tmp_path / "w.wtns", r=11, s=13, kernels=True)
    assert proof == repr(ours.proof)
    assert device.startswith("CPU")
