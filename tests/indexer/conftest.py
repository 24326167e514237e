"""Indexer test fixtures (shared with tests/audit)."""

from tests.indexer.fixtures import _deployed, _pg_database, _sqlite_template, deployed, store  # noqa: F401
