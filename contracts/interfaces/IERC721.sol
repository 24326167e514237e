// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title ERC-721 Non-Fungible Token, as specified by EIP-721 (interface id 0x80ac58cd).
/// @dev The EIP declares the transfer and approval functions payable; ours are not (a receivable
/// platform never holds ether). Mutability is not part of a selector, so the interface id is
/// the EIP's.
interface IERC721 is IERC165 {
    /// @notice Ownership of `_tokenId` changed (from 0: created; to 0: destroyed).
    event Transfer(address indexed _from, address indexed _to, uint256 indexed _tokenId);
    /// @notice `_approved` may now transfer `_tokenId` (0: approval cleared).
    event Approval(address indexed _owner, address indexed _approved, uint256 indexed _tokenId);
    /// @notice `_operator` may (or may no longer) manage every token of `_owner`.
    event ApprovalForAll(address indexed _owner, address indexed _operator, bool _approved);

    function balanceOf(address _owner) external view returns (uint256);
    function ownerOf(uint256 _tokenId) external view returns (address);
    function safeTransferFrom(address _from, address _to, uint256 _tokenId, bytes calldata _data) external;
    function safeTransferFrom(address _from, address _to, uint256 _tokenId) external;
    function transferFrom(address _from, address _to, uint256 _tokenId) external;
    function approve(address _approved, uint256 _tokenId) external;
    function setApprovalForAll(address _operator, bool _approved) external;
    function getApproved(uint256 _tokenId) external view returns (address);
    function isApprovedForAll(address _owner, address _operator) external view returns (bool);
}
