"""Audit test fixtures: the indexer's databases and deployed system."""

from tests.indexer.fixtures import _deployed, _pg_database, _sqlite_template, deployed, store  # noqa: F401
