"""Local signing: a key from an encrypted v3 key file signs exactly the prepared transaction."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from scf_chain.errors import PreparedTransactionRefused


class Signer(Protocol):
    """Something that holds one key: a key file here; an HSM or USB key behind the same two
    members elsewhere."""

    @property
    def address(self) -> str:
        """The checksummed address the key signs for."""

    def sign(self, transaction: dict[str, Any]) -> str:
        """The signed raw transaction (0x-hex) for a prepared `transaction` (the API's shape)."""


def signable(transaction: dict[str, Any]) -> dict[str, Any]:
    """A prepared transaction as the API shows it, as eth-account signs it (every field)."""
    tx: dict[str, Any] = {"chainId": int(transaction["chain_id"]),
                          "to": to_checksum_address(transaction["to"]),
                          "data": HexBytes(transaction["data"]),
                          "value": int(transaction["value"]), "nonce": int(transaction["nonce"]),
                          "gas": int(transaction["gas"])}
    if int(transaction["type"]) == 0:
        tx["gasPrice"] = int(transaction["gas_price"])
    else:
        tx.update(type=2, maxFeePerGas=int(transaction["max_fee_per_gas"]),
                  maxPriorityFeePerGas=int(transaction["max_priority_fee_per_gas"]))
    return tx


class KeyFileSigner:
    """Signs with the key of an encrypted v3 key file (geth, `scf keys export`, MetaMask).

    `chain_id`: refuse transactions for any other chain (recommended in production)."""

    def __init__(self, path: str | os.PathLike[str], password: str,
                 chain_id: int | None = None) -> None:
        self._account: LocalAccount = Account.from_key(
            Account.decrypt(json.loads(Path(path).read_text()), password))
        self.chain_id = chain_id

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign(self, transaction: dict[str, Any]) -> str:
        if str(transaction.get("from", "")).lower() != self.address.lower():
            raise PreparedTransactionRefused(
                f"the transaction is from {transaction.get('from')}, this key is {self.address}")
        if self.chain_id is not None and int(transaction["chain_id"]) != self.chain_id:
            raise PreparedTransactionRefused(
                f"the transaction is for chain {transaction['chain_id']}, this signer signs "
                f"for chain {self.chain_id}")
        signed = self._account.sign_transaction(signable(transaction))
        return "0x" + bytes(signed.raw_transaction).hex()


def new_key_file(path: str | os.PathLike[str], password: str, iterations: int = 2**18) -> str:
    """Make a new key and write it as an encrypted v3 key file (mode 0600); its address."""
    account = Account.create()
    keyfile = Account.encrypt(account.key, password, kdf="scrypt", iterations=iterations)
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keyfile, f)
    return str(account.address)
