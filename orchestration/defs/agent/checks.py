"""Blocking gates of the account agent: verdicts from `actions.publish`, mapped to check results."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from actions import publish
from orchestration.defs.agent.assets import ACCOUNT_STATE
from orchestration.lib.opdb import OperationalDatabase
from orchestration.lib.pools import DUCKDB_POOL


@dg.asset_check(asset=ACCOUNT_STATE, name="every_active_account_has_a_state", blocking=True, pool=DUCKDB_POOL,
                description="Every account scored on the as-of day has a state in the operational database.")
def every_active_account_has_a_state(duckdb: DuckDBResource, opdb: OperationalDatabase) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con, opdb.session() as session:
        missing, active = publish.accounts_without_state(con, session)
    return dg.AssetCheckResult(passed=not missing, metadata={
        "active_accounts": active, "without_state": len(missing), "examples": ", ".join(missing[:10]) or "none"})


@dg.asset_check(asset=dg.AssetKey(["agent", "alerts"]), name="alert_evidence_in_marts", blocking=True,
                pool=DUCKDB_POOL, additional_deps=[dg.AssetKey(k.split(".")) for k in publish.INPUT_TABLES],
                description="Every active alert's evidence, rebuilt from the marts and scores on its day, matches: no "
                "alert stands on a figure the data does not hold (risk hallucination = 0).")
def alert_evidence_in_marts(duckdb: DuckDBResource, opdb: OperationalDatabase) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con, opdb.session() as session:
        problems, checked = publish.unsupported_alerts(con, session)
    return dg.AssetCheckResult(passed=not problems, metadata={
        "alerts_checked": checked, "unsupported": len(problems), "examples": dg.MetadataValue.json(problems[:10])})
