"""The Alembic migrations build exactly the schema the ORM models declare, up and down."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from scf_chain import db
from scf_chain.db.models import Base


def test_migrations_match_models_and_downgrade_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    from alembic import command

    command.downgrade(db.alembic_config(url), "base")
    assert set(inspect(db.make_engine(url)).get_table_names()) <= {"alembic_version"}
