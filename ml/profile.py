"""Data profile: does the data fill the features? Warns, before anything is trained on it, when a customer's data
leaves feature families empty or constant: most usage events unmapped by the seed vocabulary (`feature_categories`:
every event lands in category `other`) or an optional source absent (no tickets, surveys, CSM activities, contacts).

Read from `fct_account_daily` on one day (the scoring day); the feature step stores the verdict in `ml.data_profile`
and an advisory asset check shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from ml.features import DAILY, FEATURES

UNMAPPED_WARN_SHARE = 0.5  # of the day's 30-day usage events
# feature families that read the seed's categories or key-value flags
VOCABULARY_FAMILIES = ("usage_mix", "key_value", "breadth", "time_to_value", "health_adoption")
# optional source -> (its "has data" flag in fct_account_daily, the feature families it fills)
SOURCE_FAMILIES = {
    "support_tickets": ("has_support_data", ("ticket_volume", "urgent_tickets", "ticket_backlog", "csat",
                                             "support_load", "health_support")),
    "survey_responses": ("has_survey_data", ("nps", "health_sentiment")),
    "activities": ("has_engagement_data", ("csm_touch", "health_engagement")),
    "contacts": ("has_stakeholder_data", ("champion", "sponsor", "health_stakeholder")),
}


def features_of(families: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in FEATURES if f.family in families)


@dataclass(frozen=True)
class Finding:
    kind: str  # unmapped_events | absent_source
    subject: str  # "usage_events" or the absent source
    message: str
    features: tuple[str, ...]  # model features it leaves empty or constant


@dataclass(frozen=True)
class DataProfile:
    day: date
    accounts: int
    events_30d: float
    unmapped_share: float | None
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        return "WARN" if self.findings else "PASS"

    def summary(self) -> str:
        if not self.findings:
            share = "n/a" if self.unmapped_share is None else f"{self.unmapped_share:.0%}"
            return f"The data fills every feature family on {self.day} ({share} of usage events unmapped)."
        return " ".join(f.message for f in self.findings)

    def as_metadata(self) -> dict:
        return {"profile_day": str(self.day), "accounts": self.accounts,
                "unmapped_event_share": None if self.unmapped_share is None else round(self.unmapped_share, 4),
                "findings": [f.kind + ":" + f.subject for f in self.findings],
                "emptied_features": sorted({n for f in self.findings for n in f.features})}

    def to_frame(self) -> pd.DataFrame:
        """One row per finding (one row with empty finding columns when there is none)."""
        base = {"profile_day": self.day, "accounts": self.accounts, "events_30d": self.events_30d,
                "unmapped_share": self.unmapped_share}
        rows = [{**base, "kind": f.kind, "subject": f.subject, "message": f.message,
                 "features": ",".join(f.features)} for f in self.findings]
        return pd.DataFrame(rows or [{**base, "kind": "", "subject": "", "message": "", "features": ""}])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> DataProfile:
        first = frame.iloc[0]
        findings = tuple(Finding(r.kind, r.subject, r.message, tuple(r.features.split(",")) if r.features else ())
                         for r in frame.itertuples() if r.kind)
        share = first["unmapped_share"]
        return cls(pd.Timestamp(first["profile_day"]).date(), int(first["accounts"]), float(first["events_30d"]),
                   None if share is None or share != share else float(share), findings)


def profile_data(con: duckdb.DuckDBPyConnection, day: date) -> DataProfile:
    flags = ", ".join(f"bool_or(coalesce({flag}, false))" for flag, _ in SOURCE_FAMILIES.values())
    row = con.execute(f"select count(*), sum(events_30d), sum(events_30d_other), {flags} from {DAILY} "
                      "where date_day = ?", [day]).fetchone()
    accounts, events, other = int(row[0]), float(row[1] or 0), float(row[2] or 0)
    share = other / events if events else None
    findings = []
    if share is not None and share > UNMAPPED_WARN_SHARE:
        findings.append(Finding(
            "unmapped_events", "usage_events",
            f"{share:.0%} of the usage events of the 30 days to {day} match no event_type or feature of the seed "
            "vocabulary (dbt seed feature_categories) and count as category `other`: the category mix, key-value "
            "events, feature breadth and time-to-value are empty or constant. Map the product's event names in the "
            "seed; the models use the event types' own rates and quantities meanwhile.",
            features_of(VOCABULARY_FAMILIES)))
    for (source, (_, families)), has_data in zip(SOURCE_FAMILIES.items(), row[3:]):
        if not has_data:
            emptied = features_of(families)
            findings.append(Finding(
                "absent_source", source,
                f"No {source} data by {day}: {len(emptied)} features stay empty ({', '.join(emptied)}).", emptied))
    return DataProfile(day, accounts, events, share, tuple(findings))
