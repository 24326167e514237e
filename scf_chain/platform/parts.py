"""The composition root: one chain, one deployment and one store, and the parts every surface
builds on them (contract clients, indexer, keeper), made in this one place.

The gateway (`Platform.open`, then api/deps.py), the CLI's commands and the keeper command all
take their parts from here, so an option of the indexer or the keeper is wired once.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session, sessionmaker

from scf_chain import db
from scf_chain.chain.base import ChainBackend
from scf_chain.chain.sender import SharedNonces
from scf_chain.clients import ScfSystem
from scf_chain.config import Settings
from scf_chain.deploy import Manifest, verify_manifest
from scf_chain.indexer import Indexer
from scf_chain.keeper import Keeper


def open_store(settings: Settings) -> sessionmaker[Session]:
    """The store of `settings`, migrated to this release's schema (the only way it is made)."""
    db.upgrade(settings.database_url)
    return db.session_factory(db.make_engine(settings.database_url,
                                             pool_size=settings.db_pool_size,
                                             max_overflow=settings.db_max_overflow))


def default_keeper_id() -> str:
    """A keeper's name in leases unless given one: its host and process."""
    return f"{socket.gethostname()[:50]}-{os.getpid()}"


@dataclass
class Parts:
    """What one deployment on one chain, with its store, is served by."""

    settings: Settings
    chain: ChainBackend
    manifest: Manifest
    sessions: sessionmaker[Session]
    # where transaction nonces are handed out: the store when processes share it, else memory
    nonces: SharedNonces | None = None
    system: ScfSystem = field(init=False)
    indexer: Indexer = field(init=False)

    def __post_init__(self) -> None:
        self.system = ScfSystem(self.chain, self.manifest, self.settings.receipt_timeout_s,
                                self.nonces)
        self.indexer = Indexer(self.chain, self.sessions, self.manifest,
                               confirmations=self.settings.confirmations,
                               max_reorg_depth=self.settings.max_reorg_depth)

    @classmethod
    def attach(cls, settings: Settings, chain: ChainBackend,
               manifest: Manifest | None = None) -> Parts:
        """The parts of a deployment made earlier (`manifest`, else the one in `settings`), once
        the node proves to hold its contracts: a reset node, or another chain behind the same
        URL, is refused before the store is touched."""
        manifest = manifest or Manifest.load(settings.manifest_path)
        verify_manifest(chain, manifest)
        return cls(settings, chain, manifest, open_store(settings))

    def keeper(self, account: LocalAccount, keeper_id: str | None = None, batch_size: int = 50,
               lease_s: float = 120.0, before_index: Callable[[], object] | None = None) -> Keeper:
        """A repayment keeper signing with `account`; it indexes before each pass (with this
        indexer unless `before_index` says otherwise)."""
        return Keeper(self.system.token(account), self.sessions, keeper_id or default_keeper_id(),
                      batch_size=batch_size, lease_s=lease_s,
                      before_index=before_index or self.indexer.index_once)
