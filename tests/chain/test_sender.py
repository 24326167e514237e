"""The sender: unique nonces under threads, receipts, and reverts as typed exceptions."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from scf_chain.chain import forks, reverts
from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.reverts import ErrorDecoder
from scf_chain.chain.sender import TxSender
from scf_chain.contracts import artifacts
from scf_chain.errors import ContractRevert, TransactionTimeout

THREADS = 8
SENDS_PER_THREAD = 200


def _token(chain: Any, sender: TxSender) -> Any:
    art = artifacts.load("TestSettlementToken", forks.select_evm_version(chain))
    rcpt = sender.deploy(art.abi, art.bytecode)
    return chain.w3.eth.contract(address=rcpt.contract_address, abi=art.abi)


@pytest.mark.anvil
def test_eight_threads_use_every_nonce_exactly_once_and_every_tx_is_mined(anvil_chain: AnvilChain) -> None:
    acct = anvil_chain.dev_accounts()[7]
    sender = TxSender(anvil_chain, acct)
    token = _token(anvil_chain, sender)
    sender.transact(token.functions.mint(acct.address, 10**12))
    start_nonce = anvil_chain.w3.eth.get_transaction_count(acct.address)
    recipient = anvil_chain.dev_accounts()[8].address
    data = token.functions.transfer(recipient, 1)._encode_transaction_data()
    hashes: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            mine = [sender.send_raw(token.address, data, gas=80_000) for _ in range(SENDS_PER_THREAD)]
            with lock:
                hashes.extend(mine)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    total = THREADS * SENDS_PER_THREAD
    assert len(set(hashes)) == total
    receipts = [sender.wait(h) for h in hashes]
    w3 = anvil_chain.w3
    nonces = Counter(int(w3.eth.get_transaction(r.tx_hash)["nonce"]) for r in receipts)
    assert sorted(nonces) == list(range(start_nonce, start_nonce + total))
    assert set(nonces.values()) == {1}
    assert token.functions.balanceOf(recipient).call() == total
    assert w3.eth.get_transaction_count(acct.address) == start_nonce + total


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil), "ganache"])
def any_chain(request: pytest.FixtureRequest) -> Any:
    """Every node: JSON-RPC nodes answer with hex and Web3RPCError, eth-tester with Python
    values and TransactionFailed; ganache nests a gas estimate's revert data in its own way and
    mines a failing transaction sent with its own gas limit."""
    return request.getfixturevalue(f"{request.param}_chain")


def test_custom_error_is_decoded_with_name_and_arguments(any_chain: Any) -> None:
    embedded_chain = any_chain
    acct = embedded_chain.dev_accounts()[5]
    sender = TxSender(embedded_chain, acct)
    token = _token(embedded_chain, sender)
    with pytest.raises(reverts.ERC20InsufficientBalance) as info:
        sender.transact(token.functions.transfer(embedded_chain.dev_accounts()[6].address, 5))
    err = info.value
    assert isinstance(err, ContractRevert) and isinstance(err, RuntimeError)
    assert err.error_name == "ERC20InsufficientBalance"
    assert err.error_args == {"sender": acct.address, "balance": 0, "needed": 5}
    assert sender.next_nonce is not None  # the failed call consumed no nonce:
    before = sender.next_nonce
    with pytest.raises(reverts.ERC20InsufficientBalance):
        sender.transact(token.functions.transfer(embedded_chain.dev_accounts()[6].address, 5))
    assert sender.next_nonce == before


def test_a_view_that_reverts_is_typed_and_views_decode(any_chain: Any) -> None:
    """Views go through the prepared codec (raw eth_call on JSON-RPC nodes)."""
    from scf_chain.chain.codec import AbiContract

    acct = any_chain.dev_accounts()[5]
    sender = TxSender(any_chain, acct)
    art = artifacts.load("ReceivableToken", forks.select_evm_version(any_chain))
    rcpt = sender.deploy(art.abi, art.bytecode, "Receivables", "RCV", 2, acct.address)
    token = AbiContract(any_chain.w3, rcpt.contract_address, art.abi)
    assert sender.call(token.functions.name()) == "Receivables"
    balance_of = token.get_function_by_signature("balanceOf(address)")
    assert balance_of(acct.address).call(block=rcpt.block_number) == 0
    with pytest.raises(ContractRevert) as info:
        sender.call(token.functions.ownerOf(12345))
    assert info.value.error_name  # decoded from the node's revert data


def test_a_revert_mined_on_chain_is_replayed_and_typed(any_chain: Any) -> None:
    embedded_chain = any_chain
    acct = embedded_chain.dev_accounts()[9]
    sender = TxSender(embedded_chain, acct)
    token = _token(embedded_chain, sender)
    with pytest.raises(reverts.ERC20InsufficientBalance) as info:
        # a fixed gas limit skips estimation, so the failing transaction is mined
        sender.transact(token.functions.transfer(embedded_chain.dev_accounts()[6].address, 7), gas=90_000)
    assert info.value.tx_hash is not None
    assert info.value.error_args["needed"] == 7


def test_reason_strings_and_panics_decode() -> None:
    from eth_abi import encode

    dec = ErrorDecoder([])
    err = dec.decode(bytes.fromhex("08c379a0") + encode(["string"], ["too late"]))
    assert err.error_name == "Error" and str(err) == "too late"
    panic = dec.decode(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    assert panic.error_name == "Panic" and "overflow" in str(panic)
    unknown = dec.decode(bytes.fromhex("deadbeef"))
    assert unknown.error_name == "UnknownError"


def test_waiting_for_an_unknown_transaction_times_out(any_chain: Any) -> None:
    embedded_chain = any_chain
    sender = TxSender(embedded_chain, embedded_chain.dev_accounts()[5], receipt_timeout_s=0.3)
    with pytest.raises(TransactionTimeout):
        sender.wait("0x" + "ab" * 32)


def test_fast_signing_is_byte_identical_to_eth_account() -> None:
    from eth_account import Account

    from scf_chain.chain.sender import TxSender

    acct = Account.from_key("0x" + "42" * 32)
    sender = TxSender.__new__(TxSender)
    sender.account = acct
    for tx in [
        {"from": acct.address, "to": "0x" + "11" * 20, "value": 5, "data": b"\x01\x02",
         "chainId": 31337, "gas": 100_000, "nonce": 7, "maxFeePerGas": 3 * 10**9,
         "maxPriorityFeePerGas": 10**9},
        {"from": acct.address, "value": 0, "data": b"\x60\x00", "chainId": 1, "gas": 90_000,
         "nonce": 0, "gasPrice": 10**9},
    ]:
        expected = Account.sign_transaction({k: v for k, v in tx.items() if k != "from"},
                                            acct.key).raw_transaction
        assert sender._sign(tx) == bytes(expected)


@pytest.mark.anvil
def test_a_chains_send_gas_replaces_estimation(anvil_chain: AnvilChain,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With `send_gas` set on the chain, senders send with that gas limit and never ask the
    node for an estimate; a revert is then mined, and still raised typed."""
    acct = anvil_chain.dev_accounts()[11]
    sender = TxSender(anvil_chain, acct)
    token = _token(anvil_chain, sender)
    other = anvil_chain.dev_accounts()[12].address

    def no_estimate(tx: dict[str, Any]) -> int:
        raise AssertionError("estimated although the chain sets send_gas")

    monkeypatch.setattr(sender, "estimate_gas", no_estimate)
    monkeypatch.setattr(anvil_chain, "send_gas", 300_000)
    rcpt = sender.transact(token.functions.mint(acct.address, 5))
    assert anvil_chain.w3.eth.get_transaction(rcpt.tx_hash)["gas"] == 300_000
    with pytest.raises(reverts.ERC20InsufficientBalance) as info:
        sender.transact(token.functions.transfer(other, 7))
    assert info.value.tx_hash is not None  # mined, then replayed
