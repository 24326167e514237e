"""`python -m scf_chain.evidence.verify bundle.json --rpc-url URL`: an auditor's offline check."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
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
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'bundle'}: {e['msg']}"
                             for e in exc.errors()[:5])
        print(f"error: {args.bundle} is not a proof bundle ({problems})", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the bundle: {exc}", file=sys.stderr)
        return 2
    try:
        view = EvidenceChainView.from_rpc(args.rpc_url, bundle.registry) if args.rpc_url else None
        result = verify_bundle(bundle, view)
    except Exception as exc:  # noqa: BLE001 - a node that cannot answer: one line, not web3's trace
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        print(f"error: cannot query the node at --rpc-url {args.rpc_url} "
              f"({type(exc).__name__}: {first})", file=sys.stderr)
        return 2
    print(("VALID: " if result.ok else "INVALID: ") + result.reason)
    print(f"  chain id: {bundle.chain_id}")
    print(f"  registry: {bundle.registry}")
    print(f"  root: {bundle.root}")
    if view is None:
        print("  on chain: not checked (no --rpc-url: offline checks only)")
    else:
        print(f"  anchorer: {result.anchorer or 'unknown'}")
        at = result.anchored_at
        when = (f"{at} ({datetime.fromtimestamp(at, timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
                if at else "not anchored")
        print(f"  anchored at: {when}" + ("  (revoked)" if result.revoked else ""))
    if result.disclosed:
        for field, value in sorted(result.disclosed.items()):
            print(f"  {field}: {json.dumps(value, ensure_ascii=False)}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
