"""Contract artifacts (committed, so running the package needs no Node) and their build."""
