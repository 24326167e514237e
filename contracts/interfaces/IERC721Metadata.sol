// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721} from "./IERC721.sol";

/// @title ERC-721 metadata extension, as specified by EIP-721 (interface id 0x5b5e139f).
interface IERC721Metadata is IERC721 {
    function name() external view returns (string memory _name);
    function symbol() external view returns (string memory _symbol);
    function tokenURI(uint256 _tokenId) external view returns (string memory);
}
