"""Data-quality rules that gate the pipeline: batch reconciliation and Great Expectations suites."""
