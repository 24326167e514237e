// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title A dev-chain settlement token (2 decimals, like a fiat currency unit and cents).
/// @notice Never deployed to production: production uses a real stablecoin or deposit token.
contract TestSettlementToken is ERC20 {
    address public immutable owner;

    error NotOwner(address caller);

    constructor() ERC20("Test CNY", "tCNY") {
        owner = msg.sender;
    }

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Create `amount` for `to` (owner only).
    function mint(address to, uint256 amount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _mint(to, amount);
    }
}
