// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

import {IReceivableToken} from "../interfaces/IReceivableToken.sol";
import {ERC3525Base} from "./ERC3525Base.sol";

/// @title The platform's policy: who may move value, when, and in which steps.
/// @notice The operator sets the minimum unit, the maximum tenor (at most 365 days), whether
/// value may be split and whether anyone but the original creditor may move it; per debtor a
/// credit limit; the ERC-20s receivables may settle in. Every move of value or of a token is
/// checked by one function, `_checkMove`, called from the token's funnel; the terms of a new
/// receivable by `_checkTerms`, called from issuance.
/// @dev Holds the receivables' storage because the rules read it (maturity, creditor).
abstract contract ReceivablePolicy is ERC3525Base {
    struct Policy {
        uint96 minUnit;
        uint32 maxTenor;
        bool splitAllowed;
        bool transferAllowed;
        uint64 nextSerial; // token serial counter, kept here because every split reads this word
    }

    /// @inheritdoc IReceivableToken
    uint32 public constant MAX_TENOR_CEILING = 365 days;
    /// @inheritdoc IReceivableToken
    uint32 public constant DEFAULT_MAX_TENOR = 180 days;

    Policy private _policy;
    mapping(uint256 slot => Receivable) internal _receivables;
    mapping(address debtor => uint256) internal _creditLimits;
    mapping(address debtor => uint256) internal _outstanding;
    mapping(address token => bool) private _settlementTokens;

    constructor() {
        _policy = Policy({minUnit: 1, maxTenor: DEFAULT_MAX_TENOR, splitAllowed: true, transferAllowed: true, nextSerial: 0});
        emit PolicyChanged(1, DEFAULT_MAX_TENOR, true, true);
    }

    // ================================================================ administration
    /// @inheritdoc IReceivableToken
    function setSettlementToken(address token, bool allowed) external onlyOperator {
        if (token == address(0)) revert ZeroAddress();
        if (allowed) {
            uint8 d = IERC20Metadata(token).decimals();
            if (d != valueDecimals()) revert DecimalsMismatch(token, d, valueDecimals());
        }
        _settlementTokens[token] = allowed;
        emit SettlementTokenSet(token, allowed);
    }

    /// @inheritdoc IReceivableToken
    function setCreditLimit(address debtor, uint256 limit) external onlyOperator {
        _creditLimits[debtor] = limit;
        emit CreditLimitSet(debtor, limit);
    }

    /// @inheritdoc IReceivableToken
    function setPolicy(uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed) external onlyOperator {
        if (minUnit == 0 || minUnit > type(uint96).max) revert InvalidMinUnit(minUnit);
        if (maxTenor == 0 || maxTenor > MAX_TENOR_CEILING) revert TenorAboveCeiling(maxTenor);
        Policy storage p = _policy;
        p.minUnit = uint96(minUnit);
        p.maxTenor = uint32(maxTenor);
        p.splitAllowed = splitAllowed;
        p.transferAllowed = transferAllowed;
        emit PolicyChanged(minUnit, maxTenor, splitAllowed, transferAllowed);
    }

    // ================================================================ reads
    /// @inheritdoc IReceivableToken
    function policy() external view returns (uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed) {
        Policy memory p = _policy;
        return (p.minUnit, p.maxTenor, p.splitAllowed, p.transferAllowed);
    }

    /// @inheritdoc IReceivableToken
    function outstandingOf(address debtor) external view returns (uint256) {
        return _outstanding[debtor];
    }

    /// @inheritdoc IReceivableToken
    function creditLimitOf(address debtor) external view returns (uint256) {
        return _creditLimits[debtor];
    }

    /// @inheritdoc IReceivableToken
    function isSettlementToken(address token) external view returns (bool) {
        return _settlementTokens[token];
    }

    // ================================================================ the rules
    /// @dev The one rule for every move of value or of a token (called by the funnel only):
    /// - value always goes home and holders are always paid: the return of a cancelled offer's
    ///   value to its holder and redemption (burn) are not restricted;
    /// - every receiver is registered (the escrow is this contract itself);
    /// - a participant's move of value (split, merge, value into an offer): each value a
    ///   positive multiple of the minimum unit, their sum within the token's value, and all of
    ///   it to one receiver while splitting is off;
    /// - a participant's move (those, and an ERC-721 transfer): the sender is registered and not
    ///   the escrow, and is the original creditor while transfers are off;
    /// - before the receivable's maturity;
    /// - a confirmation keeps its debtor within its credit limit.
    /// The release of an offer's value to its financier was checked as a participant's move
    /// when the holder made the offer.
    function _checkMove(
        Move kind,
        uint256 tokenId,
        address from,
        address[] memory to,
        uint256[] memory values,
        uint256 balance
    ) internal view override returns (uint256 total) {
        if (kind == Move.Return || kind == Move.Burn) return values[0];
        Policy memory p = _policy;
        bool valueMove = kind == Move.Value || kind == Move.Escrow;
        bool toEscrow = kind == Move.Escrow; // the escrow is this contract itself
        uint256 unit = p.minUnit;
        uint256 n = to.length;
        for (uint256 i = 0; i < n;) {
            uint256 value = values[i];
            // (the zero address is never registered: `setRoles` refuses it)
            if (!toEscrow) _registeredId(to[i]);
            if (valueMove) {
                if (value == 0 || value % unit != 0) revert InvalidValue(value, unit);
                if (value > balance) revert InsufficientValue(tokenId, balance, value);
            }
            // Each value is below 2**96 (a participant's is within the token's value, checked
            // above; the others are a face value, a token's value or an offer's), and there are
            // at most MAX_BATCH_RECIPIENTS of them: neither the sum nor the index can overflow.
            unchecked {
                total += value;
                ++i;
            }
        }
        bool participant = valueMove || kind == Move.Whole;
        if (participant) {
            if (from == address(this)) revert TokenInEscrow(tokenId);
            _registeredId(from);
        }
        uint256 slot = tokenId >> _SLOT_SHIFT;
        uint256 maturity = _receivables[slot].maturity;
        if (block.timestamp >= maturity) revert SlotMatured(slot, maturity);
        if (kind == Move.Mint) {
            address debtor = _receivables[slot].debtor;
            uint256 outstanding = _outstanding[debtor];
            uint256 limit = _creditLimits[debtor];
            if (outstanding + total > limit) revert CreditLimitExceeded(debtor, limit, outstanding, total);
            return total;
        }
        if (!participant) return total;
        if (valueMove) {
            if (total > balance) revert InsufficientValue(tokenId, balance, total);
            if (!p.splitAllowed && (n != 1 || total != balance)) revert SplitNotAllowed(tokenId);
        }
        if (!p.transferAllowed && from != _receivables[slot].creditor) revert TransferNotAllowed(tokenId, from);
    }

    /// @dev The terms of a new receivable: its parties' roles, a positive face value in whole
    /// minimum units below 2**96, an allowed settlement token, a maturity in the future within
    /// the maximum tenor.
    function _checkTerms(address debtor, address creditor, uint256 faceValue, address settlementToken, uint256 maturity)
        internal
        view
    {
        _requireRole(debtor, ROLE_DEBTOR);
        _requireRole(creditor, ROLE_SUPPLIER);
        Policy memory p = _policy;
        if (faceValue == 0 || faceValue % p.minUnit != 0) revert InvalidValue(faceValue, p.minUnit);
        if (faceValue > type(uint96).max) revert ValueTooLarge(faceValue);
        if (!_settlementTokens[settlementToken]) revert SettlementTokenNotAllowed(settlementToken);
        if (maturity <= block.timestamp || maturity > type(uint40).max) revert InvalidMaturity(maturity, block.timestamp);
        if (maturity - block.timestamp > p.maxTenor) revert TenorTooLong(maturity - block.timestamp, p.maxTenor);
    }

    /// @dev The serial counter shares the policy's word, which every split reads anyway.
    function _takeSerials(uint256 n) internal override returns (uint256 first) {
        Policy storage p = _policy;
        first = uint256(p.nextSerial) + 1;
        p.nextSerial += uint64(n); // checked: n <= MAX_BATCH_RECIPIENTS, and a wrap reverts
    }
}
