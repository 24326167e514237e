// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ERC-721 token receiver, as specified by EIP-721 (interface id 0x150b7a02).
/// @notice A contract receiving a token through `safeTransferFrom` must return this function's
/// selector to accept it.
interface IERC721Receiver {
    function onERC721Received(address _operator, address _from, uint256 _tokenId, bytes calldata _data)
        external
        returns (bytes4);
}
