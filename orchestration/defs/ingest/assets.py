"""Landing -> raw: one asset per source, each gated by a reconciliation check and a Great Expectations suite."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops import contract
from csops.ingest import batches_loaded_by_run, ingest_source, tables
from csops.ingest.strays import record_strays
from csops.quality.raw_expectations import raw_sample_query, validate_raw
from csops.quality.reconciliation import reconcile
from orchestration.lib.landing import LandingZone
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse


def raw_key(source: str) -> dg.AssetKey:
    return dg.AssetKey([tables.RAW_SCHEMA, source])


def build_raw_asset(source: str) -> dg.AssetsDefinition:
    spec = contract.SOURCES[source]
    deps = [raw_key("accounts")] if spec.references_accounts else []

    @dg.asset(
        key=raw_key(source),
        group_name="raw",
        deps=deps,
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description=(
            f"Rows of the `{source}` landing batches that meet the contract (primary key `{spec.primary_key}`, "
            f"{spec.kind}). Bad rows and broken batches go to `{tables.quarantine_table(source)}` with the reason; "
            f"every processed file is recorded in `{tables.LEDGER_TABLE}`. On the `snowflake` target the loaded rows "
            "are then published to Snowflake's `raw` schema."
        ),
    )
    def _raw(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, landing: LandingZone, warehouse: Warehouse
    ):
        with duckdb.get_connection() as con:
            # The sources' root step also says what in the landing zone is not read at all.
            strays = record_strays(con, landing.root, context.run_id) if not spec.references_accounts else []
            for stray in strays:
                context.log.warning(f"ignored in the landing zone: {stray.path}: {stray.reason}")
            results = ingest_source(con, landing.root, source, run_id=context.run_id, log=context.log.info)
            summary = reconcile(con, source)
            published = warehouse.publish_raw(con, source, context.run_id, context.log.info)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": summary.rows_in_raw,
                "new_batches": len(results),
                "rows_read_this_run": sum(r.rows_read for r in results),
                "rows_loaded_this_run": sum(r.rows_loaded for r in results),
                "rows_quarantined_this_run": sum(r.rows_quarantined for r in results),
                "rows_deduplicated_this_run": sum(r.rows_deduplicated for r in results),
                "batches_quarantined_this_run": sum(r.status == "quarantined" for r in results),
                "quarantine_table": tables.quarantine_table(source),
                **({"ignored_in_landing_zone": dg.MetadataValue.md(_ignored_table(strays))} if strays else {}),
                "batches": dg.MetadataValue.md(_batch_table(results)) if results else "no new batches",
                **({"loads_published_this_run": published.loads, "rows_published_this_run": published.rows}
                   if published else {}),
            }
        )

    return _raw


def _batch_table(results) -> str:
    lines = ["| batch | status | read | loaded | quarantined | duplicates | reason |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r.batch_file} | {r.status} | {r.rows_read} | {r.rows_loaded} | {r.rows_quarantined} | "
        f"{r.rows_deduplicated} | {r.reason or ''} |"
        for r in results
    ]
    return "\n".join(lines)


def _ignored_table(strays) -> str:
    return "\n".join(["| path | why it is ignored |", "|---|---|", *(f"| {s.path} | {s.reason} |" for s in strays)])


def build_raw_checks(source: str) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=raw_key(source),
        name="rows_reconcile",
        blocking=True,
        pool=DUCKDB_POOL,
        description="Every row read is loaded, quarantined or counted as a duplicate, and the tables agree with the ledger.",
    )
    def _reconcile(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            result = reconcile(con, source)
        return dg.AssetCheckResult(
            passed=result.passed,
            metadata={
                "batches": result.batches,
                "rows_read": result.rows_read,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "rows_deduplicated": result.rows_deduplicated,
                "problems": "; ".join(result.problems) or "none",
            },
        )

    @dg.asset_check(
        asset=raw_key(source),
        name="contract_expectations",
        blocking=True,
        pool=DUCKDB_POOL,
        description="Great Expectations suite derived from the landing contract (keys, required values, enums, ranges), on "
        "the batches this run loaded (the whole table when it loaded none).",
    )
    def _expectations(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            batches = batches_loaded_by_run(con, source, context.run.run_id)
            frame = con.execute(raw_sample_query(source, batches)).df()
        result = validate_raw(source, frame)
        scope = f"{len(batches)} batch(es) loaded by this run" if batches else "the whole table (no batch loaded)"
        return dg.AssetCheckResult(passed=result.success, metadata={**result.as_metadata(), "validated": scope})

    return [_reconcile, _expectations]


raw_assets = [build_raw_asset(source) for source in contract.SOURCE_NAMES]
raw_checks = [check for source in contract.SOURCE_NAMES for check in build_raw_checks(source)]
