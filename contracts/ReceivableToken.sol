// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IReceivableToken} from "./interfaces/IReceivableToken.sol";
import {ERC3525Base} from "./receivable/ERC3525Base.sol";
import {ReceivableSettlement} from "./receivable/ReceivableSettlement.sol";

/// @title Receivable vouchers: ERC-3525 tokens, one slot per debtor-confirmed receivable.
/// @notice The whole surface, with what each function guarantees, is `IReceivableToken`
/// (contracts/interfaces/IReceivableToken.sol). Layers, each in its own file under
/// contracts/receivable/: `ERC3525Base` (tokens, approvals and the one funnel every value and
/// ownership change passes), `ReceivablePolicy` (the one policy function the funnel calls),
/// `ReceivableIssuance`, `ReceivableFinancing`, `ReceivableSettlement`.
/// @dev Not upgradeable, on purpose: a receivable is a claim on a debtor, and an admin able to
/// swap the code could rewrite every holder's claim. A new version is a new deployment.
contract ReceivableToken is IReceivableToken, ReceivableSettlement {
    /// @param name_ ERC-721 name.
    /// @param symbol_ ERC-721 symbol.
    /// @param valueDecimals_ decimals of a token's value; every settlement token must have them.
    /// @param operator_ the platform's operator (holds the OPERATOR role).
    constructor(string memory name_, string memory symbol_, uint8 valueDecimals_, address operator_)
        ERC3525Base(name_, symbol_, valueDecimals_, operator_)
    {}
}
