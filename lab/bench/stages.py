"""Stage entry points, one process each: `python -m lab.bench.stages <stage> --result FILE [--kwargs JSON]`.

Each stage calls the project's plain functions (ingest, dbt through `csops.dbt`, `ml.pipeline`, the quality
checks, the Dagster jobs) on the paths the environment names (CSOPS_LANDING_DIR, CSOPS_DUCKDB_PATH, DAGSTER_HOME,
CSOPS_MODELS_DIR), and writes a JSON object: row counts or the relations to count, details, and `work_seconds`, the
time inside the stage function after its modules were imported. The parent measures the process (`measure.py`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

# dbt selection of each layer: its models and (default eager test selection) every test touching them, minus the
# tests that also touch a later layer (excluding a model excludes its tests), so each test runs once, in the layer
# where its last parent is built. A few intermediate models read marts (int_feature_health_scored,
# int_account_onboarding, int_account_phase_daily): `marts+` builds them with the marts.
DBT_LAYERS = {
    "staging": ["--select", "path:seeds", "path:models/staging", "--exclude", "path:models/intermediate",
                "path:models/marts+"],
    "intermediate": ["--select", "path:models/intermediate", "--exclude", "path:models/marts+"],
    "marts": ["--select", "path:models/marts+"],
}
DAILY_FEATURES = "fct_account_daily"
PIPELINE_LOG_LEVEL = "INFO"  # what `csops demo` logs


def _db() -> str:
    from csops.settings import Settings

    return str(Settings.from_env().duckdb_path)


def _warehouse():
    from csops.settings import Settings

    return Settings.from_env().connect_warehouse()


def generate(out: str, accounts: int, months: int, seed: int) -> dict:
    from lab.generator import generate as generate_landing

    summary = generate_landing(out, accounts=accounts, months=months, seed=seed)
    return {"rows_out": sum(summary.rows.values()), "usage_events": summary.rows["usage_events"],
            "rows_by_source": summary.rows}


def ingest() -> dict:
    from csops import contract
    from csops.ingest import ingest_source
    from csops.settings import Settings

    settings = Settings.from_env()
    started = time.perf_counter()
    log = lambda message: print(f"{time.perf_counter() - started:8.1f} s  {message}", flush=True)  # noqa: E731
    with settings.connect_warehouse() as con:
        results = [r for source in contract.SOURCE_NAMES
                   for r in ingest_source(con, settings.landing_dir, source, log=log)]
    return {"rows_in": sum(r.rows_read for r in results), "rows_out": sum(r.rows_loaded for r in results),
            "quarantined": sum(r.rows_quarantined for r in results),
            "deduplicated": sum(r.rows_deduplicated for r in results), "batches": len(results)}


def _relation(node: dict) -> str:
    return f"{node['schema']}.{node.get('alias') or node.get('identifier') or node['name']}"


def dbt_summary(target: Path) -> dict:
    """Models and tests dbt ran (from run_results.json), their times, and the relations they built and read."""
    run_results = json.loads((target / "run_results.json").read_text())
    results = run_results["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = manifest["nodes"] | manifest["sources"]
    built = {r["unique_id"]: r for r in results if r["unique_id"].split(".")[0] in ("model", "seed")}
    tests = [r for r in results if r["unique_id"].startswith("test.")]
    read = {dep for uid in built for dep in nodes[uid]["depends_on"].get("nodes", [])
            if dep not in built and dep.split(".")[0] in ("model", "seed", "source")}
    by_model = sorted(((nodes[uid]["name"], r["execution_time"]) for uid, r in built.items()), key=lambda x: -x[1])
    return {
        "models": len(built), "tests": len(tests),
        # dbt's own clock, from its first node to its last: the rest of the stage is starting dbt.
        "dbt_elapsed_seconds": run_results["elapsed_time"],
        "model_seconds": sum(r["execution_time"] for r in built.values()),
        "test_seconds": sum(r["execution_time"] for r in tests),
        "failed": [r["unique_id"] for r in results if r["status"] in ("error", "fail")],
        "warned": [r["unique_id"] for r in results if r["status"] == "warn"],
        "model_times": dict(by_model),
        "relations_in": sorted(_relation(nodes[uid]) for uid in read),
        "relations_out": sorted(_relation(nodes[uid]) for uid in built),
    }


def _dbt(args: list[str], work: str) -> dict:
    """`dbt <args>` on this stage's warehouse, started from the project's saved parse when it fits, as the Dagster
    dbt step (partial parse) and the point-in-time rebuilds do; else dbt parses the project, and the result says so."""
    from csops.dbt import reusable_parse, run_dbt

    db = _db()
    run_dbt(args, db, work, parsed=reusable_parse(Path(db).stem))
    target = Path(work) / "target"
    # dbt leaves its parse state in the target folder only when it parsed (the child falls back to parsing when the
    # saved parse turns out unusable).
    return dbt_summary(target) | {"started_from_saved_parse": not (target / "partial_parse.msgpack").exists()}


def dbt_layer(layer: str, work: str) -> dict:
    return _dbt(["build", *DBT_LAYERS[layer]], work)


def daily_features(work: str) -> dict:
    """fct_account_daily and every model it is built from, recomputed from raw (models only, no tests)."""
    return _dbt(["run", "--full-refresh", "--select", f"+{DAILY_FEATURES}"], work) | {
        "rows_out_relation": f"marts.{DAILY_FEATURES}"}


def full_refresh(work: str) -> dict:
    return _dbt(["run", "--full-refresh"], work)


def voice() -> dict:
    """The voice step as the main job runs it between the staging views and the other models (offline classifier)."""
    from ml.voice.classify import make_classifier
    from ml.voice.signals import TABLE, update_signals

    with _warehouse() as con:
        stats = update_signals(con, make_classifier(name="offline"))
    return {"relations_out": [TABLE], "rows_out": stats["texts"] - stats["failed"], "classified": stats["classified"]}


def features() -> dict:
    from ml import pipeline
    from ml.config import MLConfig

    with _warehouse() as con:
        as_of = pipeline.refresh_feature_snapshots(con, MLConfig.from_env())
        rows = pipeline.feature_snapshot_summary(con)["rows"]
    return {"relations_in": [f"marts.{DAILY_FEATURES}"], "rows_out": rows, "as_of": str(as_of.as_of)}


def training() -> dict:
    """Training sets (labels) and LightGBM fit, calibration, baselines and registry of every task."""
    from ml import pipeline
    from ml.config import TASKS, MLConfig, models_dir
    from ml.registry import Registry

    cfg, registry, tasks = MLConfig.from_env(), Registry(models_dir()), {}
    with _warehouse() as con:
        as_of, snapshots = pipeline.read_as_of(con), pipeline.feature_snapshot_summary(con)["rows"]
        for task in TASKS:
            summary = pipeline.refresh_training_set(con, task, cfg, as_of)
            run = pipeline.train(con, task, cfg, registry, as_of)
            tasks[task] = {"status": run.result.status, "reasons": run.result.reasons, "version": run.version,
                           "promoted": run.promoted, "rows": summary["rows"], "labelled_rows": summary["labelled_rows"],
                           "test_roc_auc": {name: metrics.get("roc_auc") for name, metrics in run.result.metrics.items()
                                            if isinstance(metrics, dict)}}
    return {"rows_in": snapshots * len(TASKS), "rows_out": sum(t["rows"] for t in tasks.values()), "tasks": tasks}


def scoring() -> dict:
    """Scores of every active account with the champion models, and their drift tables."""
    from ml import pipeline
    from ml.config import TASKS, MLConfig, models_dir
    from ml.registry import Registry

    cfg, registry, rows = MLConfig.from_env(), Registry(models_dir()), {}
    with _warehouse() as con:
        for task in TASKS:
            rows[task] = len(pipeline.score(con, task, cfg, registry).scores)
    return {"rows_in": sum(rows.values()), "rows_out": sum(rows.values()), "scores": rows}


def checks(work: str) -> dict:
    """The Python quality checks the Dagster run evaluates: reconciliation and Great Expectations on raw, the
    feature suite, the point-in-time rebuild and every-active-account-scored (dbt tests run in the dbt stages)."""
    from csops import contract
    from csops.quality.feature_expectations import feature_sample_query, validate_features
    from csops.quality.raw_expectations import raw_sample_query, validate_raw
    from csops.quality.reconciliation import reconcile
    from ml import pipeline
    from ml.config import TASKS, MLConfig
    from ml.leakage import check_point_in_time

    passed = {}
    with _warehouse() as con:
        for source in contract.SOURCE_NAMES:
            passed[f"raw/{source}:rows_reconcile"] = reconcile(con, source).passed
            frame = con.execute(raw_sample_query(source)).df()
            passed[f"raw/{source}:contract_expectations"] = validate_raw(source, frame).success
        passed["marts/fct_account_daily:feature_expectations"] = validate_features(
            con.execute(feature_sample_query()).df()).success
        passed["ml/feature_snapshots:point_in_time"] = check_point_in_time(
            con, MLConfig.from_env(), work, as_of=pipeline.read_as_of(con)).passed
        for task in TASKS:
            passed[f"ml/{task}_scores:every_active_account_scored"] = pipeline.every_active_account_scored(con, task)[0]
    return {"checks": len(passed), "failed": [name for name, ok in passed.items() if not ok]}


def anchor(out: str) -> dict:
    from lab.bench.baselines import anchor as run_anchor
    from csops.settings import Settings

    return run_anchor(Settings.from_env().landing_dir, Path(out))


def pandas_baseline(out: str) -> dict:
    from lab.bench.baselines import pandas_features
    from csops.settings import Settings

    return pandas_features(Settings.from_env().landing_dir, Path(out))


def _dbt_elapsed(run_id: str, step: str) -> float | None:
    """dbt's own clock (first node to last) in the run's dbt step `step`: its `run_results.json` is in the target
    folder dagster-dbt names `<op>-<run id[:7]>-<unique id>`. None when the run had no dbt step."""
    from csops.settings import DBT_PROJECT_DIR

    for results in (DBT_PROJECT_DIR / "target").glob(f"{step}-{run_id[:7]}-*/run_results.json"):
        return json.loads(results.read_text())["elapsed_time"]
    return None


def _run_summary(instance, result) -> dict:
    """Outcome, check results and per-step durations of one Dagster run, from the instance's event log."""
    import dagster as dg

    from orchestration.defs.transform.dbt import csops_dbt_models, csops_dbt_staging
    from orchestration.run import failed_checks

    steps, started = {}, {}
    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(result.run_id, of_type=kinds):
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif entry.step_key in started:
            steps[entry.step_key] = entry.timestamp - started[entry.step_key]
    stats = instance.get_run_stats(result.run_id)
    evaluations = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return {"job": result.job_def.name, "run_id": result.run_id, "success": result.success,
            "seconds": stats.end_time - stats.start_time, "steps_seconds": sum(steps.values()),
            "steps": dict(sorted(steps.items(), key=lambda item: -item[1])),
            "checks": len(evaluations), "failed_checks": failed_checks(result, "ERROR"),
            "warned_checks": failed_checks(result, "WARN"), **_dbt_times(result.run_id, steps,
                                                                         [csops_dbt_staging, csops_dbt_models])}


def _dbt_times(run_id: str, steps: dict, definitions: list) -> dict:
    """The run's dbt steps (staging views, then every other model) together: Dagster's step time and dbt's clock."""
    names = [d.op.name for d in definitions]
    step = [steps[n] for n in names if n in steps]
    elapsed = [e for e in (_dbt_elapsed(run_id, n) for n in names) if e is not None]
    return {"dbt_step_seconds": sum(step) if step else None, "dbt_elapsed_seconds": sum(elapsed) if elapsed else None}


def _timed(phases: dict, name: str, call):
    started = time.perf_counter()
    outcome = call()
    phases[name] = time.perf_counter() - started
    return outcome


# The targets are the data spine's: landing to scores. The main job also runs the action layer (agent, briefs,
# reports), whose cost grows with the accounts that need work, not with the data: the bench runs the spine's assets.
# The whole run trains; the day after runs the daily job (no training chain), as the schedules do.
SPINE_JOB, DAILY_JOB = "csops_data_refresh", "csops_daily"


def dagster_spine(job: str = SPINE_JOB) -> dict:
    """The data spine through Dagster, each step once, failed checks recorded, not raised. The whole run
    (`csops_data_refresh`: ingest, every dbt model, training when the data changed, scores) from landing; after one
    more day landed, `csops_daily`'s spine assets (ingest of the new batches, dbt incrementally, scores with the
    champions)."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.jobs import SPINE
    from orchestration.run import run_pipeline

    phases: dict[str, float] = {}
    definitions = _timed(phases, "load definitions", defs)
    with dg.DagsterInstance.get() as instance:
        run = _timed(phases, job, lambda: run_pipeline(instance, PIPELINE_LOG_LEVEL, job_name=job,
                                                       definitions=definitions, assets=SPINE))
        return {"phases": phases, "runs": [_run_summary(instance, run)]}


# Stage -> (function, modules imported before the clock starts: imports are not the stage's work).
_DUCKDB = ["duckdb", "csops.settings"]
_ML = [*_DUCKDB, "pandas", "lightgbm", "ml.pipeline", "ml.registry"]
_DBT = ["csops.dbt"]
_DAGSTER = ["dagster", "orchestration.definitions", "orchestration.run", *_ML]
STAGES = {
    "generate": (generate, ["lab.generator"]),
    "ingest": (ingest, [*_DUCKDB, "csops.ingest"]),
    "staging": (lambda work: dbt_layer("staging", work), _DBT),
    "voice": (voice, [*_DUCKDB, "pandas", "ml.voice.classify", "ml.voice.signals"]),
    "intermediate": (lambda work: dbt_layer("intermediate", work), _DBT),
    "marts": (lambda work: dbt_layer("marts", work), _DBT),
    "daily_features": (daily_features, _DBT),
    "full_refresh": (full_refresh, _DBT),
    "features": (features, _ML),
    "training": (training, _ML),
    "scoring": (scoring, _ML),
    "checks": (checks, [*_ML, "great_expectations", "csops.quality.raw_expectations", "ml.leakage"]),
    "anchor": (anchor, [*_DUCKDB, "lab.bench.baselines"]),
    "pandas": (pandas_baseline, [*_DUCKDB, "pandas", "lab.bench.baselines"]),
    "dagster_full": (dagster_spine, _DAGSTER),
    "dagster_daily": (lambda: dagster_spine(DAILY_JOB), _DAGSTER),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench.stages", description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--result", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--kwargs", default="{}", help="keyword arguments of the stage function, as JSON")
    args = parser.parse_args(argv)
    function, modules = STAGES[args.stage]
    for module in modules:
        importlib.import_module(module)
    started = time.perf_counter()
    outcome = function(**json.loads(args.kwargs))
    outcome["work_seconds"] = time.perf_counter() - started
    args.result.write_text(json.dumps(outcome, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
