"""The reports' reads of tables other parts of the action layer build: the account agent (schema `agent`) and the
briefs. They are optional: each read first asks `information_schema` whether the table and the columns it needs
exist, and says plainly what is missing when they do not, so a report never fails or guesses for lack of them.

The one place to connect the exact names: `TABLES` (table names) and the column tuples beside each read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

# logical name -> schema.table. Names as the action layer's design announces them; connect the final ones here.
TABLES = {
    "queue": "agent.queue",  # next-best-action queue: the agent's actions ranked within their owner's capacity
    "alerts": "agent.alerts",  # risk alerts sent or waiting
    "playbook_lift": "agent.playbook_lift",  # measured lift per playbook, with its interval
    "briefs": "delivery.briefs",  # the briefs step's table: one row per account and kind, the latest
}
QUEUE_COLUMNS = ("account_id", "owner", "title", "due_on")
ALERT_COLUMNS = ("account_id", "owner")
LIFT_COLUMNS = ("playbook", "metric", "lift", "ci_low", "ci_high")
BRIEF_COLUMNS = ("account_id", "kind", "brief_json", "flagged", "generated_at")
# The brief whose first section summarises an account for a QBR, in order of preference; a brief its guardrails
# flagged is never used.
SUMMARY_KINDS = ("renewal_brief", "expansion_readiness", "success_plan")
# A risk "has a playbook" when the agent's alert row names one.
ALERT_PLAYBOOK_COLUMN = "playbook"


@dataclass
class Read:
    """A frame when the table was there with its columns, else `None` and why (for the report to say)."""

    name: str
    frame: pd.DataFrame | None
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.frame is not None

    def reason(self) -> str:
        return f"not available: {', '.join(self.missing)} missing in the warehouse" if self.missing else ""


def _columns(con, table: str) -> set[str] | None:
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows} or None


def _read(con, logical: str, needed: tuple[str, ...], sql: str, params: list | None = None) -> Read:
    table = TABLES[logical]
    columns = _columns(con, table)
    if columns is None:
        return Read(logical, None, [f"table {table}"])
    absent = [f"column {table}.{c}" for c in needed if c not in columns]
    if absent:
        return Read(logical, None, absent)
    return Read(logical, con.execute(sql.format(table=table), params or []).df())


def availability(con) -> dict[str, bool]:
    """Which optional tables exist (for the report's data-sources note and the Dagster wiring)."""
    return {logical: _columns(con, table) is not None for logical, table in TABLES.items()}


def owner_load(con) -> Read:
    """Open queue items and alerts per owner."""
    queue = _read(con, "queue", QUEUE_COLUMNS, "SELECT owner, count(*) AS queued FROM {table} GROUP BY owner")
    alerts = _read(con, "alerts", ALERT_COLUMNS, "SELECT owner, count(*) AS alerts FROM {table} GROUP BY owner")
    if not (queue.ok and alerts.ok):
        return Read("owner_load", None, queue.missing + alerts.missing)
    frame = queue.frame.merge(alerts.frame, on="owner", how="outer").fillna(0).sort_values("owner")
    return Read("owner_load", frame.astype({"queued": int, "alerts": int}).reset_index(drop=True))


def playbook_lift(con) -> Read:
    return _read(con, "playbook_lift", LIFT_COLUMNS,
                 f"SELECT {', '.join(LIFT_COLUMNS)} FROM {{table}} WHERE lift IS NOT NULL ORDER BY lift DESC")


def risks_with_playbook(con) -> Read:
    """Alerts (risks the agent raised) and how many of them name a playbook."""
    return _read(con, "alerts", (*ALERT_COLUMNS, ALERT_PLAYBOOK_COLUMN),
                 f"SELECT count(*) AS risks, count({ALERT_PLAYBOOK_COLUMN}) AS with_playbook FROM {{table}}")


def account_queue(con, account_id: str) -> Read:
    return _read(con, "queue", QUEUE_COLUMNS, "SELECT title, owner, due_on FROM {table} WHERE account_id = ? "
                 "ORDER BY due_on, title", [account_id])


def brief_summary(con, account_id: str) -> Read:
    """The executive summary from the account's brief: the title and the fact sentences of its first section
    (claims citing facts, not the hypotheses), with the brief's kind and date. Columns: kind, summary, generated_at."""
    read = _read(con, "briefs", BRIEF_COLUMNS,
                 "SELECT kind, brief_json, generated_at FROM {table} WHERE account_id = ? AND NOT flagged "
                 f"AND kind IN ({', '.join('?' * len(SUMMARY_KINDS))})", [account_id, *SUMMARY_KINDS])
    if read.ok and not read.frame.empty:
        frame = read.frame.assign(rank=read.frame["kind"].map(SUMMARY_KINDS.index)).sort_values("rank").head(1)
        brief = json.loads(frame["brief_json"].iloc[0])
        first = (brief.get("sections") or [{}])[0]
        text = " ".join([brief.get("title", "") + ":", *[claim["text"] for claim in first.get("facts", [])]])
        read.frame = frame.assign(summary=text)[["kind", "summary", "generated_at"]]
    return read
