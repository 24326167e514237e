"""scf-chain: blockchain-backed receivables for supply chain finance."""

__version__ = "0.1.0"
