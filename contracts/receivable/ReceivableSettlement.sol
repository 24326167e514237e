// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IReceivableToken} from "../interfaces/IReceivableToken.sol";
import {ReceivableFinancing} from "./ReceivableFinancing.sol";

/// @title Settlement: the debtor's money in, the holders' shares out.
/// @notice The debtor (or anyone) repays at any time, or authorizes keepers to collect at
/// maturity. Once matured, or earlier when fully repaid, each token's holder is paid
/// floor(value × (repaid − checkpoint) / (face − checkpoint)) and the same value is burned;
/// the remainder of the floors is paid once the debt is whole. The settlement tokens held
/// equal Σ(repaid − paid out) over all receivables.
abstract contract ReceivableSettlement is ReceivableFinancing {
    using SafeERC20 for IERC20;

    /// @inheritdoc IReceivableToken
    function repay(uint256 slot, uint256 amount) external whenNotPausedInline nonReentrant {
        Receivable storage r = _active(slot);
        uint256 remaining = r.faceValue - r.repaid;
        if (amount == 0) revert ZeroAmount();
        if (amount > remaining) revert Overpayment(slot, amount, remaining);
        _pull(r, slot, msg.sender, amount);
    }

    /// @inheritdoc IReceivableToken
    function authorizeCollection(uint256 slot, bool enabled) external whenNotPaused {
        Receivable storage r = _active(slot);
        if (msg.sender != r.debtor) revert NotDebtor(slot, msg.sender);
        r.collectEnabled = enabled;
        emit CollectionAuthorized(slot, msg.sender, enabled);
    }

    /// @inheritdoc IReceivableToken
    function collect(uint256 slot) external whenNotPausedInline nonReentrant returns (uint256 amount) {
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

    // ================================================================ moving a debtor's debts
    /// @inheritdoc IReceivableToken
    mapping(address debtor => address) public debtorSuccessorOf;

    /// @inheritdoc IReceivableToken
    function offerDebtorMove(address successor) external {
        if (successor == msg.sender) revert InvalidSuccessor(successor);
        debtorSuccessorOf[msg.sender] = successor;
        emit DebtorMoveOffered(msg.sender, successor);
    }

    /// @inheritdoc IReceivableToken
    function moveDebts(address from, uint256[] calldata slots) external onlyOperator returns (uint256 moved) {
        address to = debtorSuccessorOf[from];
        if (to == address(0)) revert NoDebtorSuccessor(from);
        _requireRole(to, ROLE_DEBTOR);
        for (uint256 i = 0; i < slots.length; ++i) {
            uint256 slot = slots[i];
            Receivable storage r = _receivables[slot];
            if (r.debtor != from) revert NotDebtor(slot, from);
            Status status = r.status;
            uint256 owed;
            // Unchecked: repaid <= faceValue < 2**96 (a repayment is refused beyond the rest),
            // and the sum of what is moved is within `from`'s outstanding total (below).
            unchecked {
                // a pending application owes nothing yet; an active receivable its unpaid rest
                if (status == Status.Active) owed = r.faceValue - r.repaid;
                if (owed == 0 && status != Status.Pending) revert DebtNotOpen(slot);
                moved += owed;
            }
            r.debtor = to;
            emit DebtorMoved(slot, from, to, owed);
        }
        // A debtor's outstanding total is the sum of the unpaid rests of the active receivables
        // naming it (confirmation adds a face value, every repayment subtracts from it), so
        // `moved`, the rests of some of them, is within it; both totals are below 2**256 by far.
        unchecked {
            _outstanding[from] -= moved;
            uint256 outstanding = _outstanding[to];
            uint256 limit = _creditLimits[to];
            if (outstanding + moved > limit) revert CreditLimitExceeded(to, limit, outstanding, moved);
            _outstanding[to] = outstanding + moved;
        }
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

    /// @inheritdoc IReceivableToken
    function redeem(uint256 tokenId) external whenNotPausedInline nonReentrant returns (uint256 paid) {
        paid = _redeem(tokenId, true);
    }

    /// @inheritdoc IReceivableToken
    function redeemBatch(uint256[] calldata tokenIds) external whenNotPausedInline nonReentrant returns (uint256 totalPaid) {
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
        uint256 slot = tokenId >> _SLOT_SHIFT;
        Receivable storage r = _receivables[slot];
        uint256 repaid = r.repaid;
        if (block.timestamp < r.maturity && repaid != r.faceValue) {
            if (strict) revert NotMatured(slot, r.maturity);
            return 0;
        }
        uint256 value = _valueOf(word);
        {
            uint256 checkpoint = word >> _CHECKPOINT_SHIFT;
            // checkpoint <= repaid <= face; checkpoint < face while the token has value, because
            // a redemption at repaid == face pays the whole value and burns the token.
            paid = value * (repaid - checkpoint) / (r.faceValue - checkpoint);
        }
        if (paid == 0) {
            if (strict) revert NothingToRedeem(tokenId);
            return 0;
        }
        r.paidOut += uint128(paid); // paidOut + paid <= repaid < 2**96
        address owner = _participantAt[ownerId];
        _update(Move.Burn, tokenId, 0, owner, address(0), paid);
        value -= paid;
        if (value != 0) _setCheckpoint(tokenId, repaid);
        emit Redeemed(slot, tokenId, owner, paid, value);
        IERC20(r.settlementToken).safeTransfer(owner, paid);
    }

    /// @inheritdoc IReceivableToken
    function statusOf(uint256 slot) external view returns (State) {
        Receivable storage r = _receivables[slot];
        if (r.status != Status.Active) return State(uint8(r.status));
        if (r.paidOut == r.faceValue) return State.Settled;
        if (block.timestamp < r.maturity) return State.Active;
        return r.repaid == r.faceValue ? State.Matured : State.Overdue;
    }

    /// @inheritdoc IReceivableToken
    function checkpointOf(uint256 tokenId) external view returns (uint256) {
        return _tokens[tokenId] >> _CHECKPOINT_SHIFT;
    }

    function _active(uint256 slot) private view returns (Receivable storage r) {
        r = _receivables[slot];
        if (r.status != Status.Active) {
            if (r.status == Status.None) revert UnknownSlot(slot);
            revert NotActive(slot, r.status);
        }
    }
}
