"""Churn and expansion models: training sets, LightGBM training, evaluation, registry (plain Python, no Dagster)."""
