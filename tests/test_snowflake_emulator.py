"""The dbt project on the `snowflake` target, run for real: dbt-snowflake and the Snowflake connector talk to fakesnow,
a server on 127.0.0.1 that speaks Snowflake's REST API and executes the statements on DuckDB (translated by sqlglot).

One generated landing zone, loaded twice into the emulator's `raw` schema: first the batches up to PIT_MONTH, then all
of them. `dbt build --target snowflake` after each load runs every model (the second time the incremental branches,
with delete+insert and the post-hooks as dbt-snowflake renders them) and every data test. Every table and view it
leaves must equal the DuckDB target's full build of the same batches.

What this cannot show: where Snowflake itself differs from DuckDB (the emulator runs DuckDB underneath; those
differences are linted in test_snowflake_sql.py) and how fast Snowflake is.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import duckdb
import fakesnow
import pytest
import snowflake.connector
import yaml
from test_marts_features import landing_up_to

from csops import contract
from csops.ingest import ingest_source
from csops.settings import DBT_PROJECT_DIR
from ml.dbt_runner import dbt_executable, run_dbt

# DuckDB's performance hint, raised inside the emulator for every result it serves.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
# dbt-snowflake stages an incremental batch in a session-temporary table by default; DuckDB, under the emulator,
# cannot create a temporary table in a named database, so emulator runs use a transient one (same statements).
TRANSIENT_TMP_RELATION = ("CSOPS_DBT_TMP_RELATION_TYPE", "transient")
ACCOUNTS, MONTHS, SEED = 20, 6, 5  # batches 2026-01 .. 2026-06
PIT_MONTH = "2026-04"
DATABASE = "csops"
SCHEMAS = ("staging", "intermediate", "marts")
# Raw column types as the DuckDB loader writes them, and the Snowflake type a Snowflake `raw` table would declare.
SNOWFLAKE_TYPES = {"VARCHAR": "varchar", "BIGINT": "number(38,0)", "INTEGER": "number(38,0)", "DOUBLE": "float",
                   "DATE": "date", "TIMESTAMP": "timestamp_ntz", "BOOLEAN": "boolean"}
# fakesnow returns null TIMESTAMP_NTZ values as 1970-01-01 through its Arrow results: compare timestamps as numbers.
EPOCH_MICROSECONDS = {"duckdb": "epoch_us({c})", "snowflake": "date_part(epoch_microsecond, {c})"}


def snowflake_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "number")
    if duckdb_type not in SNOWFLAKE_TYPES:
        raise AssertionError(f"raw column type {duckdb_type} has no Snowflake type in SNOWFLAKE_TYPES")
    return SNOWFLAKE_TYPES[duckdb_type]


def ingest(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for source in contract.SOURCE_NAMES:
            ingest_source(con, landing, source)


def copy_raw_to_emulator(warehouse: Path, connection, exports: Path) -> dict[str, int]:
    """Replace every `raw` table in the emulator with the DuckDB loader's; rows per table.

    The rows travel as Parquet and `COPY INTO`, as a Snowflake load would (from a stage there; fakesnow reads the
    file:// location directly)."""
    exports.mkdir(parents=True, exist_ok=True)
    cursor = connection.cursor()
    cursor.execute("create schema if not exists raw")
    loaded = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw' order by 1").fetchall()]
        for table in tables:
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = 'raw' and table_name = ? order by column_index", [table]).fetchall()
            cursor.execute(f"create or replace table raw.{table} ("
                           + ", ".join(f"{name} {snowflake_type(kind)}" for name, kind in columns) + ")")
            con.execute(f"copy raw.{table} to '{exports / table}.parquet' (format parquet)")
            result = cursor.execute(
                f"copy into raw.{table} from 'file://{exports}/' files = ('{table}.parquet') "
                "file_format = (type = parquet) match_by_column_name = case_insensitive").fetchall()
            loaded[table] = sum(row[2] for row in result)
    return loaded


def node_statuses(work: Path) -> dict[str, str]:
    """Status by node id of the dbt command `run_dbt` last ran with outputs under `work`."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"]: r["status"] for r in results}


def emulator_profile(folder: Path, server: dict) -> Path:
    """dbt_project/profiles.yml with its `snowflake` target pointed at the emulator."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    profiles["csops"]["outputs"]["snowflake"].update(
        {key: server[key] for key in ("account", "user", "password", "host", "port", "protocol")},
        threads=1,  # the emulator serialises statements on one DuckDB database anyway
        connect_retries=0,
    )
    folder.mkdir(parents=True)
    (folder / "profiles.yml").write_text(yaml.safe_dump(profiles))
    return folder


def normalised(value):
    """One representation per value across the two connectors (Decimal/int/float, dates, nulls)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return round(float(value), 6)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def rows_of(cursor, table: str, columns: list[tuple[str, str]], dialect: str) -> list[tuple]:
    select = ", ".join(EPOCH_MICROSECONDS[dialect].format(c=name) if kind.startswith("TIMESTAMP") else name
                       for name, kind in columns)
    rows = [tuple(normalised(v) for v in row) for row in cursor.execute(f"select {select} from {table}").fetchall()]
    return sorted(rows, key=lambda row: [(v is None, str(v)) for v in row])


class Builds(NamedTuple):
    reference: Path  # DuckDB warehouse: one full build of the raw rows the emulator got
    reference_statuses: dict[str, str]
    connection: snowflake.connector.SnowflakeConnection  # to the emulator
    snowflake_builds: list[tuple[dict[str, int], dict[str, str]]]  # (raw rows loaded, node statuses) per build
    profiles_dir: Path  # the `snowflake` target pointed at the emulator


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Both Snowflake builds on the emulator (kept running for the tests) and the DuckDB reference."""
    from csops.generator import generate

    root = tmp_path_factory.mktemp("snowflake_emulator")
    landing = root / "landing"
    generate(landing, accounts=ACCOUNTS, months=MONTHS, seed=SEED)
    staged = root / "staged" / "warehouse.duckdb"
    staged.parent.mkdir()
    with fakesnow.server() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv(*TRANSIENT_TMP_RELATION)
        snowflake_target = ["--target", "snowflake", "--profiles-dir", str(emulator_profile(root / "profile", server))]
        connection = snowflake.connector.connect(**server)
        connection.cursor().execute(f"create database if not exists {DATABASE}")
        connection.cursor().execute(f"use database {DATABASE}")
        outputs = []
        for step, batches in (("first", landing_up_to(landing, PIT_MONTH, root / "landing_pit")), ("all", landing)):
            ingest(staged, batches)
            loaded = copy_raw_to_emulator(staged, connection, root / "exports" / step)
            # The DuckDB path run_dbt asks for is not used by the snowflake target.
            run_dbt(["build", *snowflake_target], staged, root / "snowflake")
            outputs.append((loaded, node_statuses(root / "snowflake")))
        # The reference: the same raw rows (load times and batch lineage included), one full build on DuckDB.
        reference = root / "duckdb" / "warehouse.duckdb"
        reference.parent.mkdir()
        shutil.copy(staged, reference)
        run_dbt(["build"], reference, root / "duckdb")
        yield Builds(reference, node_statuses(root / "duckdb"), connection, outputs, root / "profile")
        connection.close()


def test_dbt_build_on_snowflake_runs_every_model_and_test_both_times(builds):
    (first_raw, first), (all_raw, second) = builds.snowflake_builds
    assert 0 < first_raw["usage_events"] < all_raw["usage_events"]
    for statuses in (first, second):
        # The same nodes as on DuckDB, none failed or skipped (warn: data-quality tests declared `severity: warn`;
        # the exposure is a no-op).
        assert statuses.keys() == builds.reference_statuses.keys()
        not_ok = {node: status for node, status in statuses.items()
                  if status not in {"success", "pass", "warn"} and not node.startswith("exposure.")}
        assert not not_ok
        assert sum(node.startswith("test.") for node in statuses) > 400


def test_every_table_and_view_equals_the_duckdb_build(builds):
    cursor = builds.connection.cursor()
    compared = 0
    with duckdb.connect(str(builds.reference), read_only=True) as con:
        relations = con.execute(
            "select schema_name, view_name from duckdb_views() where list_contains(?, schema_name) and not internal "
            "union all select schema_name, table_name from duckdb_tables() where list_contains(?, schema_name) "
            "order by 1, 2",
            [list(SCHEMAS), list(SCHEMAS)]).fetchall()
        for schema, name in relations:
            # Hash columns are engine functions (HASH differs on Snowflake by design): change markers, not data.
            columns = [(c, kind) for c, kind in con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? "
                "order by column_index", [schema, name]).fetchall() if kind != "UBIGINT"]
            expected = rows_of(con, f"{schema}.{name}", columns, "duckdb")
            actual = rows_of(cursor, f"{DATABASE}.{schema}.{name}", columns, "snowflake")
            assert len(actual) == len(expected), f"{schema}.{name}: row counts differ"
            differing = [(e, a) for e, a in zip(expected, actual) if e != a]
            assert not differing, (f"{schema}.{name}: {len(differing)} rows differ; columns {[c for c, _ in columns]}, "
                                   f"(duckdb, snowflake): {differing[:2]}")
            compared += 1
    assert compared >= 38


def test_the_pipelines_dbt_step_runs_on_snowflake(builds, dbt_manifest, monkeypatch):
    """The pipeline's dbt step as Dagster runs it (`csops_dbt_models`, the dbt resource with target `snowflake`): a
    third, incremental build on the emulator, every model materialized, every dbt test an asset check that passes."""
    import dagster as dg

    from orchestration.dbt_project import CsopsDbtCliResource, csops_dbt_project
    from orchestration.defs.dbt_assets import csops_dbt_models

    monkeypatch.setenv(*TRANSIENT_TMP_RELATION)
    dbt = CsopsDbtCliResource(project_dir=csops_dbt_project, target="snowflake",
                              profiles_dir=str(builds.profiles_dir), dbt_executable=dbt_executable())
    result = dg.materialize([csops_dbt_models], resources={"dbt": dbt}, raise_on_error=False)
    assert result.success
    models_and_seeds = {n for n in builds.reference_statuses if n.startswith(("model.", "seed."))}
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert len(materialized) == len(models_and_seeds)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 400
    failed = [e.check_name for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
