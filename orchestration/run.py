"""Run a job in-process against the project's Dagster instance (used by `csops demo` and `csops run`)."""

import dagster as dg

from orchestration.definitions import defs
from orchestration.lib.recovery import interruptible_waits, process_tags

PIPELINE_JOB = "csops_pipeline"


def run_pipeline(instance: dg.DagsterInstance, log_level: str = "INFO", job_name: str = PIPELINE_JOB,
                 definitions: dg.Definitions | None = None) -> dg.ExecuteInProcessResult:
    """Run a job's assets and checks; all events are stored in `instance`, the console shows `log_level` and up.
    `definitions`: the code location's, when the caller has loaded them already (loading takes seconds)."""
    job = (definitions or defs()).resolve_job_def(job_name)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    # The run records its process, so the next run can tell a crashed run from a live one (lib/recovery.py).
    with interruptible_waits():
        return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False,
                                      tags=process_tags())


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
