"""QBR decks, value reports and the portfolio report as assets (group `reports`): wiring only, the reports are
built by `delivery.reports`. Files go under `CSOPS_REPORTS_DIR` (default data/reports); docs/reports.md.

    marts + staging.stg_handoffs + ml/<task>_scores -> reports/value_reports   (accounts renewing within 120 days)
    marts + ml/churn_scores (+ the model registry)   -> reports/portfolio_report

The account agent's tables and the briefs (`delivery.reports.sources.TABLES`) are read when they exist. Their assets
are not upstream yet: when they join the graph under the same keys, add them to `AGENT_AND_BRIEF_KEYS`
(tests/test_reports_assets.py fails until every such asset in the graph is upstream of the reports).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.settings import Settings
from delivery.reports.write import RENEWAL_WINDOW_DAYS, write_portfolio, write_value_reports
from ml.config import models_dir
from csops import contract
from orchestration.defs.ml.assets import FEATURE_SNAPSHOTS, task_key
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse

GROUP = "reports"
ACCOUNT_MARTS = [
    dg.AssetKey(["marts", name]) for name in (
        "dim_accounts", "fct_account_lifecycle", "fct_account_daily", "fct_account_health",
        "fct_account_phase_history", "fct_lean_waste", "fct_handoff_audit", "fct_revenue_events")
]
PORTFOLIO_MARTS = [dg.AssetKey(["marts", name]) for name in (
    "dim_accounts", "fct_nrr_monthly", "fct_account_daily", "fct_lean_waste", "fct_handoff_audit")]
HANDOFFS = dg.AssetKey(["staging", "stg_handoffs"])
SCORES = [task_key("churn", "scores"), task_key("expansion", "scores")]
# Model quality: the champion (registry) applied to its test slice; source freshness: the raw tables.
MODEL_INPUTS = [task_key("churn", "model"), task_key("churn", "training_set"), FEATURE_SNAPSHOTS]
RAW = [dg.AssetKey(["raw", source]) for source in contract.SOURCE_NAMES]
# The agent's and the briefs' assets, once they are in this code location under the keys of
# delivery.reports.sources.TABLES: the briefs step's `dg.AssetKey(["delivery", "briefs"])`, the agent's
# `dg.AssetKey(["agent", "queue"])`, `["agent", "alerts"]`, `["agent", "playbook_lift"]`.
AGENT_AND_BRIEF_KEYS: list[dg.AssetKey] = [dg.AssetKey(["delivery", "briefs"]), dg.AssetKey(["agent", "actions"]),
                                           dg.AssetKey(["agent", "alerts"])]


def _tables(keys: list[dg.AssetKey]) -> list[str]:
    return [".".join(key.path) for key in keys]


def _metadata(written, what: str) -> dict:
    redrawn = sum(not w.unchanged for w in written)
    return {"written": redrawn, "unchanged": len(written) - redrawn,
            "progress_note": f"{what}: {redrawn} written, {len(written) - redrawn} unchanged",
            "files": dg.MetadataValue.json({w.name: {k: str(p) for k, p in w.files.items()} for w in written}),
            "not_written": dg.MetadataValue.json([f"{w.name}: {r}" for w in written for r in w.reasons]),
            "inputs_missing": dg.MetadataValue.json(sorted({n for w in written for n in w.report.data_notes}))}


@dg.asset(
    key=dg.AssetKey(["reports", "value_reports"]),
    group_name=GROUP,
    deps=[*ACCOUNT_MARTS, HANDOFFS, *SCORES, *AGENT_AND_BRIEF_KEYS],
    pool=DUCKDB_POOL,
    kinds={"python", "pptx", "html", "pdf"},
    description=f"QBR deck (PowerPoint, native charts), HTML value report and its PDF for every account with a "
    f"renewal in the next {RENEWAL_WINDOW_DAYS} days, under <reports_dir>/accounts/.",
)
def value_reports(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                  warehouse: Warehouse) -> dg.MaterializeResult:
    reports_dir = Settings.from_env().reports_dir
    with duckdb.get_connection() as con:
        warehouse.fetch_tables(con, _tables([*ACCOUNT_MARTS, HANDOFFS]), context.run_id, context.log.info)
        written = write_value_reports(con, reports_dir)
    return dg.MaterializeResult(metadata={"accounts": len(written), "reports_dir": str(reports_dir),
                                          **_metadata(written, "account reports")})


@dg.asset(
    key=dg.AssetKey(["reports", "portfolio_report"]),
    group_name=GROUP,
    deps=[*PORTFOLIO_MARTS, task_key("churn", "scores"), *MODEL_INPUTS, *RAW, *AGENT_AND_BRIEF_KEYS],
    pool=DUCKDB_POOL,
    kinds={"python", "pptx", "html", "pdf"},
    description="The CS leader's portfolio report (retention, churn tax, expansion gap, health, risks, waste, handoff "
    "gaps, agent load, model quality, operating-model readiness) as HTML, PDF and deck in <reports_dir>.",
)
def portfolio_report(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                     warehouse: Warehouse) -> dg.MaterializeResult:
    reports_dir = Settings.from_env().reports_dir
    with duckdb.get_connection() as con:
        warehouse.fetch_tables(con, _tables(PORTFOLIO_MARTS), context.run_id, context.log.info)
        written = write_portfolio(con, reports_dir, models_dir())
    return dg.MaterializeResult(metadata={"reports_dir": str(reports_dir), **_metadata([written], "portfolio report")})
