// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Who may take part, and in which roles.
interface IParticipantRegistry {
    /// @notice The role bitmask of `account` (0: not registered).
    function rolesOf(address account) external view returns (uint8);
    /// @notice Whether `account` holds every role bit in `role`.
    function hasRole(address account, uint8 role) external view returns (bool);
    /// @notice The operator of the platform.
    function operator() external view returns (address);
}
