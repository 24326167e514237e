"""Evidence: documents, salted commitments, Merkle batches, proofs and the encrypted store."""
