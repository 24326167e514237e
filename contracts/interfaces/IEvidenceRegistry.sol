// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Anchored evidence batches (Merkle roots of order, logistics and invoice documents).
interface IEvidenceRegistry {
    /// @notice True when `root` is anchored and not revoked, `leaf` is not revoked and `proof`
    /// shows `leaf` in `root`.
    function verifyLeaf(bytes32 root, bytes32 leaf, bytes32[] calldata proof) external view returns (bool);
}
