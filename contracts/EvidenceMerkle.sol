// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The evidence Merkle construction, shared bit for bit with scf_chain/evidence/merkle.py.
/// @notice leaf = keccak256(0x00 || docHash); node = keccak256(0x01 || min(a,b) || max(a,b)).
/// The 0x00/0x01 prefixes separate leaves from inner nodes, so an inner node can never be
/// passed off as a leaf (second-preimage attack); sorted pairs make proofs position-free.
library EvidenceMerkle {
    /// @notice The leaf of a document hash.
    function leafOf(bytes32 docHash) internal pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore8(0x00, 0x00)
            mstore(0x01, docHash)
            leaf := keccak256(0x00, 0x21)
        }
    }

    /// @notice The document hash of an invoice: keccak256(invoiceKey || fieldsRoot).
    function docHashOf(bytes32 key, bytes32 fieldsRoot) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, key)
            mstore(0x20, fieldsRoot)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice The parent of two nodes.
    function nodeOf(bytes32 a, bytes32 b) internal pure returns (bytes32 n) {
        (bytes32 lo, bytes32 hi) = uint256(a) < uint256(b) ? (a, b) : (b, a);
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 0x01), lo)
            mstore(add(p, 0x21), hi)
            n := keccak256(p, 0x41)
        }
    }

    /// @notice The root obtained by folding `leaf` with the siblings in `proof`, bottom-up.
    function rootOf(bytes32 leaf, bytes32[] calldata proof) internal pure returns (bytes32 h) {
        h = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            h = nodeOf(h, proof[i]);
        }
    }
}
