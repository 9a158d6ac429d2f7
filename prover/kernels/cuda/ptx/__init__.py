"""Field and G1 arithmetic in CUDA C with PTX carry chains (add.cc/addc/mad.lo.cc/madc.hi.cc),
which Numba cannot emit: 8 x 32-bit limbs, the same bytes and Montgomery form as the Numba
kernels' 4 x 64-bit limbs.

`source` holds the CUDA C text, `nvrtc` compiles it to PTX for a named architecture without a
GPU (ctypes over libnvrtc), `twin` models its limb algorithm instruction for instruction on the
CPU, `hostemu` builds the same text as C++ for the CPU (tests: formulas, the MSM round), and
`launch` loads it with CuPy on a device; the MSM's batch-affine rounds run it for G1 there
(`field="ptx"`), the Numba kernels otherwise.
"""
