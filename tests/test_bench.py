"""`csops bench`: the baselines compute what fct_account_daily computes, the held-back day adds up, the measurements
are real (a child's children included), the report carries them, and the command refuses unknown sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from csops import contract
from lab.bench import baselines, report
from lab.bench.datasets import prepare_landing
from lab.bench.measure import run_measured
from lab.bench.options import SIZES
from lab.bench.run import Runner, all_ran, count_rows, daily_cost, environment, machine, orchestration
from lab.bench.stages import DBT_LAYERS

CSOPS = str(Path(sys.executable).parent / "csops")
MIB = 1024**2


def landing_rows(landing: Path, source: str) -> int:
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{landing / source}/*.parquet')").fetchall()[0][0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """20 accounts x 2 months with the generator's defects (rows ingest quarantines, repeated events it drops),
    ingested and built up to fct_account_daily."""
    from lab.generator import generate
    from csops.ingest import ingest_source
    from csops.dbt import run_dbt

    root = tmp_path_factory.mktemp("bench")
    landing = root / "landing"
    summary = generate(landing, accounts=20, months=2, seed=3, defect_rate=0.02)
    assert summary.defects["usage_events"]["duplicate"] and summary.defects["usage_events"]["malformed_timestamp"]
    db = root / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        for source in contract.SOURCE_NAMES:
            ingest_source(con, landing, source)
    run_dbt(["build", "--select", "+fct_account_daily", "--resource-type", "model", "--resource-type", "seed"],
            db, root / "dbt")
    return root, landing, db


def test_anchor_and_pandas_equal_each_other_and_fct_account_daily(tiny):
    root, landing, db = tiny
    anchor, pandas = root / "anchor.parquet", root / "pandas.parquet"
    events = landing_rows(landing, "usage_events")
    assert baselines.anchor(landing, anchor)["rows_in"] == baselines.pandas_features(landing, pandas)["rows_in"] \
        == events

    differences = baselines.differences(anchor, pandas)
    assert differences["only_left"] == differences["only_right"] == 0
    assert differences["rows_left"] == differences["rows_right"] > 0
    with duckdb.connect(str(db), read_only=True) as con:
        marts_rows = con.execute("select count(*) from marts.fct_account_daily").fetchone()[0]
        for output in (anchor, pandas):
            agreement = baselines.agreement(con, output)
            assert agreement["mismatches_by_column"] == {}
            # Only the days before an account's first usage (inside its contract) are missing from the baselines.
            assert agreement["rows_equal"] == agreement["rows_compared"] >= 0.9 * marts_rows
    # The windows are exercised, not trivially equal: distinct users grow with the window, trends exist.
    grew, trends = duckdb.sql(f"""select count(*) filter (where active_users_30d > active_users_7d
                                                           and active_users_7d > active_users_1d),
                                         count(usage_trend_28d) from '{anchor}'""").fetchall()[0]
    assert grew > 100 and trends > 100


def test_held_back_day_lands_after_the_full_build_and_loses_no_row(tiny, tmp_path):
    _, cached, _ = tiny
    landing = tmp_path / "landing"
    holdback = prepare_landing(cached, landing, tmp_path / "held")
    assert holdback.rows["usage_events"] > 0
    before = {s: landing_rows(landing, s) for s in ("usage_events", "activities", "survey_responses")}
    landed = holdback.land(landing)
    assert {p.parent.name for p in landed} == set(holdback.rows)
    for source, rows in before.items():
        assert rows + holdback.rows[source] == landing_rows(landing, source) == landing_rows(cached, source)
    # It lands last: ingest orders batches by modification time.
    assert all(p.stat().st_mtime > max(q.stat().st_mtime for q in p.parent.iterdir() if q != p) for p in landed)


def test_cache_is_made_once_and_again_when_the_generator_changes(tmp_path, monkeypatch):
    from lab.bench import datasets

    made = []

    def make(landing: Path) -> dict:
        landing.mkdir(parents=True)
        made.append(landing)
        return {"wall_seconds": 1.0}

    data_set = SIZES["small"]
    first = datasets.cached_set(data_set, 7, tmp_path, make)
    again = datasets.cached_set(data_set, 7, tmp_path, make)
    assert (first.reused, again.reused, len(made)) == (False, True, 1)
    assert again.generate == {"wall_seconds": 1.0} and again.landing == tmp_path / "small-7" / "landing"
    monkeypatch.setattr(datasets, "generator_fingerprint", lambda: "other code")
    assert not datasets.cached_set(data_set, 7, tmp_path, make).reused and len(made) == 2


def test_measurement_counts_the_whole_process_tree(tmp_path):
    # A grandchild holds 300 MiB and burns 0.5 s of CPU: the child's figures must include both.
    grandchild = ("import time; x = bytearray(300 * 2**20); t = time.process_time()\n"
                  "while time.process_time() - t < 0.5: pass")
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)"
    measured = run_measured("tree", [sys.executable, "-c", child], dict(os.environ), tmp_path / "tree.log",
                            tmp_path / "tree.json")
    assert measured.ok and measured.result == {}
    assert measured.cpu_seconds >= 0.5
    assert measured.peak_rss_bytes >= 300 * MIB
    assert measured.wall_seconds >= measured.cpu_seconds * 0.5


def test_memory_limit_stops_the_process_tree(tmp_path):
    child = "import time; x = bytearray(300 * 2**20); time.sleep(30)"
    measured = run_measured("hog", [sys.executable, "-c", child], dict(os.environ), tmp_path / "hog.log",
                            tmp_path / "hog.json", memory_limit=100 * MIB)
    assert measured.stopped_at_memory_limit and not measured.ok
    assert measured.wall_seconds < 10 and measured.peak_tree_rss_bytes > 100 * MIB


def test_orchestration_overhead_splits_time_outside_steps_from_slower_steps():
    stages = {name: {"exit_code": 0, "result": {"work_seconds": 10.0}} for name in report.PIPELINE_STAGES[1:]}
    # dbt's own clock ran 7, 8 and 6 s of the dbt stages' 10 s: starting dbt took 3, 2 and 4 s.
    for name, elapsed in zip(DBT_LAYERS, (7.0, 8.0, 6.0)):
        stages[name]["result"]["dbt_elapsed_seconds"] = elapsed
    # The first run's two dbt steps took 44 s, dbt's own clock 34 s of it; the second run has no dbt step.
    runs = [{"steps_seconds": 60.0, "dbt_step_seconds": 44.0, "dbt_elapsed_seconds": 34.0},
            {"steps_seconds": 25.0, "dbt_step_seconds": None, "dbt_elapsed_seconds": None}]
    whole = {"exit_code": 0, "wall_seconds": 100.0, "result": {"runs": runs}}
    work = 10.0 * (len(report.PIPELINE_STAGES) - 1)
    figures = orchestration(stages, whole)
    assert figures["overhead_seconds"] == pytest.approx(100.0 - work)
    assert (figures["outside_steps_seconds"], figures["outside_steps_share"]) == (15.0, 0.15)
    # The run starts dbt twice (each taken as the stages' mean start, 3 s): the third start is not run work.
    assert figures["repeated_dbt_start_seconds"] == pytest.approx(3.0)
    assert figures["overhead_one_dbt_start_share"] == pytest.approx((100.0 - work + 3.0) / 100.0)
    # Inside the run: 15 s outside the steps + (44 - 34 - 2 x 3) s of the dbt steps that was neither dbt nor a start.
    assert (figures["in_run_seconds"], figures["in_run_share"]) == (pytest.approx(19.0), pytest.approx(0.19))
    assert orchestration(stages | {"marts": {"exit_code": 1}}, whole) == {}


def test_fixed_costs_are_shown_next_to_the_targets_they_weigh_on():
    # The daily pipeline's dbt step ran 30 s by dbt's clock; the scoring run has no dbt step.
    runs = [{"success": True, "dbt_elapsed_seconds": 30.0}, {"success": True, "dbt_elapsed_seconds": None}]
    daily, whole = {"wall_seconds": 48.0, "result": {"runs": runs}}, {"wall_seconds": 120.0}
    cost = daily_cost(daily, whole)
    assert cost == {"fraction_of_full_build": pytest.approx(0.4), "dbt_build_seconds": 30.0,
                    "outside_dbt_seconds": 18.0, "outside_dbt_share": pytest.approx(0.15)}
    # A failed run, or one whose dbt step left no clock, gives no floor: its missing work is not a fixed cost.
    failed = [runs[0] | {"success": False}, runs[1]]
    unclocked = [runs[0] | {"dbt_elapsed_seconds": None}, runs[1]]
    for broken in (failed, unclocked):
        assert daily_cost(daily | {"result": {"runs": broken}}, whole) == {"fraction_of_full_build": pytest.approx(0.4)}
    # The daily-feature stage's models ran 7 s of its 12 s by dbt's clock; the rest was starting dbt.
    comparison = {"daily_features": {"exit_code": 0, "wall_seconds": 12.0, "result": {"model_seconds": 7.0}},
                  "anchor": {"exit_code": 0, "wall_seconds": 7.0}}
    measured = {"data_set": {"size": "large"}, "whole_run": None, "comparison": comparison, "orchestration": {},
                "incremental": cost | {"equal": True}}
    judged = {t["name"].split(" (")[0]: (t["passed"], t["note"]) for t in report.targets(measured)}
    assert judged["one more day"] == (False, "15.0% outside dbt's build alone")
    assert judged["csops daily-feature stage vs the DuckDB anchor"] == (False, "its models 1.00x by dbt's clock")


def test_targets_stated_for_the_large_set_are_judged_on_it_alone():
    def judged(size: str, share: float) -> dict[str, tuple]:
        whole = {"exit_code": 0, "wall_seconds": 200.0, "peak_memory_bytes": 3 * report.GIB}
        measured = {"data_set": {"size": size}, "whole_run": whole, "comparison": {},
                    "incremental": {"fraction_of_full_build": 0.4, "equal": True},
                    "orchestration": {"overhead_one_dbt_start_share": share}}
        return {t["name"].split(" (")[0]: (t["passed"], t["note"]) for t in report.targets(measured)}

    large, small = judged("large", 0.05), judged("small", 0.37)
    overhead = "orchestration overhead"
    assert large[overhead] == (True, "") and judged("large", 0.2)[overhead][0] is False
    # The fixed cost of starting processes is most of a small run: shown, not judged.
    assert small[overhead] == (None, "applies to the large set")
    assert small["landing -> scores, training included"][0] is None and large["landing -> scores, training included"][0]
    # Ratios hold at any size.
    assert large["one more day"][0] is False and small["one more day"][0] is False
    # Below zero is noise, whatever the size.
    assert judged("large", -0.02)[overhead] == (None, "below zero: the stages took longer than the whole run")


def test_a_runs_dbt_clock_is_read_from_its_own_dbt_target_folder(tmp_path, monkeypatch):
    import csops.settings
    from lab.bench.stages import _dbt_elapsed

    monkeypatch.setattr(csops.settings, "DBT_PROJECT_DIR", tmp_path)
    for run, elapsed in (("abcdef1", 12.5), ("0123456", 99.0)):
        folder = tmp_path / "target" / f"csops_dbt_models-{run}-f00ba47"
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text(json.dumps({"elapsed_time": elapsed, "results": []}))
    assert _dbt_elapsed("abcdef1-2222-3333-4444-555555555555", "csops_dbt_models") == 12.5
    assert _dbt_elapsed("fedcba9-2222-3333-4444-555555555555", "csops_dbt_models") is None  # a run without a dbt step


def test_pandas_at_the_memory_limit_is_a_finding_and_any_other_stop_a_failure():
    ran = {"exit_code": 0}
    stopped = {"exit_code": -9, "stopped_at_memory_limit": True}

    def report_of(pandas, anchor=ran):
        return {"stages": {"ingest": ran}, "whole_run": ran, "incremental": None,
                "comparison": {"daily_features": ran, "anchor": anchor, "pandas": pandas}}

    assert all_ran(report_of(ran)) and all_ran(report_of(stopped))
    assert not all_ran(report_of({"exit_code": 1})) and not all_ran(report_of(ran, anchor=stopped))


def test_report_carries_measured_stages(tiny, tmp_path, dbt_manifest):
    _, cached, _ = tiny
    landing = tmp_path / "landing"
    prepare_landing(cached, landing, tmp_path / "held")
    runner = Runner(tmp_path / "results" / "logs", tmp_path / "scratch")
    runner.scratch.mkdir()
    env = environment(tmp_path / "stages", landing)
    ingest = count_rows(Path(env["CSOPS_DUCKDB_PATH"]), runner.stage("ingest", env))
    anchor = report.with_rows(runner.stage("anchor", env, out=str(tmp_path / "anchor.parquet")))
    staging = count_rows(Path(env["CSOPS_DUCKDB_PATH"]),
                         runner.stage("staging", env, work=str(tmp_path / "stages" / "staging")))
    data = {"size": "tiny", "accounts": 20, "months": 2, "seed": 3, "cache": str(cached), "cache_reused": True,
            "cache_created_at": "then", "usage_events": anchor["rows_in"], "landing_rows": ingest["rows_in"]}
    built = report.build(data, machine(os.getloadavg()), "start", "end", {"ingest": ingest, "staging": staging},
                         comparison={"usage_columns": baselines.USAGE_COLUMNS, "anchor": anchor})
    json_path, md_path = report.write(built, tmp_path / "results")

    saved = json.loads(json_path.read_text())
    stage = saved["stages"]["ingest"]
    assert stage["exit_code"] == 0 and stage["log"].endswith("ingest.log")
    assert 0 < stage["result"]["work_seconds"] < stage["wall_seconds"]
    assert stage["cpu_seconds"] > 0 and stage["peak_rss_bytes"] > 20 * MIB
    assert stage["rows_in"] == sum(landing_rows(landing, s) for s in contract.SOURCE_NAMES)
    assert stage["rows_out"] == stage["rows_in"] - stage["result"]["quarantined"] - stage["result"]["deduplicated"]
    assert stage["rows_per_second"] == pytest.approx(stage["rows_in"] / stage["wall_seconds"])
    assert saved["comparison"]["anchor"]["rows_in"] == landing_rows(landing, "usage_events")
    # A dbt stage starts from the project's saved parse, as the Dagster dbt step does, and still reports what it built.
    layer = saved["stages"]["staging"]
    assert layer["exit_code"] == 0 and layer["result"]["started_from_saved_parse"]
    assert layer["result"]["models"] >= len(contract.SOURCE_NAMES) and not layer["result"]["failed"]
    assert "staging.stg_usage_events" in layer["result"]["relations_out"] and layer["rows_out"] > 0
    # dbt's own clock is part of the stage's work; the rest is starting dbt, which the overhead counts once.
    assert 0 < layer["result"]["dbt_elapsed_seconds"] < layer["result"]["work_seconds"]
    # Nothing that was not measured is judged.
    assert {t["passed"] for t in saved["targets"]} == {None}

    text = md_path.read_text()
    assert text.startswith("# csops benchmark: tiny (20 accounts x 2 months, seed 3)")
    row = next(line for line in text.splitlines() if line.startswith("| ingest |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"{stage['wall_seconds']:,.1f}" and cells[3] == f"{stage['cpu_seconds']:,.1f}"
    assert cells[7] == f"{stage['rows_in']:,}"
    assert "DuckDB anchor (one SQL query over landing Parquet)" in text
    assert ("| orchestration overhead (whole run minus stage work, the run's dbt starts) | <= 15% of the whole run "
            "| not measured | n/a (applies to the large set) |") in text


def test_the_training_note_shows_each_models_test_score_next_to_its_baselines():
    trained = {"status": "trained", "reasons": [], "promoted": True,
               "test_roc_auc": {"model": 0.93, "health_score": 0.7471, "logistic_regression": None}}
    refused = {"status": "not_trained", "reasons": ["not enough history"], "promoted": False,
               "test_roc_auc": {"health_score": None}}
    note = report._stage_note("training", {"exit_code": 0, "result": {"tasks": {"churn": trained,
                                                                                  "expansion": refused}}})
    assert note == ("churn: trained (test ROC-AUC 0.930; health score 0.747), promoted; "
                    "expansion: not_trained (not enough history), not promoted")


def test_bench_rejects_an_unknown_size():
    completed = subprocess.run([CSOPS, "bench", "--size", "huge"], capture_output=True, text=True)
    assert completed.returncode == 2
    assert "invalid choice: 'huge' (choose from 'small', 'medium', 'large')" in completed.stderr
