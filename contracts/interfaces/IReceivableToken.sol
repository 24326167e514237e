// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC3525Metadata} from "./IERC3525Metadata.sol";
import {IEvidenceRegistry} from "./IEvidenceRegistry.sol";
import {IParticipantRegistry} from "./IParticipantRegistry.sol";

/// @title Receivable vouchers: the whole external surface of `ReceivableToken`.
/// @notice One ERC-3525 slot per debtor-confirmed receivable. Lifecycle: a creditor applies
/// (or the debtor issues) against anchored invoice evidence; the counterparty confirms, which
/// mints the face value to the creditor; registered participants split, merge, transfer and
/// finance it (delivery versus payment) until maturity; the debtor repays (or keepers collect);
/// holders are redeemed pro rata and redeemed value is burned.
/// Guarantees: value is created only by confirmation and destroyed only by redemption; an
/// invoice backs at most one receivable, ever; every value move obeys one policy (registered
/// parties, before maturity, minimum unit, split and transfer switches); the settlement tokens
/// the contract holds equal Σ(repaid − paid out) over all receivables.
/// Token ids are `slot << 64 | serial` (one serial counter, ids never reused); values are
/// below 2**96.
interface IReceivableToken is IERC3525Metadata, IParticipantRegistry {
    // ------------------------------------------------------------------ types
    /// Stored state of a receivable.
    enum Status { None, Pending, Active, Rejected, Withdrawn }
    /// State derived from stored state and time (`statusOf`).
    enum State { None, Pending, Active, Rejected, Withdrawn, Matured, Overdue, Settled }
    /// State of a financing offer.
    enum OfferStatus { None, Open, Accepted, Cancelled }

    /// A receivable (one per slot), as `getReceivable` returns it. Fields are packed for gas:
    /// the first word (debtor, maturity, status, initiatedByDebtor, issuedAt) is what every
    /// value move reads.
    struct Receivable {
        address debtor;
        uint40 maturity;
        Status status;
        bool initiatedByDebtor;
        uint40 issuedAt;
        address creditor;
        uint96 faceValue;
        address settlementToken;
        bool collectEnabled;
        bytes32 invoiceKey;
        bytes32 invoiceLeaf;
        bytes32 evidenceRoot;
        uint128 repaid;
        uint128 paidOut;
    }

    /// A financing offer, as `getOffer` returns it.
    struct Offer {
        address holder;
        uint64 expiry;
        OfferStatus status;
        address financier;
        uint256 sourceTokenId;
        uint256 escrowTokenId;
        uint256 value;
        uint256 price;
        bytes32 registrationRef;
    }

    // ------------------------------------------------------------------ events
    /// @notice A receivable was applied for (or issued by its debtor); nothing is minted yet.
    /// @param slot the new receivable's slot.
    /// @param debtor who owes the money.
    /// @param creditor who is owed it.
    /// @param faceValue the amount, in the settlement token's smallest unit.
    /// @param maturity when it is due (unix seconds).
    /// @param invoiceKey the invoice's salt-free key (an invoice backs one receivable, ever).
    /// @param evidenceRoot the anchored evidence batch proving the invoice.
    /// @param initiatedByDebtor true for `issue`, false for `applyFor`.
    event Applied(
        uint256 indexed slot,
        address indexed debtor,
        address indexed creditor,
        uint256 faceValue,
        uint256 maturity,
        bytes32 invoiceKey,
        bytes32 evidenceRoot,
        bool initiatedByDebtor
    );
    /// @notice The counterparty confirmed; the face value was minted to the creditor.
    /// @param slot the receivable.
    /// @param debtor who owes the money.
    /// @param creditor who received the token.
    /// @param tokenId the minted token.
    /// @param faceValue the minted value.
    event Confirmed(uint256 indexed slot, address indexed debtor, address indexed creditor, uint256 tokenId, uint256 faceValue);
    /// @notice The counterparty declined; the invoice is free again.
    /// @param slot the receivable.
    /// @param by who declined.
    /// @param reasonCode the caller's reason.
    event Rejected(uint256 indexed slot, address indexed by, bytes32 reasonCode);
    /// @notice The initiator withdrew a pending application; the invoice is free again.
    /// @param slot the receivable.
    /// @param by who withdrew.
    event Withdrawn(uint256 indexed slot, address indexed by);
    /// @notice Value was offered for financing and moved into escrow.
    /// @param offerId the new offer.
    /// @param slot the receivable.
    /// @param holder who offers.
    /// @param sourceTokenId the token the value came from.
    /// @param escrowTokenId the token holding the value in escrow (the source itself when all of it is offered).
    /// @param financier the only financier who may accept (0: any financier).
    /// @param value the value offered.
    /// @param price what the financier pays, in the settlement token.
    /// @param expiry until when the offer may be accepted.
    /// @param registrationRef the financing's registration reference.
    event Offered(
        uint256 indexed offerId,
        uint256 indexed slot,
        address indexed holder,
        uint256 sourceTokenId,
        uint256 escrowTokenId,
        address financier,
        uint256 value,
        uint256 price,
        uint256 expiry,
        bytes32 registrationRef
    );
    /// @notice A financier accepted an offer: it paid the price and received the escrow token.
    /// @param offerId the offer.
    /// @param slot the receivable.
    /// @param financier who paid and now holds the escrow token.
    /// @param escrowTokenId the token handed over.
    /// @param holder who was paid.
    /// @param value the value handed over.
    /// @param price the amount paid.
    /// @param registrationRef the financing's registration reference.
    event Financed(
        uint256 indexed offerId,
        uint256 indexed slot,
        address indexed financier,
        uint256 escrowTokenId,
        address holder,
        uint256 value,
        uint256 price,
        bytes32 registrationRef
    );
    /// @notice An open offer was cancelled; its value went back to the holder.
    /// @param offerId the offer.
    /// @param holder who got the value back.
    /// @param escrowTokenId the escrow token.
    /// @param returnedToTokenId the token now holding the value (the source token, or the escrow token itself).
    event OfferCancelled(uint256 indexed offerId, address indexed holder, uint256 escrowTokenId, uint256 returnedToTokenId);
    /// @notice Money was paid towards a receivable.
    /// @param slot the receivable.
    /// @param payer who paid.
    /// @param amount how much.
    /// @param totalRepaid the receivable's repaid total after it.
    event Repaid(uint256 indexed slot, address indexed payer, uint256 amount, uint256 totalRepaid);
    /// @notice The debtor allowed or stopped collection at maturity.
    /// @param slot the receivable.
    /// @param debtor the debtor.
    /// @param enabled whether keepers may collect.
    event CollectionAuthorized(uint256 indexed slot, address indexed debtor, bool enabled);
    /// @notice A holder was paid its pro-rata share and the same value was burned.
    /// @param slot the receivable.
    /// @param tokenId the token redeemed.
    /// @param holder who was paid.
    /// @param amount how much was paid (and burned).
    /// @param remainingValue the token's value after it (0: the token was burned).
    event Redeemed(uint256 indexed slot, uint256 indexed tokenId, address indexed holder, uint256 amount, uint256 remainingValue);
    /// @notice A debtor named the address that may take over its receivables (0: none).
    /// @param debtor the debtor (its old key).
    /// @param successor the address the operator may move its receivables to.
    event DebtorMoveOffered(address indexed debtor, address indexed successor);
    /// @notice A receivable's debtor changed: `to` now confirms, repays and is collected from.
    /// @param slot the receivable.
    /// @param from the previous debtor.
    /// @param to the new debtor.
    /// @param outstanding what was still owed on it and moved from `from`'s outstanding total to
    /// `to`'s (0 for a pending application).
    event DebtorMoved(uint256 indexed slot, address indexed from, address indexed to, uint256 outstanding);
    /// @notice The debtor's credit limit changed.
    /// @param debtor the debtor.
    /// @param limit the new limit.
    event CreditLimitSet(address indexed debtor, uint256 limit);
    /// @notice The policy changed.
    /// @param minUnit smallest value step of a move.
    /// @param maxTenor longest tenor at issuance, in seconds.
    /// @param splitAllowed whether partial moves are allowed.
    /// @param transferAllowed whether anyone but the original creditor may move value.
    event PolicyChanged(uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed);
    /// @notice An ERC-20 was allowed or disallowed as settlement currency.
    /// @param token the ERC-20.
    /// @param allowed whether new receivables may settle in it.
    event SettlementTokenSet(address indexed token, bool allowed);
    /// @notice The evidence registry was set (once).
    /// @param registry the registry.
    event EvidenceRegistrySet(address indexed registry);
    /// @notice The metadata base URI changed.
    /// @param uri the new base.
    event BaseURISet(string uri);

    // ------------------------------------------------------------------ errors
    /// @notice No such token (never minted, or burned).
    /// @param tokenId the token.
    error NonexistentToken(uint256 tokenId);
    /// @notice Only the token's owner may do this.
    /// @param tokenId the token.
    /// @param caller who called.
    error NotTokenOwner(uint256 tokenId, address caller);
    /// @notice The caller is neither the owner nor approved for the token.
    /// @param tokenId the token.
    /// @param caller who called.
    error NotAuthorized(uint256 tokenId, address caller);
    /// @notice The operator's value allowance is too small.
    /// @param tokenId the token.
    /// @param operator the spender.
    /// @param allowance what it may still move.
    /// @param value what it tried to move.
    error InsufficientAllowance(uint256 tokenId, address operator, uint256 allowance, uint256 value);
    /// @notice The token's approval epoch would wrap (2**32 changes of owner).
    /// @param tokenId the token.
    error ApprovalEpochExhausted(uint256 tokenId);
    /// @notice The move exceeds the token's value.
    /// @param tokenId the token.
    /// @param balance its value.
    /// @param value the value to move.
    error InsufficientValue(uint256 tokenId, uint256 balance, uint256 value);
    /// @notice Value moves only between tokens of one slot.
    /// @param fromTokenId the source.
    /// @param toTokenId the destination.
    error SlotMismatch(uint256 fromTokenId, uint256 toTokenId);
    /// @notice A token cannot send value to itself.
    /// @param tokenId the token.
    error SameToken(uint256 tokenId);
    /// @notice An owner cannot approve itself.
    /// @param tokenId the token.
    /// @param operator the owner named as operator.
    error ApproveToOwner(uint256 tokenId, address operator);
    /// @notice `from` is not the token's owner.
    /// @param tokenId the token.
    /// @param from the claimed owner.
    /// @param owner the actual owner.
    error WrongFrom(uint256 tokenId, address from, address owner);
    /// @notice A receiving contract refused the value (EIP-3525 receiver check).
    /// @param receiver the contract.
    error ReceiverRejected(address receiver);
    /// @notice The receivable matured: its value no longer moves.
    /// @param slot the receivable.
    /// @param maturity its maturity.
    error SlotMatured(uint256 slot, uint256 maturity);
    /// @notice Not matured yet (and not fully repaid).
    /// @param slot the receivable.
    /// @param maturity its maturity.
    error NotMatured(uint256 slot, uint256 maturity);
    /// @notice A value must be a positive multiple of the minimum unit.
    /// @param value the value given.
    /// @param minUnit the policy's minimum unit.
    error InvalidValue(uint256 value, uint256 minUnit);
    /// @notice Partial moves are switched off by policy.
    /// @param tokenId the token.
    error SplitNotAllowed(uint256 tokenId);
    /// @notice Only the original creditor may move value while transfers are switched off.
    /// @param tokenId the token.
    /// @param from its owner.
    error TransferNotAllowed(uint256 tokenId, address from);
    /// @notice The token is in an offer's escrow.
    /// @param tokenId the token.
    error TokenInEscrow(uint256 tokenId);
    /// @notice No such receivable.
    /// @param slot the slot.
    error UnknownSlot(uint256 slot);
    /// @notice Only the receivable's debtor may do this.
    /// @param slot the receivable (0 before it exists).
    /// @param caller who called.
    error NotDebtor(uint256 slot, address caller);
    /// @notice Only the receivable's creditor (or the operator for it) may do this.
    /// @param slot the receivable (0 before it exists).
    /// @param caller who called.
    error NotCreditor(uint256 slot, address caller);
    /// @notice Only the party that opened the application may withdraw it.
    /// @param slot the receivable.
    /// @param caller who called.
    error NotInitiator(uint256 slot, address caller);
    /// @notice The receivable is not pending.
    /// @param slot the receivable.
    /// @param status its stored status.
    error NotPending(uint256 slot, Status status);
    /// @notice The receivable is not active.
    /// @param slot the receivable.
    /// @param status its stored status.
    error NotActive(uint256 slot, Status status);
    /// @notice Maturity must be in the future (and fit 40 bits).
    /// @param maturity the maturity given.
    /// @param nowTime the block time.
    error InvalidMaturity(uint256 maturity, uint256 nowTime);
    /// @notice The tenor exceeds the policy's maximum.
    /// @param tenor maturity minus now.
    /// @param maxTenor the policy's maximum.
    error TenorTooLong(uint256 tenor, uint256 maxTenor);
    /// @notice A maximum tenor must be positive and at most `MAX_TENOR_CEILING`.
    /// @param maxTenor the maximum given.
    error TenorAboveCeiling(uint256 maxTenor);
    /// @notice Face values are below 2**96.
    /// @param value the value given.
    error ValueTooLarge(uint256 value);
    /// @notice The ERC-20 is not an allowed settlement currency.
    /// @param token the ERC-20.
    error SettlementTokenNotAllowed(address token);
    /// @notice A settlement token's decimals must equal `valueDecimals()`.
    /// @param token the ERC-20.
    /// @param decimals its decimals.
    /// @param expected `valueDecimals()`.
    error DecimalsMismatch(address token, uint8 decimals, uint8 expected);
    /// @notice The evidence registry is not set yet.
    error EvidenceRegistryNotSet();
    /// @notice The evidence registry is set once.
    /// @param registry the registry already set.
    error EvidenceRegistryAlreadySet(address registry);
    /// @notice The invoice is not proven by an anchored, unrevoked evidence root.
    /// @param root the evidence root.
    /// @param leaf the invoice's leaf.
    error InvalidEvidence(bytes32 root, bytes32 leaf);
    /// @notice The invoice backs (or is reserved by) another receivable.
    /// @param invoiceKey the invoice's key.
    /// @param state 1 reserved by a pending application, 2 consumed.
    error InvoiceAlreadyUsed(bytes32 invoiceKey, uint8 state);
    /// @notice Confirming would take the debtor beyond its credit limit.
    /// @param debtor the debtor.
    /// @param limit its credit limit.
    /// @param outstanding its confirmed face value not yet repaid.
    /// @param faceValue the receivable's face value.
    error CreditLimitExceeded(address debtor, uint256 limit, uint256 outstanding, uint256 faceValue);
    /// @notice `debtor` named no successor (`offerDebtorMove`), so its receivables cannot move.
    /// @param debtor the debtor.
    error NoDebtorSuccessor(address debtor);
    /// @notice A debtor cannot name itself as its successor.
    /// @param successor the address given.
    error InvalidSuccessor(address successor);
    /// @notice The receivable has no debt to move: fully repaid, rejected or withdrawn.
    /// @param slot the receivable.
    error DebtNotOpen(uint256 slot);
    /// @notice A repayment beyond what is owed.
    /// @param slot the receivable.
    /// @param amount the amount given.
    /// @param remaining what is still owed.
    error Overpayment(uint256 slot, uint256 amount, uint256 remaining);
    /// @notice An amount must be positive.
    error ZeroAmount();
    /// @notice The ERC-20 delivered another amount than asked (fee-on-transfer tokens are refused).
    /// @param token the ERC-20.
    /// @param expected the amount asked.
    /// @param received the amount that arrived.
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice The debtor has not authorized collection.
    /// @param slot the receivable.
    error CollectionNotAuthorized(uint256 slot);
    /// @notice Nothing could be collected (nothing owed, no allowance or no balance).
    /// @param slot the receivable.
    error NothingToCollect(uint256 slot);
    /// @notice Nothing is due to the token now.
    /// @param tokenId the token.
    error NothingToRedeem(uint256 tokenId);
    /// @notice No such offer.
    /// @param offerId the offer.
    error UnknownOffer(uint256 offerId);
    /// @notice The offer is no longer open.
    /// @param offerId the offer.
    /// @param status its status.
    error OfferNotOpen(uint256 offerId, OfferStatus status);
    /// @notice The offer expired.
    /// @param offerId the offer.
    /// @param expiry its expiry.
    error OfferExpired(uint256 offerId, uint256 expiry);
    /// @notice The caller may not accept this offer.
    /// @param offerId the offer.
    /// @param caller who called.
    error NotOfferFinancier(uint256 offerId, address caller);
    /// @notice Only the offer's holder may cancel it before expiry.
    /// @param offerId the offer.
    /// @param caller who called.
    error NotOfferHolder(uint256 offerId, address caller);
    /// @notice A price must be positive and at most the value offered.
    /// @param price the price given.
    /// @param value the value offered.
    error InvalidPrice(uint256 price, uint256 value);
    /// @notice An offer's expiry must be in the future and no later than maturity.
    /// @param expiry the expiry given.
    error InvalidExpiry(uint256 expiry);
    /// @notice A batch needs at least one recipient, and one value per recipient.
    /// @param recipients how many recipients were given.
    /// @param values how many values were given.
    error InvalidRecipients(uint256 recipients, uint256 values);
    /// @notice Too many recipients for one batch.
    /// @param recipients how many were given.
    /// @param maxRecipients `MAX_BATCH_RECIPIENTS`.
    error TooManyRecipients(uint256 recipients, uint256 maxRecipients);
    /// @notice A minimum unit must be positive and below 2**96.
    /// @param minUnit the unit given.
    error InvalidMinUnit(uint256 minUnit);

    // ------------------------------------------------------------------ batched value moves
    /// @notice Split value out of `fromTokenId` to many participants at once: `to[i]` receives a
    /// new token of the same slot holding `values[i]`. Each move is checked and recorded exactly
    /// as the single split `transferFrom(fromTokenId, to[i], values[i])` would be (the same
    /// policy, the same Transfer, SlotChanged and TransferValue events per recipient, in order);
    /// all moves happen or none. The caller is the owner, an operator or the approved address,
    /// or spends a value allowance covering the sum. Receiving contracts are not asked
    /// (`onERC3525Received`): every recipient is a participant the operator registered, and a
    /// contract that must vet incoming value receives it through `transferFrom`.
    /// @param fromTokenId the token the value leaves.
    /// @param to the recipients, at most `MAX_BATCH_RECIPIENTS`.
    /// @param values what each recipient receives, one per recipient.
    /// @return firstTokenId the new token of `to[0]`; the token of `to[i]` is `firstTokenId + i`.
    function splitMany(uint256 fromTokenId, address[] calldata to, uint256[] calldata values)
        external
        returns (uint256 firstTokenId);
    /// @notice The most recipients one `splitMany` takes: 100.
    function MAX_BATCH_RECIPIENTS() external view returns (uint256);

    // ------------------------------------------------------------------ administration (operator)
    /// @notice Point at the evidence registry; can be done once.
    function setEvidenceRegistry(IEvidenceRegistry registry) external;
    /// @notice Allow or disallow an ERC-20 as settlement currency; its decimals must equal
    /// `valueDecimals()` so that one unit of value is one unit of money.
    function setSettlementToken(address token, bool allowed) external;
    /// @notice Cap the face value a debtor may have outstanding (confirmed and not yet repaid).
    function setCreditLimit(address debtor, uint256 limit) external;
    /// @notice Set the policy every value move and issuance is checked against.
    /// @param minUnit smallest value step of a move and of a face value.
    /// @param maxTenor longest maturity allowed at issuance, in seconds; at most 365 days.
    /// @param splitAllowed whether partial moves are allowed.
    /// @param transferAllowed whether anyone but the original creditor may move value.
    function setPolicy(uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed) external;
    /// @notice Base of tokenURI/slotURI/contractURI (empty: no metadata URIs).
    function setBaseURI(string calldata uri) external;

    // ------------------------------------------------------------------ issuance
    /// @notice The creditor (or the operator for it) applies for a receivable against an
    /// anchored invoice. Nothing is minted until the debtor confirms.
    /// @return slot the new receivable's slot.
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
    ) external returns (uint256 slot);
    /// @notice The debtor issues a receivable to a creditor, who must accept it (`confirm`).
    /// @return slot the new receivable's slot.
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
    ) external returns (uint256 slot);
    /// @notice The counterparty confirms: the named debtor for an application, the creditor for
    /// a debtor's issue. Mints the face value to the creditor and consumes the invoice forever.
    /// @return tokenId the minted token.
    function confirm(uint256 slot) external returns (uint256 tokenId);
    /// @notice The counterparty declines; the invoice is free to back another application.
    function reject(uint256 slot, bytes32 reasonCode) external;
    /// @notice The initiator takes a pending application back; the invoice is freed.
    function withdraw(uint256 slot) external;

    // ------------------------------------------------------------------ financing
    /// @notice Offer `value` of `tokenId` to `financier` (0: any registered financier) for
    /// `price` of the slot's settlement token until `expiry`. The value waits in escrow, so it
    /// cannot move until the offer is accepted or cancelled.
    /// @return offerId the new offer.
    function offer(uint256 tokenId, uint256 value, address financier, uint256 price, uint64 expiry, bytes32 registrationRef)
        external
        returns (uint256 offerId);
    /// @notice The financier accepts: it pays the price to the holder and receives the escrowed
    /// value, in one transaction (delivery versus payment).
    function acceptOffer(uint256 offerId) external;
    /// @notice Withdraw an open offer: by its holder at any time, by anyone once it expired or
    /// the receivable matured. The value returns to the holder (into the source token when that
    /// still is the holder's and was never partly redeemed).
    /// @return returnedTo the token now holding the value.
    function cancelOffer(uint256 offerId) external returns (uint256 returnedTo);
    /// @notice An offer as stored.
    function getOffer(uint256 offerId) external view returns (Offer memory);

    // ------------------------------------------------------------------ settlement
    /// @notice Pay `amount` of the slot's settlement token towards the receivable (partial,
    /// early, at or after maturity). Anyone may pay; normally the debtor does.
    function repay(uint256 slot, uint256 amount) external;
    /// @notice The debtor allows (or stops) keepers collecting the repayment at maturity from
    /// its ERC-20 allowance to this contract.
    function authorizeCollection(uint256 slot, bool enabled) external;
    /// @notice Once matured, pull what the debtor owes, as far as its allowance and balance
    /// reach. Anyone (a keeper) may call.
    /// @return amount what was pulled.
    function collect(uint256 slot) external returns (uint256 amount);
    /// @notice The debtor (its old key) names the address its receivables may be moved to by the
    /// operator, or 0 to withdraw the offer. A new offer replaces the previous one. Not blocked
    /// by the pause: a compromised key is replaced while the platform is paused.
    /// @param successor the new address; it must hold the DEBTOR role when the move happens.
    function offerDebtorMove(address successor) external;
    /// @notice The operator moves receivables of `from` to the successor `from` named: each
    /// listed slot's debtor becomes the successor (pending applications and active receivables
    /// not fully repaid), and what is owed on them moves from `from`'s outstanding total to the
    /// successor's, which must stay within the successor's credit limit (the operator sets that
    /// limit first). Both keys thus agree: the old one by its offer, the operator by the move.
    /// All listed slots move or none; many slots are moved in several calls. Not blocked by the
    /// pause. Holders, values, maturity and collection authorization are untouched; the new
    /// debtor's ERC-20 allowance is what `collect` pulls from afterwards.
    /// @param from the debtor whose receivables move.
    /// @param slots the receivables to move, each with debtor `from`.
    /// @return moved the outstanding amount moved.
    function moveDebts(address from, uint256[] calldata slots) external returns (uint256 moved);
    /// @notice The successor `debtor` named for its receivables (0: none).
    function debtorSuccessorOf(address debtor) external view returns (address);
    /// @notice Pay the holder of `tokenId` its pro-rata share of what the debtor has repaid and
    /// burn the same value. Allowed once matured, or earlier when fully repaid.
    /// @return paid floor(value × (repaid − checkpoint) / (face − checkpoint)).
    function redeem(uint256 tokenId) external returns (uint256 paid);
    /// @notice `redeem` for many tokens; tokens with nothing due (or in escrow, or burned) are
    /// skipped instead of reverting, so a keeper's batch always goes through.
    /// @return totalPaid the sum paid.
    function redeemBatch(uint256[] calldata tokenIds) external returns (uint256 totalPaid);

    // ------------------------------------------------------------------ reads
    /// @notice The evidence registry invoices are proven against.
    function evidenceRegistry() external view returns (IEvidenceRegistry);
    /// @notice How many receivables were opened (slots are 1..slotCount).
    function slotCount() external view returns (uint256);
    /// @notice How many offers were made (offer ids are 1..offerCount).
    function offerCount() external view returns (uint256);
    /// @notice A receivable as stored.
    function getReceivable(uint256 slot) external view returns (Receivable memory);
    /// @notice The receivable's state, including the time-derived Matured, Overdue and Settled.
    function statusOf(uint256 slot) external view returns (State);
    /// @notice The policy in force.
    function policy() external view returns (uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed);
    /// @notice Confirmed face value of `debtor` not yet repaid.
    function outstandingOf(address debtor) external view returns (uint256);
    /// @notice The credit limit of `debtor`.
    function creditLimitOf(address debtor) external view returns (uint256);
    /// @notice Whether `token` may settle new receivables.
    function isSettlementToken(address token) external view returns (bool);
    /// @notice 0 unused, 1 reserved by a pending application, 2 consumed.
    function invoiceKeyState(bytes32 invoiceKey) external view returns (uint8);
    /// @notice The repaid total at the token's last partial redemption.
    function checkpointOf(uint256 tokenId) external view returns (uint256);
    /// @notice The hard ceiling of `maxTenor`: 365 days.
    function MAX_TENOR_CEILING() external view returns (uint32);
    /// @notice The `maxTenor` at deployment: 180 days.
    function DEFAULT_MAX_TENOR() external view returns (uint32);
}
