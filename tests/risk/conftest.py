"""Scorecards fitted once per session: a synthetic table with missing values, and German credit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scf_chain.risk.data import TrainingSet, german_credit, training_set
from scf_chain.risk.model import ScorecardModel
from scf_chain.risk.train import fit_scorecard
from tests.risk.synthetic import FAST, synthetic_frame

FIXED_TIME = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
@pytest.fixture(scope="session")
def synthetic() -> TrainingSet:
    return training_set(synthetic_frame(), "status", bad_value="default")


@pytest.fixture(scope="session")
def synthetic_model(synthetic: TrainingSet) -> ScorecardModel:
    return fit_scorecard(synthetic, FAST, model_version="synthetic-test", now=FIXED_TIME)


@pytest.fixture(scope="session")
def german() -> TrainingSet:
    return german_credit()


@pytest.fixture(scope="session")
def german_model(german: TrainingSet) -> ScorecardModel:
    return fit_scorecard(german, FAST, model_version="german-test", now=FIXED_TIME)
