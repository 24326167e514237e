"""Fixtures shared by the indexer and audit tests: migrated databases (SQLite, PostgreSQL) and a deployed system."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from scf_chain import db
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.db.models import Base
from tests.contracts.harness import System, build_system

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/scf_test"
DAY = 86_400


@dataclass(frozen=True)
class Deployment:
    """The addresses the indexer follows (what scf_chain.deploy will hand over)."""

    receivable_token: str
    evidence_registry: str
    settlement_tokens: list[str]
    start_block: int


@dataclass
class Store:
    """One migrated, empty database for one test."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    dialect: str = field(init=False)

    def __post_init__(self) -> None:
        self.dialect = self.engine.dialect.name


def _pg_admin(url: str) -> tuple[str, str]:
    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    return admin, u.database or "scf_test"


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards (skips or fails when the server
    is absent, as the test command promises)."""
    base = os.environ.get("SCF_TEST_DATABASE_URL", PG_DEFAULT)
    admin, name = _pg_admin(base)
    unique = f"{name}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{unique}"')
    except psycopg.OperationalError as exc:
        # CI and README's test command promise a PostgreSQL run: there, its absence is a failure
        if os.environ.get("CI") or os.environ.get("SCF_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL not reachable at {base}: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = make_url(base).set(database=unique).render_as_string(hide_password=False)
    try:
        db.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{unique}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    """One database per session (per xdist worker); tests using it empty it or use unique names."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A freshly migrated database: a copy of the migrated SQLite file, or the session's
    PostgreSQL database with every table emptied."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
        engine = db.make_engine(url)
    else:
        url = request.getfixturevalue("_pg_database")
        engine = db.make_engine(url)
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    try:
        yield Store(url, engine, db.session_factory(engine))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _deployed(embedded_chain: EmbeddedChain) -> tuple[System, Deployment, Any]:
    start = embedded_chain.block_number() + 1
    system = build_system(embedded_chain, holders=3)
    dep = Deployment(system.token.address, system.evidence.address, [system.erc20.address], start)
    return system, dep, embedded_chain.take_snapshot()


@pytest.fixture
def deployed(_deployed: tuple[System, Deployment, Any],
             embedded_chain: EmbeddedChain) -> Iterator[tuple[System, Deployment]]:
    """The deployed system, reverted to its freshly deployed state after the test."""
    system, dep, _ = _deployed
    yield system, dep
    embedded_chain.revert_to_snapshot(_deployed[2])
