"""The Dagster code location: definitions, the whole graph in-process on a temp DuckDB file, blocking gates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from csops import contract
from csops.ingest import ingest_source
from orchestration.run import failed_checks, run_pipeline

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generated_landing(tmp_path_factory) -> Path:
    from lab.generator import generate

    out = tmp_path_factory.mktemp("generated") / "landing"
    generate(out, accounts=40, months=6, seed=11)
    return out


@pytest.fixture
def pipeline_env(csops_env, generated_landing, monkeypatch, dbt_manifest):
    from csops.settings import Settings

    monkeypatch.setenv("CSOPS_LANDING_DIR", str(generated_landing))
    return Settings.from_env()


def materialized_keys(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def test_definitions_load_with_layers_checks_and_pool(dbt_manifest):
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for source in contract.SOURCE_NAMES:
        assert f"raw/{source}" in keys
        assert f"staging/stg_{source}" in keys
        # dbt sources and the Python raw assets share a key, so lineage runs landing -> raw -> staging.
        assert dg.AssetKey(["raw", source]) in graph.get(dg.AssetKey(["staging", f"stg_{source}"])).parent_keys
    raw_checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys if c.asset_key.path[0] == "raw"}
    assert ("raw/usage_events", "rows_reconcile") in raw_checks
    assert ("raw/usage_events", "contract_expectations") in raw_checks
    dbt_checks = [c for c in graph.asset_check_keys if c.asset_key.path[0] == "staging"]
    assert any(c.name.startswith("unique_stg_accounts") for c in dbt_checks)
    accounts = graph.get(dg.AssetKey(["raw", "accounts"]))
    assert accounts.group_name == "raw"
    assert graph.get(dg.AssetKey(["staging", "stg_accounts"])).group_name == "staging"


def test_every_table_the_ml_steps_read_is_upstream_of_them_in_the_asset_graph(dbt_manifest):
    from orchestration.definitions import defs
    from orchestration.defs.ml.assets import ML_INPUT_TABLES

    graph = defs().resolve_asset_graph()
    parents = set()
    # The model steps (group `ml`); the voice step writes into the `ml` schema too but reads staging itself.
    steps = {key for key in graph.get_all_asset_keys() if graph.get(key).group_name == "ml"}
    for key in steps:
        parents |= graph.get(key).parent_keys
    for check_key in graph.asset_check_keys:
        if check_key.asset_key in steps:
            parents |= graph.get(check_key).parent_entity_keys
    # The UI's lineage shows what a model step reads; on Snowflake the same list is what gets copied locally.
    assert {".".join(key.path) for key in parents if key not in steps} == set(ML_INPUT_TABLES)


def test_definitions_hold_everything_the_defs_folder_declares(dbt_manifest):
    from orchestration.definitions import defs

    def contents(definitions: dg.Definitions) -> dict:
        graph = definitions.resolve_asset_graph()
        return {"assets": graph.get_all_asset_keys(), "checks": set(graph.asset_check_keys),
                "jobs": {job.name for job in definitions.resolve_all_job_defs()},
                "schedules": {schedule.name for schedule in definitions.schedules or []},
                "sensors": {sensor.name for sensor in definitions.sensors or []},
                "resources": set(definitions.resources or {})}

    listed = contents(defs())
    found = contents(dg.load_from_defs_folder(path_within_project=PROJECT_ROOT / "orchestration"))
    assert listed == found
    assert len(listed["assets"]) > 40 and {"csops_pipeline", "csops_daily"} <= listed["jobs"]


def test_dbt_resource_knows_the_dbt_version_without_asking_the_executable(monkeypatch):
    import dagster_dbt.core.resource
    from dagster_dbt import DbtCliResource

    from csops.dbt import dbt_executable
    from orchestration.lib.dbt_project import CsopsDbtCliResource, csops_dbt_project

    asked = DbtCliResource(project_dir=csops_dbt_project, dbt_executable=dbt_executable())._cli_version

    def no_subprocess(*_args, **_kwargs):
        raise AssertionError("ran `dbt --version`")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_subprocess)
    ours = CsopsDbtCliResource(project_dir=csops_dbt_project, dbt_executable=dbt_executable())._cli_version
    assert ours == asked and ours.major == 1


def test_the_snowflake_target_selects_the_snowflake_warehouse_with_secrets_read_at_run_time(monkeypatch):
    from csops.settings import Settings
    from orchestration.defs.resources import warehouse
    from orchestration.lib.warehouse import Warehouse

    monkeypatch.setenv("CSOPS_DBT_TARGET", "duckdb")
    assert type(warehouse(Settings.from_env())) is Warehouse
    monkeypatch.setenv("CSOPS_DBT_TARGET", "snowflake")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "s3cret-value")
    monkeypatch.setenv("SNOWFLAKE_WAREHOUSE", "cs_ops")
    monkeypatch.delenv("SNOWFLAKE_ROLE", raising=False)
    resource = warehouse(Settings.from_env())
    connection = resource.snowflake
    # Credentials are EnvVar references (resolved when a run starts), never values in the run config or the UI.
    assert isinstance(connection.password, dg.EnvVar) and isinstance(connection.account, dg.EnvVar)
    assert "s3cret-value" not in repr(resource)
    assert isinstance(connection.warehouse, dg.EnvVar) and connection.role is None  # unset: the user's default


def test_old_dbt_target_folders_of_the_dbt_step_are_deleted_newest_kept(tmp_path):
    from orchestration.lib.dbt_project import prune_run_targets

    def folder(name: str, age_seconds: int) -> Path:
        path = tmp_path / name
        (path / "compiled").mkdir(parents=True)
        (path / "run_results.json").write_text("{}")
        os.utime(path, (1_700_000_000 - age_seconds,) * 2)
        return path

    runs = [folder(f"csops_dbt_models-run{i:04d}-abc{i:04d}", age_seconds=i) for i in range(6)]  # runs[0] newest
    other_op = folder("other_op-run0009-abc0009", age_seconds=100)
    (tmp_path / "partial_parse.msgpack").write_bytes(b"parse")
    # The folder of the step that just ran stays even when an older one carries a newer time.
    os.utime(runs[2], (1_700_000_100,) * 2)

    deleted = prune_run_targets(runs[3], keep=3)
    assert sorted(deleted) == sorted([runs[1], runs[4], runs[5]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [runs[0].name, runs[2].name, runs[3].name, other_op.name, "partial_parse.msgpack"])
    assert prune_run_targets(runs[3], keep=3) == []


def test_workspace_validates_with_the_dagster_cli(pipeline_env):
    dagster = Path(sys.executable).parent / "dagster"
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_whole_graph_materializes_with_every_check_passing(pipeline_env):
    # Rerunning on the same landing zone is covered by tests/test_cli.py (`csops demo` twice).
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(instance)
        assert result.success, failed_checks(result)
        expected = {f"raw/{s}" for s in contract.SOURCE_NAMES} | {f"staging/stg_{s}" for s in contract.SOURCE_NAMES}
        expected |= {"marts/fct_account_daily", "marts/fct_account_health", "marts/fct_lean_waste", "marts/dim_accounts"}
        assert expected <= materialized_keys(result)
        assert failed_checks(result) == []
        latest = instance.get_latest_materialization_event(dg.AssetKey(["raw", "usage_events"]))
        assert latest.run_id == result.run_id
        assert latest.asset_materialization.metadata["rows_quarantined_this_run"].value > 0
        assert {"ml/feature_snapshots", "ml/churn_model"} <= materialized_keys(result)

        # The daily run scores, publishes and runs the agent; the training chain is the weekly job's alone.
        daily = run_pipeline(instance, job_name="csops_daily")
        assert daily.success, failed_checks(daily)
        built = materialized_keys(daily)
        assert {"marts/fct_account_daily", "ml/churn_scores", "ml/expansion_scores", "serving/warehouse",
                "agent/account_state"} <= built
        training = {f"ml/{name}" for name in ("feature_snapshots", "churn_training_set", "expansion_training_set",
                                              "churn_model", "expansion_model")}
        assert built.isdisjoint(training)
        # A selection narrows a job to its assets there (the benchmark's daily run: the spine without the agent).
        from orchestration.defs.jobs import SPINE

        spine = materialized_keys(run_pipeline(instance, job_name="csops_daily", assets=SPINE))
        assert "ml/churn_scores" in spine and not any(key.startswith("agent/") for key in spine)
        assert spine.isdisjoint(training)
    with duckdb.connect(str(pipeline_env.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM staging.stg_usage_events").fetchone()[0] > 1000
        assert con.execute("SELECT count(*) FROM marts.fct_account_health").fetchone()[0] > 0


def test_failing_blocking_check_stops_downstream_steps(pipeline_env):
    # Simulate a row that reached raw around ingest (a manual edit or an ingest bug): the gate must hold.
    with duckdb.connect(str(pipeline_env.duckdb_path)) as con:
        ingest_source(con, pipeline_env.landing_dir, "accounts")
        con.execute(
            "INSERT INTO raw.accounts (account_id, account_name, segment, created_at, _batch_file, _row_number) "
            "VALUES ('X-1', 'Corrupt', 'strategic', TIMESTAMP '2024-01-01', 'manual-edit', 1)"
        )
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(instance)
    assert not result.success
    assert "raw/accounts:contract_expectations" in failed_checks(result)
    built = materialized_keys(result)
    assert "raw/accounts" in built
    assert "raw/contracts" not in built
    assert not any(key.startswith("staging/") for key in built)
