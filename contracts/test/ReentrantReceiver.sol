// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IRollupWithdraw {
    function withdraw(uint8 asset) external;
}

/// Test helper: a withdrawal recipient whose receive() calls withdraw again.
/// swallow = false: the re-entry's revert propagates, so the whole withdrawal must fail.
/// swallow = true: the re-entry is caught, so the withdrawal may succeed, paid exactly once.
contract ReentrantReceiver {
    IRollupWithdraw public immutable rollup;
    bool public swallow;
    uint256 public reentryAttempts;
    uint256 public reentryFailures;

    constructor(IRollupWithdraw rollup_) {
        rollup = rollup_;
    }

    function setSwallow(bool s) external {
        swallow = s;
    }

    function attack() external {
        rollup.withdraw(0);
    }

    receive() external payable {
        if (reentryAttempts > 0) return;
        reentryAttempts += 1;
        if (swallow) {
            try rollup.withdraw(0) {} catch {
                reentryFailures += 1;
            }
        } else {
            rollup.withdraw(0);
        }
    }
}
