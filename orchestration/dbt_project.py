"""The dbt project as Dagster sees it. Its manifest is prepared by `make`/CI/`csops` (`dbt parse`), never at import."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from csops.settings import DBT_PROJECT_DIR, Settings

csops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    # Prefer the dbt installed beside this interpreter (the project venv), so PATH need not be set.
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _project_files_newest_mtime() -> float:
    build_output = {csops_dbt_project.project_dir / "target", csops_dbt_project.project_dir / "logs"}
    return max(
        path.stat().st_mtime
        for path in DBT_PROJECT_DIR.rglob("*")
        if path.is_file() and not any(parent in build_output for parent in path.parents)
    )


def prepare_manifest() -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file, so definitions can load."""
    manifest = csops_dbt_project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _project_files_newest_mtime():
        return manifest
    # Parse with the warehouse path and target the runs use: dbt keeps its partial-parse state only while the profile is unchanged,
    # so a parse with another path would make every dbt step of every run re-parse the project (~10 s here).
    settings = Settings.from_env()
    env = {**os.environ, **settings.environment(), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    subprocess.run([dbt_executable(), "parse", "--quiet", "--target", settings.dbt_target], cwd=DBT_PROJECT_DIR,
                   env=env, check=True)
    return manifest
