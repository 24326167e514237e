"""The platform: what every surface (gateway, CLI, keeper) shares.

`parts` is the composition root (chain, deployment, store, contract clients, indexer, keeper);
`core.Platform` adds the keystore, documents and participants over those parts for the gateway;
`operations`, `evidence`, `rotation` and `custody` are services over a Platform.
"""
