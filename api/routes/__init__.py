"""One router per domain: participants, evidence, receivables, tokens, financing, settlement, audit."""
