"""dbt runs that start from a saved parse (`csops.dbt`): when a parse may be reused, and that a run from one
builds exactly what a parsing run builds, with the run's own vars."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import time
from pathlib import Path

import duckdb
import pandas as pd

from csops import contract
from csops.dbt import environment, reusable_parse, run_dbt


def saved_parse(tmp_path: Path, adapter: str = "duckdb", database: str = "warehouse",
                dbt_version: str | None = None, root_path: str | None = None) -> Path:
    """A project with one model and a target folder written after it, as `dbt parse` leaves it."""
    project = tmp_path / "project"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "orders.sql").write_text("select 1 as id")
    (project / "models" / "marts" / "customers.sql").write_text("select 1 as id")
    (project / "target").mkdir()
    root = root_path or str(project)
    nodes = {"model.p.orders": {"resource_type": "model", "database": database, "root_path": root},
             "test.p.not_null": {"resource_type": "test", "database": "elsewhere", "root_path": root}}
    metadata = {"adapter_type": adapter, "dbt_version": dbt_version or importlib.metadata.version("dbt-core")}
    (project / "target" / "manifest.json").write_text(json.dumps({"metadata": metadata, "nodes": nodes}))
    (project / "target" / "partial_parse.msgpack").write_bytes(b"parsed")
    edited = time.time() - 100
    for path in [project / "models", *(project / "models").rglob("*")]:
        os.utime(path, (edited, edited))
    os.utime(project / "target" / "manifest.json", (edited + 50, edited + 50))
    # dbt rewrites partial_parse.msgpack only when a file changed, so an older one still holds the current parse
    os.utime(project / "target" / "partial_parse.msgpack", (edited - 3600, edited - 3600))
    return project


def test_a_parse_is_reused_only_for_a_current_duckdb_parse_of_the_same_catalog(tmp_path):
    project = saved_parse(tmp_path)
    assert reusable_parse("warehouse", project) == project / "target" / "partial_parse.msgpack"
    assert reusable_parse("pit", project) is None  # models live in another catalog
    # What dbt and dagster-dbt write after the parse (a run's target folder, logs) is not an edit of the project.
    (project / "target" / "csops_dbt_models-run0001-abc0001" / "compiled").mkdir(parents=True)
    (project / "target" / "csops_dbt_models-run0001-abc0001" / "run_results.json").write_text("{}")
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("log")
    assert reusable_parse("warehouse", project) == project / "target" / "partial_parse.msgpack"

    (project / "models" / "marts" / "customers.sql").unlink()  # a model deleted after the parse
    assert reusable_parse("warehouse", project) is None
    project = saved_parse(tmp_path / "edited")
    (project / "models" / "marts" / "orders.sql").write_text("select 2 as id")  # a model edited after the parse
    assert reusable_parse("warehouse", project) is None


def test_a_parse_by_another_dbt_adapter_or_folder_or_an_incomplete_target_is_not_reused(tmp_path):
    assert reusable_parse("warehouse", saved_parse(tmp_path / "snowflake", adapter="snowflake")) is None
    assert reusable_parse("warehouse", saved_parse(tmp_path / "old_dbt", dbt_version="1.0.0")) is None
    # Parsed from the folder above with a relative --project-dir: its paths do not resolve from the project folder.
    assert reusable_parse("warehouse", saved_parse(tmp_path / "relative", root_path="project")) is None
    project = saved_parse(tmp_path / "duckdb")
    (project / "target" / "partial_parse.msgpack").unlink()
    assert reusable_parse("warehouse", project) is None


def test_a_run_from_a_saved_parse_builds_what_a_parsing_run_builds_with_its_own_vars(tmp_path):
    from lab.generator import generate
    from csops.ingest import ingest_source

    landing = tmp_path / "landing"
    generate(landing, accounts=12, months=3, seed=11)
    raw = tmp_path / "raw" / "warehouse.duckdb"
    raw.parent.mkdir()
    with duckdb.connect(str(raw)) as con:
        for source in contract.SOURCE_NAMES:
            ingest_source(con, landing, source)
        last_day = con.execute("select max(cast(occurred_at as date)) from raw.usage_events").fetchone()[0]
    as_of = last_day.replace(day=1)
    assert as_of < last_day
    copies = {}
    for name in ("parsing", "reusing"):
        copies[name] = tmp_path / name / "warehouse.duckdb"
        copies[name].parent.mkdir()
        shutil.copy(raw, copies[name])

    # The parse is made without vars; the run from it passes a cut-off the parse never saw.
    run_dbt(["parse"], copies["reusing"], tmp_path / "parse")
    build = ["build", "--select", "+fct_account_daily", "--resource-type", "model", "--resource-type", "seed"]
    dbt_vars = {"csops_as_of_date": as_of.isoformat()}
    run_dbt(build, copies["parsing"], tmp_path / "parsing" / "dbt", dbt_vars)
    run_dbt(build, copies["reusing"], tmp_path / "reusing" / "dbt", dbt_vars,
            parsed=tmp_path / "parse" / "target" / "partial_parse.msgpack")

    frames = {}
    for name, db in copies.items():
        with duckdb.connect(str(db), read_only=True) as con:
            frames[name] = con.execute("select * from marts.fct_account_daily order by account_id, date_day").df()
    assert len(frames["parsing"]) > 0
    assert pd.Timestamp(frames["reusing"]["date_day"].max()) == pd.Timestamp(as_of)
    pd.testing.assert_frame_equal(frames["parsing"], frames["reusing"])


def test_an_unreadable_saved_parse_makes_dbt_parse_the_project(tmp_path):
    broken = tmp_path / "partial_parse.msgpack"
    broken.write_bytes(b"not a parse")
    process = run_dbt(["ls", "--select", "stg_accounts", "--resource-type", "model"], tmp_path / "warehouse.duckdb",
                      tmp_path / "dbt", parsed=broken)
    assert "not usable" in process.stderr
    assert "stg_accounts" in process.stdout


def test_model_configs_read_no_vars():
    # A run from a saved parse keeps the configs (materialization, keys, enabled) that parse rendered and renders only
    # the SQL bodies with the run's vars, so a config that read a var would silently keep the parse's value.
    from csops.settings import DBT_PROJECT_DIR

    configs = [(path.name, block) for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")
               for block in re.findall(r"\{\{\s*config\((.*?)\)\s*\}\}", path.read_text(), flags=re.DOTALL)]
    assert len(configs) >= 10  # the pattern finds the project's config blocks
    assert not [name for name, block in configs if "var(" in block]


def test_one_environment_recipe_for_every_dbt_run(tmp_path, monkeypatch):
    """The settings' warehouse and target for the project's own runs; a given DuckDB file under the `duckdb` target
    with no Snowflake credentials for the side runs (evaluation, point-in-time rebuilds, tests)."""
    from csops.settings import Settings

    monkeypatch.setenv("CSOPS_DBT_TARGET", "snowflake")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "s3cret-value")
    monkeypatch.setenv("CSOPS_DUCKDB_PATH", str(tmp_path / "main.duckdb"))
    settings = Settings.from_env()
    own = environment(settings)
    assert own["CSOPS_DBT_TARGET"] == "snowflake" and own["SNOWFLAKE_PASSWORD"] == "s3cret-value"
    assert own["CSOPS_DUCKDB_PATH"] == str(tmp_path / "main.duckdb") and Path(own["DBT_PROFILES_DIR"]).is_dir()
    side = environment(settings, tmp_path / "pit" / "copy.duckdb")
    assert side["CSOPS_DBT_TARGET"] == "duckdb" and not any(k.startswith("SNOWFLAKE_") for k in side)
    assert side["CSOPS_DUCKDB_PATH"] == str(tmp_path / "pit" / "copy.duckdb")
    assert side["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false" and side["DBT_PROFILES_DIR"] == own["DBT_PROFILES_DIR"]
