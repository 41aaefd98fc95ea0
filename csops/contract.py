"""The landing-zone contract (v1) as data: sources, keys, columns, types and allowed values.

The generator writes it, ingest enforces it and the dbt sources document it; all three read this module so
they cannot drift apart. Human-readable version: docs/landing-contract.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

CONTRACT_VERSION = 1

# Logical column types. Ingest maps them to DuckDB types; `parse_sql` in ingest knows how to cast each one.
STRING = "string"
TIMESTAMP = "timestamp"  # ISO 8601; no offset means UTC; stored as naive UTC TIMESTAMP
DATE = "date"  # YYYY-MM-DD
MONEY = "money"  # decimal number in the contract currency
INTEGER = "integer"
NUMBER = "number"

VERSION_COLUMN = "updated_at"  # optional on entity sources: see Source.version_column


@dataclass(frozen=True)
class Column:
    name: str
    type: str = STRING
    required: bool = False
    allowed: tuple[str, ...] | None = None  # enum values; None means free text
    default: str | None = None  # SQL literal used when the value is null or the column is absent
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class Source:
    name: str
    primary_key: str
    kind: str  # "entity": newest batch wins; "fact": exact repeats of the key are dropped
    columns: tuple[Column, ...]
    optional_source: bool = True  # may be empty or absent
    references_accounts: bool = True
    checks: tuple[tuple[str, str], ...] = field(default=())  # (sql predicate that must hold, reason if it fails)

    @property
    def version_column(self) -> Column | None:
        """An entity batch may carry `updated_at` (when the source system last changed the record): versions are then
        ordered by it rather than by file, so an old export re-sent late does not revert newer data. Optional: a
        batch without it is no schema error."""
        return Column(VERSION_COLUMN, TIMESTAMP) if self.kind == "entity" else None

    def with_columns_present(self, present: list[str]) -> Source:
        """This source with its version column among its columns when a batch carries it."""
        version = self.version_column
        if version is None or version.name not in present:
            return self
        return replace(self, columns=(*self.columns, version))

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


SEGMENTS = ("enterprise", "mid_market", "smb")
CONTACT_ROLES = ("champion", "executive_sponsor", "admin", "user", "billing")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
SURVEYS = ("nps", "csat")
ACTIVITY_TYPES = ("meeting", "call", "email", "kickoff", "qbr", "ebr", "training")

SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            "accounts",
            "account_id",
            "entity",
            (
                Column("account_id", required=True),
                Column("account_name", required=True),
                Column("segment", allowed=SEGMENTS),
                Column("industry"),
                Column("region"),
                Column("csm_owner"),
                Column("created_at", TIMESTAMP, required=True),
            ),
            optional_source=False,
            references_accounts=False,
        ),
        Source(
            "contracts",
            "contract_id",
            "entity",
            (
                Column("contract_id", required=True),
                Column("account_id", required=True),
                Column("product"),
                Column("start_date", DATE, required=True),
                Column("end_date", DATE, required=True),
                Column("arr", MONEY, required=True, min_value=0),
                Column("licensed_seats", INTEGER, min_value=0),
                Column("currency", default="'USD'"),
            ),
            optional_source=False,
            checks=(("end_date > start_date", "end_date is not after start_date"),),
        ),
        Source(
            "handoffs",
            "opportunity_id",
            "entity",
            (
                Column("opportunity_id", required=True),
                Column("account_id", required=True),
                Column("closed_at", TIMESTAMP, required=True),
                Column("executive_sponsor"),
                Column("champion"),
                Column("success_criteria"),
                Column("use_cases"),
                Column("implementation_deadline", DATE),
                Column("pain_points"),
                Column("notes"),
            ),
        ),
        Source(
            "contacts",
            "contact_id",
            "entity",
            (
                Column("contact_id", required=True),
                Column("account_id", required=True),
                Column("name"),
                Column("email"),
                Column("title"),
                Column("role", allowed=CONTACT_ROLES),
                Column("created_at", TIMESTAMP, required=True),
                Column("left_at", TIMESTAMP),
            ),
        ),
        Source(
            "usage_events",
            "event_id",
            "fact",
            (
                Column("event_id", required=True),
                Column("account_id", required=True),
                Column("user_id"),
                Column("event_type", required=True),
                Column("feature"),
                Column("occurred_at", TIMESTAMP, required=True),
                Column("quantity", NUMBER, default="1"),
            ),
            optional_source=False,
        ),
        Source(
            "support_tickets",
            "ticket_id",
            "entity",
            (
                Column("ticket_id", required=True),
                Column("account_id", required=True),
                Column("contact_id"),
                Column("opened_at", TIMESTAMP, required=True),
                Column("closed_at", TIMESTAMP),
                Column("priority", allowed=TICKET_PRIORITIES),
                Column("category"),
                Column("status"),
                Column("subject"),
                Column("body"),
                Column("csat", INTEGER, min_value=1, max_value=5),
            ),
        ),
        Source(
            "survey_responses",
            "response_id",
            "fact",
            (
                Column("response_id", required=True),
                Column("account_id", required=True),
                Column("contact_id"),
                Column("survey", required=True, allowed=SURVEYS),
                Column("score", INTEGER, required=True, min_value=0, max_value=10),
                Column("comment"),
                Column("responded_at", TIMESTAMP, required=True),
            ),
            checks=(("survey <> 'csat' OR score BETWEEN 1 AND 5", "csat score outside 1-5"),),
        ),
        Source(
            "activities",
            "activity_id",
            "fact",
            (
                Column("activity_id", required=True),
                Column("account_id", required=True),
                Column("activity_type", required=True, allowed=ACTIVITY_TYPES),
                Column("occurred_at", TIMESTAMP, required=True),
                Column("owner"),
                Column("notes"),
            ),
        ),
    ]
}

# Load order: accounts first, because every other source's account_id is checked against it.
SOURCE_NAMES: list[str] = list(SOURCES)
BATCH_SUFFIXES = (".parquet", ".csv", ".csv.gz")
