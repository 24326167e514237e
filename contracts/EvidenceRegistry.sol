// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EvidenceMerkle} from "./EvidenceMerkle.sol";
import {IEvidenceRegistry} from "./interfaces/IEvidenceRegistry.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title Anchored evidence: Merkle roots of batches of orders, logistics events and invoices.
/// @notice Documents stay off-chain; a root anchored here proves they existed unchanged at the
/// anchoring time. Authorized anchorers (operator, logistics providers) anchor; the anchorer of
/// a root or the operator may revoke the root or single leaves.
/// @dev Not upgradeable: an anchored root is a public commitment that no admin may rewrite.
contract EvidenceRegistry is IEvidenceRegistry {
    uint8 public constant DOC_PURCHASE_ORDER = 1;
    uint8 public constant DOC_LOGISTICS = 2;
    uint8 public constant DOC_INVOICE = 3;
    uint8 public constant DOC_MIXED = 4;

    struct Root {
        address anchorer;
        uint8 docType;
        uint32 count;
        uint40 anchoredAt;
        bool revoked;
        bytes32 manifestHash;
    }

    IParticipantRegistry public immutable registry;
    mapping(bytes32 root => Root) private _roots;
    mapping(bytes32 root => mapping(bytes32 leaf => bool)) private _revokedLeaves;

    event Anchored(bytes32 indexed root, address indexed anchorer, uint8 docType, uint32 count, bytes32 manifestHash);
    event RootRevoked(bytes32 indexed root, address indexed by, bytes32 reasonCode);
    event LeafRevoked(bytes32 indexed root, bytes32 indexed leaf, address indexed by, bytes32 reasonCode);

    error NotAnchorer(address caller);
    error AlreadyAnchored(bytes32 root);
    error UnknownRoot(bytes32 root);
    error InvalidBatch(uint8 docType, uint32 count);
    error NotRootAuthority(bytes32 root, address caller);
    error ZeroRoot();

    constructor(IParticipantRegistry registry_) {
        registry = registry_;
    }

    /// @notice Anchor a batch root. Each root is anchored once, by an ANCHORER participant.
    function anchor(bytes32 root, uint8 docType, uint32 count, bytes32 manifestHash) external {
        if (!registry.hasRole(msg.sender, 16)) revert NotAnchorer(msg.sender);
        if (root == bytes32(0)) revert ZeroRoot();
        if (docType == 0 || docType > DOC_MIXED || count == 0) revert InvalidBatch(docType, count);
        if (_roots[root].anchoredAt != 0) revert AlreadyAnchored(root);
        _roots[root] = Root(msg.sender, docType, count, uint40(block.timestamp), false, manifestHash);
        emit Anchored(root, msg.sender, docType, count, manifestHash);
    }

    /// @notice Revoke a whole batch: none of its documents verifies afterwards.
    function revokeRoot(bytes32 root, bytes32 reasonCode) external {
        _requireAuthority(root);
        _roots[root].revoked = true;
        emit RootRevoked(root, msg.sender, reasonCode);
    }

    /// @notice Revoke one document of a batch.
    function revokeLeaf(bytes32 root, bytes32 leaf, bytes32 reasonCode) external {
        _requireAuthority(root);
        _revokedLeaves[root][leaf] = true;
        emit LeafRevoked(root, leaf, msg.sender, reasonCode);
    }

    /// @notice The record of an anchored root (anchoredAt 0: never anchored).
    function getRoot(bytes32 root)
        external
        view
        returns (address anchorer, uint8 docType, uint32 count, bytes32 manifestHash, uint40 anchoredAt, bool revoked)
    {
        Root storage r = _roots[root];
        return (r.anchorer, r.docType, r.count, r.manifestHash, r.anchoredAt, r.revoked);
    }

    /// @notice Whether `leaf` of `root` was revoked.
    function isLeafRevoked(bytes32 root, bytes32 leaf) external view returns (bool) {
        return _revokedLeaves[root][leaf];
    }

    /// @inheritdoc IEvidenceRegistry
    function verifyLeaf(bytes32 root, bytes32 leaf, bytes32[] calldata proof) public view returns (bool) {
        Root storage r = _roots[root];
        if (r.anchoredAt == 0 || r.revoked || _revokedLeaves[root][leaf]) return false;
        return EvidenceMerkle.rootOf(leaf, proof) == root;
    }

    /// @notice `verifyLeaf` for a document hash (the leaf is computed here).
    function verifyDocument(bytes32 root, bytes32 docHash, bytes32[] calldata proof) external view returns (bool) {
        return verifyLeaf(root, EvidenceMerkle.leafOf(docHash), proof);
    }

    /// @notice The leaf of a document hash, as the tree builds it.
    function leafOf(bytes32 docHash) external pure returns (bytes32) {
        return EvidenceMerkle.leafOf(docHash);
    }

    function _requireAuthority(bytes32 root) private view {
        Root storage r = _roots[root];
        if (r.anchoredAt == 0) revert UnknownRoot(root);
        if (msg.sender != r.anchorer && msg.sender != registry.operator()) {
            revert NotRootAuthority(root, msg.sender);
        }
    }
}
