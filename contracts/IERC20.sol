// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// The part of ERC-20 the rollup uses.
interface IERC20 {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}
