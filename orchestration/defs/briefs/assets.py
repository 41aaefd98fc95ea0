"""Briefs and plan drafts as an asset (group `briefs`): wiring only, the logic lives in `delivery.briefs`.

    marts + ml scores + staging texts + agent plans and alerts -> delivery/briefs   (table delivery.briefs; audit <data>/briefs/audit.jsonl)

Which accounts need which brief: `delivery.briefs.service.needed_kinds` (docs/briefs.md). A brief is rewritten only
when its account's fact sheet changed: a rerun on unchanged data makes no API call.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.settings import Settings
from delivery.briefs import refresh_briefs
from delivery.briefs.agent import agent_inputs
from orchestration.lib.brief_writer import BriefWriterResource
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse

GROUP = "briefs"
BRIEFS = dg.AssetKey(["delivery", "briefs"])
SOURCES = [dg.AssetKey(["marts", name]) for name in (
    "dim_accounts", "fct_account_health", "fct_lean_waste", "fct_handoff_audit", "fct_account_lifecycle",
    "fct_revenue_events")] + [dg.AssetKey(["ml", "churn_scores"]), dg.AssetKey(["ml", "expansion_scores"])] + [
    dg.AssetKey(["staging", name]) for name in (
        "stg_contacts", "stg_handoffs", "stg_support_tickets", "stg_survey_responses", "stg_activities")]
# The agent's open plans and alerts: the drafts it asks for (delivery/briefs/agent.py).
AGENT = [dg.AssetKey(["agent", "account_state"]), dg.AssetKey(["agent", "alerts"])]


@dg.asset(
    key=BRIEFS,
    group_name=GROUP,
    deps=[*SOURCES, *AGENT],
    pool=DUCKDB_POOL,
    kinds={"duckdb", "python", "anthropic"},
    description="Briefs and plan drafts of the accounts that need one (renewal within 120 days, high or critical "
    "churn risk, new accounts in handoff, churned accounts, ...), each claim citing fact ids, checked by the "
    "guardrails (table delivery.briefs).",
)
def account_briefs(context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse,
                   brief_writer: BriefWriterResource) -> dg.MaterializeResult:
    policy = brief_writer.policy()
    writer = brief_writer.writer(policy)
    with duckdb.get_connection() as con:
        warehouse.fetch_tables(con, [".".join(k.path) for k in SOURCES], context.run_id, context.log.info)
        result = refresh_briefs(con, writer, policy, Settings.from_env().data_dir, progress=context.log.info,
                                agent_inputs=agent_inputs(con))
        warehouse.store_tables(con, ["delivery.briefs"], context.log.info)
    totals = result.totals()
    by_kind: dict[str, int] = {}
    for brief in result.briefs:
        by_kind[brief.kind] = by_kind.get(brief.kind, 0) + 1
    return dg.MaterializeResult(metadata={
        "writer": writer.name, "model": writer.model, **totals,
        "progress_note": f"{totals['written']} briefs written by the {writer.name} writer, {totals['reused']} "
                         f"unchanged, {totals['flagged']} flagged, {totals['api_calls']} API calls",
        "written_by_kind": dg.MetadataValue.json(by_kind),
        "per_account": dg.MetadataValue.json(result.per_account()),
    })
