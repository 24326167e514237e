"""`python -m scf_chain.evidence.verify bundle.json --rpc-url URL`: an auditor's offline check."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from scf_chain.evidence.proofs import EvidenceChainView, ProofBundle, verify_bundle


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verify an evidence proof bundle against a chain.")
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--rpc-url", help="JSON-RPC URL of a node of the bundle's chain "
                                      "(omit for the offline checks only)")
    args = ap.parse_args(argv)
    try:
        bundle = ProofBundle.model_validate(json.loads(args.bundle.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        print(f"error: cannot read the bundle: {exc}", file=sys.stderr)
        return 2
    view = EvidenceChainView.from_rpc(args.rpc_url, bundle.registry) if args.rpc_url else None
    result = verify_bundle(bundle, view)
    print(("VALID: " if result.ok else "INVALID: ") + result.reason)
    if result.disclosed:
        for field, value in sorted(result.disclosed.items()):
            print(f"  {field}: {json.dumps(value, ensure_ascii=False)}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
