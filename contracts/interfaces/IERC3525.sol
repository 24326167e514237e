// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

/// @title ERC-3525 Semi-Fungible Token, as specified by EIP-3525 (interface id 0xd5358140).
/// @notice Tokens carry a value and a slot; value moves between tokens of the same slot.
/// @dev The EIP declares `approve` and both `transferFrom`s payable; ours are not, because a
/// receivable platform must never hold ether. Mutability is not part of a selector, so the
/// function selectors and the interface id are those of the EIP.
interface IERC3525 is IERC721 {
    /// @notice Value moved from one token to another (0 as `_fromTokenId` for a mint, as
    /// `_toTokenId` for a burn).
    event TransferValue(uint256 indexed _fromTokenId, uint256 indexed _toTokenId, uint256 _value);
    /// @notice `_operator` may now move up to `_value` of `_tokenId`.
    event ApprovalValue(uint256 indexed _tokenId, address indexed _operator, uint256 _value);
    /// @notice The slot of `_tokenId` changed (0 as `_oldSlot` when minted).
    event SlotChanged(uint256 indexed _tokenId, uint256 indexed _oldSlot, uint256 indexed _newSlot);

    function valueDecimals() external view returns (uint8);
    function balanceOf(uint256 _tokenId) external view returns (uint256);
    function slotOf(uint256 _tokenId) external view returns (uint256);
    function approve(uint256 _tokenId, address _operator, uint256 _value) external;
    function allowance(uint256 _tokenId, address _operator) external view returns (uint256);
    function transferFrom(uint256 _fromTokenId, uint256 _toTokenId, uint256 _value) external;
    function transferFrom(uint256 _fromTokenId, address _to, uint256 _value)
        external
        returns (uint256 newTokenId);
}
