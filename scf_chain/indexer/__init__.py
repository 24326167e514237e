"""Chain-to-database indexer: raw events, read models, cursor and reorg handling."""

from scf_chain.indexer.ingest import (
    DeploymentLike,
    Indexer,
    IndexReport,
    Reorg,
    index_once,
    rebuild_read_models,
    run_indexer,
)
from scf_chain.indexer.projector import EventRecord, Projector

__all__ = ["DeploymentLike", "EventRecord", "IndexReport", "Indexer", "Projector", "Reorg",
           "index_once", "rebuild_read_models", "run_indexer"]
