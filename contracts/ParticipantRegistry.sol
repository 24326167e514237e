// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title Participants, roles, the operator and the pause switch of the receivable platform.
/// @notice Only registered (KYC'd) participants take part; the operator registers them.
/// @dev Abstract and inherited by ReceivableToken, so a participant's roles, its ERC-721 token
/// count and its participant id share one storage word: every value move reads that word anyway
/// (policy), and counting a new holder's token then costs a warm SSTORE instead of a fresh
/// 22,100-gas one. The id (assigned once, at first registration, never reused) lets a token's
/// storage word name its owner in 32 bits instead of 160, which leaves room there for the
/// token's redemption checkpoint and approval epoch.
abstract contract ParticipantRegistry is IParticipantRegistry {
    uint8 public constant ROLE_OPERATOR = 1;
    uint8 public constant ROLE_DEBTOR = 2;
    uint8 public constant ROLE_SUPPLIER = 4;
    uint8 public constant ROLE_FINANCIER = 8;
    uint8 public constant ROLE_ANCHORER = 16;
    uint8 public constant ROLE_AUDITOR = 32;

    /// Layout of an account word: roles in bits 0..7, ERC-721 token count in bits 8..71,
    /// participant id in bits 72..103 (0: never registered).
    uint256 internal constant _ROLE_MASK = 0xff;
    uint256 internal constant _COUNT_SHIFT = 8;
    uint256 internal constant _ID_SHIFT = 72;
    uint256 internal constant _ID_MASK = 0xffffffff;

    mapping(address account => uint256 packed) internal _accounts;
    mapping(uint256 id => address account) internal _participantAt;

    address private _operator;
    address private _pendingOperator;
    bool private _paused;
    uint32 private _lastId; // ids handed out so far; 2**32 - 1 registrations at most

    modifier onlyOperator() {
        _checkOperator();
        _;
    }

    /// @dev Reverts while paused. The check is a shared function: written into each function, as
    /// a modifier's body is, it would not fit the token within the 24,576-byte code limit.
    modifier whenNotPaused() {
        _checkNotPaused();
        _;
    }

    /// @dev `whenNotPaused` written into the function, for the value paths whose gas is measured
    /// against targets (transfers, splits, offers and their acceptance, repayment, collection,
    /// redemption): they save the ~25 gas of the call.
    modifier whenNotPausedInline() {
        if (_paused) revert EnforcedPause();
        _;
    }

    constructor(address operator_) {
        if (operator_ == address(0)) revert ZeroAddress();
        _operator = operator_;
        _accounts[operator_] = _withId(operator_, 0) | ROLE_OPERATOR;
        emit OperatorTransferred(address(0), operator_);
        emit RolesSet(operator_, ROLE_OPERATOR);
    }

    /// @inheritdoc IParticipantRegistry
    function operator() public view returns (address) {
        return _operator;
    }

    /// @inheritdoc IParticipantRegistry
    function pendingOperator() external view returns (address) {
        return _pendingOperator;
    }

    /// @inheritdoc IParticipantRegistry
    function rolesOf(address account) public view returns (uint8) {
        return uint8(_accounts[account] & _ROLE_MASK);
    }

    /// @inheritdoc IParticipantRegistry
    function hasRole(address account, uint8 role) public view returns (bool) {
        return role != 0 && uint8(_accounts[account] & _ROLE_MASK) & role == role;
    }

    /// @inheritdoc IParticipantRegistry
    function paused() public view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IParticipantRegistry
    function setRoles(address account, uint8 roles) external onlyOperator {
        if (account == address(0)) revert ZeroAddress();
        _setRoles(account, roles);
    }

    /// @inheritdoc IParticipantRegistry
    function transferOperator(address newOperator) external onlyOperator {
        if (newOperator == address(0)) revert ZeroAddress();
        _pendingOperator = newOperator;
        emit OperatorTransferStarted(msg.sender, newOperator);
    }

    /// @inheritdoc IParticipantRegistry
    function acceptOperator() external {
        if (msg.sender != _pendingOperator) revert NotPendingOperator(msg.sender);
        address previous = _operator;
        _operator = msg.sender;
        delete _pendingOperator;
        // the role bit follows the role, so `rolesOf` names the operator
        _setRoles(previous, rolesOf(previous) & ~ROLE_OPERATOR);
        _setRoles(msg.sender, rolesOf(msg.sender) | ROLE_OPERATOR);
        emit OperatorTransferred(previous, msg.sender);
    }

    /// @inheritdoc IParticipantRegistry
    function pause() external onlyOperator {
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IParticipantRegistry
    function unpause() external onlyOperator {
        _paused = false;
        emit Unpaused(msg.sender);
    }

    /// @dev Sets `account`'s roles, giving it a participant id if it gets roles and had none.
    function _setRoles(address account, uint8 roles) private {
        uint256 word = _accounts[account];
        if (roles != 0) word = _withId(account, word);
        _accounts[account] = (word & ~_ROLE_MASK) | roles;
        emit RolesSet(account, roles);
    }

    function _checkNotPaused() private view {
        if (_paused) revert EnforcedPause();
    }

    /// @dev Reverts unless the operator calls. A function, not inlined into each operator-only
    /// function by the modifier, to keep the token's code within the 24,576-byte limit.
    function _checkOperator() private view {
        if (msg.sender != _operator) revert NotOperator(msg.sender);
    }

    /// @dev `word` (the account word of `account`) with a participant id, a new one if it had none.
    function _withId(address account, uint256 word) internal returns (uint256) {
        if ((word >> _ID_SHIFT) & _ID_MASK != 0) return word;
        uint256 id = ++_lastId; // checked: a 2**32-th registration reverts instead of wrapping
        _participantAt[id] = account;
        return word | (id << _ID_SHIFT);
    }

    /// @dev The participant id of `account` (0: never registered).
    function _idOf(address account) internal view returns (uint256) {
        return (_accounts[account] >> _ID_SHIFT) & _ID_MASK;
    }

    function _requireRole(address account, uint8 role) internal view {
        if (!hasRole(account, role)) revert MissingRole(account, role);
    }

    /// @dev The one way "registered" is written: `account`'s participant id, reverting with
    /// `NotRegistered` unless it holds a role.
    function _registeredId(address account) internal view returns (uint256) {
        uint256 word = _accounts[account];
        if (word & _ROLE_MASK == 0) revert NotRegistered(account);
        return (word >> _ID_SHIFT) & _ID_MASK;
    }
}
