"""Every resource of the code location, configured in one place from `csops.settings`."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.settings import Settings
from ml.dbt_runner import dbt_executable
from orchestration.dbt_project import CsopsDbtCliResource, csops_dbt_project
from orchestration.landing import LandingZone


@dg.definitions
def resources() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions(
        resources={
            "duckdb": DuckDBResource(
                database=str(settings.duckdb_path), connection_config=settings.duckdb_config()
            ),
            "landing": LandingZone(path=str(settings.landing_dir)),
            "dbt": CsopsDbtCliResource(
                project_dir=csops_dbt_project, target=settings.dbt_target, dbt_executable=dbt_executable()
            ),
        }
    )
