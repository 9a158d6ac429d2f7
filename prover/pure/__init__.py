"""BN254 on plain Python ints, for the small sizes where compiled kernels do not pay.

No numpy and no Numba: importing this package costs milliseconds, where loading the Numba
kernels costs about a second. `field` (Fq2, Fq6, Fq12), `curve` (G1/G2 checks, group law, MSM),
`pairing` (the optimal ate pairing-product check) are exact twins of `prover.kernels.cpu`,
checked against py_ecc and the kernels in tests/prover/test_pure.py. Points use the Python-int
shapes of `prover.curves`: G1 (x, y), G2 ((x0, x1), (y0, y1)), None for infinity.
"""
