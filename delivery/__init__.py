"""Delivery: what reaches people (Slack, briefs and plan drafts, reports). Plain Python; Dagster wires it."""
