"""Run a job in-process against the project's Dagster instance (used by `csops demo` and `csops run`).

The console gets one line per stage (what it did, rows, time) while the run goes on; every event of the run stays in
the Dagster event log (the UI) and is also written to a plain log file whose path the caller prints.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import dagster as dg

from orchestration.definitions import defs
from orchestration.lib.recovery import interruptible_waits, process_tags

PIPELINE_JOB = "csops_pipeline"
# Asset groups -> the stage a person reads them as; groups not listed are their own stage.
STAGES = {"raw": "ingest", "intermediate": "transform", "marts": "transform",
          "seeds": "transform", "default": "transform"}
# Integer metadata summed per stage, with the words it is printed with.
COUNTED = {"new_batches": "new batches", "rows_loaded_this_run": "rows loaded",
           "rows_quarantined_this_run": "rows quarantined"}
EVENT_TYPES = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
               dg.DagsterEventType.STEP_FAILURE}


def run_pipeline(instance: dg.DagsterInstance, log_level: str = "INFO", job_name: str = PIPELINE_JOB,
                 definitions: dg.Definitions | None = None,
                 progress: Callable[[str], None] | None = None,
                 assets: dg.AssetSelection | None = None) -> dg.ExecuteInProcessResult:
    """Run a job's assets and checks; all events are stored in `instance`, the console shows `log_level` and up.
    `definitions`: the code location's, when the caller has loaded them already (loading takes seconds).
    `progress`: called with one line per stage as the stages finish (silence the console with `log_level`).
    `assets`: only the job's assets in this selection (and their checks)."""
    definitions = definitions or defs()
    job = definitions.resolve_job_def(job_name)
    subset = None
    if assets is not None:
        in_job = job.asset_layer.selected_asset_keys
        subset = sorted(assets.resolve(definitions.resolve_asset_graph()) & in_job)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    run_id = str(uuid.uuid4())
    watcher = _Watcher(instance, run_id, _groups(definitions), progress) if progress else None
    if watcher:
        watcher.start()
    try:
        # The run records its process, so the next run can tell a crashed run from a live one (lib/recovery.py).
        with interruptible_waits():
            return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False,
                                          run_id=run_id, tags=process_tags(), asset_selection=subset)
    finally:
        if watcher:
            watcher.finish()


def failed_checks(result: dg.ExecuteInProcessResult, severity: str = "ERROR") -> list[str]:
    """`asset:check` names of the checks (Python and dbt tests) of `severity` (ERROR or WARN) that failed."""
    evaluations = [
        event.event_specific_data for event in result.all_events if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        for evaluation in evaluations
        if not evaluation.passed and evaluation.severity.value == severity
    ]


def check_descriptions(result: dg.ExecuteInProcessResult, check_name: str) -> list[str]:
    """Descriptions of the failed evaluations of the checks named `check_name` (any asset)."""
    return [
        event.event_specific_data.description for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and event.event_specific_data.check_name == check_name
        and not event.event_specific_data.passed and event.event_specific_data.description
    ]


def write_run_log(instance: dg.DagsterInstance, run_id: str, out: TextIO) -> None:
    """Every event of the run, one line each (time, level, step, message), as the UI's log view shows them."""
    for entry in instance.all_logs(run_id):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.timestamp))
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "LOG"
        message = entry.dagster_event.message if entry.dagster_event and entry.dagster_event.message else \
            entry.user_message
        error = getattr(entry.dagster_event.event_specific_data, "error", None) if entry.dagster_event else None
        if error is not None:  # a failed step: the whole error, with its cause, is what the reader came for
            message += "\n" + error.to_string()
        out.write(f"{stamp} {logging.getLevelName(entry.level):>7} {entry.step_key or '-'} {kind}: {message}\n")


def _groups(definitions: dg.Definitions) -> dict[dg.AssetKey, str]:
    graph = definitions.resolve_asset_graph()
    return {key: graph.get(key).group_name or "default" for key in graph.get_all_asset_keys()}


@dataclass
class _Stage:
    name: str
    started: float
    ended: float
    assets: set = field(default_factory=set)
    rows: int = 0
    counts: dict = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    failed_steps: list = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{len(self.assets)} assets"]
        parts += [f"{value:,} {COUNTED[key]}" for key, value in self.counts.items()]
        if self.rows:
            parts.append(f"{self.rows:,} rows")
        checks = self.checks_passed + len(self.checks_failed)
        if checks:
            parts.append(f"{self.checks_passed}/{checks} checks passed")
        for severity in ("ERROR", "WARN"):
            failed = sum(1 for found in self.checks_failed if found == severity)
            if failed:
                parts.append(f"{failed} {'failed' if severity == 'ERROR' else 'warned'}")
        parts += self.notes
        text = f"{self.name}: " + ", ".join(parts) + f" ({self.ended - self.started:.1f} s)"
        if self.failed_steps:
            text += "; FAILED steps: " + ", ".join(self.failed_steps)
        return text


class _Watcher(threading.Thread):
    """Reads the run's events from the instance while it runs and prints a stage when the next one starts."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, groups: dict, progress: Callable[[str], None]):
        super().__init__(daemon=True)
        self.instance, self.run_id, self.groups, self.progress = instance, run_id, groups, progress
        self.cursor: str | None = None
        self.current: _Stage | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self._poll()

    def finish(self) -> None:
        self.done.set()
        self.join()
        self._poll()
        if self.current:
            self.progress(self.current.line())
            self.current = None

    def _poll(self) -> None:
        try:
            connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=EVENT_TYPES)
        except Exception:  # the run may not be stored yet; progress is best effort, the run's own result decides
            return
        self.cursor = connection.cursor
        for record in connection.records:
            self._take(record.event_log_entry)

    def _stage(self, key: dg.AssetKey | None, timestamp: float) -> _Stage:
        group = self.groups.get(key, "default") if key else "default"
        name = STAGES.get(group, group)
        if self.current is None or self.current.name != name:
            # A stage's time runs from the end of the one before (its steps' work happens before their events).
            started = self.current.ended if self.current else timestamp
            if self.current:
                self.progress(self.current.line())
            self.current = _Stage(name, started, timestamp)
        self.current.ended = timestamp
        return self.current

    def _take(self, entry) -> None:
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            stage = self.current or self._stage(None, entry.timestamp)
            stage.failed_steps.append(event.step_key)
            return
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            # A check counts where it ran: the health mart's outcome check runs in the ml step, not in a stage of
            # its own between the ml lines.
            stage = self.current or self._stage(evaluation.asset_key, entry.timestamp)
            stage.ended = entry.timestamp
            if evaluation.passed:
                stage.checks_passed += 1
            else:
                stage.checks_failed.append(evaluation.severity.value)  # the caller lists them by name at the end
            return
        materialization = event.event_specific_data.materialization
        stage = self._stage(materialization.asset_key, entry.timestamp)
        stage.assets.add(materialization.asset_key)
        metadata = {name: value.value for name, value in materialization.metadata.items()}
        if isinstance(metadata.get("dagster/row_count"), int) and materialization.asset_key.path[0] != "raw":
            stage.rows += metadata["dagster/row_count"]
        for name in COUNTED:
            if isinstance(metadata.get(name), int):
                stage.counts[name] = stage.counts.get(name, 0) + metadata[name]
        if isinstance(metadata.get("progress_note"), str):
            stage.notes.append(metadata["progress_note"])
