"""A synthetic participant table for scorecard tests: the shape store features will have."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scf_chain.risk.train import ScorecardSettings

FAST = ScorecardSettings(calibration_folds=3)


def synthetic_frame(n: int = 800, seed: int = 7) -> pd.DataFrame:
    """Participants with a numeric and a categorical risk driver, a weak one, gaps in each, and a
    text target: the shape store features will have."""
    rng = np.random.default_rng(seed)
    days_late = rng.gamma(2.0, 5.0, n)
    sector = rng.choice(["retail", "food", "textile", "electronics"], n)
    sector_risk = pd.Series(sector).map({"retail": -0.8, "food": -0.2, "textile": 0.4,
                                         "electronics": 0.9}).to_numpy()
    on_time_share = rng.uniform(0, 1, n)
    logit = -2.0 + 0.12 * days_late + sector_risk - 1.0 * on_time_share
    bad = rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "days_late": days_late.round(1),
        "sector": sector.astype(object),
        "on_time_share": on_time_share.round(3),
        "status": np.where(bad, "default", "repaid"),
    })
    frame.loc[rng.uniform(0, 1, n) < 0.06, "days_late"] = np.nan
    frame.loc[rng.uniform(0, 1, n) < 0.04, "sector"] = None
    return frame
