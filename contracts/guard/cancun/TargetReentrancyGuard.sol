// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title The reentrancy guard of the Cancun build: the lock lives in transient storage.
/// @notice Contracts import `@scf/guard/TargetReentrancyGuard.sol`; the build maps that path to
/// this folder for Cancun and to `contracts/guard/paris/` for chains without transient storage.
/// Both guards keep their lock out of the contract's storage layout and revert with
/// `ReentrancyGuardReentrantCall()`, so the two builds differ only in gas and opcodes.
abstract contract TargetReentrancyGuard is ReentrancyGuardTransient {}
