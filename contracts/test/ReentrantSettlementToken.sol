// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title A hostile settlement token for tests: while armed, every `transferFrom` first calls back
/// into its caller with the armed call data, and fails with whatever that call reverts with.
/// @notice Lets tests prove that the token's reentrancy guard (transient on Cancun, a storage word
/// on Paris) stops a settlement token re-entering repay, collect, redeem or acceptOffer.
contract ReentrantSettlementToken is ERC20 {
    bytes private _reentry;

    constructor() ERC20("Reentrant CNY", "rCNY") {}

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Create `amount` for `to` (anyone: a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Call back into the caller of every later `transferFrom` with `data` (empty: stop).
    function arm(bytes calldata data) external {
        _reentry = data;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (_reentry.length != 0) {
            (bool ok, bytes memory reason) = msg.sender.call(_reentry);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
        return super.transferFrom(from, to, value);
    }
}
