// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EvidenceMerkle} from "../EvidenceMerkle.sol";
import {IEvidenceRegistry} from "../interfaces/IEvidenceRegistry.sol";
import {IReceivableToken} from "../interfaces/IReceivableToken.sol";
import {ReceivablePolicy} from "./ReceivablePolicy.sol";

/// @title Issuance: a receivable is opened against anchored invoice evidence and exists once
/// its counterparty confirmed it.
/// @notice Two parties: the creditor applies (or the debtor issues), the other one confirms,
/// which mints the face value to the creditor; until then either side can end it (reject,
/// withdraw) and the invoice is free again. An invoice backs at most one confirmed receivable,
/// ever, and at most one pending application at a time.
abstract contract ReceivableIssuance is ReceivablePolicy {
    struct Application {
        address debtor;
        address creditor;
        uint256 faceValue;
        address settlementToken;
        uint256 maturity;
        bytes32 invoiceKey;
        bytes32 invoiceFieldsRoot;
        bytes32 evidenceRoot;
    }

    /// @inheritdoc IReceivableToken
    IEvidenceRegistry public evidenceRegistry;
    /// @inheritdoc IReceivableToken
    uint256 public slotCount;
    /// 0 unused, 1 reserved by a pending application, 2 consumed by a confirmed receivable.
    mapping(bytes32 invoiceKey => uint8) private _invoiceKeys;

    /// @inheritdoc IReceivableToken
    function setEvidenceRegistry(IEvidenceRegistry registry) external onlyOperator {
        if (address(evidenceRegistry) != address(0)) revert EvidenceRegistryAlreadySet(address(evidenceRegistry));
        if (address(registry) == address(0)) revert ZeroAddress();
        evidenceRegistry = registry;
        emit EvidenceRegistrySet(address(registry));
    }

    /// @inheritdoc IReceivableToken
    function applyFor(
        address debtor,
        address creditor,
        uint256 faceValue,
        address settlementToken,
        uint64 maturity,
        bytes32 invoiceKey,
        bytes32 invoiceFieldsRoot,
        bytes32 evidenceRoot,
        bytes32[] calldata proof
    ) external whenNotPaused returns (uint256 slot) {
        if (msg.sender != creditor && msg.sender != operator()) revert NotCreditor(0, msg.sender);
        return _open(
            Application(debtor, creditor, faceValue, settlementToken, maturity, invoiceKey, invoiceFieldsRoot, evidenceRoot),
            proof,
            false
        );
    }

    /// @inheritdoc IReceivableToken
    function issue(
        address debtor,
        address creditor,
        uint256 faceValue,
        address settlementToken,
        uint64 maturity,
        bytes32 invoiceKey,
        bytes32 invoiceFieldsRoot,
        bytes32 evidenceRoot,
        bytes32[] calldata proof
    ) external whenNotPaused returns (uint256 slot) {
        if (msg.sender != debtor) revert NotDebtor(0, msg.sender);
        return _open(
            Application(debtor, creditor, faceValue, settlementToken, maturity, invoiceKey, invoiceFieldsRoot, evidenceRoot),
            proof,
            true
        );
    }

    function _open(Application memory a, bytes32[] calldata proof, bool byDebtor) private returns (uint256 slot) {
        _checkTerms(a.debtor, a.creditor, a.faceValue, a.settlementToken, a.maturity);
        bytes32 leaf = _checkEvidence(a.invoiceKey, a.invoiceFieldsRoot, a.evidenceRoot, proof);
        _invoiceKeys[a.invoiceKey] = 1;
        slot = ++slotCount;
        Receivable storage r = _receivables[slot];
        r.debtor = a.debtor;
        r.maturity = uint40(a.maturity);
        r.status = Status.Pending;
        r.initiatedByDebtor = byDebtor;
        r.creditor = a.creditor;
        r.faceValue = uint96(a.faceValue);
        r.settlementToken = a.settlementToken;
        r.invoiceKey = a.invoiceKey;
        r.invoiceLeaf = leaf;
        r.evidenceRoot = a.evidenceRoot;
        emit Applied(slot, a.debtor, a.creditor, a.faceValue, a.maturity, a.invoiceKey, a.evidenceRoot, byDebtor);
    }

    function _checkEvidence(bytes32 invoiceKey, bytes32 fieldsRoot, bytes32 root, bytes32[] calldata proof)
        private
        view
        returns (bytes32 leaf)
    {
        IEvidenceRegistry reg = evidenceRegistry;
        if (address(reg) == address(0)) revert EvidenceRegistryNotSet();
        uint8 state = _invoiceKeys[invoiceKey];
        if (state != 0) revert InvoiceAlreadyUsed(invoiceKey, state);
        leaf = EvidenceMerkle.leafOf(EvidenceMerkle.docHashOf(invoiceKey, fieldsRoot));
        if (!reg.verifyLeaf(root, leaf, proof)) revert InvalidEvidence(root, leaf);
    }

    /// @inheritdoc IReceivableToken
    function confirm(uint256 slot) external whenNotPaused returns (uint256 tokenId) {
        Receivable storage r = _pending(slot);
        if (r.initiatedByDebtor) {
            if (msg.sender != r.creditor) revert NotCreditor(slot, msg.sender);
        } else if (msg.sender != r.debtor) {
            revert NotDebtor(slot, msg.sender);
        }
        address debtor = r.debtor;
        address creditor = r.creditor;
        uint256 face = r.faceValue;
        tokenId = _update(Move.Mint, 0, slot << _SLOT_SHIFT, address(0), creditor, face);
        _outstanding[debtor] += face; // the policy checked it stays within the credit limit
        _invoiceKeys[r.invoiceKey] = 2;
        r.status = Status.Active;
        r.issuedAt = uint40(block.timestamp);
        emit Confirmed(slot, debtor, creditor, tokenId, face);
    }

    /// @inheritdoc IReceivableToken
    function reject(uint256 slot, bytes32 reasonCode) external whenNotPaused {
        Receivable storage r = _pending(slot);
        address confirmer = r.initiatedByDebtor ? r.creditor : r.debtor;
        if (msg.sender != confirmer) {
            if (r.initiatedByDebtor) revert NotCreditor(slot, msg.sender);
            revert NotDebtor(slot, msg.sender);
        }
        r.status = Status.Rejected;
        delete _invoiceKeys[r.invoiceKey];
        emit Rejected(slot, msg.sender, reasonCode);
    }

    /// @inheritdoc IReceivableToken
    function withdraw(uint256 slot) external whenNotPaused {
        Receivable storage r = _pending(slot);
        bool allowed = r.initiatedByDebtor ? msg.sender == r.debtor : (msg.sender == r.creditor || msg.sender == operator());
        if (!allowed) revert NotInitiator(slot, msg.sender);
        r.status = Status.Withdrawn;
        delete _invoiceKeys[r.invoiceKey];
        emit Withdrawn(slot, msg.sender);
    }

    /// @inheritdoc IReceivableToken
    function getReceivable(uint256 slot) external view returns (Receivable memory) {
        return _receivables[slot];
    }

    /// @inheritdoc IReceivableToken
    function invoiceKeyState(bytes32 invoiceKey) external view returns (uint8) {
        return _invoiceKeys[invoiceKey];
    }

    function _pending(uint256 slot) private view returns (Receivable storage r) {
        r = _receivables[slot];
        if (r.status != Status.Pending) {
            if (r.status == Status.None) revert UnknownSlot(slot);
            revert NotPending(slot, r.status);
        }
    }
}
