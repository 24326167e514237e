// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title The reentrancy guard of the Paris build: the lock is an ordinary storage word.
/// @notice For chains before Cancun (no TSTORE/TLOAD). The lock sits in an ERC-7201 namespaced
/// slot, not in the contract's sequential layout, and reverts with
/// `ReentrancyGuardReentrantCall()`, exactly as the Cancun build's transient guard does.
abstract contract TargetReentrancyGuard is ReentrancyGuard {}
