"""The next-best-action queue: open actions ranked by expected value within each owner's weekly capacity."""

from __future__ import annotations

from collections import defaultdict

from actions.tick import iso_week

RANKED = ("queued", "deferred")


def resolve_untriggered(tick, signals: list[dict]) -> None:
    """Open actions this tick did not re-confirm (their trigger no longer holds): resolved, not deleted."""
    for key, action in list(tick.actions.items()):
        if action.status in RANKED and action.id not in tick.touched_actions:
            action.status, action.updated_at = "resolved", tick.now
            del tick.actions[key]
            tick.result.actions_resolved += 1


def rank(tick) -> None:
    """Per owner: expected value first, then priority; the first `capacity` are queued this week, the rest deferred."""
    week = iso_week(tick.today)
    by_owner = defaultdict(list)
    for action in tick.actions.values():
        if action.status in RANKED:
            by_owner[action.owner].append(action)
    for owner, actions in by_owner.items():
        capacity = max(tick.policy.capacity_per_week[a.owner_role] for a in actions)
        actions.sort(key=lambda a: (-a.expected_value, a.priority, a.id))
        for position, action in enumerate(actions, start=1):
            status = "queued" if position <= capacity else "deferred"
            if (action.status, action.rank, action.week) != (status, position, week):
                action.status, action.rank, action.week, action.updated_at = status, position, week, tick.now
