"""`csops bench`: measure every stage of csops on a cached data set against physical baselines; one report per run.

Order of a run (every measured step is its own process, see `measure.py` and `stages.py`):
1. the data set from the cache (generated and measured once), copied to the run's landing zone minus its last day;
2. warehouse A: the stages one by one (ingest .. checks), then the csops daily-feature stage and the two baselines
   on the same landing data;
3. warehouse B: the whole Dagster run, landing -> scores; then the held-back day lands and the daily pipeline runs;
   the marts it produced are compared with a full refresh;
4. report.json and report.md in the results folder, stage logs in its `logs/`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import datetime
from importlib import metadata
from pathlib import Path

from lab.bench import report as report_mod
from lab.bench import stages as stages_mod
from lab.bench.datasets import cached_set, default_cache_root, prepare_landing
from lab.bench.measure import PAGE_SIZE, log_tail, run_measured
from lab.bench.options import SIZES, DataSet
from csops import dbt
from csops.instance import ensure_dagster_home
from csops.settings import PROJECT_ROOT, Settings

VERSIONS = ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "pandas", "lightgbm")
# The main job starts dbt twice: the staging views, then every other model after the voice step.
RUN_DBT_STARTS = 2


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


class Runner:
    """Runs stages as measured child processes; logs go to the results folder, stage results to `scratch`."""

    def __init__(self, logs: Path, scratch: Path, memory_limit: int | None = None):
        self.logs, self.scratch, self.memory_limit = logs, scratch, memory_limit

    def stage(self, stage: str, env: dict[str, str], label: str | None = None, **kwargs) -> dict:
        label = label or stage
        argv = [sys.executable, "-m", "lab.bench.stages", stage, "--result", str(self.scratch / f"{label}.json"),
                "--kwargs", json.dumps(kwargs)]
        say(f"{label} ...")
        measured = run_measured(label, argv, env, self.logs / f"{label}.log", self.scratch / f"{label}.json",
                                cwd=PROJECT_ROOT, memory_limit=self.memory_limit)
        if measured.ok:
            say(f"{label} ... {measured.wall_seconds:.1f} s (CPU {measured.cpu_seconds:.1f} s, peak "
                f"{measured.peak_memory_bytes / report_mod.MIB:,.0f} MiB)")
        elif measured.stopped_at_memory_limit:
            say(f"{label} STOPPED after {measured.wall_seconds:.1f} s: its processes held more than the memory limit "
                f"({measured.memory_limit_bytes / report_mod.GIB:.1f} GiB)")
        else:
            say(f"{label} FAILED after {measured.wall_seconds:.1f} s (exit {measured.exit_code}), log "
                f"{measured.log}:\n{log_tail(measured)}")
        return measured.as_dict()


def environment(root: Path, landing: Path) -> dict[str, str]:
    """The child processes' environment: every csops path inside `root` (warehouse, Dagster home, models); other
    settings (DuckDB's memory limit) as the user's environment has them."""
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env().model_copy(update={
        "data_dir": root, "landing_dir": landing, "duckdb_path": root / "warehouse.duckdb",
        "dagster_home": ensure_dagster_home(root / "dagster_home"), "models_dir": root / "models", "dbt_target": "duckdb"})
    return dbt.environment(settings) | {"CSOPS_DATA_DIR": str(root)}


def dbt_reparses(entry: dict) -> dict:
    """Count the dbt invocations of a Dagster run that could not reuse the project's partial-parse state (made for
    another profile, e.g. another warehouse path) and parsed the whole project again."""
    log = Path(entry["log"])
    text = log.read_text(errors="replace") if log.exists() else ""
    return entry | {"dbt_reparses": text.count("Unable to do partial parsing")}


def count_rows(db: Path, entry: dict) -> dict:
    """Fill rows in/out of a stage that named relations instead of counting them (counted here, unmeasured)."""
    result = entry.get("result") or {}
    if entry["exit_code"] != 0 or not any(k in result for k in ("relations_in", "relations_out")):
        return report_mod.with_rows(entry)
    with Settings.from_env().connect_warehouse(db, read_only=True) as con:
        count = lambda relations: sum(con.execute(f"SELECT count(*) FROM {r}").fetchone()[0]  # noqa: E731
                                      for r in relations)
        if "relations_in" in result:
            result["rows_in"] = count(result["relations_in"])
        if "rows_out_relation" in result:
            result["rows_out"] = count([result["rows_out_relation"]])
        elif "relations_out" in result:
            result["rows_out"] = count(result["relations_out"])
    return report_mod.with_rows(entry)


def physical_memory() -> int:
    return PAGE_SIZE * os.sysconf("SC_PHYS_PAGES")


def machine(load_average_start: tuple[float, ...]) -> dict:
    return {"cpus": os.cpu_count(), "memory_bytes": physical_memory(),
            "load_average_start": " ".join(f"{v:.1f}" for v in load_average_start),
            "load_average_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
            "versions": {"python": platform.python_version(), **{p: metadata.version(p) for p in VERSIONS}}}


def _generate(runner: Runner, data_set: DataSet, seed: int):
    def make(landing: Path) -> dict:
        entry = runner.stage("generate", dict(os.environ), out=str(landing), accounts=data_set.accounts,
                             months=data_set.months, seed=seed)
        if entry["exit_code"] != 0:
            raise RuntimeError(f"generating the {data_set.name} set failed: see {entry['log']}")
        return entry

    return make


def run_stages(runner: Runner, work: Path, landing: Path) -> tuple[dict, dict]:
    """Warehouse A: the pipeline stages one by one, then the csops daily-feature stage and both baselines."""
    from lab.bench import baselines
    from csops.dbt import parse

    env = environment(work / "stages", landing)
    db = Path(env["CSOPS_DUCKDB_PATH"])
    # Unmeasured, as `make` does for a user's warehouse: the dbt stages start from this parse like the runs' dbt
    # steps do, so a stage's time is its work, not a parse the pipeline never pays.
    parse(env)
    stages: dict[str, dict] = {}
    for name in report_mod.PIPELINE_STAGES[1:]:
        kwargs = {"work": str(work / "stages" / name)} if name in [*stages_mod.DBT_LAYERS, "checks"] else {}
        stages[name] = count_rows(db, runner.stage(name, env, **kwargs))
        if stages[name]["exit_code"] != 0:
            say("later stages skipped: they need this one")
            break
    comparison: dict = {"usage_columns": baselines.USAGE_COLUMNS}
    if stages.get("staging", {}).get("exit_code") == 0:  # raw tables and the seed exist
        comparison["daily_features"] = count_rows(db, runner.stage("daily_features", env,
                                                                   work=str(work / "stages" / "daily_features")))
    outputs = {}
    for key in ("anchor", "pandas"):
        outputs[key] = work / f"{key}.parquet"
        comparison[key] = report_mod.with_rows(runner.stage(key, env, out=str(outputs[key])))
    ok = {k: comparison.get(k, {}).get("exit_code") == 0 for k in ("daily_features", "anchor", "pandas")}
    if ok["anchor"] and ok["pandas"]:
        comparison["anchor_vs_pandas"] = baselines.differences(outputs["anchor"], outputs["pandas"])
    if ok["daily_features"]:
        with Settings.from_env().connect_warehouse(db, read_only=True) as con:
            comparison["agreement"] = {k: baselines.agreement(con, outputs[k]) for k in ("anchor", "pandas") if ok[k]}
    return stages, comparison


def run_dagster(runner: Runner, work: Path, landing: Path, holdback) -> tuple[dict, dict | None]:
    """Warehouse B: the whole Dagster run, then one more day through the daily pipeline, compared with a full
    refresh."""
    from lab.bench import incremental as incremental_mod
    from csops.dbt import parse

    env = environment(work / "dagster", landing)
    db = Path(env["CSOPS_DUCKDB_PATH"])
    # As for the stages: the runs' dbt steps reuse this parse. `main` parses again for the user's profile at the end.
    parse(env)
    whole = dbt_reparses(runner.stage("dagster_full", env, label="whole_run"))
    if whole["exit_code"] != 0:
        return whole, None
    landed = holdback.land(landing)
    say(f"landed one more day ({holdback.day}): {', '.join(str(p.relative_to(landing)) for p in landed)}")
    daily = dbt_reparses(runner.stage("dagster_daily", env, label="one_more_day"))
    incremental = {"held_back_day": str(holdback.day), "held_back_rows": holdback.rows, "daily": daily}
    if daily["exit_code"] != 0:
        return whole, incremental
    incremental |= daily_cost(daily, whole)
    tables = incremental_mod.keep_marts(db)
    incremental["full_refresh"] = runner.stage("full_refresh", env, work=str(work / "dagster" / "full_refresh"))
    if incremental["full_refresh"]["exit_code"] == 0:
        incremental["tables"] = incremental_mod.compare_marts(db, tables)
        incremental["equal"] = all(t["equal"] for t in incremental["tables"])
    return whole, incremental


def orchestration(stages: dict, whole: dict) -> dict:
    """Whole Dagster run minus the stage work it contains (ingest .. checks; generate is not part of it), the same
    with the run's dbt starts, the part of the whole run's wall time that no step accounts for (process start, definitions,
    run start and end), and Dagster's cost measured inside the run alone (that part plus the dbt step's time beyond
    dbt)."""
    names = report_mod.PIPELINE_STAGES[1:]
    if whole["exit_code"] != 0 or any(stages.get(n, {}).get("exit_code") != 0 for n in names):
        return {}
    wall = whole["wall_seconds"]
    work = sum(stages[n]["result"]["work_seconds"] for n in names)
    outside = wall - sum(run["steps_seconds"] for run in whole["result"]["runs"])
    # Each dbt stage starts a dbt process (interpreter, imports, the saved parse, the adapter); the run starts two.
    # A start is the stage's work outside dbt's own clock; the run's is taken as their mean, the others subtracted.
    starts = [stages[n]["result"]["work_seconds"] - stages[n]["result"]["dbt_elapsed_seconds"]
              for n in stages_mod.DBT_LAYERS]
    start = sum(starts) / len(starts)
    repeated = sum(starts) - RUN_DBT_STARTS * start
    # Measured inside the run alone, so the machine's speed between the stages and the run does not enter it: the
    # time outside the steps plus what the dbt steps took beyond dbt's own clock and their starts.
    in_dbt_step = sum(run["dbt_step_seconds"] - run["dbt_elapsed_seconds"] - RUN_DBT_STARTS * start
                      for run in whole["result"]["runs"] if run.get("dbt_elapsed_seconds") is not None)
    return {"whole_run_seconds": wall, "stage_work_seconds": work, "overhead_seconds": wall - work,
            "overhead_share": (wall - work) / wall, "outside_steps_seconds": outside,
            "outside_steps_share": outside / wall, "repeated_dbt_start_seconds": repeated,
            "overhead_one_dbt_start_seconds": wall - work + repeated,
            "overhead_one_dbt_start_share": (wall - work + repeated) / wall,
            "in_run_seconds": outside + in_dbt_step, "in_run_share": (outside + in_dbt_step) / wall}


def daily_cost(daily: dict, whole: dict) -> dict:
    """One more day as a share of the full build, split at dbt's build (models and tests, by dbt's own clock): the
    rest (the interpreter, definitions, the Dagster runs, the raw steps and checks, starting dbt, scoring every
    account) is paid however little data arrives, so it is the floor no incremental model can lower."""
    cost = {"fraction_of_full_build": daily["wall_seconds"] / whole["wall_seconds"]}
    runs = daily["result"]["runs"]
    elapsed = [run["dbt_elapsed_seconds"] for run in runs if run.get("dbt_elapsed_seconds") is not None]
    # A failed run, or a dbt step that left no clock, would pass its unfinished work off as the floor.
    if not elapsed or not all(run["success"] for run in runs):
        return cost
    outside = daily["wall_seconds"] - sum(elapsed)
    return cost | {"dbt_build_seconds": sum(elapsed), "outside_dbt_seconds": outside,
                   "outside_dbt_share": outside / whole["wall_seconds"]}


def all_ran(report: dict) -> bool:
    """Every measured step that ran exited cleanly (steps skipped after a failure are not counted twice). pandas
    stopped at the memory limit is a finding about pandas (the report says so), not a failed run."""
    pandas = report["comparison"].get("pandas")
    entries = [*report["stages"].values(), report["whole_run"],
               *(report["comparison"].get(k) for k in ("daily_features", "anchor")),
               None if (pandas or {}).get("stopped_at_memory_limit") else pandas,
               *((report["incremental"] or {}).get(k) for k in ("daily", "full_refresh"))]
    return all(entry["exit_code"] == 0 for entry in entries if entry)


def main(args: argparse.Namespace) -> int:
    from orchestration.lib.dbt_project import prepare_manifest

    started = datetime.now()
    load_start = os.getloadavg()
    data_set = SIZES[args.size]
    settings = Settings.from_env()
    cache_root = (args.cache or default_cache_root()).resolve()
    out = (args.out or settings.data_dir / "bench" / "results" / f"{started:%Y%m%d-%H%M%S}-{data_set.name}").resolve()
    cache_root.mkdir(parents=True, exist_ok=True)
    # Next to the cache, so the landing copy can hard-link the cached files.
    work = Path(tempfile.mkdtemp(prefix=f".work-{data_set.name}-", dir=cache_root))
    memory_limit = int(args.memory_limit * report_mod.GIB) if args.memory_limit else physical_memory() * 3 // 4
    runner = Runner(out / "logs", work / "results", memory_limit)
    runner.scratch.mkdir(parents=True)
    say(f"{data_set.name}: {data_set.accounts:,} accounts x {data_set.months} months, seed {args.seed}; results in "
        f"{out}, work folder {work}")
    try:
        prepare_manifest()  # Dagster loads the dbt models from the manifest; not part of any measured stage
        cached = cached_set(data_set, args.seed, cache_root, _generate(runner, data_set, args.seed))
        generate = cached.generate
        if cached.reused:
            generate = generate | {"recorded_at": cached.created_at}
            say(f"generate ... cache {cached.folder} reused: {generate['wall_seconds']:.1f} s when it was made "
                f"({cached.created_at})")
        landing = work / "landing"
        holdback = prepare_landing(cached.landing, landing, work / "held_back")
        stages, comparison = run_stages(runner, work, landing)
        stages = {"generate": report_mod.with_rows(generate), **stages}
        whole, incremental = run_dagster(runner, work, landing, holdback)
        manifest = json.loads((cached.landing / "_manifest.json").read_text())
        data = {"size": data_set.name, "accounts": data_set.accounts, "months": data_set.months, "seed": args.seed,
                "cache": str(cached.folder), "cache_reused": cached.reused, "cache_created_at": cached.created_at,
                "usage_events": manifest["sources"]["usage_events"]["rows"],
                "landing_rows": sum(s["rows"] for s in manifest["sources"].values())}
        report = report_mod.build(data, machine(load_start), started.isoformat(timespec="seconds"),
                                  datetime.now().isoformat(timespec="seconds"), stages, comparison, whole,
                                  orchestration(stages, whole), incremental)
        json_path, md_path = report_mod.write(report, out)
        print(md_path.read_text())
        say(f"report: {md_path} and {json_path}")
        return 0 if all_ran(report) else 1
    finally:
        prepare_manifest(force=True)  # back to the user's profile, so their runs reuse the parse again
        if args.keep_work:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
