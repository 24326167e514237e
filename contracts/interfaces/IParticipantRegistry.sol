// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Who may take part, and in which roles: the participant registry's whole surface.
/// @notice Roles are a bitmask (OPERATOR 1, DEBTOR 2, SUPPLIER 4, FINANCIER 8, ANCHORER 16,
/// AUDITOR 32); an account is registered while its roles are non-zero. One operator, handed
/// over in two steps; a pause switch for every non-administrative state change.
interface IParticipantRegistry {
    /// @notice `account` now holds `roles` (0: deregistered).
    /// @param account the participant.
    /// @param roles its new role bitmask.
    event RolesSet(address indexed account, uint8 roles);
    /// @notice The operator started handing its role to `to`, who must accept it.
    /// @param from the operator.
    /// @param to the address that may accept.
    event OperatorTransferStarted(address indexed from, address indexed to);
    /// @notice The operator role moved from `from` to `to`.
    /// @param from the previous operator (0 at deployment).
    /// @param to the new operator.
    event OperatorTransferred(address indexed from, address indexed to);
    /// @notice The platform was paused.
    /// @param by the operator.
    event Paused(address indexed by);
    /// @notice The pause was lifted.
    /// @param by the operator.
    event Unpaused(address indexed by);

    /// @notice Only the operator may call this.
    /// @param caller who called.
    error NotOperator(address caller);
    /// @notice Only the pending operator may accept the role.
    /// @param caller who called.
    error NotPendingOperator(address caller);
    /// @notice `account` lacks a role this call needs.
    /// @param account the account checked.
    /// @param role the role bit(s) required.
    error MissingRole(address account, uint8 role);
    /// @notice `account` is not a registered participant (it holds no role).
    /// @param account the account checked.
    error NotRegistered(address account);
    /// @notice The platform is paused.
    error EnforcedPause();
    /// @notice The zero address is not allowed here.
    error ZeroAddress();

    /// @notice The role bitmask of `account` (0: not registered).
    function rolesOf(address account) external view returns (uint8);
    /// @notice Whether `account` holds every role bit in `role`.
    function hasRole(address account, uint8 role) external view returns (bool);
    /// @notice The operator of the platform.
    function operator() external view returns (address);
    /// @notice The address that may accept the operator role, if a hand-over is under way.
    function pendingOperator() external view returns (address);
    /// @notice Whether state changes other than administration are blocked.
    function paused() external view returns (bool);
    /// @notice Set `account`'s roles (bitmask; 0 deregisters). A deregistered holder keeps its
    /// tokens and is still paid at redemption, but can neither send nor receive value.
    function setRoles(address account, uint8 roles) external;
    /// @notice Start handing the operator role to `newOperator`, who must accept it; a new call
    /// replaces the pending one. The operator stays in office until the acceptance.
    function transferOperator(address newOperator) external;
    /// @notice Accept the operator role offered by `transferOperator`. The OPERATOR role bit moves
    /// with it (`RolesSet` for both addresses), so `rolesOf` names the operator; the previous
    /// operator keeps any other role bits it had.
    function acceptOperator() external;
    /// @notice Block every non-administrative state change.
    function pause() external;
    /// @notice Lift the pause.
    function unpause() external;
}
