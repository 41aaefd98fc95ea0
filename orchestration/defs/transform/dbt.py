"""The dbt models (staging -> intermediate -> marts) as assets keyed `[schema, model]`; dbt tests as checks.

Two dbt steps: the staging views, then every other model. Between them runs the Python voice step (staging texts ->
ml/voice_text_signals), which the voice marts and the health score read. One multi-asset for both would make Dagster
split it into several dbt invocations to break the cycle; two definitions make it exactly two."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.lib.dbt_project import csops_dbt_project, prune_run_targets
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.recovery import DBT_PID_TAG, DBT_STARTED_TAG, process_tags


class CsopsDbtTranslator(DagsterDbtTranslator):
    """Key every node by schema and name so dbt sources meet the Python raw assets (`raw/accounts`)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["schema"]


STAGING = "path:models/staging"


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    invocation = dbt.cli(["build"], context=context)
    # Recorded so that, should this process die, the next run stops the dbt it leaves behind (lib/recovery.py).
    context.instance.add_run_tags(context.run_id, process_tags(invocation.process.pid, DBT_PID_TAG, DBT_STARTED_TAG))
    try:
        yield from invocation.stream()
    finally:
        deleted = prune_run_targets(invocation.target_path)
        if deleted:
            context.log.info(f"deleted {len(deleted)} old dbt target folder(s) beside {invocation.target_path}")


@dbt_assets(
    manifest=csops_dbt_project.manifest_path,
    project=csops_dbt_project,
    dagster_dbt_translator=CsopsDbtTranslator(),
    pool=DUCKDB_POOL,
    exclude=STAGING,
)
def csops_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt)


@dbt_assets(
    manifest=csops_dbt_project.manifest_path,
    project=csops_dbt_project,
    dagster_dbt_translator=CsopsDbtTranslator(),
    pool=DUCKDB_POOL,
    select=STAGING,
    name="csops_dbt_staging",
)
def csops_dbt_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt)
