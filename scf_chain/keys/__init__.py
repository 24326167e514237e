"""Participants' signing keys, stored encrypted (Ethereum keystore v3, scrypt)."""

from scf_chain.keys.keystore import KeyStore

__all__ = ["KeyStore"]
