"""Run dbt as a subprocess on a given DuckDB file, with target and log folders of our own (never the repo's).

A run can start from the project's own parse (`reusable_parse`) instead of parsing again: dbt re-parses the whole
project whenever its vars or warehouse path differ from the last parse, which made each point-in-time rebuild mostly
parsing (11 of 17 s at scale). `python -m csops.dbt <partial_parse.msgpack> <dbt args>` loads that parse and hands
it to dbt's documented programmatic runner (`dbtRunner(manifest=...)`); dbt still renders every node's SQL with the
vars of this run when it executes it. Configs keep what the parse rendered, which is why no model config reads a var
(`tests/test_dbt_runner.py`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from csops.settings import DBT_PROJECT_DIR, Settings


# folders dbt writes inside the project
DBT_BUILD_OUTPUT = ("target", "logs")


class DbtError(RuntimeError):
    pass


def dbt_executable() -> str:
    # Prefer the dbt installed beside this interpreter (the project venv), so PATH need not be set.
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


@functools.cache
def _declared_vars() -> dict:
    with open(DBT_PROJECT_DIR / "dbt_project.yml") as handle:
        return yaml.safe_load(handle)["vars"]


def project_var(name: str):
    """A var's value as `dbt_project.yml` declares it: policy both dbt and Python read (e.g. the churn grace days)
    has its one home there."""
    declared = _declared_vars()
    if name not in declared:
        raise KeyError(f"dbt_project.yml declares no var {name!r}")
    return declared[name]


def environment(settings: Settings, db_path: str | Path | None = None) -> dict[str, str]:
    """The environment of a dbt subprocess: this process's, with the settings' paths and target on top (what
    `dbt parse` and the Dagster dbt steps run with). With `db_path`: a run on that DuckDB file under the `duckdb`
    target whatever the settings say, with no Snowflake credentials in reach (evaluation, point-in-time rebuilds, the
    benchmark's stages, tests)."""
    env = settings.subprocess_environment() | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if db_path is not None:
        env = {k: v for k, v in env.items() if not k.startswith("SNOWFLAKE_")}
        env |= {"CSOPS_DBT_TARGET": "duckdb", "CSOPS_DUCKDB_PATH": str(Path(db_path).resolve())}
    return env


def parse(env: Mapping[str, str]) -> None:
    """`dbt parse` for the profile (warehouse path, target) that `env` (from `environment`) selects: dbt keeps its
    partial-parse state only while the profile is unchanged, so runs with the same environment reuse this parse."""
    subprocess.run([dbt_executable(), "parse", "--quiet", "--target", env.get("CSOPS_DBT_TARGET", "duckdb")],
                   cwd=DBT_PROJECT_DIR, env=dict(env), check=True)


def project_files_newest_mtime(project_dir: Path = DBT_PROJECT_DIR) -> float:
    """Newest modification time of the project's own files and folders. What dbt writes (target/, logs/) is not even
    walked: it grows with every run. Folders count because deleting or renaming a model changes its folder's time,
    not any remaining file's."""
    newest = 0.0
    for folder, subfolders, files in os.walk(project_dir):
        if Path(folder) == project_dir:
            subfolders[:] = [name for name in subfolders if name not in DBT_BUILD_OUTPUT]
        for name in (*subfolders, *files):
            newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def reusable_parse(database: str, project_dir: Path = DBT_PROJECT_DIR) -> Path | None:
    """The project's last parse when a run on a DuckDB warehouse whose catalog is `database` can reuse it: made by the
    dbt-core installed here, for DuckDB, with models in that catalog (dbt-duckdb names it after the file), and nothing
    in the project edited since, from this project folder (a parse run from elsewhere, `dbt ls --project-dir
    dbt_project`, records relative paths that break the seed load here). The child checks the parse it loads again
    (`_usable`)."""
    target = project_dir / "target"
    parse, manifest = target / "partial_parse.msgpack", target / "manifest.json"
    if not (parse.exists() and manifest.exists()) or importlib.util.find_spec("dbt") is None:
        return None
    # manifest.json is rewritten by every parse; partial_parse.msgpack only when a file changed, so it may be older.
    if manifest.stat().st_mtime < project_files_newest_mtime(project_dir):
        return None
    written = json.loads(manifest.read_text())
    metadata = written.get("metadata", {})
    nodes = written.get("nodes", {}).values()
    models = {node.get("database") for node in nodes if node.get("resource_type") == "model"}
    roots = {node.get("root_path") for node in nodes}
    return parse if _usable(metadata.get("dbt_version"), metadata.get("adapter_type"), models, database, roots,
                            project_dir) else None


def _usable(dbt_version: str | None, adapter_type: str | None, model_databases: set, database: str,
            root_paths: set, project_dir: Path) -> bool:
    return (dbt_version == importlib.metadata.version("dbt-core") and adapter_type == "duckdb"
            and model_databases == {database} and root_paths - {None} == {str(project_dir.resolve())})


def run_dbt(args: list[str], db_path: str | Path, work_dir: str | Path, dbt_vars: dict | None = None,
            timeout: int = 1800, parsed: Path | None = None) -> subprocess.CompletedProcess:
    """`dbt <args>` in the project against `db_path` (DuckDB target), outputs under `work_dir`; raises DbtError.

    `parsed`: a parse from `reusable_parse` to start from instead of parsing the project."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    env = environment(Settings.from_env(), db_path)
    program = [sys.executable, "-m", "csops.dbt", str(parsed)] if parsed else [dbt_executable()]
    command = [*program, *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars, default=str)]
    process = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    if process.returncode != 0:
        raise DbtError(f"dbt {' '.join(args)} failed (exit {process.returncode}):\n{process.stdout[-4000:]}"
                       f"{process.stderr[-2000:]}")
    return process


def _run_from_parse(parse: Path, args: list[str]) -> int:
    """`dbt <args>` from the saved parse; a parse that cannot be read, or was replaced by one for another warehouse
    since the parent looked (a `dbt parse` in between), makes dbt parse the project as usual instead."""
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder

    manifest, reason = None, "made by another dbt, adapter, warehouse or project folder"
    try:
        loaded = Manifest.from_msgpack(parse.read_bytes(), decoder=extended_mashumuro_decoder)
        database = Path(os.environ["CSOPS_DUCKDB_PATH"]).stem
        models = {node.database for node in loaded.nodes.values() if node.resource_type == "model"}
        roots = {getattr(node, "root_path", None) for node in loaded.nodes.values()}
        if _usable(loaded.metadata.dbt_version, loaded.metadata.adapter_type, models, database, roots,
                   DBT_PROJECT_DIR):
            loaded.build_flat_graph()  # the `graph` context variable, as dbt's own parse leaves it
            manifest = loaded
    except Exception as error:  # noqa: BLE001 (any unreadable parse means: parse again)
        reason = str(error)
    if manifest is None:
        print(f"csops: saved dbt parse {parse} not usable ({reason}); parsing the project", file=sys.stderr)
    result = dbtRunner(manifest=manifest).invoke(args)
    if result.exception is not None:
        print(f"csops: dbt raised {result.exception!r}", file=sys.stderr)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(_run_from_parse(Path(sys.argv[1]), sys.argv[2:]))
