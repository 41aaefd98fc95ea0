"""The dbt project as Dagster sees it. Its manifest is prepared by `make`/CI/`csops` (`dbt parse`), never at import."""

import importlib.metadata
import shutil
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from csops.settings import DBT_PROJECT_DIR, Settings
from csops.dbt import environment, parse, project_files_newest_mtime

csops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# dagster-dbt gives every dbt step of every run its own folder in target/ (compiled SQL, manifest, run results, the
# step's dbt log: about 20 MB at scale); this many of the newest are kept for debugging, older ones deleted.
RUN_TARGETS_KEPT = 20


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file (or `force`), so definitions can
    load."""
    manifest = csops_dbt_project.manifest_path
    if not force and manifest.exists() and manifest.stat().st_mtime >= project_files_newest_mtime():
        return manifest
    # Parse with the warehouse path and target the runs use: dbt keeps its partial-parse state only while the profile is unchanged,
    # so a parse with another path would make every dbt step of every run re-parse the project (~10 s here).
    parse(environment(Settings.from_env()))
    return manifest


def prune_run_targets(latest: Path, keep: int = RUN_TARGETS_KEPT) -> list[Path]:
    """Delete all but the `keep` newest folders beside `latest` (a dbt step's target folder, named
    `<op>-<run id>-<unique id>` by dagster-dbt) that belong to the same op; `latest` itself always stays. Returns the
    deleted folders. Without this, target/ grows by one folder per run forever."""
    prefix = latest.name.rsplit("-", 2)[0] + "-"
    siblings = []
    for folder in latest.parent.glob(f"{prefix}*"):
        try:
            if folder.is_dir() and folder != latest:
                siblings.append((folder.stat().st_mtime, folder))
        except OSError:  # deleted meanwhile by another run's step
            continue
    deleted = [folder for _, folder in sorted(siblings, reverse=True)[max(keep - 1, 0):]]
    for folder in deleted:
        shutil.rmtree(folder, ignore_errors=True)
    return deleted


class CsopsDbtCliResource(DbtCliResource):
    """`DbtCliResource` without the two start-up costs csops has no use for, 8 s of every run with a dbt step here.

    - Before every dbt step dagster-dbt runs `dbt --version` to tell dbt Core from dbt Fusion. That command also asks
      PyPI for the newest dbt-core and plugin releases (a 1 s timeout each when offline) and imports every adapter:
      5.7 s. For the dbt installed beside this interpreter, its package metadata gives the same answer.
    - It also opens a dbt adapter in the Dagster process (2-3.5 s), used only to fetch row counts and column
      metadata after each model (`.fetch_row_counts()`, `.fetch_column_metadata()`), which csops does not ask for.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            # x.y.z only, as dagster-dbt reads it from `dbt --version`
            return version.parse(version.parse(importlib.metadata.version("dbt-core")).base_version)
        return DbtCliResource._cli_version.func(self)

    def _initialize_dbt_core_adapter(self, args):
        return None
