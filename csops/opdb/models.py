"""Every table of the operational database, in one metadata (Alembic's autogenerate and every migration read it).

State that people and sensors write (approvals, rejections, deliveries) and what the account agent decides lives here,
not in the DuckDB warehouse: DuckDB allows one writer process, and an approval must succeed while a run holds the
warehouse. Nothing is ever deleted: statuses move forward and every move is appended to a history table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so migrations can refer to them on every backend.
NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AccountState(Base):
    """The agent's current view of each account (one row per account, updated only when the state changes)."""

    __tablename__ = "account_state"
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    phase: Mapped[int | None] = mapped_column(Integer)  # journey phase from the marts (1-4, 8-11)
    stage: Mapped[str] = mapped_column(String(32))  # the agent's node: fetch_missing_anchors, risk_mitigation, ...
    gate: Mapped[str | None] = mapped_column(String(32))  # what it waits on: data_ready, approval, win_back, ...
    missing: Mapped[list] = mapped_column(JSON, default=list)  # what the gate still misses
    risk_score: Mapped[float | None] = mapped_column(Float)
    risk_band: Mapped[str | None] = mapped_column(String(16))
    open_plan_kind: Mapped[str | None] = mapped_column(String(32))
    open_plan_status: Mapped[str | None] = mapped_column(String(16))
    next_action: Mapped[str | None] = mapped_column(String(64))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    stage_since: Mapped[date] = mapped_column(Date)  # data day the account entered its stage
    as_of_date: Mapped[date] = mapped_column(Date)  # data day of the last change
    last_transition_at: Mapped[datetime] = mapped_column(DateTime)


class StateTransition(Base):
    """Append-only: every change of an account's state, with the reason and the figures it was decided on."""

    __tablename__ = "state_transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    as_of_date: Mapped[date] = mapped_column(Date)
    from_phase: Mapped[int | None] = mapped_column(Integer)
    to_phase: Mapped[int | None] = mapped_column(Integer)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Plan(Base):
    """A plan the agent drafted (mitigation, save, success, post-mortem...): approvals are decisions on plans."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    playbook: Mapped[str] = mapped_column(String(64))
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    # pending -> approved -> executed, or pending -> rejected / expired; `active` for plans needing no approval;
    # `superseded` when the account moved on before anyone decided.
    status: Mapped[str] = mapped_column(String(16))
    proposed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Action(Base):
    """A next-best-action: a playbook's work item for an owner, ranked by expected value."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_actions_dedup_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(200))  # account:playbook:first day proposed
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    playbook: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(128))
    owner_role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    expected_value: Mapped[float] = mapped_column(Float)
    # queued (within the owner's weekly capacity) / deferred (over it) / awaiting_approval / done / cancelled
    status: Mapped[str] = mapped_column(String(24))
    rank: Mapped[int | None] = mapped_column(Integer)  # rank in the owner's queue
    week: Mapped[str] = mapped_column(String(10))  # ISO week the ranking applies to, e.g. 2026-W49
    proposed_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Alert(Base):
    """One risk alert per account and risk kind while it is active (`dedup_key`); its moves are in alert_events."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(200), index=True)  # account:kind
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    playbook: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    as_of_date: Mapped[date] = mapped_column(Date)  # the data's day the evidence describes
    # held -> open -> notified -> acknowledged / approved / rejected / expired -> executed -> closed
    status: Mapped[str] = mapped_column(String(16))
    delivery: Mapped[str | None] = mapped_column(String(16))  # notify (within the weekly budget) or digest
    notified_week: Mapped[str | None] = mapped_column(String(10))  # ISO week of the last notification (the budget's)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    raised_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class AlertEvent(Base):
    """Append-only: every lifecycle move of an alert, with who and when."""

    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class PlanTask(Base):
    """Internal tasks an executed plan created (for people; nothing reaches a customer)."""

    __tablename__ = "plan_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class EmailDraft(Base):
    """A customer email draft for a person to review and send: csops never sends it."""

    __tablename__ = "email_drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class HoldoutAssignment(Base):
    """The random draw that kept an eligible account out of a playbook (or in it), once per account and playbook."""

    __tablename__ = "holdout_assignments"
    __table_args__ = (UniqueConstraint("account_id", "playbook", name="uq_holdout_assignments_account_playbook"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    playbook: Mapped[str] = mapped_column(String(64))
    in_holdout: Mapped[bool] = mapped_column(Boolean)
    assigned_on: Mapped[date] = mapped_column(Date)
    seed: Mapped[int] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float)
    policy_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Postmortem(Base):
    """A churn's root cause from the evidence: a label for analysis, never a feature of the account that churned."""

    __tablename__ = "postmortems"
    __table_args__ = (UniqueConstraint("account_id", "churn_date", name="uq_postmortems_account_churn_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    churn_date: Mapped[date] = mapped_column(Date)
    root_cause: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    winback_eligible: Mapped[bool] = mapped_column(Boolean)
    created_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)


metadata = Base.metadata


class OutboxMessage(Base):
    """One Slack message to deliver exactly once (delivery/slack/outbox.py): claimed before each post, looked up by its
    metadata key after an uncertain outcome, never posted twice."""

    __tablename__ = "slack_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)  # also the message metadata's key
    kind: Mapped[str] = mapped_column(String(20))  # alert | channel_digest | owner_digest
    alert_id: Mapped[str | None] = mapped_column(String(200), index=True)
    destination: Mapped[str] = mapped_column(String(320), index=True)  # channel ID, user:U.., email:..
    channel: Mapped[str | None] = mapped_column(String(40))  # the resolved channel ID
    payload: Mapped[dict] = mapped_column(JSON)  # text + blocks, already escaped and redacted
    status: Mapped[str] = mapped_column(String(12), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)  # a post may have landed: look before posting
    first_attempt_at: Mapped[float | None] = mapped_column(Float)  # where a lookup starts
    lease_until: Mapped[float | None] = mapped_column(Float)
    last_post_at: Mapped[float | None] = mapped_column(Float)  # last claim, then answer: paces after a restart
    ts: Mapped[str | None] = mapped_column(String(40))
    digest_key: Mapped[str | None] = mapped_column(String(400))  # folded into this digest instead of posted alone
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float)


class SeenRequest(Base):
    """Signatures of accepted approval-app requests, kept past the staleness window: the same signature again is a
    replay."""

    __tablename__ = "slack_seen_requests"
    signature: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[float] = mapped_column(Float, index=True)


class RefusedRequest(Base):
    """Approval-app requests refused, with why (unsigned | stale | forged | replayed)."""

    __tablename__ = "slack_refused_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(20))
    request_timestamp: Mapped[str | None] = mapped_column(String(20))
