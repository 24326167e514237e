// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {TargetReentrancyGuard} from "@scf/guard/TargetReentrancyGuard.sol";

import {EvidenceMerkle} from "./EvidenceMerkle.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";
import {IERC3525} from "./interfaces/IERC3525.sol";
import {IERC3525Metadata} from "./interfaces/IERC3525Metadata.sol";
import {IERC3525Receiver} from "./interfaces/IERC3525Receiver.sol";
import {IEvidenceRegistry} from "./interfaces/IEvidenceRegistry.sol";
import {toDecimalString} from "./utils/DecimalString.sol";

/// @title Receivable vouchers: ERC-3525 tokens, one slot per debtor-confirmed receivable.
/// @notice A receivable exists once its debtor confirmed it against anchored invoice evidence;
/// its face value is minted to the creditor and may then be split, merged, transferred and
/// financed (delivery versus payment) among registered participants until maturity. The
/// debtor's repayments are paid to the final holders pro rata; redeemed value is burned.
/// Guarantees: value is created only by confirmation and destroyed only by redemption; an
/// invoice backs at most one receivable, ever; the settlement tokens this contract holds equal
/// Σ(repaid − paid out) over all receivables.
/// @dev Not upgradeable, on purpose: a receivable is a claim on a debtor, and an admin able to
/// swap the code could rewrite every holder's claim. A new version is a new deployment.
/// Storage is laid out for gas: a token is one word (owner id | approval epoch | value |
/// redemption checkpoint) and its slot is in its id (slot << 64 | serial); the hot policy data
/// of a receivable is one word.
contract ReceivableToken is ParticipantRegistry, IERC3525Metadata, TargetReentrancyGuard {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------- types and storage
    /// Stored state of a receivable.
    enum Status { None, Pending, Active, Rejected, Withdrawn }
    /// State derived from stored state and time (statusOf).
    enum State { None, Pending, Active, Rejected, Withdrawn, Matured, Overdue, Settled }
    enum OfferStatus { None, Open, Accepted, Cancelled }

    struct Receivable {
        // word 0: read by every value move
        address debtor;
        uint40 maturity;
        Status status;
        bool initiatedByDebtor;
        uint40 issuedAt;
        // word 1
        address creditor;
        uint96 faceValue;
        // word 2
        address settlementToken;
        bool collectEnabled;
        // words 3-5
        bytes32 invoiceKey;
        bytes32 invoiceLeaf;
        bytes32 evidenceRoot;
        // word 6
        uint128 repaid;
        uint128 paidOut;
    }

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

    struct Policy {
        uint96 minUnit;
        uint32 maxTenor;
        bool splitAllowed;
        bool transferAllowed;
        uint64 nextSerial; // token serial counter, kept here because every split reads this word
    }

    // A token word: owner's participant id (bits 0..31) | approval epoch (32..63) | value
    // (64..159) | checkpoint, the repaid total at the token's last partial redemption (160..255).
    // Values and checkpoints are below 2**96 because face values are. The low 64 bits (owner,
    // epoch) are the token's approval key: every approval is stored under it, and the epoch
    // moves on at every change of owner, so no approval outlives its owner's holding.
    uint256 private constant _EPOCH_SHIFT = 32;
    uint256 private constant _VALUE_SHIFT = 64;
    uint256 private constant _CHECKPOINT_SHIFT = 160;
    uint256 private constant _KEY_MASK = (1 << 64) - 1;
    uint256 private constant _UINT96_MASK = (1 << 96) - 1;
    uint256 private constant _ADDRESS_BITS = 160;
    uint32 public constant MAX_TENOR_CEILING = 365 days;
    uint32 public constant DEFAULT_MAX_TENOR = 180 days;
    bytes4 private constant _ERC3525_RECEIVED = IERC3525Receiver.onERC3525Received.selector;

    uint8 private immutable _valueDecimals;
    /// The participant id of this contract, owner of every token in escrow.
    uint256 private immutable _escrowId;
    string private _name;
    string private _symbol;
    string private _baseURI;

    Policy private _policy;
    IEvidenceRegistry public evidenceRegistry;
    uint256 public slotCount;
    uint256 public offerCount;

    mapping(uint256 tokenId => uint256 packed) private _tokens;
    /// ERC-721 approved address (bits 0..159) | the token's approval key when it was set (160..223):
    /// it counts only while the key is still the token's, so a change of owner voids it for good.
    mapping(uint256 tokenId => uint256 packed) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool)) private _operatorApprovals;
    /// Value allowances are keyed by the token's approval key (owner id | epoch): once the token
    /// changes owner the key never comes back, even if the token does (the EIP's clearing).
    mapping(uint256 tokenId => mapping(uint256 approvalKey => mapping(address operator => uint256))) private _allowances;
    mapping(uint256 slot => Receivable) private _receivables;
    mapping(uint256 offerId => Offer) private _offers;
    /// 0 unused, 1 reserved by a pending application, 2 consumed by a confirmed receivable.
    mapping(bytes32 invoiceKey => uint8) private _invoiceKeys;
    mapping(address debtor => uint256) private _creditLimits;
    mapping(address debtor => uint256) private _outstanding;
    mapping(address token => bool) private _settlementTokens;

    // ---------------------------------------------------------------- events
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
    event Confirmed(uint256 indexed slot, address indexed debtor, address indexed creditor, uint256 tokenId, uint256 faceValue);
    event Rejected(uint256 indexed slot, address indexed by, bytes32 reasonCode);
    event Withdrawn(uint256 indexed slot, address indexed by);
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
    event OfferCancelled(uint256 indexed offerId, address indexed holder, uint256 escrowTokenId, uint256 returnedToTokenId);
    event Repaid(uint256 indexed slot, address indexed payer, uint256 amount, uint256 totalRepaid);
    event CollectionAuthorized(uint256 indexed slot, address indexed debtor, bool enabled);
    event Redeemed(uint256 indexed slot, uint256 indexed tokenId, address indexed holder, uint256 amount, uint256 remainingValue);
    event CreditLimitSet(address indexed debtor, uint256 limit);
    event PolicyChanged(uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed);
    event SettlementTokenSet(address indexed token, bool allowed);
    event EvidenceRegistrySet(address indexed registry);
    event BaseURISet(string uri);

    // ---------------------------------------------------------------- errors
    error NonexistentToken(uint256 tokenId);
    error NotTokenOwner(uint256 tokenId, address caller);
    error NotAuthorized(uint256 tokenId, address caller);
    error InsufficientAllowance(uint256 tokenId, address operator, uint256 allowance, uint256 value);
    error ApprovalEpochExhausted(uint256 tokenId);
    error InsufficientValue(uint256 tokenId, uint256 balance, uint256 value);
    error SlotMismatch(uint256 fromTokenId, uint256 toTokenId);
    error SameToken(uint256 tokenId);
    error ApproveToOwner(uint256 tokenId, address operator);
    error WrongFrom(uint256 tokenId, address from, address owner);
    error ReceiverRejected(address receiver);
    error NotRegistered(address account);
    error SlotMatured(uint256 slot, uint256 maturity);
    error NotMatured(uint256 slot, uint256 maturity);
    error InvalidValue(uint256 value, uint256 minUnit);
    error SplitNotAllowed(uint256 tokenId);
    error TransferNotAllowed(uint256 tokenId, address from);
    error TokenInEscrow(uint256 tokenId);
    error UnknownSlot(uint256 slot);
    error NotDebtor(uint256 slot, address caller);
    error NotCreditor(uint256 slot, address caller);
    error NotInitiator(uint256 slot, address caller);
    error NotPending(uint256 slot, Status status);
    error NotActive(uint256 slot, Status status);
    error InvalidMaturity(uint256 maturity, uint256 nowTime);
    error TenorTooLong(uint256 tenor, uint256 maxTenor);
    error TenorAboveCeiling(uint256 maxTenor);
    error ValueTooLarge(uint256 value);
    error SettlementTokenNotAllowed(address token);
    error DecimalsMismatch(address token, uint8 decimals, uint8 expected);
    error EvidenceRegistryNotSet();
    error EvidenceRegistryAlreadySet(address registry);
    error InvalidEvidence(bytes32 root, bytes32 leaf);
    error InvoiceAlreadyUsed(bytes32 invoiceKey, uint8 state);
    error CreditLimitExceeded(address debtor, uint256 limit, uint256 outstanding, uint256 faceValue);
    error Overpayment(uint256 slot, uint256 amount, uint256 remaining);
    error ZeroAmount();
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    error CollectionNotAuthorized(uint256 slot);
    error NothingToCollect(uint256 slot);
    error NothingToRedeem(uint256 tokenId);
    error UnknownOffer(uint256 offerId);
    error OfferNotOpen(uint256 offerId, OfferStatus status);
    error OfferExpired(uint256 offerId, uint256 expiry);
    error NotOfferFinancier(uint256 offerId, address caller);
    error NotOfferHolder(uint256 offerId, address caller);
    error InvalidPrice(uint256 price, uint256 value);
    error InvalidExpiry(uint256 expiry);
    error InvalidMinUnit(uint256 minUnit);

    constructor(string memory name_, string memory symbol_, uint8 valueDecimals_, address operator_)
        ParticipantRegistry(operator_)
    {
        _name = name_;
        _symbol = symbol_;
        _valueDecimals = valueDecimals_;
        uint256 self = _withId(address(this), 0); // an id, no roles: it holds escrow only
        _accounts[address(this)] = self;
        _escrowId = (self >> _ID_SHIFT) & _ID_MASK;
        _policy = Policy({minUnit: 1, maxTenor: DEFAULT_MAX_TENOR, splitAllowed: true, transferAllowed: true, nextSerial: 0});
        emit PolicyChanged(1, DEFAULT_MAX_TENOR, true, true);
    }

    // ================================================================ administration
    /// @notice Point at the evidence registry; can be done once.
    function setEvidenceRegistry(IEvidenceRegistry registry) external onlyOperator {
        if (address(evidenceRegistry) != address(0)) revert EvidenceRegistryAlreadySet(address(evidenceRegistry));
        if (address(registry) == address(0)) revert ZeroAddress();
        evidenceRegistry = registry;
        emit EvidenceRegistrySet(address(registry));
    }

    /// @notice Allow or disallow an ERC-20 as settlement currency; its decimals must equal
    /// `valueDecimals()` so that one unit of value is one unit of money.
    function setSettlementToken(address token, bool allowed) external onlyOperator {
        if (token == address(0)) revert ZeroAddress();
        if (allowed) {
            uint8 d = IERC20Metadata(token).decimals();
            if (d != _valueDecimals) revert DecimalsMismatch(token, d, _valueDecimals);
        }
        _settlementTokens[token] = allowed;
        emit SettlementTokenSet(token, allowed);
    }

    /// @notice Cap the face value a debtor may have outstanding (confirmed and not yet repaid).
    function setCreditLimit(address debtor, uint256 limit) external onlyOperator {
        _creditLimits[debtor] = limit;
        emit CreditLimitSet(debtor, limit);
    }

    /// @notice Set the policy every value move and issuance is checked against.
    /// @param maxTenor_ longest maturity allowed at issuance, in seconds; at most 365 days.
    function setPolicy(uint256 minUnit, uint256 maxTenor_, bool splitAllowed, bool transferAllowed) external onlyOperator {
        if (minUnit == 0 || minUnit > type(uint96).max) revert InvalidMinUnit(minUnit);
        if (maxTenor_ == 0 || maxTenor_ > MAX_TENOR_CEILING) revert TenorAboveCeiling(maxTenor_);
        Policy storage p = _policy;
        p.minUnit = uint96(minUnit);
        p.maxTenor = uint32(maxTenor_);
        p.splitAllowed = splitAllowed;
        p.transferAllowed = transferAllowed;
        emit PolicyChanged(minUnit, maxTenor_, splitAllowed, transferAllowed);
    }

    /// @notice Base of tokenURI/slotURI/contractURI (empty: no metadata URIs).
    function setBaseURI(string calldata uri) external onlyOperator {
        _baseURI = uri;
        emit BaseURISet(uri);
    }

    // ================================================================ issuance
    /// @notice The creditor (or the operator for it) applies for a receivable against an
    /// anchored invoice. Nothing is minted until the debtor confirms.
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

    /// @notice The debtor issues a receivable to a creditor, who must accept it (`confirm`).
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
        _requireRole(a.debtor, ROLE_DEBTOR);
        _requireRole(a.creditor, ROLE_SUPPLIER);
        Policy memory p = _policy;
        if (a.faceValue == 0 || a.faceValue % p.minUnit != 0) revert InvalidValue(a.faceValue, p.minUnit);
        if (a.faceValue > type(uint96).max) revert ValueTooLarge(a.faceValue);
        if (!_settlementTokens[a.settlementToken]) revert SettlementTokenNotAllowed(a.settlementToken);
        if (a.maturity <= block.timestamp || a.maturity > type(uint40).max) {
            revert InvalidMaturity(a.maturity, block.timestamp);
        }
        if (a.maturity - block.timestamp > p.maxTenor) revert TenorTooLong(a.maturity - block.timestamp, p.maxTenor);
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

    /// @notice The counterparty confirms: the named debtor for an application, the creditor for
    /// a debtor's issue. Mints the face value to the creditor and consumes the invoice forever.
    function confirm(uint256 slot) external whenNotPaused returns (uint256 tokenId) {
        Receivable storage r = _pending(slot);
        if (r.initiatedByDebtor) {
            if (msg.sender != r.creditor) revert NotCreditor(slot, msg.sender);
        } else if (msg.sender != r.debtor) {
            revert NotDebtor(slot, msg.sender);
        }
        if (block.timestamp >= r.maturity) revert SlotMatured(slot, r.maturity);
        address debtor = r.debtor;
        uint256 face = r.faceValue;
        uint256 outstanding = _outstanding[debtor];
        uint256 limit = _creditLimits[debtor];
        if (outstanding + face > limit) revert CreditLimitExceeded(debtor, limit, outstanding, face);
        _outstanding[debtor] = outstanding + face;
        _invoiceKeys[r.invoiceKey] = 2;
        r.status = Status.Active;
        r.issuedAt = uint40(block.timestamp);
        address creditor = r.creditor;
        if (rolesOf(creditor) == 0) revert NotRegistered(creditor);
        (tokenId,) = _mint(creditor, _idOf(creditor), slot, face);
        emit TransferValue(0, tokenId, face);
        emit Confirmed(slot, debtor, creditor, tokenId, face);
    }

    /// @notice The counterparty declines; the invoice is free to back another application.
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

    /// @notice The initiator takes a pending application back; the invoice is freed.
    function withdraw(uint256 slot) external whenNotPaused {
        Receivable storage r = _pending(slot);
        bool allowed = r.initiatedByDebtor ? msg.sender == r.debtor : (msg.sender == r.creditor || msg.sender == operator());
        if (!allowed) revert NotInitiator(slot, msg.sender);
        r.status = Status.Withdrawn;
        delete _invoiceKeys[r.invoiceKey];
        emit Withdrawn(slot, msg.sender);
    }

    function _pending(uint256 slot) private view returns (Receivable storage r) {
        r = _receivables[slot];
        if (r.status != Status.Pending) {
            if (r.status == Status.None) revert UnknownSlot(slot);
            revert NotPending(slot, r.status);
        }
    }

    // ================================================================ ERC-3525 value moves
    /// @notice Move `value` from `fromTokenId` into a new token of the same slot owned by `to`.
    function transferFrom(uint256 fromTokenId, address to, uint256 value) external whenNotPaused returns (uint256 newTokenId) {
        uint256 word = _token(fromTokenId);
        address owner = _spendAllowance(fromTokenId, word, value);
        uint256 slot = fromTokenId >> 64;
        uint256 toId = _checkMove(fromTokenId, slot, owner, to, value, _valueOf(word));
        uint256 newWord;
        (newTokenId, newWord) = _mint(to, toId, slot, 0);
        _moveValue(fromTokenId, word, newTokenId, newWord, value);
        _checkOnReceived(fromTokenId, newTokenId, to, value, "");
    }

    /// @notice Move `value` from `fromTokenId` into the existing token `toTokenId` of the same slot.
    function transferFrom(uint256 fromTokenId, uint256 toTokenId, uint256 value) external whenNotPaused {
        if (fromTokenId == toTokenId) revert SameToken(fromTokenId);
        uint256 word = _token(fromTokenId);
        uint256 toWord = _token(toTokenId);
        if (fromTokenId >> 64 != toTokenId >> 64) revert SlotMismatch(fromTokenId, toTokenId);
        uint256 toOwnerId = uint32(toWord);
        if (toOwnerId == _escrowId) revert TokenInEscrow(toTokenId);
        address owner = _spendAllowance(fromTokenId, word, value);
        address toOwner = toOwnerId == uint32(word) ? owner : _participantAt[toOwnerId];
        _checkMove(fromTokenId, fromTokenId >> 64, owner, toOwner, value, _valueOf(word));
        _moveValue(fromTokenId, word, toTokenId, toWord, value);
        _checkOnReceived(fromTokenId, toTokenId, toOwner, value, "");
    }

    /// @notice Let `operator_` move up to `value` of `tokenId` (owner, approved or operator only).
    /// The allowance lasts while the token stays with its current owner: once the token changes
    /// owner it reads 0 for good, even if the token comes back.
    function approve(uint256 tokenId, address operator_, uint256 value) external whenNotPaused {
        uint256 word = _token(tokenId);
        address owner = _participantAt[uint32(word)];
        if (operator_ == owner) revert ApproveToOwner(tokenId, operator_);
        if (!_isApprovedOrOwner(tokenId, word, owner, msg.sender)) revert NotAuthorized(tokenId, msg.sender);
        _allowances[tokenId][word & _KEY_MASK][operator_] = value;
        emit ApprovalValue(tokenId, operator_, value);
    }

    /// @inheritdoc IERC3525
    function allowance(uint256 tokenId, address operator_) external view returns (uint256) {
        return _allowances[tokenId][_token(tokenId) & _KEY_MASK][operator_];
    }

    /// @inheritdoc IERC3525
    function valueDecimals() external view returns (uint8) {
        return _valueDecimals;
    }

    /// @inheritdoc IERC3525
    function balanceOf(uint256 tokenId) external view returns (uint256) {
        return _valueOf(_token(tokenId));
    }

    /// @inheritdoc IERC3525
    function slotOf(uint256 tokenId) external view returns (uint256) {
        _token(tokenId);
        return tokenId >> 64;
    }

    // ================================================================ ERC-721
    /// @inheritdoc IERC721
    function balanceOf(address owner) external view returns (uint256) {
        if (owner == address(0)) revert ZeroAddress();
        return (_accounts[owner] >> _COUNT_SHIFT) & type(uint64).max;
    }

    /// @inheritdoc IERC721
    function ownerOf(uint256 tokenId) external view returns (address) {
        return _participantAt[uint32(_token(tokenId))];
    }

    /// @inheritdoc IERC721
    function transferFrom(address from, address to, uint256 tokenId) public whenNotPaused {
        uint256 word = _token(tokenId);
        if (_idOf(from) != uint32(word)) revert WrongFrom(tokenId, from, _participantAt[uint32(word)]);
        if (!_isApprovedOrOwner(tokenId, word, from, msg.sender)) revert NotAuthorized(tokenId, msg.sender);
        uint256 toId = _checkWholeMove(tokenId, tokenId >> 64, from, to);
        _transferToken(tokenId, word, from, to, toId);
    }

    /// @inheritdoc IERC721
    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory data) public {
        transferFrom(from, to, tokenId);
        ERC721Utils.checkOnERC721Received(msg.sender, from, to, tokenId, data);
    }

    /// @inheritdoc IERC721
    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        safeTransferFrom(from, to, tokenId, "");
    }

    /// @inheritdoc IERC721
    /// @dev The approval lasts while the token stays with its current owner (see `approve` above).
    function approve(address to, uint256 tokenId) external whenNotPaused {
        uint256 word = _token(tokenId);
        address owner = _participantAt[uint32(word)];
        if (msg.sender != owner && !_operatorApprovals[owner][msg.sender]) revert NotAuthorized(tokenId, msg.sender);
        _tokenApprovals[tokenId] = uint256(uint160(to)) | ((word & _KEY_MASK) << _ADDRESS_BITS);
        emit Approval(owner, to, tokenId);
    }

    /// @inheritdoc IERC721
    function setApprovalForAll(address operator_, bool approved) external whenNotPaused {
        if (operator_ == address(0)) revert ZeroAddress();
        _operatorApprovals[msg.sender][operator_] = approved;
        emit ApprovalForAll(msg.sender, operator_, approved);
    }

    /// @inheritdoc IERC721
    function getApproved(uint256 tokenId) external view returns (address) {
        return _approvedOf(tokenId, _token(tokenId));
    }

    /// @inheritdoc IERC721
    function isApprovedForAll(address owner, address operator_) external view returns (bool) {
        return _operatorApprovals[owner][operator_];
    }

    // ================================================================ metadata and ERC-165
    /// @inheritdoc IERC721Metadata
    function name() external view returns (string memory) {
        return _name;
    }

    /// @inheritdoc IERC721Metadata
    function symbol() external view returns (string memory) {
        return _symbol;
    }

    /// @inheritdoc IERC721Metadata
    function tokenURI(uint256 tokenId) external view returns (string memory) {
        _token(tokenId);
        return bytes(_baseURI).length == 0 ? "" : string.concat(_baseURI, "token/", toDecimalString(tokenId));
    }

    /// @inheritdoc IERC3525Metadata
    function contractURI() external view returns (string memory) {
        return bytes(_baseURI).length == 0 ? "" : string.concat(_baseURI, "contract");
    }

    /// @inheritdoc IERC3525Metadata
    function slotURI(uint256 slot) external view returns (string memory) {
        return bytes(_baseURI).length == 0 ? "" : string.concat(_baseURI, "slot/", toDecimalString(slot));
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC165).interfaceId || interfaceId == type(IERC721).interfaceId
            || interfaceId == type(IERC721Metadata).interfaceId || interfaceId == type(IERC3525).interfaceId
            || interfaceId == type(IERC3525Metadata).interfaceId;
    }

    // ================================================================ financing (DvP)
    /// @notice Offer `value` of `tokenId` to `financier` (0: any registered financier) for
    /// `price` of the slot's settlement token until `expiry`. The value waits in escrow, so it
    /// cannot move until the offer is accepted or cancelled.
    function offer(uint256 tokenId, uint256 value, address financier, uint256 price, uint64 expiry, bytes32 registrationRef)
        external
        whenNotPaused
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
        emit Offered(offerId, tokenId >> 64, msg.sender, tokenId, escrowId, financier, value, price, expiry, registrationRef);
    }

    /// @dev Checks an offer and moves its value into escrow (the whole token when all of it is offered).
    function _escrow(uint256 tokenId, uint256 value, address financier, uint256 price, uint64 expiry)
        private
        returns (uint256 escrowId)
    {
        uint256 word = _token(tokenId);
        if (_idOf(msg.sender) != uint32(word)) revert NotTokenOwner(tokenId, msg.sender);
        if (price == 0 || price > value) revert InvalidPrice(price, value);
        uint256 slot = tokenId >> 64;
        if (expiry <= block.timestamp || expiry > _receivables[slot].maturity) revert InvalidExpiry(expiry);
        if (financier != address(0)) _requireRole(financier, ROLE_FINANCIER);
        uint256 balance = _valueOf(word);
        _checkSender(tokenId, slot, msg.sender, value, balance);
        if (value == balance) {
            escrowId = tokenId;
            _transferToken(tokenId, word, msg.sender, address(this), _escrowId);
        } else {
            uint256 escrowWord;
            (escrowId, escrowWord) = _mint(address(this), _escrowId, slot, 0);
            _moveValue(tokenId, word, escrowId, escrowWord, value);
        }
    }

    /// @notice The financier accepts: it pays the price to the holder and receives the escrowed
    /// value, in one transaction (delivery versus payment).
    function acceptOffer(uint256 offerId) external whenNotPaused nonReentrant {
        Offer storage o = _openOffer(offerId);
        if (block.timestamp >= o.expiry) revert OfferExpired(offerId, o.expiry);
        address named = o.financier;
        if (named != address(0) ? msg.sender != named : !hasRole(msg.sender, ROLE_FINANCIER)) {
            revert NotOfferFinancier(offerId, msg.sender);
        }
        uint256 financierId;
        {
            uint256 account = _accounts[msg.sender];
            if (account & _ROLE_MASK == 0) revert NotRegistered(msg.sender);
            financierId = (account >> _ID_SHIFT) & _ID_MASK;
        }
        uint256 escrowId = o.escrowTokenId;
        uint256 slot = escrowId >> 64;
        Receivable storage r = _receivables[slot];
        if (block.timestamp >= r.maturity) revert SlotMatured(slot, r.maturity);
        o.status = OfferStatus.Accepted;
        _transferToken(escrowId, _tokens[escrowId], address(this), msg.sender, financierId);
        address holder = o.holder;
        uint256 price = o.price;
        emit Financed(offerId, slot, msg.sender, escrowId, holder, o.value, price, o.registrationRef);
        IERC20(r.settlementToken).safeTransferFrom(msg.sender, holder, price);
    }

    /// @notice Withdraw an open offer: by its holder at any time, by anyone once it expired or
    /// the receivable matured. The value returns to the holder (into the source token when that
    /// still is the holder's).
    function cancelOffer(uint256 offerId) external whenNotPaused returns (uint256 returnedTo) {
        Offer storage o = _openOffer(offerId);
        address holder = o.holder;
        uint256 escrowId = o.escrowTokenId;
        if (msg.sender != holder && block.timestamp < o.expiry && block.timestamp < _receivables[escrowId >> 64].maturity) {
            revert NotOfferHolder(offerId, msg.sender);
        }
        o.status = OfferStatus.Cancelled;
        uint256 value = o.value;
        uint256 source = o.sourceTokenId;
        uint256 sourceWord = _tokens[source];
        uint256 escrowWord = _tokens[escrowId];
        uint256 holderId = _idOf(holder);
        // Merge back only into a source token still the holder's and never partly redeemed: a
        // checkpoint would apply to the returned value too and underpay it.
        if (source != escrowId && uint32(sourceWord) == holderId && sourceWord >> _CHECKPOINT_SHIFT == 0) {
            // merge back and burn the escrow token
            _moveValue(escrowId, escrowWord, source, sourceWord, value);
            _burnToken(escrowId, address(this));
            returnedTo = source;
        } else {
            _transferToken(escrowId, escrowWord, address(this), holder, holderId);
            returnedTo = escrowId;
        }
        emit OfferCancelled(offerId, holder, escrowId, returnedTo);
    }

    /// @notice An offer as stored.
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

    // ================================================================ repayment and redemption
    /// @notice Pay `amount` of the slot's settlement token towards the receivable (partial,
    /// early, at or after maturity). Anyone may pay; normally the debtor does.
    function repay(uint256 slot, uint256 amount) external whenNotPaused nonReentrant {
        Receivable storage r = _active(slot);
        uint256 remaining = r.faceValue - r.repaid;
        if (amount == 0) revert ZeroAmount();
        if (amount > remaining) revert Overpayment(slot, amount, remaining);
        _pull(r, slot, msg.sender, amount);
    }

    /// @notice The debtor allows (or stops) keepers collecting the repayment at maturity from
    /// its ERC-20 allowance to this contract.
    function authorizeCollection(uint256 slot, bool enabled) external whenNotPaused {
        Receivable storage r = _active(slot);
        if (msg.sender != r.debtor) revert NotDebtor(slot, msg.sender);
        r.collectEnabled = enabled;
        emit CollectionAuthorized(slot, msg.sender, enabled);
    }

    /// @notice Once matured, pull what the debtor owes, as far as its allowance and balance
    /// reach. Anyone (a keeper) may call.
    function collect(uint256 slot) external whenNotPaused nonReentrant returns (uint256 amount) {
        Receivable storage r = _active(slot);
        if (!r.collectEnabled) revert CollectionNotAuthorized(slot);
        if (block.timestamp < r.maturity) revert NotMatured(slot, r.maturity);
        address debtor = r.debtor;
        IERC20 t = IERC20(r.settlementToken);
        amount = r.faceValue - r.repaid;
        uint256 allowed = t.allowance(debtor, address(this));
        if (allowed < amount) amount = allowed;
        uint256 held = t.balanceOf(debtor);
        if (held < amount) amount = held;
        if (amount == 0) revert NothingToCollect(slot);
        _pull(r, slot, debtor, amount);
    }

    function _pull(Receivable storage r, uint256 slot, address payer, uint256 amount) private {
        // Effects first; the transfer is checked to have delivered exactly `amount`.
        uint256 total = r.repaid + amount;
        r.repaid = uint128(total); // total <= faceValue < 2**96
        _outstanding[r.debtor] -= amount;
        emit Repaid(slot, payer, amount, total);
        IERC20 t = IERC20(r.settlementToken);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(payer, address(this), amount);
        uint256 received = t.balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(address(t), amount, received);
    }

    /// @notice Pay the holder of `tokenId` its pro-rata share of what the debtor has repaid and
    /// burn the same value. Allowed once matured, or earlier when fully repaid.
    /// @return paid floor(value × (repaid − checkpoint) / (face − checkpoint)).
    function redeem(uint256 tokenId) external whenNotPaused nonReentrant returns (uint256 paid) {
        paid = _redeem(tokenId, true);
    }

    /// @notice `redeem` for many tokens; tokens with nothing due (or in escrow, or burned) are
    /// skipped instead of reverting, so a keeper's batch always goes through.
    function redeemBatch(uint256[] calldata tokenIds) external whenNotPaused nonReentrant returns (uint256 totalPaid) {
        for (uint256 i = 0; i < tokenIds.length; ++i) {
            totalPaid += _redeem(tokenIds[i], false);
        }
    }

    function _redeem(uint256 tokenId, bool strict) private returns (uint256 paid) {
        uint256 word = _tokens[tokenId];
        uint256 ownerId = uint32(word);
        if (ownerId == 0) {
            if (strict) revert NonexistentToken(tokenId);
            return 0;
        }
        if (ownerId == _escrowId) {
            if (strict) revert TokenInEscrow(tokenId);
            return 0;
        }
        uint256 slot = tokenId >> 64;
        Receivable storage r = _receivables[slot];
        uint256 face = r.faceValue;
        uint256 repaid = r.repaid;
        if (block.timestamp < r.maturity && repaid != face) {
            if (strict) revert NotMatured(slot, r.maturity);
            return 0;
        }
        uint256 value = _valueOf(word);
        uint256 checkpoint = word >> _CHECKPOINT_SHIFT;
        // checkpoint <= repaid <= face; checkpoint < face while the token has value, because a
        // redemption at repaid == face pays the whole value and burns the token.
        paid = value * (repaid - checkpoint) / (face - checkpoint);
        if (paid == 0) {
            if (strict) revert NothingToRedeem(tokenId);
            return 0;
        }
        r.paidOut += uint128(paid); // paidOut + paid <= repaid < 2**96
        uint256 remaining = value - paid;
        address owner = _participantAt[ownerId];
        if (remaining == 0) {
            _burnToken(tokenId, owner);
        } else {
            // the checkpoint shares the token's word: no fresh storage slot for it (repaid < 2**96)
            _tokens[tokenId] = (word & _KEY_MASK) | (remaining << _VALUE_SHIFT) | (repaid << _CHECKPOINT_SHIFT);
        }
        emit TransferValue(tokenId, 0, paid);
        emit Redeemed(slot, tokenId, owner, paid, remaining);
        IERC20(r.settlementToken).safeTransfer(owner, paid);
    }

    function _active(uint256 slot) private view returns (Receivable storage r) {
        r = _receivables[slot];
        if (r.status != Status.Active) {
            if (r.status == Status.None) revert UnknownSlot(slot);
            revert NotActive(slot, r.status);
        }
    }

    // ================================================================ reads
    /// @notice A receivable as stored.
    function getReceivable(uint256 slot) external view returns (Receivable memory) {
        return _receivables[slot];
    }

    /// @notice The receivable's state, including the time-derived Matured, Overdue and Settled.
    function statusOf(uint256 slot) external view returns (State) {
        Receivable storage r = _receivables[slot];
        if (r.status != Status.Active) return State(uint8(r.status));
        if (r.paidOut == r.faceValue) return State.Settled;
        if (block.timestamp < r.maturity) return State.Active;
        return r.repaid == r.faceValue ? State.Matured : State.Overdue;
    }

    /// @notice The policy in force.
    function policy() external view returns (uint256 minUnit, uint256 maxTenor, bool splitAllowed, bool transferAllowed) {
        Policy memory p = _policy;
        return (p.minUnit, p.maxTenor, p.splitAllowed, p.transferAllowed);
    }

    /// @notice Confirmed face value of `debtor` not yet repaid.
    function outstandingOf(address debtor) external view returns (uint256) {
        return _outstanding[debtor];
    }

    /// @notice The credit limit of `debtor`.
    function creditLimitOf(address debtor) external view returns (uint256) {
        return _creditLimits[debtor];
    }

    /// @notice Whether `token` may settle new receivables.
    function isSettlementToken(address token) external view returns (bool) {
        return _settlementTokens[token];
    }

    /// @notice 0 unused, 1 reserved by a pending application, 2 consumed.
    function invoiceKeyState(bytes32 invoiceKey) external view returns (uint8) {
        return _invoiceKeys[invoiceKey];
    }

    /// @notice The repaid total at the token's last partial redemption.
    function checkpointOf(uint256 tokenId) external view returns (uint256) {
        return _tokens[tokenId] >> _CHECKPOINT_SHIFT;
    }

    // ================================================================ the value hooks
    /// @dev Every value move between tokens passes here (split, merge, escrow, return); the
    /// words are the tokens' words as read by the caller, owners and checkpoints untouched.
    function _moveValue(uint256 fromId, uint256 fromWord, uint256 toId, uint256 toWord, uint256 value) private {
        // The caller checked value <= the from-token's value, so subtracting it at the value's
        // bit position borrows nothing from the checkpoint bits; the sum of a slot's token values
        // is its face value minus redemptions, below 2**96, so adding it carries nothing out.
        unchecked {
            _tokens[fromId] = fromWord - (value << _VALUE_SHIFT);
            _tokens[toId] = toWord + (value << _VALUE_SHIFT);
        }
        emit TransferValue(fromId, toId, value);
    }

    /// @dev Creates a token of `value` for `to` (participant id `toId`) and counts it for its owner.
    function _mint(address to, uint256 toId, uint256 slot, uint256 value) private returns (uint256 tokenId, uint256 word) {
        uint64 serial = ++_policy.nextSerial;
        tokenId = (slot << 64) | serial;
        word = toId | (value << _VALUE_SHIFT);
        _tokens[tokenId] = word;
        _accounts[to] += 1 << _COUNT_SHIFT;
        emit Transfer(address(0), to, tokenId);
        emit SlotChanged(tokenId, 0, slot);
    }

    /// @dev Token ids are never reused (one serial counter), so the approvals of a burned token
    /// can never be reached again.
    function _burnToken(uint256 tokenId, address owner) private {
        delete _tokens[tokenId];
        _accounts[owner] -= 1 << _COUNT_SHIFT;
        emit Transfer(owner, address(0), tokenId);
    }

    /// @dev Every change of owner passes here: the new owner and a new approval epoch in one
    /// write, which voids every approval given under the old key.
    function _transferToken(uint256 tokenId, uint256 word, address from, address to, uint256 toId) private {
        // At most one epoch per change of owner, and a token changes owner only before its
        // maturity (at most 365 days): 2**32 changes would take more gas than any chain mines
        // in that time. Checked anyway, so a wrap could never revive an approval.
        uint256 epoch = uint256(uint32(word >> _EPOCH_SHIFT)) + 1;
        if (epoch > type(uint32).max) revert ApprovalEpochExhausted(tokenId);
        _tokens[tokenId] = (word & ~_KEY_MASK) | toId | (epoch << _EPOCH_SHIFT);
        _accounts[from] -= 1 << _COUNT_SHIFT;
        _accounts[to] += 1 << _COUNT_SHIFT;
        emit Transfer(from, to, tokenId);
    }

    // ================================================================ policy
    /// @dev The policy of a value move by a participant: both parties registered, before
    /// maturity, a positive multiple of the minimum unit, within the balance, the split and
    /// transfer switches. Escrow (offers) and redemption have their own rules.
    /// Returns the receiver's participant id.
    function _checkMove(uint256 tokenId, uint256 slot, address from, address to, uint256 value, uint256 balance)
        private
        view
        returns (uint256 toId)
    {
        if (to == address(0)) revert ZeroAddress();
        uint256 account = _accounts[to];
        if (account & _ROLE_MASK == 0) revert NotRegistered(to);
        _checkSender(tokenId, slot, from, value, balance);
        toId = (account >> _ID_SHIFT) & _ID_MASK;
    }

    /// @dev An ERC-721 transfer moves the whole token, whatever its value (even an emptied
    /// one): parties, maturity and the transfer switch apply; unit and split rules do not.
    /// Returns the receiver's participant id.
    function _checkWholeMove(uint256 tokenId, uint256 slot, address from, address to) private view returns (uint256 toId) {
        if (to == address(0)) revert ZeroAddress();
        uint256 account = _accounts[to];
        if (account & _ROLE_MASK == 0) revert NotRegistered(to);
        toId = (account >> _ID_SHIFT) & _ID_MASK;
        if (_accounts[from] & _ROLE_MASK == 0) revert NotRegistered(from);
        uint256 maturity = _receivables[slot].maturity;
        if (block.timestamp >= maturity) revert SlotMatured(slot, maturity);
        if (!_policy.transferAllowed && from != _receivables[slot].creditor) revert TransferNotAllowed(tokenId, from);
    }

    function _checkSender(uint256 tokenId, uint256 slot, address from, uint256 value, uint256 balance) private view {
        if (from == address(this)) revert TokenInEscrow(tokenId);
        if (_accounts[from] & _ROLE_MASK == 0) revert NotRegistered(from);
        uint256 maturity = _receivables[slot].maturity;
        if (block.timestamp >= maturity) revert SlotMatured(slot, maturity);
        Policy memory p = _policy;
        if (value == 0 || value % p.minUnit != 0) revert InvalidValue(value, p.minUnit);
        if (value > balance) revert InsufficientValue(tokenId, balance, value);
        if (!p.splitAllowed && value != balance) revert SplitNotAllowed(tokenId);
        if (!p.transferAllowed && from != _receivables[slot].creditor) revert TransferNotAllowed(tokenId, from);
    }

    // ================================================================ internals
    /// @dev The token's word; reverts for a token that does not exist (no owner).
    function _token(uint256 tokenId) private view returns (uint256 word) {
        word = _tokens[tokenId];
        if (uint32(word) == 0) revert NonexistentToken(tokenId);
    }

    function _valueOf(uint256 word) private pure returns (uint256) {
        return (word >> _VALUE_SHIFT) & _UINT96_MASK;
    }

    /// @dev The ERC-721 approved address, if it was approved under the token's current key.
    function _approvedOf(uint256 tokenId, uint256 word) private view returns (address) {
        uint256 approval = _tokenApprovals[tokenId];
        return (approval >> _ADDRESS_BITS) == (word & _KEY_MASK) ? address(uint160(approval)) : address(0);
    }

    function _isApprovedOrOwner(uint256 tokenId, uint256 word, address owner, address spender) private view returns (bool) {
        return spender == owner || _operatorApprovals[owner][spender] || _approvedOf(tokenId, word) == spender;
    }

    /// @dev Authorizes the caller to move `value` of the token (spending its value allowance
    /// unless it is the owner, an operator or the approved address) and returns the owner.
    function _spendAllowance(uint256 tokenId, uint256 word, uint256 value) private returns (address owner) {
        // the owner's own move, the common case, needs no lookup: its account word is read anyway
        if (_idOf(msg.sender) == uint32(word)) return msg.sender;
        owner = _participantAt[uint32(word)];
        if (_operatorApprovals[owner][msg.sender] || _approvedOf(tokenId, word) == msg.sender) return owner;
        uint256 key = word & _KEY_MASK;
        uint256 current = _allowances[tokenId][key][msg.sender];
        if (current < value) revert InsufficientAllowance(tokenId, msg.sender, current, value);
        if (current != type(uint256).max) {
            // current >= value was just checked
            unchecked {
                _allowances[tokenId][key][msg.sender] = current - value;
            }
        }
    }

    /// @dev EIP-3525: a contract receiving value is asked, if it declares the receiver interface.
    function _checkOnReceived(uint256 fromId, uint256 toId, address to, uint256 value, bytes memory data) private {
        if (to.code.length == 0) return;
        bool declared = false;
        try IERC165(to).supportsInterface(type(IERC3525Receiver).interfaceId) returns (bool s) {
            declared = s;
        } catch {
            return;
        }
        if (!declared) return;
        try IERC3525Receiver(to).onERC3525Received(msg.sender, fromId, toId, value, data) returns (bytes4 ret) {
            if (ret != _ERC3525_RECEIVED) revert ReceiverRejected(to);
        } catch {
            revert ReceiverRejected(to);
        }
    }
}
