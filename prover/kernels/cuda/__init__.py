"""CUDA kernels (Numba CUDA) for the prover: the sibling of `kernels/cpu` with the same layout.

`field`/`fr`/`fq` hold Montgomery arithmetic as device functions, `curve` the Jacobian formulas
for G1 and G2, `ntt` and `msm` the kernels and their host-side drivers, `memory` the device
arrays, `compile` the kernel registry used to check PTX compilation without a GPU.

Every kernel also runs under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), which is how the
kernels are tested on machines without a GPU: see `word.SIMULATOR`.
"""
