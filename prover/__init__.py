"""Groth16 over BN254: fields -> curves -> MSM/NTT -> groth16, compatible with snarkjs files.

This package proves any R1CS; it never imports `circuits` or `rollup`.
"""
