"""Where csops keeps its files, from environment variables with defaults under the project's `data/` folder.

The one place paths are decided: the CLI, the Dagster resources and dbt (through `CSOPS_DUCKDB_PATH`) all read
them from here, so every process opens the same warehouse file.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"  # also the default in dbt_project/profiles.yml


class Settings(BaseSettings):
    """The environment: where files live, which warehouse, which secrets' names. Policy (how the product behaves)
    lives in versioned files instead: dbt vars, `ml` config, the action layer's YAML. Each field reads `CSOPS_<NAME>`
    (`DAGSTER_HOME` for the Dagster instance); paths left unset default to folders under `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="CSOPS_", frozen=True, extra="ignore")

    data_dir: Path = PROJECT_ROOT / "data"
    landing_dir: Path | None = None
    duckdb_path: Path | None = None
    dagster_home: Path | None = Field(default=None, validation_alias=AliasChoices("DAGSTER_HOME", "dagster_home"))
    models_dir: Path = PROJECT_ROOT / "models"
    # A YAML or JSON file overriding `ml.config.MLConfig`'s defaults; unset: the defaults.
    ml_config: Path | None = None
    # Where QBR decks, value reports and the portfolio report are written (delivery/reports).
    reports_dir: Path | None = None
    dbt_target: str = "duckdb"
    # DuckDB's memory limit for every warehouse connection (Dagster and dbt): a size ("3GB") or a share of RAM ("50%").
    # Past it DuckDB spills to disk instead of growing. DuckDB's own default, 80% of RAM, let the 35M-event benchmark
    # hold 7 GB; with 2GB the whole run peaked at 3.0 GiB and was no slower (docs/benchmarks.md).
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    # The operational database (approvals, alerts, the account agent's state): any SQLAlchemy URL; default SQLite
    # under the data folder. Not the warehouse: DuckDB has one writer, approvals must not wait for a run.
    opdb_url: str | None = None
    # What BI tools and `csops summary` read: the marts, published after each successful run (csops/serving.py).
    serving_path: Path | None = None

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        data_dir = self.data_dir.resolve()
        defaults = {"landing_dir": data_dir / "landing", "duckdb_path": data_dir / "warehouse.duckdb",
                    "dagster_home": data_dir / "dagster_home", "reports_dir": data_dir / "reports",
                    "serving_path": data_dir / "serving.duckdb"}
        object.__setattr__(self, "data_dir", data_dir)
        object.__setattr__(self, "models_dir", self.models_dir.resolve())
        for name, default in defaults.items():
            object.__setattr__(self, name, Path(getattr(self, name) or default).resolve())
        if self.opdb_url is None:
            object.__setattr__(self, "opdb_url", f"sqlite:///{data_dir / 'ops.sqlite'}")
        if self.dbt_target not in ("duckdb", "snowflake"):
            raise ValueError(f"CSOPS_DBT_TARGET must be duckdb or snowflake, not {self.dbt_target!r}")
        return self

    @classmethod
    def from_env(cls) -> Settings:
        return cls()

    def environment(self) -> dict[str, str]:
        """The variables dbt subprocesses and Dagster read; telemetry off unless the user turned it on."""
        return {
            "CSOPS_DUCKDB_PATH": str(self.duckdb_path),
            "CSOPS_LANDING_DIR": str(self.landing_dir),
            "CSOPS_REPORTS_DIR": str(self.reports_dir),
            "CSOPS_DBT_TARGET": self.dbt_target,
            "CSOPS_MODELS_DIR": str(self.models_dir),
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
