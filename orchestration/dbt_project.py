"""The dbt project as Dagster sees it. Its manifest is prepared by `make`/CI/`csops` (`dbt parse`), never at import."""

import subprocess
from collections.abc import Mapping
from pathlib import Path

from dagster_dbt import DbtProject

from csops.settings import DBT_PROJECT_DIR, Settings
from ml.dbt_runner import dbt_executable

csops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _project_files_newest_mtime() -> float:
    build_output = {csops_dbt_project.project_dir / "target", csops_dbt_project.project_dir / "logs"}
    return max(
        path.stat().st_mtime
        for path in DBT_PROJECT_DIR.rglob("*")
        if path.is_file() and not any(parent in build_output for parent in path.parents)
    )


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file (or `force`), so definitions can
    load."""
    manifest = csops_dbt_project.manifest_path
    if not force and manifest.exists() and manifest.stat().st_mtime >= _project_files_newest_mtime():
        return manifest
    # Parse with the warehouse path and target the runs use: dbt keeps its partial-parse state only while the profile is unchanged,
    # so a parse with another path would make every dbt step of every run re-parse the project (~10 s here).
    parse_project(Settings.from_env().subprocess_environment())
    return manifest


def parse_project(env: Mapping[str, str]) -> None:
    """`dbt parse` for the profile (warehouse path, target) that `env` selects; runs with the same `env` reuse it."""
    subprocess.run([dbt_executable(), "parse", "--quiet", "--target", env.get("CSOPS_DBT_TARGET", "duckdb")],
                   cwd=DBT_PROJECT_DIR, env=dict(env), check=True)
