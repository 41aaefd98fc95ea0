"""The dbt project on the `snowflake` target, run for real: dbt-snowflake and the Snowflake connector talk to fakesnow,
a server on 127.0.0.1 that speaks Snowflake's REST API and executes the statements on DuckDB (translated by sqlglot).

One generated landing zone, published twice into the emulator's `raw` schema by the pipeline's own raw publishing (PUT,
COPY INTO, publish ledger): first the batches up to PIT_MONTH with the plain functions, then the rest through the
pipeline's raw assets. `dbt build --target snowflake` after each load runs every model (the second time the
incremental branches, with delete+insert and the post-hooks as dbt-snowflake renders them) and every data test. Every
raw table, view and table it leaves must equal the DuckDB target's full build of the same batches.

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

import dagster as dg
import duckdb
import fakesnow
import pandas as pd
import pytest
import snowflake.connector
import yaml
from test_marts_features import landing_up_to

from csops import contract
from dagster_duckdb import DuckDBResource
from csops.ingest import ingest_source
from csops.ingest.snowflake_publish import pending_loads, publish_source
from csops.settings import DBT_PROJECT_DIR
from csops.dbt import dbt_executable, run_dbt
from orchestration.lib.landing import LandingZone

# DuckDB's performance hint, raised inside the emulator for every result it serves.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
# dbt-snowflake stages an incremental batch in a session-temporary table by default; DuckDB, under the emulator,
# cannot create a temporary table in a named database, so emulator runs use a transient one (same statements).
TRANSIENT_TMP_RELATION = ("CSOPS_DBT_TMP_RELATION_TYPE", "transient")
ACCOUNTS, MONTHS, SEED = 20, 6, 5  # batches 2026-01 .. 2026-06
PIT_MONTH = "2026-04"
DATABASE = "csops"
SCHEMAS = ("staging", "intermediate", "marts")
# fakesnow returns null TIMESTAMP_NTZ values as 1970-01-01 through its Arrow results: compare timestamps as numbers.
EPOCH_MICROSECONDS = {"duckdb": "epoch_us({c})", "snowflake": "date_part(epoch_microsecond, {c})"}


def snowflake_warehouse(server: dict):
    """The pipeline's Snowflake warehouse resource, its connection pointed at the emulator."""
    # Imports dagster-snowflake, seconds: only in the tests that use it.
    from orchestration.lib.snowflake_warehouse import SnowflakeWarehouse, snowflake_connection

    address = {key: server[key] for key in ("host", "port", "protocol")}
    # An emulator error is an HTTP 500, which the connector retries until the network timeout: fail within minutes.
    return SnowflakeWarehouse(snowflake=snowflake_connection(
        account=server["account"], user=server["user"], password=server["password"], database=DATABASE,
        network_timeout=120, additional_snowflake_connection_args=address))


def raw_rows_in_emulator(connection) -> dict[str, int]:
    return {source: connection.cursor().execute(f"select count(*) from raw.{source}").fetchone()[0]
            for source in contract.SOURCE_NAMES}


def materialize_on_snowflake(staged: Path, landing: Path, server: dict, assets=(), **resources):
    """The raw assets (and `assets`) as the pipeline runs them on the `snowflake` target: ingest into the local
    DuckDB file `staged`, then publish to the emulator."""
    from orchestration.defs.ingest.assets import raw_assets, raw_checks

    return dg.materialize(
        [*raw_assets, *raw_checks, *assets],
        resources={"duckdb": DuckDBResource(database=str(staged)), "landing": LandingZone(path=str(landing)),
                   "warehouse": snowflake_warehouse(server), **resources},
        raise_on_error=False)


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


def comparable_select(table: str, columns: list[tuple[str, str]], dialect: str) -> str:
    """`select` of `columns` (name, DuckDB type) with timestamps as numbers (see EPOCH_MICROSECONDS)."""
    return "select " + ", ".join(f"{EPOCH_MICROSECONDS[dialect].format(c=name)} as {name}"
                                 if kind.startswith("TIMESTAMP") else name for name, kind in columns) + f" from {table}"


def rows_of(cursor, table: str, columns: list[tuple[str, str]], dialect: str) -> list[tuple]:
    rows = [tuple(normalised(v) for v in row)
            for row in cursor.execute(comparable_select(table, columns, dialect)).fetchall()]
    return sorted(rows, key=lambda row: [(v is None, str(v)) for v in row])


class Builds(NamedTuple):
    reference: Path  # DuckDB warehouse: one full build of the raw rows the emulator got
    reference_statuses: dict[str, str]
    connection: snowflake.connector.SnowflakeConnection  # to the emulator
    snowflake_builds: list[tuple[dict[str, int], dict[str, str]]]  # (raw rows in Snowflake, node statuses) per build
    raw_run: dg.ExecuteInProcessResult  # the raw assets' run that published the second load
    profiles_dir: Path  # the `snowflake` target pointed at the emulator
    staged: Path  # the local DuckDB file ingest writes on the `snowflake` target
    landing: Path
    server: dict


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Both Snowflake builds on the emulator (kept running for the tests) and the DuckDB reference."""
    from lab.generator import generate

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
        first_batches = landing_up_to(landing, PIT_MONTH, root / "landing_pit")
        with duckdb.connect(str(staged)) as con:
            for source in contract.SOURCE_NAMES:
                ingest_source(con, first_batches, source)
                publish_source(con, connection, source, run_id="first", work_dir=root)
        outputs = []
        # The DuckDB path run_dbt asks for is not used by the snowflake target.
        run_dbt(["build", *snowflake_target], staged, root / "snowflake")
        outputs.append((raw_rows_in_emulator(connection), node_statuses(root / "snowflake")))
        raw_run = materialize_on_snowflake(staged, landing, server)
        run_dbt(["build", *snowflake_target], staged, root / "snowflake")
        outputs.append((raw_rows_in_emulator(connection), node_statuses(root / "snowflake")))
        # The reference: the same raw rows (load times and batch lineage included), one full build on DuckDB.
        reference = root / "duckdb" / "warehouse.duckdb"
        reference.parent.mkdir()
        shutil.copy(staged, reference)
        run_dbt(["build"], reference, root / "duckdb")
        yield Builds(reference, node_statuses(root / "duckdb"), connection, outputs, raw_run, root / "profile",
                     staged, landing, server)
        connection.close()


def test_the_raw_assets_publish_what_they_loaded(builds):
    assert builds.raw_run.success
    (first_raw, _), (all_raw, _) = builds.snowflake_builds
    for source in contract.SOURCE_NAMES:
        [materialization] = builds.raw_run.asset_materializations_for_node(f"raw__{source}")
        meta = {key: value.value for key, value in materialization.metadata.items()}
        assert meta["rows_published_this_run"] == meta["rows_loaded_this_run"] == all_raw[source] - first_raw[source]
        assert meta["loads_published_this_run"] == meta["new_batches"] - meta["batches_quarantined_this_run"]
    assert 0 < first_raw["usage_events"] < all_raw["usage_events"]


def test_publishing_again_copies_nothing_even_from_a_rebuilt_local_file(builds, tmp_path):
    """Loads are published once by content: the same batches ingested into a new local file (new load times) too."""
    before = raw_rows_in_emulator(builds.connection)
    with duckdb.connect(str(builds.staged)) as con, duckdb.connect(str(tmp_path / "rebuilt.duckdb")) as rebuilt:
        for source in contract.SOURCE_NAMES:
            ingest_source(rebuilt, builds.landing, source)
        results = [publish_source(local, builds.connection, source, run_id="again")
                   for local in (con, rebuilt) for source in contract.SOURCE_NAMES]
    assert [(r.loads, r.rows) for r in results] == [(0, 0)] * 2 * len(contract.SOURCE_NAMES)
    assert raw_rows_in_emulator(builds.connection) == before


def test_dbt_build_on_snowflake_runs_every_model_and_test_both_times(builds, dbt_manifest):
    project_tests = sum(node.startswith("test.") for node in json.loads(dbt_manifest.read_text())["nodes"])
    for _, statuses in builds.snowflake_builds:
        # The same nodes as on DuckDB, none failed or skipped (warn: data-quality tests declared `severity: warn`;
        # the exposure is a no-op).
        assert statuses.keys() == builds.reference_statuses.keys()
        not_ok = {node: status for node, status in statuses.items()
                  if status not in {"success", "pass", "warn"} and not node.startswith("exposure.")}
        assert not not_ok
        assert sum(node.startswith("test.") for node in statuses) == project_tests > 0


def test_every_table_and_view_equals_the_duckdb_build(builds):
    cursor = builds.connection.cursor()
    compared = 0
    with duckdb.connect(str(builds.reference), read_only=True) as con:
        relations = [("raw", source) for source in contract.SOURCE_NAMES] + con.execute(
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
    assert compared >= 38 + len(contract.SOURCE_NAMES)


def test_the_pipeline_runs_on_snowflake(builds, dbt_manifest, monkeypatch):
    """The pipeline's steps as Dagster runs them on the `snowflake` target, in one run: the raw assets (nothing new to
    publish), the two dbt steps with the dbt resource's target `snowflake` (a third, incremental build) and the
    feature table's Great Expectations gate; every model materialized, every check passes."""
    from orchestration.lib.dbt_project import CsopsDbtCliResource, csops_dbt_project
    from orchestration.defs.transform.dbt import csops_dbt_models, csops_dbt_staging
    from orchestration.defs.transform.checks import fct_account_daily_expectations

    monkeypatch.setenv(*TRANSIENT_TMP_RELATION)
    before = raw_rows_in_emulator(builds.connection)
    dbt = CsopsDbtCliResource(project_dir=csops_dbt_project, target="snowflake",
                              profiles_dir=str(builds.profiles_dir), dbt_executable=dbt_executable())
    result = materialize_on_snowflake(builds.staged, builds.landing, builds.server,
                                      [csops_dbt_staging, csops_dbt_models, fct_account_daily_expectations],
                                      dbt=dbt)
    assert result.success
    assert raw_rows_in_emulator(builds.connection) == before
    models_and_seeds = {n for n in builds.reference_statuses if n.startswith(("model.", "seed."))}
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert len(materialized) == len(models_and_seeds) + len(contract.SOURCE_NAMES)
    evaluations = result.get_asset_check_evaluations()
    # Every dbt test of the build became an evaluated asset check.
    assert {node.split(".")[2] for node in builds.reference_statuses if node.startswith("test.")} <= {
        e.check_name for e in evaluations}
    failed = [e.check_name for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    # The Great Expectations gate on the feature table sampled it in Snowflake (the local DuckDB file has no marts).
    [gate] = [e for e in evaluations if e.check_name == "feature_expectations"]
    assert gate.passed and gate.metadata["rows_validated"].value > 0


def test_a_load_snowflake_disagrees_with_is_not_committed(builds, tmp_path):
    """A load whose ledger row count the exported rows do not match (here: a row gone from the local raw table) is
    rolled back whole, COPY INTO included, and stays pending for the next run."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(builds.staged, warehouse)
    before = raw_rows_in_emulator(builds.connection)
    with duckdb.connect(str(warehouse)) as con:
        # A copy of one loaded batch under a new name, its ledger row claiming one row more than the table holds.
        con.execute("create temp table lost as select * from raw.activities where _batch_file = "
                    "(select max(_batch_file) from raw.activities)")
        con.execute("update lost set _batch_file = 'lost.csv', _loaded_at = timestamp '2026-07-01 00:00:00'")
        con.execute("insert into raw.activities select * from lost")
        con.execute("insert into raw.ingest_ledger select 'activities', 'lost.csv', 1, 'x', now()::timestamp, 'loaded', "
                    "null, count(*) + 1, count(*) + 1, 0, 0, timestamp '2026-07-01 00:00:00', 'test', 0 from lost")
        with pytest.raises(RuntimeError, match="nothing of them committed"):
            publish_source(con, builds.connection, "activities", run_id="lost", work_dir=tmp_path)
        assert [load.batch_file for load in pending_loads(con, builds.connection.cursor(), "activities")] == ["lost.csv"]
    assert raw_rows_in_emulator(builds.connection) == before


def ml_table(con_or_cursor, table: str, columns: list[tuple[str, str]], dialect: str) -> pd.DataFrame:
    """`table` sorted by its keys, volatile columns dropped, one representation per value across the two ends:
    timestamps as numbers (see EPOCH_MICROSECONDS), dates as datetimes, lists as tuples (Snowflake returns an ARRAY
    as JSON text)."""
    columns = [(name, kind) for name, kind in columns if name != "scored_at"]
    cursor = con_or_cursor.execute(comparable_select(table, columns, dialect))
    frame = (cursor.fetch_pandas_all() if dialect == "snowflake" else cursor.df()).rename(columns=str.lower)
    for name, kind in columns:
        if kind.endswith("[]"):
            frame[name] = frame[name].map(lambda v: None if v is None else tuple(json.loads(v) if isinstance(v, str)
                                                                                 else v))
        elif kind == "DATE":
            frame[name] = pd.to_datetime(frame[name])
    frame = frame.sort_values(["account_id", *[c for c in ("snapshot_date", "as_of_date") if c in frame]])
    return frame.reset_index(drop=True).map(normalised)


def churn_steps(definitions: list, *assets: str) -> list:
    """The churn assets named `assets` (or the checks of them) among the ML definitions."""
    keys = {dg.AssetKey(["ml", f"churn_{name}"]) for name in assets}
    return [d for d in definitions
            if {getattr(k, "asset_key", k) for k in (*d.keys, *d.check_keys)} & keys]


def test_the_model_steps_run_on_snowflake(builds, tmp_path, monkeypatch):
    """Feature snapshots, a training set and scores with the Snowflake warehouse and an empty local DuckDB file: the
    inputs come from Snowflake, the results go back, and both equal the same steps on the DuckDB reference."""
    from orchestration.defs.ml import assets as ml_assets
    from orchestration.lib.warehouse import Warehouse

    monkeypatch.setenv("CSOPS_MODELS_DIR", str(tmp_path / "models"))  # no champion: both score with the fallback
    steps = [ml_assets.feature_snapshots, *churn_steps(ml_assets.task_assets, "training_set", "scores")]
    local = tmp_path / "local.duckdb"
    on_snowflake = dg.materialize(steps, resources={"duckdb": DuckDBResource(database=str(local)),
                                                    "warehouse": snowflake_warehouse(builds.server)},
                                  raise_on_error=False)
    assert on_snowflake.success
    reference = tmp_path / "reference.duckdb"
    shutil.copy(builds.reference, reference)
    on_duckdb = dg.materialize(steps, resources={"duckdb": DuckDBResource(database=str(reference)),
                                                 "warehouse": Warehouse()}, raise_on_error=False)
    assert on_duckdb.success
    cursor = builds.connection.cursor()
    with duckdb.connect(str(local), read_only=True) as fetched, duckdb.connect(str(reference), read_only=True) as ref:
        for table in ("ml.feature_snapshots", "ml.churn_training_set", "ml.churn_scores"):
            columns = ref.execute("select column_name, data_type from duckdb_columns() where schema_name = ? and "
                                  "table_name = ? order by column_index", table.split(".")).fetchall()
            expected = ml_table(ref, table, columns, "duckdb")
            assert len(expected) > 0
            pd.testing.assert_frame_equal(ml_table(fetched, table, columns, "duckdb"), expected, check_dtype=False)
            pd.testing.assert_frame_equal(ml_table(cursor, f"{DATABASE}.{table}", columns, "snowflake"), expected,
                                          check_dtype=False)


def test_a_scores_only_run_on_snowflake_fetches_its_inputs_and_checks_them(builds, tmp_path, monkeypatch):
    """The daily scoring run on Snowflake: the score step and its checks alone, on an empty local DuckDB file, with
    no snapshot step before it in the run. The step fetches the marts it reads, the every-account-scored check reads
    them from the same file, and the scores stored in Snowflake equal the same step on the DuckDB reference."""
    from orchestration.defs.ml import assets as ml_assets
    from orchestration.defs.ml import checks as ml_checks
    from orchestration.lib.warehouse import Warehouse

    monkeypatch.setenv("CSOPS_MODELS_DIR", str(tmp_path / "models"))  # no champion: both score with the fallback
    steps = [*churn_steps(ml_assets.task_assets, "scores"), *churn_steps(ml_checks.task_checks, "scores")]
    local = tmp_path / "local.duckdb"
    on_snowflake = dg.materialize(steps, resources={"duckdb": DuckDBResource(database=str(local)),
                                                    "warehouse": snowflake_warehouse(builds.server)},
                                  raise_on_error=False)
    assert on_snowflake.success
    evaluations = {e.check_name: e for e in on_snowflake.get_asset_check_evaluations()}
    assert evaluations["every_active_account_scored"].passed
    assert evaluations["every_active_account_scored"].metadata["active_accounts"].value > 0
    reference = tmp_path / "reference.duckdb"
    shutil.copy(builds.reference, reference)
    assert dg.materialize(steps, resources={"duckdb": DuckDBResource(database=str(reference)),
                                            "warehouse": Warehouse()}, raise_on_error=False).success
    with duckdb.connect(str(reference), read_only=True) as ref:
        columns = ref.execute("select column_name, data_type from duckdb_columns() where schema_name = 'ml' and "
                              "table_name = 'churn_scores' order by column_index").fetchall()
        expected = ml_table(ref, "ml.churn_scores", columns, "duckdb")
    assert len(expected) > 0
    pd.testing.assert_frame_equal(ml_table(builds.connection.cursor(), f"{DATABASE}.ml.churn_scores", columns,
                                           "snowflake"), expected, check_dtype=False)
