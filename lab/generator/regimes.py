"""Generator regimes: data sets whose vocabulary, sources and churn mechanics differ from the default world.

csops runs on customers' data it has never seen; a regime makes the generator write such a set so the models and
health scores can be measured on it. Regimes combine with '+' (`foreign_events+usage_only+small_book`). The
default regime changes nothing: its output is byte-identical to the generator without regimes.

- `foreign_events`: event names the seed vocabulary (dbt seed `feature_categories`) does not know, no `feature`.
- `usage_only`: accounts, contracts and usage events only (the other, optional sources are absent); monthly and
  annual terms only (multi-year terms become annual).
- `random_churn`: renewal outcomes mostly random (the hidden state weighs a sixth of the default).
- `early_churn`: churn concentrated in an account's first year (tenure weighs in the renewal odds).
- `small_book`: at most a few hundred accounts (SMALL_BOOK_ACCOUNTS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csops import contract

REGIMES = ("default", "foreign_events", "usage_only", "random_churn", "early_churn", "small_book")
SMALL_BOOK_ACCOUNTS = 300
# a product whose events share no name with the seed vocabulary, one per default event type (usage.EVENT_TYPES)
FOREIGN_EVENT_TYPES = ("sign_on", "canvas_open", "doc_export", "asset_upload", "seat_grant", "connector_pull",
                       "endpoint_hit", "flow_exec", "thread_reply", "prefs_edit")
USAGE_ONLY_SOURCES = ("accounts", "contracts", "usage_events")
RANDOM_CHURN_SIGNAL = 1 / 6  # weight of the hidden state in the renewal logit (1 in the default world)
# random churn keeps about the default churn rate: the state's share of the logit is replaced by its typical value
RANDOM_CHURN_SHIFT = 0.9
# early churn: logit + EARLY_BOOST * exp(-tenure / EARLY_SCALE_DAYS) - EARLY_DISCOUNT
EARLY_BOOST, EARLY_SCALE_DAYS, EARLY_DISCOUNT = 4.0, 150.0, 1.2


@dataclass(frozen=True)
class Regime:
    names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str | None) -> Regime:
        """'foreign_events+usage_only' -> Regime; None, '' and 'default' give the default world."""
        names = {n.strip() for n in (spec or "").split("+") if n.strip()} - {"default"}
        unknown = sorted(names - set(REGIMES))
        if unknown:
            raise ValueError(f"unknown regime {', '.join(unknown)}; choose from {', '.join(REGIMES)} (join with '+')")
        return cls(frozenset(names))

    @property
    def label(self) -> str:
        return "+".join(n for n in REGIMES if n in self.names) or "default"

    @property
    def is_default(self) -> bool:
        return not self.names

    def accounts(self, requested: int) -> int:
        return min(requested, SMALL_BOOK_ACCOUNTS) if "small_book" in self.names else requested

    def sources(self) -> tuple[str, ...]:
        """Landing sources written; the others are absent (no folder)."""
        if "usage_only" in self.names:
            return tuple(s for s in contract.SOURCE_NAMES if s in USAGE_ONLY_SOURCES)
        return tuple(contract.SOURCE_NAMES)

    def term_months(self, term: np.ndarray) -> np.ndarray:
        return np.minimum(term, 12) if "usage_only" in self.names else term

    @property
    def event_types(self) -> tuple[str, ...] | None:
        """Event names replacing usage.EVENT_TYPES (index for index), or None for the default names."""
        return FOREIGN_EVENT_TYPES if "foreign_events" in self.names else None

    @property
    def writes_feature(self) -> bool:
        return "foreign_events" not in self.names

    def churn_logit(self, logit: np.ndarray, base: np.ndarray, tenure_days: np.ndarray) -> np.ndarray:
        """The renewal's churn logit (before noise) under this regime; `base` is its segment-and-term part."""
        if "random_churn" in self.names:
            logit = base + RANDOM_CHURN_SIGNAL * (logit - base) + (1 - RANDOM_CHURN_SIGNAL) * RANDOM_CHURN_SHIFT
        if "early_churn" in self.names:
            logit = logit + EARLY_BOOST * np.exp(-np.maximum(tenure_days, 0) / EARLY_SCALE_DAYS) - EARLY_DISCOUNT
        return logit


DEFAULT = Regime()
