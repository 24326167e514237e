"""A thin, direct driver of the deployed contracts for contract-level tests (no client layer).

Contract tests talk to the ABI themselves so that they test the contracts, not our clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import is_address, keccak, to_checksum_address
from eth_utils.abi import get_abi_output_types
from hexbytes import HexBytes

from scf_chain.chain.base import ChainBackend, http_transport
from scf_chain.chain.sender import TxSender
from scf_chain.contracts import artifacts
from scf_chain.contracts.events import default_event_decoder

OPERATOR, DEBTOR, SUPPLIER, FINANCIER, ANCHORER, AUDITOR = 1, 2, 4, 8, 16, 32
DOC_INVOICE = 3


def leaf_of(invoice_key: bytes, fields_root: bytes) -> bytes:
    doc_hash = keccak(invoice_key + fields_root)
    return keccak(b"\x00" + doc_hash)


@dataclass
class System:
    chain: ChainBackend
    token: Any
    evidence: Any
    erc20: Any
    operator: TxSender
    debtor_sender: TxSender
    bank_sender: TxSender
    anchorer: TxSender
    holder_senders: list[TxSender]
    keeper: TxSender
    outsider: TxSender
    by_address: dict[str, TxSender] = field(default_factory=dict)
    evm_version: str = "cancun"  # the contract build deployed (tests deploy more of the same)

    @property
    def debtor(self) -> str:
        return self.debtor_sender.address

    @property
    def bank(self) -> str:
        return self.bank_sender.address

    @property
    def holders(self) -> list[str]:
        return [s.address for s in self.holder_senders]

    def events(self, rcpt: Any, name: str) -> list[dict[str, Any]]:
        return [e.args for e in default_event_decoder().decode_all(rcpt.logs) if e.name == name]

    def sender(self, address: str) -> TxSender:
        return self.by_address[address]

    # -- evidence and issuance ----------------------------------------------------------------------
    def anchor_invoice(self, invoice_number: str) -> tuple[bytes, bytes, bytes]:
        """Anchor a one-document batch (root == leaf); returns (invoiceKey, fieldsRoot, root)."""
        key = keccak(text=f"invoice:{invoice_number}")
        fields_root = keccak(text=f"fields:{invoice_number}")
        root = leaf_of(key, fields_root)
        self.anchorer.transact(self.evidence.functions.anchor(root, DOC_INVOICE, 1, keccak(root)))
        return key, fields_root, root

    def apply_only(self, creditor: str, face: int, maturity: int, invoice: str) -> int:
        key, fields_root, root = self.anchor_invoice(invoice)
        rcpt = self.sender(creditor).transact(self.token.functions.applyFor(
            self.debtor, creditor, face, self.erc20.address, maturity, key, fields_root, root, []))
        return int(self.events(rcpt, "Applied")[0]["slot"])

    def apply_and_confirm(self, creditor: str, face: int, maturity: int, invoice: str) -> int:
        slot = self.apply_only(creditor, face, maturity, invoice)
        self.confirm_rcpt = self.debtor_sender.transact(self.token.functions.confirm(slot))
        return slot

    def first_token_of(self, slot: int) -> int:
        return int(self.events(self.confirm_rcpt, "Confirmed")[0]["tokenId"])

    # -- value moves -----------------------------------------------------------------------------------
    def split(self, owner: str, token_id: int, to: str, value: int) -> int:
        fn = self.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
        rcpt = self.sender(owner).transact(fn(token_id, to, value))
        moved = [e for e in self.events(rcpt, "TransferValue") if int(e["_fromTokenId"]) == token_id]
        return int(moved[-1]["_toTokenId"])

    def split_many(self, owner: str, token_id: int, to: list[str], values: list[int]) -> list[int]:
        """`splitMany`; the new token ids, in the order of `to`."""
        rcpt = self.sender(owner).transact(self.token.functions.splitMany(token_id, to, values))
        return [int(e["_toTokenId"]) for e in self.events(rcpt, "TransferValue")
                if int(e["_fromTokenId"]) == token_id]

    def merge(self, owner: str, from_id: int, to_id: int, value: int) -> None:
        fn = self.token.get_function_by_signature("transferFrom(uint256,uint256,uint256)")
        self.sender(owner).transact(fn(from_id, to_id, value))

    def transfer_token(self, owner: str, to: str, token_id: int) -> None:
        fn = self.token.get_function_by_signature("transferFrom(address,address,uint256)")
        self.sender(owner).transact(fn(owner, to, token_id))

    # -- financing ---------------------------------------------------------------------------------
    def offer(self, owner: str, token_id: int, value: int, price: int, expiry: int,
              financier: str | None = None) -> tuple[int, int]:
        rcpt = self.sender(owner).transact(self.token.functions.offer(
            token_id, value, financier or self.bank, price, expiry, keccak(text=f"reg-{token_id}")))
        ev = self.events(rcpt, "Offered")[0]
        return int(ev["offerId"]), int(ev["escrowTokenId"])

    def accept(self, offer_id: int) -> None:
        self.bank_sender.transact(self.token.functions.acceptOffer(offer_id))

    def cancel(self, holder: str, offer_id: int) -> int:
        rcpt = self.sender(holder).transact(self.token.functions.cancelOffer(offer_id))
        return int(self.events(rcpt, "OfferCancelled")[0]["returnedToTokenId"])

    # -- money -----------------------------------------------------------------------------------------
    def _debtor(self, debtor: str | None) -> TxSender:
        return self.debtor_sender if debtor is None else self.sender(debtor)

    def repay(self, slot: int, amount: int, debtor: str | None = None) -> None:
        self._debtor(debtor).transact(self.token.functions.repay(slot, amount))

    def authorize_collection(self, slot: int, debtor: str | None = None) -> None:
        self._debtor(debtor).transact(self.token.functions.authorizeCollection(slot, True))

    def approve_collection(self, allowance: int, debtor: str | None = None) -> None:
        self._debtor(debtor).transact(self.erc20.functions.approve(self.token.address, allowance))

    def collect(self, slot: int) -> int:
        rcpt = self.keeper.transact(self.token.functions.collect(slot))
        return sum(int(e["amount"]) for e in self.events(rcpt, "Repaid"))

    def redeem(self, token_id: int) -> int:
        rcpt = self.keeper.transact(self.token.functions.redeem(token_id))
        return sum(int(e["amount"]) for e in self.events(rcpt, "Redeemed"))

    def redeem_batch(self, token_ids: list[int]) -> int:
        rcpt = self.keeper.transact(self.token.functions.redeemBatch(token_ids))
        return sum(int(e["amount"]) for e in self.events(rcpt, "Redeemed"))

    # -- reads --------------------------------------------------------------------------------------------
    def value_of(self, token_id: int) -> int:
        return int(self.keeper.call(self.token.get_function_by_signature("balanceOf(uint256)")(token_id)))

    def owner_of(self, token_id: int) -> str:
        return str(self.keeper.call(self.token.functions.ownerOf(token_id)))

    def repaid_paid_out(self, slot: int) -> tuple[int, int]:
        r = self.token.functions.getReceivable(slot).call()
        return int(r[-2]), int(r[-1])

    def erc20_balance(self, address: str) -> int:
        return int(self.erc20.functions.balanceOf(address).call())

    def read_many(self, fns: list[Any]) -> list[Any]:
        """Many view calls in one JSON-RPC batch (one round trip to the node instead of one per
        call), each decoded as `fn.call()` would return it; a revert raises. On a chain without
        an HTTP endpoint (eth-tester) they are called one by one."""
        transport = http_transport(self.chain.w3)
        if transport is None:
            return [fn.call() for fn in fns]
        replies = transport.batch([("eth_call", [{"to": fn.address,
                                                   "data": fn._encode_transaction_data()}, "latest"])
                                   for fn in fns])
        out: list[Any] = []
        for fn, raw in zip(fns, replies, strict=True):
            if isinstance(raw, Exception):
                raise raw
            values = _checksummed(abi_decode(get_abi_output_types(fn.abi), bytes(HexBytes(raw))))
            out.append(values[0] if len(values) == 1 else values)
        return out


def _checksummed(value: Any) -> Any:
    """Decoded ABI values with addresses checksummed, as web3's `call()` returns them."""
    if isinstance(value, tuple | list):
        return type(value)(_checksummed(v) for v in value)
    if isinstance(value, str) and is_address(value):
        return to_checksum_address(value)
    return value


def build_system(chain: ChainBackend, holders: int = 3, evm_version: str = "cancun") -> System:
    """Deploy the `evm_version` build of the contracts and register a debtor, a bank, an
    anchorer and `holders` suppliers."""
    accts = chain.dev_accounts()
    operator = TxSender(chain, accts[0])
    debtor, bank, anchorer, keeper, outsider = (TxSender(chain, accts[i]) for i in (1, 2, 3, 4, 5))
    holder_senders = [TxSender(chain, accts[6 + i]) for i in range(holders)]
    w3 = chain.w3

    def deploy(name: str, *args: Any) -> Any:
        art = artifacts.load(name, evm_version)
        rcpt = operator.deploy(art.abi, art.bytecode, *args)
        return w3.eth.contract(address=rcpt.contract_address, abi=art.abi)

    erc20 = deploy("TestSettlementToken")
    token = deploy("ReceivableToken", "SCF Receivable", "SCFR", 2, operator.address)
    evidence = deploy("EvidenceRegistry", token.address)
    operator.transact(token.functions.setEvidenceRegistry(evidence.address))
    operator.transact(token.functions.setSettlementToken(erc20.address, True))
    operator.transact(token.functions.setRoles(debtor.address, DEBTOR))
    operator.transact(token.functions.setRoles(bank.address, FINANCIER))
    operator.transact(token.functions.setRoles(anchorer.address, ANCHORER))
    for h in holder_senders:
        operator.transact(token.functions.setRoles(h.address, SUPPLIER))
    operator.transact(token.functions.setCreditLimit(debtor.address, 10**15))
    operator.transact(erc20.functions.mint(debtor.address, 10**13))
    operator.transact(erc20.functions.mint(bank.address, 10**13))
    debtor.transact(erc20.functions.approve(token.address, 2**256 - 1))
    bank.transact(erc20.functions.approve(token.address, 2**256 - 1))
    senders = [operator, debtor, bank, anchorer, keeper, outsider, *holder_senders]
    return System(chain, token, evidence, erc20, operator, debtor, bank, anchorer, holder_senders,
                  keeper, outsider, {s.address: s for s in senders}, evm_version)
