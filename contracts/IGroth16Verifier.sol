// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// One-public-input Groth16 verifier as the rollup calls it (Groth16Verifier implements it).
/// proof = [A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y], G2 imaginary part first.
interface IGroth16Verifier {
    function verifyProof(uint256[8] calldata proof, uint256 input) external view returns (bool);
}
