"""A Solidity Groth16 verifier for one verification key, with snarkjs's ABI:

    verifyProof(uint[2] _pA, uint[2][2] _pB, uint[2] _pC, uint[N] _pubSignals) returns (bool)

so contracts and scripts written against `snarkjs zkey export solidityverifier` keep working
(calldata from `zkey export soliditycalldata`: G2 coordinates imaginary part first, EIP-197).
The contract returns false for a public signal >= r, else asks the precompiles whether
e(A, B) * e(alpha, -beta) * e(vk_x, -gamma) * e(C, -delta) == 1, vk_x = IC_0 + sum x_i IC_i,
with -beta, -gamma, -delta negated here, once; a coordinate >= q or a point off the curve or
outside G2's subgroup makes a precompile fail and the function return false. See docs/prover.md.
"""

from __future__ import annotations

from prover.constants import Q, R
from prover.formats.snarkjs_json import VerificationKey

PRAGMA = ">=0.8.4 <0.9.0"


def _g1(p) -> tuple[int, int]:
    if p is None:
        return 0, 0  # the EVM's encoding of the point at infinity
    return p[0], p[1]


def _neg_g2_evm(p) -> tuple[int, int, int, int]:
    """-P as the precompile's words: x.c1, x.c0, y.c1, y.c0 (infinity stays zeros)."""
    if p is None:
        return 0, 0, 0, 0
    (x0, x1), (y0, y1) = p
    return x1, x0, (Q - y1) % Q, (Q - y0) % Q


def groth16_verifier_source(vk: VerificationKey, contract: str = "Groth16Verifier") -> str:
    """Solidity source of a verifier for `vk` (any number of public signals >= 1)."""
    n = vk.n_public
    if n < 1:
        raise ValueError("a verifier needs at least one public signal (uint[0] is not Solidity)")
    if len(vk.ic) != n + 1:
        raise ValueError(f"verification key has {len(vk.ic)} IC points for {n} public signals")

    consts: list[tuple[str, int]] = [("R", R), ("Q", Q)]
    consts += list(zip(("ALPHA_X", "ALPHA_Y"), _g1(vk.alpha1), strict=True))
    for name, p in (("BETA", vk.beta2), ("GAMMA", vk.gamma2), ("DELTA", vk.delta2)):
        consts += list(zip((f"N{name}_X1", f"N{name}_X0", f"N{name}_Y1", f"N{name}_Y0"),
                           _neg_g2_evm(p), strict=True))
    for i, p in enumerate(vk.ic):
        consts += list(zip((f"IC{i}_X", f"IC{i}_Y"), _g1(p), strict=True))
    decl = "\n".join(f"    uint256 private constant {k} =\n        {v};" for k, v in consts)

    terms = "\n".join(
        f"            s := calldataload(add(_pubSignals, {32 * (i - 1):#x}))\n"
        f"            if iszero(lt(s, R)) {{ return(0x60, 0x20) }}\n"
        f"            mstore(t, IC{i}_X)\n"
        f"            mstore(add(t, 0x20), IC{i}_Y)\n"
        f"            mstore(add(t, 0x40), s)\n"
        f"            ok := and(ok, staticcall(gas(), 0x07, t, 0x60, add(p, 0x1c0), 0x40))\n"
        f"            ok := and(ok, staticcall(gas(), 0x06, add(p, 0x180), 0x80, "
        f"add(p, 0x180), 0x40))"
        for i in range(1, n + 1))

    return f"""// SPDX-License-Identifier: MIT
pragma solidity {PRAGMA};

/// @title Groth16 verifier (BN254) for one verification key ({n} public signals).
/// @notice Written by `zkprove zkey export solidityverifier`; the ABI of snarkjs's verifier.
/// Accepts when e(A, B) * e(alpha, -beta) * e(vk_x, -gamma) * e(C, -delta) == 1 (precompile
/// 0x08), vk_x = IC0 + sum_i pubSignals[i] * IC(i+1); a public signal >= r returns false.
contract {contract} {{
{decl}

    /// @notice True iff (_pA, _pB, _pC) is a valid proof for _pubSignals. G2 coordinates are in
    /// the EVM's order: [x.c1, x.c0], [y.c1, y.c0].
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata _pB,
        uint256[2] calldata _pC,
        uint256[{n}] calldata _pubSignals
    ) public view returns (bool) {{
        assembly {{
            // p: four pairs (G1 x, y | G2 x.c1, x.c0, y.c1, y.c0), the 24 words 0x08 reads;
            // t: three words of ecMul input after them. Free memory, never handed back.
            let p := mload(0x40)
            let t := add(p, 0x300)
            // vk_x accumulates in words 12-13 (pair 2's G1); each term lands in words 14-15
            // (ecMul output), then ecAdd adds words 12-15 in place. Word 0x60 of scratch is
            // Solidity's zero slot: returning it returns false.
            mstore(add(p, 0x180), IC0_X)
            mstore(add(p, 0x1a0), IC0_Y)
            let ok := 1
            let s := 0
{terms}
            calldatacopy(p, _pA, 0x40)
            calldatacopy(add(p, 0x40), _pB, 0x80)
            mstore(add(p, 0xc0), ALPHA_X)
            mstore(add(p, 0xe0), ALPHA_Y)
            mstore(add(p, 0x100), NBETA_X1)
            mstore(add(p, 0x120), NBETA_X0)
            mstore(add(p, 0x140), NBETA_Y1)
            mstore(add(p, 0x160), NBETA_Y0)
            mstore(add(p, 0x1c0), NGAMMA_X1)
            mstore(add(p, 0x1e0), NGAMMA_X0)
            mstore(add(p, 0x200), NGAMMA_Y1)
            mstore(add(p, 0x220), NGAMMA_Y0)
            calldatacopy(add(p, 0x240), _pC, 0x40)
            mstore(add(p, 0x280), NDELTA_X1)
            mstore(add(p, 0x2a0), NDELTA_X0)
            mstore(add(p, 0x2c0), NDELTA_Y1)
            mstore(add(p, 0x2e0), NDELTA_Y0)
            // 0x08 writes 1 iff the product of the pairings is one; on failure ok is 0
            ok := and(ok, staticcall(gas(), 0x08, p, 0x300, p, 0x20))
            mstore(0, and(ok, eq(mload(p), 1)))
            return(0, 0x20)
        }}
    }}
}}
"""
