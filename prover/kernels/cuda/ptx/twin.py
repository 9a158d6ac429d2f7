"""CPU twin of the CUDA C field arithmetic of `source.py`: the same 32-bit limb algorithm, one
Python call per PTX instruction, with the carry flag CC.CF modelled as PTX defines it.

Elements are lists of 8 little-endian uint32 words (Montgomery form, [0, p)). The twin exists to
check the limb algorithm (chains, bounds, the no-carry CIOS shortcut) against Python integers
where no GPU runs; tests/prover/kernels/test_cuda_ptx_native.py compares it on edge and random
inputs. Slow by design: a product is ~300 calls.
"""

from __future__ import annotations

from dataclasses import dataclass

M32 = 0xFFFFFFFF


class Cc:
    """The condition-code carry flag and the PTX integer instructions that read or write it."""

    def __init__(self) -> None:
        self.cf = 0

    def _sum(self, total: int, write: bool) -> int:
        if write:
            self.cf = total >> 32
        return total & M32

    def add_cc(self, a, b):
        return self._sum(a + b, True)

    def addc_cc(self, a, b):
        return self._sum(a + b + self.cf, True)

    def addc(self, a, b):
        return self._sum(a + b + self.cf, False)

    def _diff(self, a: int, b: int, write: bool) -> int:
        d = a - b
        if write:
            self.cf = int(d < 0)  # sub.cc: the borrow-out
        return d & M32

    def sub_cc(self, a, b):
        return self._diff(a, b, True)

    def subc_cc(self, a, b):
        return self._diff(a, b + self.cf, True)

    def subc(self, a, b):
        return self._diff(a, b + self.cf, False)

    def mad_lo_cc(self, a, b, c):
        return self._sum(((a * b) & M32) + c, True)

    def madc_lo_cc(self, a, b, c):
        return self._sum(((a * b) & M32) + c + self.cf, True)

    def mad_hi_cc(self, a, b, c):
        return self._sum((a * b >> 32) + c, True)

    def madc_hi_cc(self, a, b, c):
        return self._sum((a * b >> 32) + c + self.cf, True)

    def madc_hi(self, a, b, c):
        return self._sum((a * b >> 32) + c + self.cf, False)


@dataclass(frozen=True)
class Field:
    modulus: int

    @property
    def p(self) -> list[int]:
        return to_words(self.modulus)

    @property
    def inv(self) -> int:
        return (-pow(self.modulus, -1, 1 << 32)) % (1 << 32)


def to_words(x: int) -> list[int]:
    return [(x >> (32 * i)) & M32 for i in range(8)]


def from_words(w: list[int]) -> int:
    return sum(v << (32 * i) for i, v in enumerate(w))


def reduce_once(F: Field, t: list[int]) -> list[int]:
    cc, p = Cc(), F.p
    d = [cc.sub_cc(t[0], p[0])] + [cc.subc_cc(t[j], p[j]) for j in range(1, 8)]
    br = cc.subc(0, 0)
    return [(t[j] & br) | (d[j] & (~br & M32)) for j in range(8)]


def add(F: Field, a: list[int], b: list[int]) -> list[int]:
    cc = Cc()
    s = [cc.add_cc(a[0], b[0])] + [cc.addc_cc(a[j], b[j]) for j in range(1, 7)]
    s.append(cc.addc(a[7], b[7]))
    return reduce_once(F, s)


def sub(F: Field, a: list[int], b: list[int]) -> list[int]:
    cc, p = Cc(), F.p
    d = [cc.sub_cc(a[0], b[0])] + [cc.subc_cc(a[j], b[j]) for j in range(1, 8)]
    m = cc.subc(0, 0)
    out = [cc.add_cc(d[0], p[0] & m)] + [cc.addc_cc(d[j], p[j] & m) for j in range(1, 7)]
    out.append(cc.addc(d[7], p[7] & m))
    return out


def _chains(cc: Cc, t: list[int], x: int, y: list[int], t8: int) -> None:
    """CHAINS of source.py: t += x * y as the even-word chain (t0..t7, carry into t8 = t8 +
    carry) and the odd-word chain (t1..t8), lo/hi halves of each product side by side."""
    for j in range(0, 8, 2):
        lo = cc.mad_lo_cc if j == 0 else cc.madc_lo_cc
        t[j] = lo(x, y[j], t[j])
        t[j + 1] = cc.madc_hi_cc(x, y[j], t[j + 1])
    t[8] = cc.addc(t8, 0)
    for j in range(1, 8, 2):
        lo = cc.mad_lo_cc if j == 1 else cc.madc_lo_cc
        t[j] = lo(x, y[j], t[j])
        hi = cc.madc_hi if j == 7 else cc.madc_hi_cc  # no carry out of t8 (the bound)
        t[j + 1] = hi(x, y[j], t[j + 1])


def mul(F: Field, a: list[int], b: list[int]) -> list[int]:
    """f_mul of source.py: per row, t += a_i * b, m = t0 * (-p^-1) mod 2^32, t += m * p (each
    as two carry chains), then the shift by one word (t0 is zero)."""
    cc, p = Cc(), F.p
    t = [0] * 9
    for i in range(8):
        _chains(cc, t, a[i], b, 0)
        _chains(cc, t, (t[0] * F.inv) & M32, p, t[8])
        if t[0]:  # m was chosen to clear it
            raise ArithmeticError("CIOS row left a nonzero low word")
        t = t[1:] + [0]
    return reduce_once(F, t[:8])
