// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice `value` written in base 10 without leading zeros ("0" for zero).
/// @dev Ours rather than OpenZeppelin's `Strings.toString`: since 5.x that library imports
/// `Bytes`, whose assembly uses MCOPY, which no chain before Cancun runs; this one compiles for
/// every EVM target. Token and slot URIs are its only callers (views, off the gas paths).
function toDecimalString(uint256 value) pure returns (string memory) {
    uint256 digits = 1;
    for (uint256 rest = value / 10; rest != 0; rest /= 10) {
        ++digits;
    }
    bytes memory text = new bytes(digits);
    for (uint256 i = digits; i > 0; value /= 10) {
        // unchecked: i > 0 by the loop condition, and value % 10 < 10 fits a digit
        unchecked {
            --i;
            text[i] = bytes1(uint8(48 + (value % 10)));
        }
    }
    return string(text);
}
