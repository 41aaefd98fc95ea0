"""Crash recovery for runs launched by `csops run` / `csops demo` in the project's Dagster instance.

A run records its process (pid and start time) in its tags, and its dbt child's once dbt starts. Before a new run
launches, `launch_guard` takes an exclusive lock (released by the OS however the holder dies, `kill -9` included):
- held by another live process: a run is going on; say which and refuse, rather than wait on the pool;
- acquired: every STARTED/STARTING run whose process is gone crashed (`kill -9`, OOM, closed terminal). It is marked
  failed, the concurrency pool slots it claimed are freed (or every later run waits for them forever), and the dbt
  it started, still writing to the warehouse without supervision, is stopped. The caller is told what was cleaned.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil

from csops.errors import UserError

PID_TAG, STARTED_TAG = "csops/pid", "csops/pid_started"
DBT_PID_TAG, DBT_STARTED_TAG = "csops/dbt_pid", "csops/dbt_pid_started"
LOCK_FILE = "csops-run.lock"
ACTIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
LAUNCHER_TAG = ".dagster/grpc_info"  # set by Dagster's run launchers (dagster._core.storage.tags.GRPC_INFO_TAG)


class RunInProgress(UserError):
    """Another run of this project is alive."""


@dataclass
class Cleanup:
    runs_failed: list[str] = field(default_factory=list)
    slots_freed: list[str] = field(default_factory=list)  # run ids whose pool claims were freed
    dbt_stopped: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"run {run_id} had crashed (its process is gone): marked failed" for run_id in self.runs_failed]
        lines += [f"freed the pool slots run {run_id} still held" for run_id in self.slots_freed]
        lines += [f"stopped dbt (pid {pid}) left running by a crashed run" for pid in self.dbt_stopped]
        return lines


def process_tags(pid: int | None = None, pid_tag: str = PID_TAG, started_tag: str = STARTED_TAG) -> dict[str, str]:
    """Tags naming a process by pid and start time (a pid alone may be reused by another process); none for a process
    that has already exited."""
    try:
        process = psutil.Process(pid)
        return {pid_tag: str(process.pid), started_tag: repr(process.create_time())}
    except psutil.NoSuchProcess:
        return {}


def _process(tags: dict[str, str], pid_tag: str = PID_TAG, started_tag: str = STARTED_TAG) -> psutil.Process | None:
    """The live process the tags name, or None when it is gone (or its pid now belongs to another process)."""
    try:
        process = psutil.Process(int(tags[pid_tag]))
        same = repr(process.create_time()) == tags.get(started_tag)
        return process if same and process.status() != psutil.STATUS_ZOMBIE else None
    except (KeyError, ValueError, psutil.Error):
        return None


def _describe(run: dg.DagsterRun) -> str:
    pid = run.tags.get(PID_TAG)
    return f"run {run.run_id} (job {run.job_name}{f', pid {pid}' if pid else ''})"


def _running(run: dg.DagsterRun) -> str:
    return (f"{_describe(run)} is running; wait for it to finish, or stop it (Ctrl-C in its terminal, or "
            f"`kill {run.tags[PID_TAG]}`), then run again.")


def _stop(process: psutil.Process) -> None:
    for member in [*process.children(recursive=True), process]:
        try:
            member.kill()
        except psutil.Error:
            pass
    psutil.wait_procs([process], timeout=10)


def _orphaned_dbt(warehouse: Path) -> list[psutil.Process]:
    """dbt processes on this warehouse whose parent is gone (re-parented to init or a subreaper)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "ppid"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if "dbt" not in cmdline or process.pid == os.getpid():
                continue
            if process.environ().get("CSOPS_DUCKDB_PATH") != str(warehouse):
                continue
            parent = process.parent()
            if parent is None or parent.pid == 1 or "csops" not in " ".join(parent.cmdline() + [parent.name()]):
                found.append(process)
        except psutil.Error:
            continue
    return found


def clean_crashed_runs(instance: dg.DagsterInstance, warehouse: Path) -> Cleanup:
    """Fail the active runs whose process is gone, free pool claims of runs not alive, stop orphaned dbt. Raises
    RunInProgress when an active run's process is alive (or unknown: launched outside csops, from the UI say)."""
    cleanup = Cleanup()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE)):
        # Launched by a run launcher (the UI's): its liveness is Dagster's to judge. Without that tag and without
        # ours it ran in the process of an earlier csops, which the lock we hold says is gone.
        if PID_TAG not in run.tags and LAUNCHER_TAG in run.tags:
            raise RunInProgress(f"{_describe(run)} was started outside `csops run` (from the Dagster UI?) and is "
                                f"{run.status.value}; let it finish, or terminate it in the UI (`csops ui`), then "
                                "run again.")
        if PID_TAG in run.tags and _process(run.tags):
            raise RunInProgress(_running(run))
        dbt = _process(run.tags, DBT_PID_TAG, DBT_STARTED_TAG)
        if dbt:
            _stop(dbt)
            cleanup.dbt_stopped.append(dbt.pid)
        instance.report_run_failed(run, message="csops: the process running this run is gone (killed, out of "
                                                "memory or its terminal closed); marked failed before the next run")
        cleanup.runs_failed.append(run.run_id)
    storage = instance.event_log_storage
    holders = set(storage.get_concurrency_run_ids())
    for key in storage.get_concurrency_keys():
        holders |= {slot.run_id for slot in storage.get_concurrency_info(key).claimed_slots if slot.run_id}
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in ACTIVE:
            storage.free_concurrency_slots_for_run(run_id)
            cleanup.slots_freed.append(run_id)
    for process in _orphaned_dbt(warehouse):
        _stop(process)
        cleanup.dbt_stopped.append(process.pid)
    return cleanup


def _live_run_message(instance: dg.DagsterInstance, holder: str) -> str:
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE)):
        if _process(run.tags):
            return _running(run)
    return f"another csops run (pid {holder or 'unknown'}) is starting; wait for it, then run again."


@contextmanager
def launch_guard(instance: dg.DagsterInstance, warehouse: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Hold the project's run lock for the body (one run at a time), cleaning up after crashed runs first. Raises
    RunInProgress at once when another run is alive. On exit, a run of this process left active (an interrupt
    between steps) is marked failed and its slots freed."""
    lock_path = Path(instance.root_directory) / LOCK_FILE
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise RunInProgress(_live_run_message(instance, lock.read().strip())) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        for line in clean_crashed_runs(instance, warehouse).lines():
            say(f"cleaned up: {line}")
        try:
            yield
        finally:
            mine = process_tags()
            for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE, tags=mine)):
                instance.report_run_failed(run, message="csops: interrupted")
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


@contextmanager
def interruptible_waits(poll_seconds: float = 0.5) -> Iterator[None]:
    """Make Ctrl-C stop a run that waits (for a pool slot, between steps) as it stops one in a step.

    Dagster defers SIGINT during a run and raises it only inside steps; its in-process executor's wait loop never
    looks, so a waiting run ignored Ctrl-C. A deferred interrupt still pending after one poll is raised in the main
    thread as KeyboardInterrupt."""
    from dagster._utils.interrupts import check_captured_interrupt

    main = threading.main_thread().ident
    done = threading.Event()

    def watch() -> None:
        pending_since = None
        while not done.wait(poll_seconds):
            if not check_captured_interrupt():
                pending_since = None
            elif pending_since is None:
                pending_since = time.monotonic()
            elif time.monotonic() - pending_since >= poll_seconds:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(main), ctypes.py_object(KeyboardInterrupt))
                return

    watcher = threading.Thread(target=watch, name="csops-interrupts", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()

