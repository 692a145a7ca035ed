"""Forecasting: the next ``horizon`` steps of numeric series from the ``lookback`` steps before."""
