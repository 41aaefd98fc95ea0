"""Plain rows about the agent's output, for the demo summary, the CLI and the warehouse tables BI reads."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from csops.opdb.models import Action, Alert


def top_of_queue(session: Session, n: int = 10, owner: str | None = None) -> list[dict]:
    """The queued actions with the highest expected value (per owner's capacity), best first."""
    query = select(Action).where(Action.status == "queued")
    if owner:
        query = query.where(Action.owner == owner)
    query = query.order_by(Action.expected_value.desc(), Action.priority, Action.id).limit(n)
    return [{"action_id": a.id, "account_id": a.account_id, "owner": a.owner, "playbook": a.playbook,
             "title": a.title, "expected_value": a.expected_value, "due_on": a.due_on.isoformat(),
             "rank": a.rank, "channel": a.channel} for a in session.scalars(query)]


def alert_counts(session: Session) -> dict[str, int]:
    """Alerts by lifecycle status, plus `raised` (every alert not held back), `held` and `digest`."""
    counts = dict(session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())
    digest = session.scalar(select(func.count()).select_from(Alert).where(Alert.delivery == "digest")) or 0
    total = sum(counts.values())
    return {"raised": total - counts.get("held", 0), "held": counts.get("held", 0), "digest": digest,
            **{f"status_{k}": v for k, v in sorted(counts.items())}}
