"""Every resource of the code location, configured in one place from `csops.settings`."""

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.dbt import dbt_executable
from csops.settings import Settings
from delivery.briefs.policy import BriefPolicy
from delivery.slack.service import SlackConfig
from orchestration.lib.brief_writer import BriefWriterResource
from orchestration.lib.dbt_project import CsopsDbtCliResource, csops_dbt_project
from orchestration.lib.landing import LandingZone
from orchestration.lib.opdb import OperationalDatabase
from orchestration.lib.warehouse import Warehouse


def warehouse(settings: Settings) -> Warehouse:
    """The warehouse of the dbt target: on `snowflake`, a connection from the same `SNOWFLAKE_*` variables as the dbt
    profile (secrets as `EnvVar`, read when a run starts); otherwise the DuckDB file."""
    if settings.dbt_target != "snowflake":
        return Warehouse()
    from orchestration.lib.snowflake_warehouse import SnowflakeWarehouse, snowflake_connection

    # Unset when the definitions load: the user's default (a role or warehouse only the run's machine sets is not seen).
    optional = {"role": "SNOWFLAKE_ROLE", "warehouse": "SNOWFLAKE_WAREHOUSE"}
    return SnowflakeWarehouse(snowflake=snowflake_connection(
        account=dg.EnvVar("SNOWFLAKE_ACCOUNT"),
        user=dg.EnvVar("SNOWFLAKE_USER"),
        password=dg.EnvVar("SNOWFLAKE_PASSWORD"),
        database=os.environ.get("SNOWFLAKE_DATABASE", "csops"),
        **{field: dg.EnvVar(name) for field, name in optional.items() if os.environ.get(name)},
    ))


def brief_writer() -> BriefWriterResource:
    """Claude when ANTHROPIC_API_KEY is set (as an `EnvVar`, read at run time) and the policy allows it; else the
    offline writer."""
    if os.environ.get("ANTHROPIC_API_KEY") and BriefPolicy.load().writer != "offline":
        return BriefWriterResource(api_key=dg.EnvVar("ANTHROPIC_API_KEY"))
    return BriefWriterResource()
class SlackDelivery(dg.ConfigurableResource):
    """The Slack outbox in the operational database and where alerts come from. The bot token and Slack's base URL
    are read from the environment when a tick runs (`SLACK_BOT_TOKEN`, `SLACK_API_BASE_URL`); without a token the
    messages go to `sink_path`."""

    outbox_url: str
    routing_path: str
    sink_path: str
    alert_feed: str = ""  # module:attribute of the account agent's AlertFeed; empty: nothing to deliver yet
    budget_seconds: float = 20.0

    def tick(self):
        from delivery.slack.service import run_tick

        config = SlackConfig(outbox_url=self.outbox_url, routing_path=self.routing_path, sink_path=self.sink_path,
                             alert_feed=self.alert_feed, decide="")
        return run_tick(config, self.budget_seconds)


def slack_delivery(settings: Settings) -> SlackDelivery:
    config = SlackConfig.from_env(settings)
    return SlackDelivery(outbox_url=config.outbox_url, routing_path=config.routing_path, sink_path=config.sink_path,
                         alert_feed=config.alert_feed)


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
            "warehouse": warehouse(settings),
            "brief_writer": brief_writer(),
            # From the variable when set (it may hold a password: read when a run starts, never shown in the UI).
            "opdb": OperationalDatabase(
                url=dg.EnvVar("CSOPS_OPDB_URL") if os.environ.get("CSOPS_OPDB_URL") else settings.opdb_url
            ),
            "slack_delivery": slack_delivery(settings),
        }
    )
