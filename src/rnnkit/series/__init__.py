"""Numeric series: scaling fitted on training data, sliding windows, and the baselines every forecast
is compared with."""
