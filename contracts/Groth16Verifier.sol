// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Groth16 verifier on BN254 for exactly one public input.
/// @notice The verification key is fixed at deployment and lives in immutables (PUSH32 in the
/// runtime code), so one compiled contract serves every trusted setup with one public input.
///
/// Groth16 accepts a proof (A, B, C) for the public input x when
///     e(A, B) = e(alpha, beta) * e(vk_x, gamma) * e(C, delta),   vk_x = IC0 + x * IC1.
/// It is checked in the form the EIP-197 pairing precompile takes, a product equal to one:
///     e(A, B) * e(alpha, -beta) * e(vk_x, -gamma) * e(C, -delta) = 1,
/// with -beta, -gamma, -delta computed once in the constructor (negating a G2 point negates both
/// Fq2 components of y), so nothing is negated per call.
///
/// Gas (EIP-1108): ecMul 6,000 + ecAdd 150 + pairing 45,000 + 4 * 34,000 = 187,150, plus a few
/// hundred for range checks and memory.
///
/// Encoding. The proof is uint256[8] = [A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y]:
/// G2 coordinates are in the EVM's order, imaginary part first (EIP-197), the opposite of
/// snarkjs's JSON, which writes [c0, c1]. The constructor takes G2 points in the same EVM order.
///
/// Failure policy. A malformed encoding reverts with a custom error: a public input >= r
/// (PublicInputNotInField) or a proof coordinate >= q (ProofCoordinateNotInField, with the index
/// into the uint256[8]). Well-encoded input that is not a valid proof returns false: a point off
/// the curve or outside the G2 subgroup (the precompile fails) or a pairing product != 1.
contract Groth16Verifier {
    /// BN254 base field modulus q.
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// BN254 scalar field modulus r (the group order).
    uint256 internal constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    error PublicInputNotInField();
    error ProofCoordinateNotInField(uint256 index);
    error VerificationKeyNotInField();

    uint256 private immutable ALPHA_X;
    uint256 private immutable ALPHA_Y;
    // -beta, -gamma, -delta in EVM order: x.c1, x.c0, y.c1, y.c0.
    uint256 private immutable NBETA_X1;
    uint256 private immutable NBETA_X0;
    uint256 private immutable NBETA_Y1;
    uint256 private immutable NBETA_Y0;
    uint256 private immutable NGAMMA_X1;
    uint256 private immutable NGAMMA_X0;
    uint256 private immutable NGAMMA_Y1;
    uint256 private immutable NGAMMA_Y0;
    uint256 private immutable NDELTA_X1;
    uint256 private immutable NDELTA_X0;
    uint256 private immutable NDELTA_Y1;
    uint256 private immutable NDELTA_Y0;
    uint256 private immutable IC0_X;
    uint256 private immutable IC0_Y;
    uint256 private immutable IC1_X;
    uint256 private immutable IC1_Y;

    /// @param alpha  G1 (x, y)
    /// @param beta   G2 [x.c1, x.c0, y.c1, y.c0]
    /// @param gamma  G2 [x.c1, x.c0, y.c1, y.c0]
    /// @param delta  G2 [x.c1, x.c0, y.c1, y.c0]
    /// @param ic     [IC0.x, IC0.y, IC1.x, IC1.y]
    constructor(
        uint256[2] memory alpha,
        uint256[4] memory beta,
        uint256[4] memory gamma,
        uint256[4] memory delta,
        uint256[4] memory ic
    ) {
        _checkField(alpha[0]);
        _checkField(alpha[1]);
        for (uint256 i; i < 4; ++i) {
            _checkField(beta[i]);
            _checkField(gamma[i]);
            _checkField(delta[i]);
            _checkField(ic[i]);
        }
        ALPHA_X = alpha[0];
        ALPHA_Y = alpha[1];
        NBETA_X1 = beta[0];
        NBETA_X0 = beta[1];
        NBETA_Y1 = _neg(beta[2]);
        NBETA_Y0 = _neg(beta[3]);
        NGAMMA_X1 = gamma[0];
        NGAMMA_X0 = gamma[1];
        NGAMMA_Y1 = _neg(gamma[2]);
        NGAMMA_Y0 = _neg(gamma[3]);
        NDELTA_X1 = delta[0];
        NDELTA_X0 = delta[1];
        NDELTA_Y1 = _neg(delta[2]);
        NDELTA_Y0 = _neg(delta[3]);
        IC0_X = ic[0];
        IC0_Y = ic[1];
        IC1_X = ic[2];
        IC1_Y = ic[3];
    }

    /// @notice True iff `proof` is a valid Groth16 proof for the public input `input`.
    function verifyProof(uint256[8] calldata proof, uint256 input) external view returns (bool) {
        if (input >= R) revert PublicInputNotInField();
        for (uint256 i; i < 8; ++i) {
            if (proof[i] >= Q) revert ProofCoordinateNotInField(i);
        }

        // Four pairs of (G1 x, y, G2 x.c1, x.c0, y.c1, y.c0): 24 words, the EIP-197 input.
        uint256[24] memory p;
        // vk_x = IC0 + input * IC1 via ecMul (0x07, EIP-196) into words 12..13 of p, then
        // ecAdd (0x06) with IC0 in place.
        uint256[4] memory t;
        t[0] = IC1_X;
        t[1] = IC1_Y;
        t[2] = input;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, t, 0x60, add(t, 0x40), 0x40)
        }
        t[0] = IC0_X;
        t[1] = IC0_Y;
        assembly ("memory-safe") {
            ok := and(ok, staticcall(gas(), 0x06, t, 0x80, add(p, 0x180), 0x40))
            // pair 0: A (words 0-1), B (words 2-5), straight from calldata
            calldatacopy(p, proof, 0xc0)
            // pair 3: C at words 18-19
            calldatacopy(add(p, 0x240), add(proof, 0xc0), 0x40)
        }
        p[6] = ALPHA_X;
        p[7] = ALPHA_Y;
        p[8] = NBETA_X1;
        p[9] = NBETA_X0;
        p[10] = NBETA_Y1;
        p[11] = NBETA_Y0;
        p[14] = NGAMMA_X1;
        p[15] = NGAMMA_X0;
        p[16] = NGAMMA_Y1;
        p[17] = NGAMMA_Y0;
        p[20] = NDELTA_X1;
        p[21] = NDELTA_X0;
        p[22] = NDELTA_Y1;
        p[23] = NDELTA_Y0;
        assembly ("memory-safe") {
            // 0x08 (EIP-197) writes 1 iff the product of the four pairings is one. On failure
            // nothing is written and ok is already 0.
            ok := and(ok, staticcall(gas(), 0x08, p, 0x300, p, 0x20))
            ok := and(ok, eq(mload(p), 1))
        }
        return ok;
    }

    function _checkField(uint256 v) private pure {
        if (v >= Q) revert VerificationKeyNotInField();
    }

    /// -y mod q, keeping 0 as 0 (the encoding of the point at infinity).
    function _neg(uint256 y) private pure returns (uint256) {
        return y == 0 ? 0 : Q - y;
    }
}
