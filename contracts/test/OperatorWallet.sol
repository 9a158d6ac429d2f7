// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Test helper: a contract wallet that forwards calls (e.g. a multisig operator submitting
/// batches), so the Rollup sees msg.sender = this contract and no transaction input of its own.
contract OperatorWallet {
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function exec(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "not owner");
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}
