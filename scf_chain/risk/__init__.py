"""Risk control: explainable points scorecards (binning, WoE, logistic regression), reason codes."""
