"""What the account agent asks the briefs for, read from its published tables (`agent.account_state`,
`agent.alerts`): the plan it has open (drafted as that brief kind) and its open alerts (a named risk the agent saw).
Absent tables (the agent has not run) give no inputs."""

from __future__ import annotations

from delivery.briefs.facts import AgentInputs

# The agent's plan kinds and playbooks -> the brief kind that drafts them.
PLAN_BRIEFS = {"save": "save_plan", "mitigation": "risk_mitigation_plan", "success": "success_plan"}
PLAYBOOK_BRIEFS = {"licence_optimisation": "licence_optimisation_plan", "post_mortem": "churn_post_mortem"}
# The agent's risk kinds -> the briefs' risk names (delivery/briefs/risks.py).
ALERT_RISKS = {"churn_risk": "churn_risk", "muda": "unused_licences", "mura": "erratic_usage", "muri": "support_spike"}
OPEN = ("open", "notified", "acknowledged", "approved")


def _exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, name]).fetchone()[0])


def agent_inputs(con) -> dict[str, AgentInputs]:
    if not (_exists(con, "agent.account_state") and _exists(con, "agent.alerts")):
        return {}
    inputs: dict[str, AgentInputs] = {}
    for account_id, plan_kind, next_action in con.execute(
            "SELECT account_id, open_plan_kind, next_action FROM agent.account_state").fetchall():
        inputs[account_id] = AgentInputs(open_plan_kind=PLAN_BRIEFS.get(plan_kind) or PLAYBOOK_BRIEFS.get(next_action),
                                         next_best_action=next_action.replace("_", " ") if next_action else None)
    for account_id, kind, severity, playbook in con.execute(
            f"SELECT account_id, kind, severity, playbook FROM agent.alerts WHERE status IN {OPEN} "
            "ORDER BY account_id, id").fetchall():
        alert = {"type": kind, "message": f"{severity} {kind.replace('_', ' ')} alert ({playbook})"}
        if kind in ALERT_RISKS:
            alert["risk"] = ALERT_RISKS[kind]
        inputs.setdefault(account_id, AgentInputs()).alerts.append(alert)
    return inputs
