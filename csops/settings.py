"""Where csops keeps its files, from environment variables with defaults under the project's `data/` folder.

The one place paths are decided: the CLI, the Dagster resources and dbt (through `CSOPS_DUCKDB_PATH`) all read
them from here, so every process opens the same warehouse file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"  # also the default in dbt_project/profiles.yml


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    duckdb_path: Path
    dagster_home: Path
    dbt_target: str
    # DuckDB's memory limit for every warehouse connection (Dagster and dbt): a size ("3GB") or a share of RAM ("50%").
    # Past it DuckDB spills to disk instead of growing. DuckDB's own default, 80% of RAM, let the 35M-event benchmark
    # hold 7 GB; with 2GB the whole run peaked at 3.0 GiB and was no slower (docs/benchmarks.md).
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    # What BI tools and `csops summary` read: the marts, published after each successful run (csops/serving.py).
    serving_path: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("CSOPS_DATA_DIR", PROJECT_ROOT / "data")).resolve()
        return cls(
            data_dir=data_dir,
            landing_dir=Path(os.environ.get("CSOPS_LANDING_DIR", data_dir / "landing")).resolve(),
            duckdb_path=Path(os.environ.get("CSOPS_DUCKDB_PATH", data_dir / "warehouse.duckdb")).resolve(),
            dagster_home=Path(os.environ.get("DAGSTER_HOME", data_dir / "dagster_home")).resolve(),
            dbt_target=os.environ.get("CSOPS_DBT_TARGET", "duckdb"),
            duckdb_memory_limit=os.environ.get("CSOPS_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT),
            serving_path=Path(os.environ.get("CSOPS_SERVING_PATH", data_dir / "serving.duckdb")).resolve(),
        )

    def environment(self) -> dict[str, str]:
        """The variables dbt subprocesses and Dagster read; telemetry off unless the user turned it on."""
        return {
            "CSOPS_DUCKDB_PATH": str(self.duckdb_path),
            "CSOPS_LANDING_DIR": str(self.landing_dir),
            "CSOPS_DBT_TARGET": self.dbt_target,
            "CSOPS_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            **({"CSOPS_SERVING_PATH": str(self.serving_path)} if self.serving_path else {}),
            "DAGSTER_HOME": str(self.dagster_home),
            "GX_ANALYTICS_ENABLED": os.environ.get("GX_ANALYTICS_ENABLED", "false"),
            "DAGSTER_DISABLE_TELEMETRY": os.environ.get("DAGSTER_DISABLE_TELEMETRY", "true"),
        }

    def subprocess_environment(self) -> dict[str, str]:
        """This process's environment with these settings on top: what dbt and other child processes get."""
        return {**os.environ, **self.environment(), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}

    def duckdb_config(self) -> dict[str, str]:
        """Settings of every warehouse connection made from Python (the dbt profile reads the same variables)."""
        return {"memory_limit": self.duckdb_memory_limit}

    def connect_warehouse(self, path: Path | None = None, read_only: bool = False):
        """A connection to the warehouse file (or another DuckDB file at `path`) with `duckdb_config()` applied."""
        import duckdb

        return duckdb.connect(str(path or self.duckdb_path), read_only=read_only, config=self.duckdb_config())

    def export(self) -> None:
        """Put the resolved paths into this process's environment, inherited by dbt subprocesses."""
        os.environ.update(self.environment())
