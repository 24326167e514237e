"""scf-chain's HTTP gateway (FastAPI): issuance, transfer, financing, settlement, evidence, audit."""
