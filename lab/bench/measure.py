"""Run one command as a child process and measure it: wall time, CPU time and peak memory of its process tree.

CPU time and `ru_maxrss` come from `os.wait4`, which covers the child and every descendant it waited for (dbt,
DuckDB threads included). `ru_maxrss` is the largest single process (KiB on Linux), so a thread samples /proc as well
and records the largest sum over the live tree: a Dagster process and its dbt subprocess hold memory at the same time.
The same thread stops the tree when that sum passes a limit, so one stage cannot exhaust a shared machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.2
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    name: str
    wall_seconds: float
    user_seconds: float
    system_seconds: float
    peak_rss_bytes: int  # largest single process of the tree (ru_maxrss)
    peak_tree_rss_bytes: int  # largest sum over the live tree, sampled every SAMPLE_SECONDS; 0 without /proc
    exit_code: int
    log: str
    result: dict = field(default_factory=dict)  # what the child wrote to its result file (work_seconds, rows, ...)
    memory_limit_bytes: int | None = None
    stopped_at_memory_limit: bool = False

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds

    @property
    def peak_memory_bytes(self) -> int:
        return max(self.peak_rss_bytes, self.peak_tree_rss_bytes)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def as_dict(self) -> dict:
        return asdict(self) | {"cpu_seconds": self.cpu_seconds, "peak_memory_bytes": self.peak_memory_bytes}


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                # The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children, tree = _children_by_parent(), [root]
    for pid in tree:
        tree.extend(children.get(pid, []))
    return tree


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            pass
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, limit: int | None):
        super().__init__(daemon=True)
        self.pid, self.limit, self.peak, self.over_limit, self.done = pid, limit, 0, False, threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        while not self.done.wait(SAMPLE_SECONDS):
            tree = process_tree(self.pid)
            self.peak = max(self.peak, rss_bytes(tree))
            if self.limit and self.peak > self.limit:
                self.over_limit = True
                for pid in reversed(tree):  # descendants first, so none is re-parented and missed
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return


def run_measured(name: str, argv: list[str], env: dict[str, str], log_path: Path, result_path: Path,
                 cwd: Path | None = None, memory_limit: int | None = None) -> Measurement:
    """Run `argv`, output to `log_path`; the child may write a JSON object to `result_path` (kept in `.result`).
    When the tree's resident memory passes `memory_limit` bytes, the tree is killed and the measurement says so."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    with log_path.open("w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        sampler = _TreeSampler(process.pid, memory_limit)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, so Popen must not wait again
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    return Measurement(name=name, wall_seconds=wall, user_seconds=usage.ru_utime, system_seconds=usage.ru_stime,
                       peak_rss_bytes=usage.ru_maxrss * 1024, peak_tree_rss_bytes=sampler.peak,
                       exit_code=process.returncode, log=str(log_path), result=result,
                       memory_limit_bytes=memory_limit, stopped_at_memory_limit=sampler.over_limit)


def log_tail(measurement: Measurement, lines: int = 15) -> str:
    try:
        return "\n".join(Path(measurement.log).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
