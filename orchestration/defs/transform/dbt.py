"""The dbt models (staging -> intermediate -> marts) as assets keyed `[schema, model]`; dbt tests as checks.

Two dbt steps: every model but those tagged `voice`, then the `voice` ones, which read what the Python voice step
(downstream of staging) writes. One multi-asset for both would make Dagster split it into several dbt invocations to
break the cycle; two definitions make it exactly two, and the voice models show as the `voice` stage."""

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
        return VOICE if VOICE in dbt_resource_props.get("tags", []) else dbt_resource_props["schema"]


VOICE = "voice"


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
    exclude=f"tag:{VOICE}",
)
def csops_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt)


@dbt_assets(
    manifest=csops_dbt_project.manifest_path,
    project=csops_dbt_project,
    dagster_dbt_translator=CsopsDbtTranslator(),
    pool=DUCKDB_POOL,
    select=f"tag:{VOICE}",
    name="csops_dbt_voice_models",
)
def csops_dbt_voice_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from _build(context, dbt)
