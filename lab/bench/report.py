"""The run's report: targets judged from the measured figures, one JSON file and one Markdown file."""

from __future__ import annotations

import json
from pathlib import Path

GIB = 1024**3
MIB = 1024**2
# Targets of the issue "Performance: a benchmark harness".
ABSOLUTE_TARGETS_SIZE = "large"
WHOLE_RUN_MAX_SECONDS = 300.0
WHOLE_RUN_MAX_MEMORY = 4 * GIB
FEATURES_MAX_TIMES_ANCHOR = 1.5
PANDAS_MIN_TIMES_CSOPS = 2.0  # "pandas far behind": at least this many times the csops daily-feature stage
ONE_DAY_MAX_SHARE = 0.10
OVERHEAD_MAX_SHARE = 0.15
PIPELINE_STAGES = ["generate", "ingest", "staging", "voice", "intermediate", "marts", "features", "training", "scoring",
                   "checks"]


def with_rows(entry: dict) -> dict:
    """A measurement (as a dict) plus rows in/out from its stage result and throughput: rows in (rows out when
    nothing is read, as for generate) per wall second."""
    result = entry.get("result") or {}
    rows_in, rows_out = result.get("rows_in"), result.get("rows_out")
    rows = rows_in or rows_out
    rate = rows / entry["wall_seconds"] if rows and entry.get("wall_seconds") else None
    return entry | {"rows_in": rows_in, "rows_out": rows_out, "rows_per_second": rate}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def _wall(entry: dict | None) -> float | None:
    return entry["wall_seconds"] if entry and entry.get("exit_code") == 0 else None


def build(data_set: dict, machine: dict, started_at: str, finished_at: str, stages: dict,
          comparison: dict | None = None, whole_run: dict | None = None, orchestration: dict | None = None,
          incremental: dict | None = None) -> dict:
    """The report: what was measured (measurement dicts, see measure.Measurement.as_dict) and the targets judged."""
    report = {"started_at": started_at, "finished_at": finished_at, "data_set": data_set, "machine": machine,
              "stages": stages, "comparison": comparison or {}, "whole_run": whole_run,
              "orchestration": orchestration or {}, "incremental": incremental}
    return report | {"targets": targets(report)}


def targets(report: dict) -> list[dict]:
    size_applies = report["data_set"]["size"] == ABSOLUTE_TARGETS_SIZE
    whole = report.get("whole_run")
    comparison = report.get("comparison") or {}
    features, anchor, pandas = (comparison.get(k) for k in ("daily_features", "anchor", "pandas"))
    incremental = report.get("incremental") or {}
    overhead = report.get("orchestration") or {}

    whole_seconds = _wall(whole)
    whole_memory = whole["peak_memory_bytes"] if whole_seconds is not None else None
    times_anchor = _ratio(_wall(features), _wall(anchor))
    # dbt's start (interpreter, imports, the saved parse) is fixed: on small sets it is much of the stage.
    models_times_anchor = _ratio(features["result"]["model_seconds"], _wall(anchor)) if times_anchor else None
    pandas_times = _ratio(_wall(pandas), _wall(features))
    one_day, floor = incremental.get("fraction_of_full_build"), incremental.get("outside_dbt_share")
    share = overhead.get("overhead_one_dbt_start_share")
    equal = incremental.get("equal")
    absolute_note = "" if size_applies else f"applies to the {ABSOLUTE_TARGETS_SIZE} set"
    overhead_notes = [absolute_note] if absolute_note else []
    if share is not None and share < 0:
        overhead_notes.append("below zero: the stages took longer than the whole run")
    if "in_run_share" in overhead:
        overhead_notes.append(f"{overhead['in_run_share']:.1%} measured inside the run alone")

    def target(name: str, threshold: str, measured, unit: str, ok, applies: bool = True, note: str = "") -> dict:
        passed = None if measured is None or not applies else bool(ok(measured))
        return {"name": name, "threshold": threshold, "measured": measured, "unit": unit, "passed": passed,
                "note": note}

    return [
        target("landing -> scores, training included (whole Dagster run)", f"<= {WHOLE_RUN_MAX_SECONDS:.0f} s",
               whole_seconds, "s", lambda v: v <= WHOLE_RUN_MAX_SECONDS, size_applies, absolute_note),
        target("peak memory of the whole run (process tree)", f"<= {WHOLE_RUN_MAX_MEMORY / GIB:.0f} GiB",
               whole_memory / GIB if whole_memory is not None else None, "GiB",
               lambda v: v <= WHOLE_RUN_MAX_MEMORY / GIB, size_applies, absolute_note),
        target("csops daily-feature stage vs the DuckDB anchor (wall)", f"<= {FEATURES_MAX_TIMES_ANCHOR}x",
               times_anchor, "x", lambda v: v <= FEATURES_MAX_TIMES_ANCHOR,
               note=f"its models {models_times_anchor:.2f}x by dbt's clock" if models_times_anchor else ""),
        target("pandas far behind: pandas vs the csops daily-feature stage (wall)", f">= {PANDAS_MIN_TIMES_CSOPS}x",
               pandas_times, "x", lambda v: v >= PANDAS_MIN_TIMES_CSOPS,
               note="pandas stopped at the memory limit" if (pandas or {}).get("stopped_at_memory_limit") else ""),
        target("one more day (daily pipeline) vs the full build (wall)", f"<= {ONE_DAY_MAX_SHARE:.0%}", one_day, "%",
               lambda v: v <= ONE_DAY_MAX_SHARE,
               note=f"{floor:.1%} outside dbt's build alone" if floor is not None else ""),
        target("one more day: incremental marts equal a full refresh", "equal", equal, "yes/no", bool),
        # Stated for the large set: on smaller ones the fixed cost of starting processes and loading definitions is
        # most of the run. Below zero the stages took longer than the run that contains their work: load or noise.
        target("orchestration overhead (whole run minus stage work, the run's dbt starts)",
               f"<= {OVERHEAD_MAX_SHARE:.0%} of the whole run",
               share, "%", lambda v: v <= OVERHEAD_MAX_SHARE, size_applies and (share is None or share >= 0),
               "; ".join(overhead_notes)),
    ]


# ---------------------------------------------------------------------------------------------------------------------
# Markdown


def _num(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _int(value) -> str:
    return "-" if value is None else f"{value:,}"


def _mib(value) -> str:
    return "-" if not value else f"{value / MIB:,.0f}"


def _rate(value) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k" if value >= 1e3 else f"{value:.0f}"


def _measured(target: dict) -> str:
    value, unit = target["measured"], target["unit"]
    if value is None:
        return "not measured"
    if unit == "yes/no":
        return "yes" if value else "no"
    if unit == "%":
        return f"{value:.1%}"
    return f"{value:.2f}{unit}" if unit == "x" else f"{value:,.1f} {unit}"


def _verdict(target: dict) -> str:
    verdict = "n/a" if target["passed"] is None else "PASS" if target["passed"] else "FAIL"
    return verdict + (f" ({target['note']})" if target["note"] else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _slowest(times: dict, count: int = 3) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in list(times.items())[:count])


def _test_roc_auc(by_model: dict) -> str:
    """" (test ROC-AUC 0.930; health score 0.747, logistic regression 0.886)": the model next to its baselines."""
    shown = {name.replace("_", " "): value for name, value in by_model.items() if value is not None}
    if "model" not in shown:
        return ""
    baselines = ", ".join(f"{name} {value:.3f}" for name, value in shown.items() if name != "model")
    return f" (test ROC-AUC {shown['model']:.3f}" + (f"; {baselines})" if baselines else ")")


def _stage_note(name: str, entry: dict) -> str:
    if entry.get("stopped_at_memory_limit"):
        return (f"STOPPED: its processes held more than the memory limit "
                f"({entry['memory_limit_bytes'] / GIB:.1f} GiB, `--memory-limit`)")
    if entry.get("exit_code") != 0:
        return f"FAILED (exit {entry.get('exit_code')}): see {entry.get('log')}"
    result = entry.get("result") or {}
    if entry.get("recorded_at"):
        return f"cache reused: figures recorded when it was made ({entry['recorded_at']})"
    if "models" in result:
        warned = f"; {len(result['warned'])} tests warned" if result.get("warned") else ""
        parse = "" if result.get("started_from_saved_parse") else "; dbt parsed the project (no saved parse fitted)"
        return (f"{result['models']} models {result['model_seconds']:.1f} s, {result['tests']} tests "
                f"{result['test_seconds']:.1f} s in dbt{warned}; slowest: {_slowest(result['model_times'])}{parse}")
    if name == "ingest":
        return f"{_int(result.get('quarantined'))} quarantined, {_int(result.get('deduplicated'))} duplicates dropped"
    if name == "training":
        return "; ".join(f"{task}: {t['status']}" + (f" ({'; '.join(t['reasons'])})" if t.get("reasons") else "")
                         + _test_roc_auc(t.get("test_roc_auc") or {})
                         + f", {'promoted' if t['promoted'] else 'not promoted'}"
                         for task, t in result.get("tasks", {}).items())
    if name == "checks":
        failed = result.get("failed") or []
        return f"{result.get('checks')} checks, failed: {', '.join(failed) if failed else 'none'}"
    return ""


def _stage_row(label: str, entry: dict, note: str) -> list[str]:
    cpu_share = entry["cpu_seconds"] / entry["wall_seconds"] if entry.get("wall_seconds") else None
    work = (entry.get("result") or {}).get("work_seconds")
    return [label, _num(entry["wall_seconds"]), _num(work), _num(entry["cpu_seconds"]), _num(cpu_share, 2),
            _mib(entry["peak_rss_bytes"]), _mib(entry["peak_tree_rss_bytes"]), _int(entry.get("rows_in")),
            _int(entry.get("rows_out")), _rate(entry.get("rows_per_second")), note]


STAGE_HEADER = ["stage", "wall s", "work s", "CPU s", "CPU/wall", "peak RSS MiB", "tree peak MiB", "rows in",
                "rows out", "rows/s", "notes"]


def _runs_lines(entry: dict) -> list[str]:
    phases = (entry.get("result") or {}).get("phases") or {}
    lines = ["- in the process: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())] \
        if phases else []
    if entry.get("dbt_reparses"):
        lines.append(f"- dbt parsed the whole project again in {entry['dbt_reparses']} invocation(s): the project's "
                     "partial-parse state (`dbt_project/target`) was made for another profile (warehouse path)")
    for run in (entry.get("result") or {}).get("runs", []):
        lines.append(f"- `{run['job']}` {'succeeded' if run['success'] else 'FAILED'}: {run['seconds']:.1f} s in the "
                     f"run, {run['steps_seconds']:.1f} s in its steps; slowest steps: {_slowest(run['steps'])}; "
                     f"{run['checks']} checks, failed: {', '.join(run['failed_checks']) or 'none'}; "
                     f"warnings: {', '.join(run['warned_checks']) or 'none'}")
    return lines


def markdown(report: dict) -> str:
    data, machine = report["data_set"], report["machine"]
    lines = [
        f"# csops benchmark: {data['size']} ({data['accounts']:,} accounts x {data['months']} months, seed "
        f"{data['seed']})", "",
        f"Run {report['started_at']} .. {report['finished_at']} on {machine['cpus']} cores, "
        f"{machine['memory_bytes'] / GIB:.0f} GiB RAM (load average {machine['load_average_start']} at the start, "
        f"{machine['load_average_end']} at the end); " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + ".",
        f"Data: {_int(data['usage_events'])} usage events, {_int(data['landing_rows'])} landing rows in all; cache "
        f"`{data['cache']}` ("
        + (f"reused, made {data['cache_created_at']}" if data["cache_reused"] else "made by this run") + ").",
        "",
        "## Stages", "",
        "Each stage runs alone in its own process, one after the other, on a fresh warehouse. wall = process wall "
        "time, work = time inside the stage function (no interpreter start or imports), CPU = user + system of the "
        "process and its children (dbt), peak RSS = largest single process, tree peak = largest sampled sum over "
        "the process tree.", "",
    ]
    stages = report["stages"]
    lines += _table(STAGE_HEADER, [_stage_row(n, stages[n], _stage_note(n, stages[n]))
                                   for n in PIPELINE_STAGES if n in stages])

    whole, orchestration = report.get("whole_run"), report.get("orchestration") or {}
    lines += ["", "## Whole Dagster run (landing -> scores)", ""]
    if whole:
        lines += _table(STAGE_HEADER[:7] + ["notes"], [_stage_row("Dagster: csops_data_refresh", whole,
                                                            _stage_note("whole_run", whole))[:7] + [""]])
        lines += [""] + _runs_lines(whole)
        lines += [""]
        if orchestration:
            lines.append(f"Orchestration overhead = whole run {_num(orchestration['whole_run_seconds'])} s - stage "
                         f"work {_num(orchestration['stage_work_seconds'])} s (ingest .. checks) = "
                         f"{_num(orchestration['overhead_seconds'])} s "
                         f"({orchestration['overhead_share']:.1%} of the whole run). The three dbt stages started "
                         f"dbt three times where the run starts it twice: counting two starts "
                         f"({_num(orchestration['repeated_dbt_start_seconds'])} s less stage work), the overhead is "
                         f"{_num(orchestration['overhead_one_dbt_start_seconds'])} s "
                         f"({orchestration['overhead_one_dbt_start_share']:.1%}), the figure the target uses. "
                         "Of the whole run, "
                         f"{_num(orchestration['outside_steps_seconds'])} s "
                         f"({orchestration['outside_steps_share']:.1%}) passed outside every step (process start, "
                         "loading definitions, starting and ending runs); the rest of the overhead is steps taking "
                         "longer in the run than their work as stages (Dagster's events, dagster-dbt reading dbt's "
                         "log on the same cores, and the machine's speed at the time). Measured inside the run "
                         "alone, which the machine's speed between the stages and the run cannot move: that time "
                         "outside the steps plus the dbt steps' time beyond dbt's own clock and their two starts, "
                         f"{_num(orchestration['in_run_seconds'])} s ({orchestration['in_run_share']:.1%}).")
        else:
            lines.append("Orchestration overhead: not measured (a stage or the whole run failed).")

    comparison = report.get("comparison")
    if comparison:
        lines += ["", "## Daily usage features: csops vs baselines (same landing data)", ""]
        anchor_wall = _wall(comparison.get("anchor"))
        rows = []
        for key, label in (("daily_features", "csops daily-feature stage (dbt +fct_account_daily, full refresh)"),
                           ("anchor", "DuckDB anchor (one SQL query over landing Parquet)"),
                           ("pandas", "pandas (notebook style)")):
            entry = comparison.get(key)
            if not entry:
                continue
            agreement = (comparison.get("agreement") or {}).get(key)
            agrees = (f"{agreement['rows_equal']:,} of {agreement['rows_compared']:,} account-days"
                      if agreement else "(is fct_account_daily)" if key == "daily_features" else "-")
            ratio = _ratio(_wall(entry), anchor_wall)
            rows.append([label, _num(entry["wall_seconds"]), _num(entry["cpu_seconds"]),
                         _mib(entry["peak_memory_bytes"]), _int(entry.get("rows_in")), _int(entry.get("rows_out")),
                         "-" if ratio is None else f"{ratio:.2f}x", agrees,
                         _stage_note(key, entry) if entry.get("exit_code") != 0 or key == "daily_features" else ""])
        lines += _table(["implementation", "wall s", "CPU s", "peak MiB", "rows in", "rows out", "wall vs anchor",
                         "equal to fct_account_daily", "notes"], rows)
        differences = comparison.get("anchor_vs_pandas")
        lines += ["", f"Columns: {', '.join(comparison['usage_columns'])}."]
        features = comparison.get("daily_features")
        if _wall(features) is not None and anchor_wall:
            in_dbt = features["result"]["model_seconds"]
            lines.append(f"Of the csops daily-feature stage's {features['wall_seconds']:.1f} s, its models ran "
                         f"{in_dbt:.1f} s by dbt's own timing ({in_dbt / anchor_wall:.2f}x the anchor); the rest is "
                         "the interpreter, dbt's start and compile, and its connections.")
        if differences:
            same = differences["only_left"] == 0 and differences["only_right"] == 0
            lines.append(f"Anchor vs pandas: {'identical' if same else 'DIFFERENT'} ({differences['rows_left']:,} vs "
                         f"{differences['rows_right']:,} rows; {differences['only_left']:,} only in the anchor, "
                         f"{differences['only_right']:,} only in pandas).")
        for key, agreement in (comparison.get("agreement") or {}).items():
            if agreement["mismatches_by_column"]:
                lines.append(f"{key} vs fct_account_daily, differing values by column: " + ", ".join(
                    f"{c} {n:,}" for c, n in agreement["mismatches_by_column"].items()))

    incremental = report.get("incremental")
    if incremental:
        daily, refresh = incremental.get("daily"), incremental.get("full_refresh")
        lines += ["", "## One more day (incremental)", "",
                  f"Facts dated {incremental['held_back_day']} or later were held back from the last batch "
                  f"({', '.join(f'{s} {n:,}' for s, n in incremental['held_back_rows'].items())} rows) and landed "
                  "after the whole run; then the daily run ran on the same warehouse: `csops_daily`'s spine assets "
                  "(ingest of the new batches, dbt incrementally, the voice step, scores with the champions; the "
                  "training chain is the weekly job's).", ""]
        rows = [_stage_row(label, entry, _stage_note(key, entry))[:7] + [""]
                for key, label, entry in (("daily", "daily pipeline (one more day)", daily),
                                          ("full_refresh", "dbt run --full-refresh (for the comparison)", refresh))
                if entry]
        lines += _table(STAGE_HEADER[:7] + ["notes"], rows)
        if daily:
            lines += [""] + _runs_lines(daily)
        fraction = incremental.get("fraction_of_full_build")
        lines += ["", f"One more day costs {_measured({'measured': fraction, 'unit': '%'})} of the whole run's wall "
                  "time."]
        if incremental.get("outside_dbt_share") is not None:
            lines.append(f"Of its {daily['wall_seconds']:.1f} s, dbt built the models and ran the tests in "
                         f"{incremental['dbt_build_seconds']:.1f} s by its own clock. The other "
                         f"{incremental['outside_dbt_seconds']:.1f} s ({incremental['outside_dbt_share']:.1%} of the "
                         "whole run) are paid however little data arrives: the interpreter, loading definitions, the "
                         "Dagster runs, the raw steps and their checks, starting dbt, and scoring every account. A "
                         "dbt build taking no time at all would still leave one more day at that share.")
        lines.append("")
        lines += _table(["mart", "rows (incremental)", "rows (full refresh)", "only incremental", "only full refresh",
                         "equal"],
                        [[t["table"], _int(t["rows_incremental"]), _int(t["rows_full_refresh"]),
                          _int(t["only_incremental"]), _int(t["only_full_refresh"]), "yes" if t["equal"] else "NO"]
                         for t in incremental.get("tables", [])])

    lines += ["", "## Targets", ""]
    lines += _table(["target", "threshold", "measured", "result"],
                    [[t["name"], t["threshold"], _measured(t), _verdict(t)] for t in report["targets"]])
    return "\n".join(lines) + "\n"


def write(report: dict, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "report.json", folder / "report.md"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    md_path.write_text(markdown(report))
    return json_path, md_path
