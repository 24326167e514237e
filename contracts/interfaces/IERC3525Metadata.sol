// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC3525} from "./IERC3525.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";

/// @title ERC-3525 metadata extension (interface id 0xe1600902).
interface IERC3525Metadata is IERC3525, IERC721Metadata {
    function contractURI() external view returns (string memory);
    function slotURI(uint256 _slot) external view returns (string memory);
}
