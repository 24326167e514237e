// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";

import {ParticipantRegistry} from "../ParticipantRegistry.sol";
import {IERC3525} from "../interfaces/IERC3525.sol";
import {IERC3525Metadata} from "../interfaces/IERC3525Metadata.sol";
import {IERC3525Receiver} from "../interfaces/IERC3525Receiver.sol";
import {IReceivableToken} from "../interfaces/IReceivableToken.sol";
import {toDecimalString} from "../utils/DecimalString.sol";

/// @title ERC-3525 (with ERC-721, metadata and ERC-165) over one-word tokens, with one funnel.
/// @notice Implements the EIP's token surface. Every change of a token's value or owner -
/// mint, split, merge, ERC-721 transfer, escrow, release, return, burn - passes `_update`,
/// which first asks the policy hook `_checkMove`; a new entry point therefore cannot move value
/// without the policy, and a new rule is an edit of `_checkMove` alone.
/// @dev A token is one storage word: owner's participant id (bits 0..31) | approval epoch
/// (32..63) | value (64..159) | checkpoint, the repaid total at the token's last partial
/// redemption (160..255). Values and checkpoints are below 2**96 because face values are. The
/// low 64 bits (owner, epoch) are the token's approval key: every approval is stored under it,
/// and the epoch moves on at every change of owner, so no approval outlives its owner's holding.
/// A token's slot is in its id (slot << 64 | serial).
abstract contract ERC3525Base is ParticipantRegistry, IReceivableToken {
    /// What a call to `_update` does, for the policy hook: `Mint` (confirmation), `Value` (a
    /// participant's split or merge), `Whole` (an ERC-721 transfer), `Escrow` (value into an
    /// offer), `Release` (escrow to the accepting financier), `Return` (escrow back to the
    /// holder), `Burn` (redemption).
    enum Move { Mint, Value, Whole, Escrow, Release, Return, Burn }

    /// @inheritdoc IReceivableToken
    uint256 public constant MAX_BATCH_RECIPIENTS = 100;

    uint256 internal constant _EPOCH_SHIFT = 32;
    uint256 internal constant _VALUE_SHIFT = 64;
    uint256 internal constant _CHECKPOINT_SHIFT = 160;
    uint256 internal constant _SLOT_SHIFT = 64;
    uint256 internal constant _KEY_MASK = (1 << 64) - 1;
    uint256 internal constant _UINT96_MASK = (1 << 96) - 1;
    uint256 private constant _ADDRESS_BITS = 160;
    bytes4 private constant _ERC3525_RECEIVED = IERC3525Receiver.onERC3525Received.selector;

    uint8 private immutable _valueDecimals;
    /// The participant id of this contract, owner of every token in escrow.
    uint256 internal immutable _escrowId;
    string private _name;
    string private _symbol;
    string private _baseURI;

    mapping(uint256 tokenId => uint256 packed) internal _tokens;
    /// ERC-721 approved address (bits 0..159) | the token's approval key when it was set (160..223):
    /// it counts only while the key is still the token's, so a change of owner voids it for good.
    mapping(uint256 tokenId => uint256 packed) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool)) private _operatorApprovals;
    /// Value allowances are keyed by the token's approval key (owner id | epoch): once the token
    /// changes owner the key never comes back, even if the token does (the EIP's clearing).
    mapping(uint256 tokenId => mapping(uint256 approvalKey => mapping(address operator => uint256))) private _allowances;

    constructor(string memory name_, string memory symbol_, uint8 valueDecimals_, address operator_)
        ParticipantRegistry(operator_)
    {
        _name = name_;
        _symbol = symbol_;
        _valueDecimals = valueDecimals_;
        uint256 self = _withId(address(this), 0); // an id, no roles: it holds escrow only
        _accounts[address(this)] = self;
        _escrowId = (self >> _ID_SHIFT) & _ID_MASK;
    }

    // ================================================================ the funnel
    /// @dev The one function that changes a token's value or owner. It asks `_checkMove` first
    /// (which reverts when the policy forbids the move and returns the total value moved), then:
    /// - `fromTokenId == toTokenId`: the whole token changes owner, `from` to `to[0]`;
    /// - `kind == Move.Burn`: `values[0]` of `fromTokenId` is burned, and an emptied token deleted;
    /// - `toTokenId` a slot's base id (serial 0): each `to[i]` receives a new token of the slot
    ///   holding `values[i]` (`fromTokenId == 0`: minted), with consecutive ids;
    /// - otherwise `values[0]` moves into the existing token `toTokenId`, whose owner is `to[0]`.
    /// The caller resolves `from`, the owner of `fromTokenId`, and authorizes the caller. Batched
    /// like OpenZeppelin's ERC-1155 `_update`, so that many recipients cost one policy check of
    /// the sender and one write of the source token.
    /// @return tokenId the token that received the value or the owner (the first new token of a
    /// batch; the burned one for a burn).
    function _update(Move kind, uint256 fromTokenId, uint256 toTokenId, address from, address[] memory to, uint256[] memory values)
        internal
        returns (uint256 tokenId)
    {
        uint256 fromWord = fromTokenId == 0 ? 0 : _tokens[fromTokenId];
        uint256 total = _checkMove(kind, fromTokenId == 0 ? toTokenId : fromTokenId, from, to, values, _valueOf(fromWord));
        if (fromTokenId == toTokenId) {
            _transferToken(fromTokenId, fromWord, from, to[0]);
            return fromTokenId;
        }
        if (kind == Move.Burn) {
            // total <= the token's value: redemption pays at most the value it burns
            if (_valueOf(fromWord) == total) {
                delete _tokens[fromTokenId];
                _accounts[from] -= 1 << _COUNT_SHIFT;
                emit Transfer(from, address(0), fromTokenId);
            } else {
                _tokens[fromTokenId] = fromWord - (total << _VALUE_SHIFT);
            }
            if (total != 0) emit TransferValue(fromTokenId, 0, total);
            return fromTokenId;
        }
        if (uint64(toTokenId) == 0) {
            tokenId = _mintEach(fromTokenId, toTokenId, to, values);
        } else {
            tokenId = toTokenId;
            // the sum of a slot's token values is its face value minus redemptions, below 2**96,
            // so adding at the value's bit position carries nothing into the checkpoint
            unchecked {
                _tokens[toTokenId] += total << _VALUE_SHIFT;
            }
            emit TransferValue(fromTokenId, toTokenId, total);
        }
        if (fromTokenId != 0) {
            // total <= the from-token's value (the policy checks a participant's move; escrow
            // returns exactly what it holds), so nothing is borrowed from the checkpoint bits
            unchecked {
                _tokens[fromTokenId] = fromWord - (total << _VALUE_SHIFT);
            }
        }
    }

    /// @dev `_update` for one receiver.
    function _update(Move kind, uint256 fromTokenId, uint256 toTokenId, address from, address to, uint256 value)
        internal
        returns (uint256)
    {
        address[] memory tos = new address[](1);
        tos[0] = to;
        uint256[] memory values = new uint256[](1);
        values[0] = value;
        return _update(kind, fromTokenId, toTokenId, from, tos, values);
    }

    /// @dev New tokens of the slot `slotBase >> 64`, `values[i]` for `to[i]`, ids consecutive
    /// from the returned one; each recorded as a mint then a value move from `fromTokenId`.
    function _mintEach(uint256 fromTokenId, uint256 slotBase, address[] memory to, uint256[] memory values)
        private
        returns (uint256 firstId)
    {
        uint256 n = to.length;
        firstId = slotBase | _takeSerials(n);
        uint256 slot = slotBase >> _SLOT_SHIFT;
        bytes32 transferSig = Transfer.selector;
        bytes32 slotChangedSig = SlotChanged.selector;
        bytes32 transferValueSig = TransferValue.selector;
        // Per new token: count it for its owner, write its word (owner's id | value) and emit
        // Transfer, SlotChanged and TransferValue, exactly as the Solidity of a single split did.
        // In assembly because this loop is the per-recipient cost of `splitMany` (target 35,000
        // gas per recipient in a batch of 50, of which storage and events take ~33,000). Safe
        // arithmetic: the token id is firstId + i with serials below 2**64 (the slot bits are
        // untouched); a token count is far below 2**64, so adding one never reaches the id bits;
        // the value is below 2**96 (it is part of the source token's value), so it fits its bits.
        assembly ("memory-safe") {
            let accountsSlot := _accounts.slot
            let tokensSlot := _tokens.slot
            // `to` and `values` walk their arrays' elements (they are not used after the loop)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                to := add(to, 0x20)
                values := add(values, 0x20)
                let tokenId := add(firstId, i)
                let owner := mload(to)
                let value := mload(values)
                mstore(0x00, owner)
                mstore(0x20, accountsSlot)
                let accountKey := keccak256(0x00, 0x40)
                let account := sload(accountKey)
                sstore(accountKey, add(account, shl(_COUNT_SHIFT, 1)))
                mstore(0x00, tokenId)
                mstore(0x20, tokensSlot)
                sstore(keccak256(0x00, 0x40), or(and(shr(_ID_SHIFT, account), _ID_MASK), shl(_VALUE_SHIFT, value)))
                log4(0, 0, transferSig, 0, owner, tokenId)
                log4(0, 0, slotChangedSig, tokenId, 0, slot)
                mstore(0x00, value)
                log3(0x00, 0x20, transferValueSig, fromTokenId, tokenId)
            }
        }
    }

    /// @dev Records the repaid total at a token's partial redemption. The checkpoint shares the
    /// token's word, which the redemption's burn rewrote just before: no fresh storage slot.
    function _setCheckpoint(uint256 tokenId, uint256 repaid) internal {
        _tokens[tokenId] = (_tokens[tokenId] & ~(_UINT96_MASK << _CHECKPOINT_SHIFT)) | (repaid << _CHECKPOINT_SHIFT);
    }

    /// @dev The policy hook: reverts unless `kind` of move out of `tokenId` (the slot's base id
    /// for a mint) from `from`, `values[i]` to `to[i]`, is allowed; `balance` is the token's
    /// value. Returns the total value moved.
    function _checkMove(
        Move kind,
        uint256 tokenId,
        address from,
        address[] memory to,
        uint256[] memory values,
        uint256 balance
    ) internal view virtual returns (uint256 total);

    /// @dev Reserves `n` consecutive token serials and returns the first (one counter for all
    /// slots, so ids are never reused).
    function _takeSerials(uint256 n) internal virtual returns (uint256 first);

    /// @dev A change of owner: the new owner and a new approval epoch in one write, which voids
    /// every approval given under the old key.
    function _transferToken(uint256 tokenId, uint256 word, address from, address to) private {
        // At most one epoch per change of owner, and a token changes owner only before its
        // maturity (at most 365 days): 2**32 changes would take more gas than any chain mines
        // in that time. Checked anyway, so a wrap could never revive an approval.
        uint256 epoch = uint256(uint32(word >> _EPOCH_SHIFT)) + 1;
        if (epoch > type(uint32).max) revert ApprovalEpochExhausted(tokenId);
        _accounts[from] -= 1 << _COUNT_SHIFT;
        uint256 account = _accounts[to];
        _accounts[to] = account + (1 << _COUNT_SHIFT);
        _tokens[tokenId] = (word & ~_KEY_MASK) | ((account >> _ID_SHIFT) & _ID_MASK) | (epoch << _EPOCH_SHIFT);
        emit Transfer(from, to, tokenId);
    }

    // ================================================================ ERC-3525 value moves
    /// @notice Move `value` from `fromTokenId` into a new token of the same slot owned by `to`.
    function transferFrom(uint256 fromTokenId, address to, uint256 value) external whenNotPausedInline returns (uint256 newTokenId) {
        address owner = _spendAllowance(fromTokenId, _token(fromTokenId), value);
        newTokenId = _update(Move.Value, fromTokenId, (fromTokenId >> _SLOT_SHIFT) << _SLOT_SHIFT, owner, to, value);
        _checkOnReceived(fromTokenId, newTokenId, to, value, "");
    }

    /// @notice Move `value` from `fromTokenId` into the existing token `toTokenId` of the same slot.
    function transferFrom(uint256 fromTokenId, uint256 toTokenId, uint256 value) external whenNotPausedInline {
        if (fromTokenId == toTokenId) revert SameToken(fromTokenId);
        uint256 word = _token(fromTokenId);
        uint256 toOwnerId = uint32(_token(toTokenId));
        if (fromTokenId >> _SLOT_SHIFT != toTokenId >> _SLOT_SHIFT) revert SlotMismatch(fromTokenId, toTokenId);
        if (toOwnerId == _escrowId) revert TokenInEscrow(toTokenId);
        address owner = _spendAllowance(fromTokenId, word, value);
        address toOwner = toOwnerId == uint32(word) ? owner : _participantAt[toOwnerId];
        _update(Move.Value, fromTokenId, toTokenId, owner, toOwner, value);
        _checkOnReceived(fromTokenId, toTokenId, toOwner, value, "");
    }

    /// @inheritdoc IReceivableToken
    function splitMany(uint256 fromTokenId, address[] calldata to, uint256[] calldata values)
        external
        whenNotPausedInline
        returns (uint256 firstTokenId)
    {
        uint256 n = to.length;
        if (n == 0 || n != values.length) revert InvalidRecipients(n, values.length);
        if (n > MAX_BATCH_RECIPIENTS) revert TooManyRecipients(n, MAX_BATCH_RECIPIENTS);
        uint256 word = _token(fromTokenId);
        address owner = msg.sender;
        if (_idOf(msg.sender) != uint32(word)) {
            uint256 total = 0;
            for (uint256 i = 0; i < n; ++i) {
                total += values[i]; // checked: a sum that overflows reverts
            }
            owner = _spendAllowance(fromTokenId, word, total);
        }
        firstTokenId = _update(Move.Value, fromTokenId, (fromTokenId >> _SLOT_SHIFT) << _SLOT_SHIFT, owner, to, values);
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
    function valueDecimals() public view returns (uint8) {
        return _valueDecimals;
    }

    /// @inheritdoc IERC3525
    function balanceOf(uint256 tokenId) external view returns (uint256) {
        return _valueOf(_token(tokenId));
    }

    /// @inheritdoc IERC3525
    function slotOf(uint256 tokenId) external view returns (uint256) {
        _token(tokenId);
        return tokenId >> _SLOT_SHIFT;
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
    function transferFrom(address from, address to, uint256 tokenId) public whenNotPausedInline {
        uint256 word = _token(tokenId);
        if (_idOf(from) != uint32(word)) revert WrongFrom(tokenId, from, _participantAt[uint32(word)]);
        if (!_isApprovedOrOwner(tokenId, word, from, msg.sender)) revert NotAuthorized(tokenId, msg.sender);
        _update(Move.Whole, tokenId, tokenId, from, to, _valueOf(word));
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
    /// @inheritdoc IReceivableToken
    function setBaseURI(string calldata uri) external onlyOperator {
        _baseURI = uri;
        emit BaseURISet(uri);
    }

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

    // ================================================================ internals
    /// @dev The token's word; reverts for a token that does not exist (no owner).
    function _token(uint256 tokenId) internal view returns (uint256 word) {
        word = _tokens[tokenId];
        if (uint32(word) == 0) revert NonexistentToken(tokenId);
    }

    function _valueOf(uint256 word) internal pure returns (uint256) {
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
    function _spendAllowance(uint256 tokenId, uint256 word, uint256 value) internal returns (address owner) {
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
    function _checkOnReceived(uint256 fromId, uint256 toId, address to, uint256 value, bytes memory data) internal {
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
