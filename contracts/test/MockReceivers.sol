// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC3525Receiver} from "../interfaces/IERC3525Receiver.sol";

/// @title A test receiver of ERC-3525 value and ERC-721 tokens with a configurable answer.
/// @notice mode 0 accepts, 1 answers a wrong selector, 2 reverts, 3 does not declare the
/// ERC-3525 receiver interface (and so is never asked).
contract MockReceiver is IERC165, IERC3525Receiver, IERC721Receiver {
    uint8 public immutable mode;
    uint256 public calls;

    event Received(address operator, uint256 fromTokenId, uint256 toTokenId, uint256 value);

    error Refused();

    constructor(uint8 mode_) {
        mode = mode_;
    }

    function supportsInterface(bytes4 id) external view returns (bool) {
        if (id == type(IERC3525Receiver).interfaceId) return mode != 3;
        return id == type(IERC165).interfaceId || id == type(IERC721Receiver).interfaceId;
    }

    function onERC3525Received(address operator, uint256 fromTokenId, uint256 toTokenId, uint256 value, bytes calldata)
        external
        returns (bytes4)
    {
        if (mode == 2) revert Refused();
        calls += 1;
        emit Received(operator, fromTokenId, toTokenId, value);
        return mode == 1 ? bytes4(0xdeadbeef) : IERC3525Receiver.onERC3525Received.selector;
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        if (mode == 2) revert Refused();
        calls += 1;
        return mode == 1 ? bytes4(0xdeadbeef) : IERC721Receiver.onERC721Received.selector;
    }
}
