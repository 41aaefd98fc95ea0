"""The briefs read what the account agent asks for from its published tables."""

import duckdb

from delivery.briefs.agent import agent_inputs


def test_no_agent_tables_no_inputs():
    assert agent_inputs(duckdb.connect()) == {}


def test_open_plans_become_brief_kinds_and_open_alerts_name_their_risks():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA agent")
    con.execute("CREATE TABLE agent.account_state AS SELECT * FROM (VALUES ('A1', 'save', 'save_plan'), "
                "('A2', NULL, 'licence_optimisation'), ('A3', NULL, NULL)) t(account_id, open_plan_kind, next_action)")
    con.execute("CREATE TABLE agent.alerts AS SELECT * FROM (VALUES (1, 'A1', 'churn_risk', 'critical', 'save_plan', "
                "'notified'), (2, 'A2', 'muda', 'medium', 'licence_optimisation', 'open'), (3, 'A3', 'mura', 'low', "
                "'targeted_training', 'closed')) t(id, account_id, kind, severity, playbook, status)")
    inputs = agent_inputs(con)
    assert inputs["A1"].open_plan_kind == "save_plan"
    assert inputs["A1"].alerts == [{"type": "churn_risk", "message": "critical churn risk alert (save_plan)",
                                    "risk": "churn_risk"}]
    assert inputs["A2"].open_plan_kind == "licence_optimisation_plan"
    assert [a["risk"] for a in inputs["A2"].alerts] == ["unused_licences"]
    assert inputs["A3"].open_plan_kind is None and inputs["A3"].alerts == []  # a closed alert is not open work
