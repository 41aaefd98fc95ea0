"""Run dbt as a subprocess on a given DuckDB file, with target and log folders of our own (never the repo's)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from csops.settings import DBT_PROJECT_DIR


class DbtError(RuntimeError):
    pass


def dbt_executable() -> str:
    # Prefer the dbt installed beside this interpreter (the project venv), so PATH need not be set.
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(args: list[str], db_path: str | Path, work_dir: str | Path, dbt_vars: dict | None = None,
            timeout: int = 1800) -> subprocess.CompletedProcess:
    """`dbt <args>` in the project against `db_path` (DuckDB target), outputs under `work_dir`; raises DbtError."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_") and k != "CSOPS_DBT_TARGET"}
    env |= {"DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), "CSOPS_DUCKDB_PATH": str(Path(db_path).resolve()),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [dbt_executable(), *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars, default=str)]
    process = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    if process.returncode != 0:
        raise DbtError(f"dbt {' '.join(args)} failed (exit {process.returncode}):\n{process.stdout[-4000:]}"
                       f"{process.stderr[-2000:]}")
    return process
