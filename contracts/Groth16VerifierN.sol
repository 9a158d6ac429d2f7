// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Groth16 verifier on BN254 for any fixed number N of public inputs.
/// @notice Same check, encoding and failure policy as Groth16Verifier (see there): proof is
/// uint256[8] with G2 in EVM order (imaginary part first), inputs must be < r, coordinates < q.
///
/// Where the IC points live. alpha, -beta, -gamma, -delta are immutables. The N + 1 IC points
/// cannot be (immutables are fixed-size value types), so the constructor writes them as the code
/// of a data-only contract and verifyProof reads them with one EXTCODECOPY. Reading code costs
/// 2,600 (cold account, EIP-2929) + 3 per word once, against 2 * 2,100 per IC point for cold
/// SLOADs from storage, so code wins from N = 1 and the cost per input stays at the precompile
/// floor: ecMul 6,000 + ecAdd 150 (EIP-1108) plus a few dozen gas.
/// The data contract's code is 0x00 (STOP, so calls to it do nothing) followed by
/// IC0.x, IC0.y, IC1.x, IC1.y, ... as 32-byte big-endian words.
contract Groth16VerifierN {
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    error PublicInputNotInField(uint256 index);
    error ProofCoordinateNotInField(uint256 index);
    error VerificationKeyNotInField();
    error WrongNumberOfInputs(uint256 expected, uint256 got);
    error DataContractCreationFailed();

    uint256 public immutable NUM_INPUTS;
    address public immutable IC_DATA;

    uint256 private immutable ALPHA_X;
    uint256 private immutable ALPHA_Y;
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

    /// @param beta, gamma, delta  G2 [x.c1, x.c0, y.c1, y.c0]
    /// @param ic                  [IC0.x, IC0.y, IC1.x, IC1.y, ...], 2 * (N + 1) words
    constructor(
        uint256[2] memory alpha,
        uint256[4] memory beta,
        uint256[4] memory gamma,
        uint256[4] memory delta,
        uint256[] memory ic
    ) {
        if (ic.length < 2 || ic.length % 2 != 0) revert WrongNumberOfInputs(0, ic.length);
        if (alpha[0] >= Q || alpha[1] >= Q) revert VerificationKeyNotInField();
        for (uint256 i; i < 4; ++i) {
            if (beta[i] >= Q || gamma[i] >= Q || delta[i] >= Q) revert VerificationKeyNotInField();
        }
        for (uint256 i; i < ic.length; ++i) {
            if (ic[i] >= Q) revert VerificationKeyNotInField();
        }
        NUM_INPUTS = ic.length / 2 - 1;
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
        IC_DATA = _writeData(ic);
    }

    /// @notice True iff `proof` is a valid Groth16 proof for `inputs` (exactly N of them).
    function verifyProof(uint256[8] calldata proof, uint256[] calldata inputs)
        external
        view
        returns (bool)
    {
        uint256 n = NUM_INPUTS;
        if (inputs.length != n) revert WrongNumberOfInputs(n, inputs.length);
        for (uint256 i; i < n; ++i) {
            if (inputs[i] >= R) revert PublicInputNotInField(i);
        }
        for (uint256 i; i < 8; ++i) {
            if (proof[i] >= Q) revert ProofCoordinateNotInField(i);
        }

        uint256[24] memory p;
        address data = IC_DATA;
        bool ok = true;
        assembly ("memory-safe") {
            // ic: all IC points, copied from the data contract's code after its 0x00 byte.
            let icLen := mul(add(n, 1), 0x40)
            let ic := mload(0x40)
            extcodecopy(data, ic, 1, icLen)
            // Scratch after ic: acc (2 words) followed by the current product (2 words), so
            // acc || product is the ecAdd input and [IC_i, x_i] the ecMul input.
            let s := add(ic, icLen)
            mstore(0x40, add(s, 0xc0))
            mstore(s, mload(ic))
            mstore(add(s, 0x20), mload(add(ic, 0x20)))
            let m := add(s, 0x40)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let pt := add(ic, mul(add(i, 1), 0x40))
                mstore(m, mload(pt))
                mstore(add(m, 0x20), mload(add(pt, 0x20)))
                mstore(add(m, 0x40), calldataload(add(inputs.offset, mul(i, 0x20))))
                // acc += x_i * IC_{i+1}: ecMul (0x07) into m, then ecAdd (0x06) into acc
                ok := and(ok, staticcall(gas(), 0x07, m, 0x60, m, 0x40))
                ok := and(ok, staticcall(gas(), 0x06, s, 0x80, s, 0x40))
            }
            calldatacopy(p, proof, 0xc0)
            calldatacopy(add(p, 0x240), add(proof, 0xc0), 0x40)
            mstore(add(p, 0x180), mload(s))
            mstore(add(p, 0x1a0), mload(add(s, 0x20)))
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
            ok := and(ok, staticcall(gas(), 0x08, p, 0x300, p, 0x20))
            ok := and(ok, eq(mload(p), 1))
        }
        return ok;
    }

    /// Deploys 0x00 || words as contract code. The init code (12 bytes) copies the payload that
    /// follows it to memory and returns it:
    ///   PUSH2 len  DUP1  PUSH1 0x0c  PUSH1 0  CODECOPY  PUSH1 0  RETURN
    function _writeData(uint256[] memory words) private returns (address addr) {
        bytes memory payload = abi.encodePacked(bytes1(0x00), words);
        uint256 len = payload.length;
        bytes memory init = abi.encodePacked(
            hex"61", uint16(len), hex"80600c6000396000f3", payload
        );
        assembly ("memory-safe") {
            addr := create(0, add(init, 0x20), mload(init))
        }
        if (addr == address(0)) revert DataContractCreationFailed();
    }

    function _neg(uint256 y) private pure returns (uint256) {
        return y == 0 ? 0 : Q - y;
    }
}
