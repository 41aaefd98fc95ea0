"""What BI reads about the agent: operational-database tables copied into the warehouse schema `agent`, and the
verdicts of the agent's gates (every active account has a state; every alert's evidence is in the marts)."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import JSON, select
from sqlalchemy.orm import Session

from actions.lifecycle import ACTIVE
from actions.signals import SIGNALS, verify_evidence
from csops.opdb.models import (AccountState, Action, Alert, AlertEvent, HoldoutAssignment, Plan, PlanTask,
                               Postmortem, StateTransition)

# The dbt-built tables the agent reads (on Snowflake: copied into the local DuckDB file before the tick).
INPUT_TABLES = sorted({s.source for s in SIGNALS.values()} | {"marts.fct_revenue_events"})
# Warehouse table -> operational table, grouped by the asset that publishes them.
TABLES = {
    "account_state": {"agent.account_state": AccountState},
    "state_transitions": {"agent.state_transitions": StateTransition},
    "actions": {"agent.actions": Action, "agent.plans": Plan, "agent.plan_tasks": PlanTask,
                "agent.holdout_assignments": HoldoutAssignment},
    "alerts": {"agent.alerts": Alert, "agent.alert_events": AlertEvent},
    "postmortems": {"agent.postmortems": Postmortem},
}


def frame(session: Session, model) -> pd.DataFrame:
    """Every row of `model`'s table; JSON columns as JSON text."""
    columns = model.__table__.columns
    rows = session.execute(select(*columns)).all()
    data = pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in columns])
    for column in columns:
        if isinstance(column.type, JSON):
            data[column.name] = data[column.name].map(lambda v: json.dumps(v, sort_keys=True, default=str))
    return data


def write(con, session: Session, group: str) -> dict[str, int]:
    """Replace the group's warehouse tables with the operational rows; rows written per table."""
    con.execute("create schema if not exists agent")
    written = {}
    for table, model in TABLES[group].items():
        data = frame(session, model)  # noqa: F841 (read by DuckDB by name)
        con.execute(f"create or replace table {table} as select * from data")
        written[table] = len(data)
    if group == "actions":  # what BI tools and reports call the queue: the actions ranked within capacity
        con.execute("create or replace view agent.queue as select * from agent.actions where status = 'queued'")
    return written


def write_lift(con, lift: pd.DataFrame) -> int:
    con.execute("create schema if not exists agent")
    con.execute("create or replace table agent.playbook_lift as select * from lift")
    return len(lift)


def accounts_without_state(con, session: Session) -> tuple[list[str], int]:
    """(active accounts with no state row, number of active accounts): active = scored on the as-of day."""
    active = {r[0] for r in con.execute("select account_id from ml.churn_scores").fetchall()}
    known = set(session.scalars(select(AccountState.account_id)))
    return sorted(active - known), len(active)


def unsupported_alerts(con, session: Session) -> tuple[list[str], int]:
    """(mismatches between the active alerts' evidence and the marts rebuilt on their day, alerts checked)."""
    alerts = [{"id": a.id, "account_id": a.account_id, "as_of_date": a.as_of_date, "evidence": a.evidence}
              for a in session.scalars(select(Alert).where(Alert.status.in_(ACTIVE)))]
    return verify_evidence(con, alerts), len(alerts)
