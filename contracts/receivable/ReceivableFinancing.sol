// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {TargetReentrancyGuard} from "@scf/guard/TargetReentrancyGuard.sol";

import {IReceivableToken} from "../interfaces/IReceivableToken.sol";
import {ReceivableIssuance} from "./ReceivableIssuance.sol";

/// @title Financing: a holder sells value to a financier, delivery versus payment.
/// @notice The offered value waits in an escrow token owned by this contract, so it cannot
/// move meanwhile; acceptance pays the price to the holder and hands the escrow token to the
/// financier in one transaction; cancellation returns the value to the holder.
/// @dev The reentrancy guard is inherited here, once, for every layer above that pays out
/// (this one and settlement); the build maps the guard import to the target's guard (transient
/// storage on Cancun, a storage word on Paris).
abstract contract ReceivableFinancing is ReceivableIssuance, TargetReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @inheritdoc IReceivableToken
    uint256 public offerCount;
    mapping(uint256 offerId => Offer) private _offers;

    /// @inheritdoc IReceivableToken
    function offer(uint256 tokenId, uint256 value, address financier, uint256 price, uint64 expiry, bytes32 registrationRef)
        external
        whenNotPausedInline
        returns (uint256 offerId)
    {
        uint256 escrowId = _escrow(tokenId, value, financier, price, expiry);
        offerId = ++offerCount;
        _offers[offerId] = Offer({
            holder: msg.sender,
            expiry: expiry,
            status: OfferStatus.Open,
            financier: financier,
            sourceTokenId: tokenId,
            escrowTokenId: escrowId,
            value: value,
            price: price,
            registrationRef: registrationRef
        });
        emit Offered(offerId, tokenId >> _SLOT_SHIFT, msg.sender, tokenId, escrowId, financier, value, price, expiry, registrationRef);
    }

    /// @dev Checks the terms of an offer and moves its value into escrow (the whole token when
    /// all of it is offered).
    function _escrow(uint256 tokenId, uint256 value, address financier, uint256 price, uint64 expiry)
        private
        returns (uint256 escrowId)
    {
        uint256 word = _token(tokenId);
        if (_idOf(msg.sender) != uint32(word)) revert NotTokenOwner(tokenId, msg.sender);
        if (price == 0 || price > value) revert InvalidPrice(price, value);
        uint256 slot = tokenId >> _SLOT_SHIFT;
        if (expiry <= block.timestamp || expiry > _receivables[slot].maturity) revert InvalidExpiry(expiry);
        if (financier != address(0)) _requireRole(financier, ROLE_FINANCIER);
        uint256 into = value == _valueOf(word) ? tokenId : slot << _SLOT_SHIFT;
        escrowId = _update(Move.Escrow, tokenId, into, msg.sender, address(this), value);
    }

    /// @inheritdoc IReceivableToken
    function acceptOffer(uint256 offerId) external whenNotPausedInline nonReentrant {
        Offer storage o = _openOffer(offerId);
        if (block.timestamp >= o.expiry) revert OfferExpired(offerId, o.expiry);
        address named = o.financier;
        if (named != address(0) ? msg.sender != named : !hasRole(msg.sender, ROLE_FINANCIER)) {
            revert NotOfferFinancier(offerId, msg.sender);
        }
        uint256 escrowId = o.escrowTokenId;
        o.status = OfferStatus.Accepted;
        _update(Move.Release, escrowId, escrowId, address(this), msg.sender, o.value);
        address holder = o.holder;
        uint256 price = o.price;
        Receivable storage r = _receivables[escrowId >> _SLOT_SHIFT];
        emit Financed(offerId, escrowId >> _SLOT_SHIFT, msg.sender, escrowId, holder, o.value, price, o.registrationRef);
        IERC20(r.settlementToken).safeTransferFrom(msg.sender, holder, price);
    }

    /// @inheritdoc IReceivableToken
    function cancelOffer(uint256 offerId) external whenNotPaused returns (uint256 returnedTo) {
        Offer storage o = _openOffer(offerId);
        address holder = o.holder;
        uint256 escrowId = o.escrowTokenId;
        if (msg.sender != holder && block.timestamp < o.expiry && block.timestamp < _receivables[escrowId >> _SLOT_SHIFT].maturity) {
            revert NotOfferHolder(offerId, msg.sender);
        }
        o.status = OfferStatus.Cancelled;
        uint256 source = o.sourceTokenId;
        uint256 sourceWord = _tokens[source];
        // Merge back only into a source token still the holder's and never partly redeemed: a
        // checkpoint would apply to the returned value too and underpay it.
        if (source != escrowId && uint32(sourceWord) == _idOf(holder) && sourceWord >> _CHECKPOINT_SHIFT == 0) {
            _update(Move.Return, escrowId, source, address(this), holder, o.value);
            _update(Move.Burn, escrowId, 0, address(this), address(0), 0); // the emptied escrow token
            returnedTo = source;
        } else {
            returnedTo = _update(Move.Return, escrowId, escrowId, address(this), holder, o.value);
        }
        emit OfferCancelled(offerId, holder, escrowId, returnedTo);
    }

    /// @inheritdoc IReceivableToken
    function getOffer(uint256 offerId) external view returns (Offer memory) {
        return _offers[offerId];
    }

    function _openOffer(uint256 offerId) private view returns (Offer storage o) {
        o = _offers[offerId];
        if (o.status != OfferStatus.Open) {
            if (o.status == OfferStatus.None) revert UnknownOffer(offerId);
            revert OfferNotOpen(offerId, o.status);
        }
    }
}
