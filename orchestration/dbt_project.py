"""The dbt project as Dagster sees it. Its manifest is prepared by `make`/CI/`csops` (`dbt parse`), never at import."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from csops.settings import DBT_PROJECT_DIR

csops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    # Prefer the dbt installed beside this interpreter (the project venv), so PATH need not be set.
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def prepare_manifest() -> Path:
    """Run `dbt parse` so definitions can load; cheap enough (~5 s) to run before every demo."""
    env = {**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    subprocess.run([dbt_executable(), "parse", "--quiet"], cwd=DBT_PROJECT_DIR, env=env, check=True)
    return csops_dbt_project.manifest_path
