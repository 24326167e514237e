"""A Python client for the scf-chain gateway that signs locally: a participant holding its own key
(custody: external) integrates in a few lines.

    from scf_chain.sdk import Gateway, KeyFileSigner

    bank = Gateway("https://gateway.example", api_key, KeyFileSigner("bank.json", password))
    financed = bank.post(f"/offers/{offer_id}/accept")   # prepare, check, sign, submit

See docs/sdk.md.
"""

from scf_chain.errors import GatewayError, PreparedTransactionRefused
from scf_chain.sdk.client import Gateway, Prepared
from scf_chain.sdk.signer import KeyFileSigner, Signer, new_key_file

__all__ = ["Gateway", "GatewayError", "KeyFileSigner", "Prepared", "PreparedTransactionRefused",
           "Signer", "new_key_file"]
