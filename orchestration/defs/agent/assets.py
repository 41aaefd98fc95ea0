"""The account agent as assets (group `agent`): wiring only, the logic lives in the `actions` package.

    ml/churn_scores + ml/expansion_scores + marts -> agent/account_state   (one tick of the state machine for every
                                                                            account, written to the operational db)
    agent/account_state -> agent/state_transitions, agent/actions, agent/alerts, agent/postmortems

The tick reads the warehouse and writes the operational database (`opdb` resource); each asset then copies its
operational tables into the warehouse schema `agent` for BI, inside the DuckDB pool. Checks: `checks.py`.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from actions import publish
from actions.lift import playbook_lift
from actions.policy import load_policy
from actions.tick import run_tick
from orchestration.lib.opdb import OperationalDatabase
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse

GROUP = "agent"
SCORES = [dg.AssetKey(["ml", "churn_scores"]), dg.AssetKey(["ml", "expansion_scores"])]
INPUTS = [dg.AssetKey(table.split(".")) for table in publish.INPUT_TABLES if table.startswith("marts.")]
ACCOUNT_STATE = dg.AssetKey(["agent", "account_state"])


def _store(con, warehouse: Warehouse, written: dict[str, int], log) -> dict:
    warehouse.store_tables(con, list(written), log)
    return {"dagster/row_count": sum(written.values()), "tables": dg.MetadataValue.json(written)}


@dg.asset(
    key=ACCOUNT_STATE,
    group_name=GROUP,
    deps=[*SCORES, *INPUTS],
    pool=DUCKDB_POOL,
    kinds={"python", "sqlite", "duckdb"},
    description="One tick of the account agent for every scored or churned account: phase router (handoff gate, "
    "diagnostic, risk, success plan, queue, post-mortem), alerts and the next-best-action queue, written to the "
    "operational database; the current state is copied to agent.account_state. Unchanged data: nothing changes.",
)
def account_state(context: dg.AssetExecutionContext, duckdb: DuckDBResource, opdb: OperationalDatabase,
                  warehouse: Warehouse) -> dg.MaterializeResult:
    with duckdb.get_connection() as con, opdb.session() as session:
        warehouse.fetch_tables(con, publish.INPUT_TABLES, context.run_id, context.log.info)
        result = run_tick(con, session)
        session.commit()
        metadata = _store(con, warehouse, publish.write(con, session, "account_state"), context.log.info)
    return dg.MaterializeResult(metadata={**metadata, **result.as_metadata()})


def _published(group: str, description: str, lift: bool = False):
    @dg.asset(key=dg.AssetKey(["agent", group]), group_name=GROUP, deps=[ACCOUNT_STATE], pool=DUCKDB_POOL,
              kinds={"python", "duckdb"}, description=description)
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource, opdb: OperationalDatabase,
               warehouse: Warehouse) -> dg.MaterializeResult:
        with duckdb.get_connection() as con, opdb.session() as session:
            written = publish.write(con, session, group)
            if lift:
                policy = load_policy()
                as_of = con.execute("select max(as_of_date) from ml.churn_scores").fetchall()[0][0]
                written["agent.playbook_lift"] = publish.write_lift(con, playbook_lift(con, session, policy, as_of))
            metadata = _store(con, warehouse, written, context.log.info)
        return dg.MaterializeResult(metadata=metadata)

    return _asset


agent_transitions = _published("state_transitions", "Every transition of every account, with its reason and "
                               "evidence (agent.state_transitions): why an account is where it is, on any day.")
agent_actions = _published("actions", "The next-best-action queue and the plans behind it (agent.actions, agent.plans, "
                     "agent.plan_tasks), the holdout draws and the lift per playbook with its confidence interval "
                     "once outcomes are known (agent.holdout_assignments, agent.playbook_lift).", lift=True)
agent_alerts = _published("alerts", "Risk alerts and every lifecycle move with who and when (agent.alerts, "
                    "agent.alert_events).")
agent_postmortems = _published("postmortems", "Root cause of every churn from the evidence (agent.postmortems): a label "
                         "for analysis, never a feature of the account that churned.")
