"""Briefs and plan drafts written from cited facts behind guardrails (docs/briefs.md). Dagster-free."""

from delivery.briefs.store import refresh_briefs, summary

__all__ = ["refresh_briefs", "summary"]
