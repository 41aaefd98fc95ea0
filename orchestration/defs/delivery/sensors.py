"""Slack sensors: risk alerts through the outbox (running by default; with no SLACK_BOT_TOKEN they go to the file
sink), and run failures to the ops channel through dagster-slack (stopped by default)."""

import os

import dagster as dg
from dagster_slack import make_slack_on_run_failure_sensor

from csops.settings import Settings
from delivery.slack.routing import load_routing
from delivery.slack.service import SlackConfig
from orchestration.defs.resources import SlackDelivery


# No pool, no warehouse: the tick reads the operational database and talks to Slack, so it runs beside any
# materialization holding DuckDB. Its time budget stays under Dagster's sensor timeout (60 s).
@dg.sensor(name="slack_alerts", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Deliver new and escalated risk alerts to Slack exactly once (outbox), digests when a channel "
           "is over its budget, and each owner's queue once a day.")
def slack_alerts_sensor(context: dg.SensorEvaluationContext, slack_delivery: SlackDelivery):
    report = slack_delivery.tick()
    context.log.info(report.line())
    return dg.SkipReason(report.line())


ROUTING = load_routing(SlackConfig.from_env(Settings.from_env()).routing_path)
# dagster-slack posts once from the sensor (a failed post is not retried) and with Slack's own base URL.
slack_run_failure_sensor = make_slack_on_run_failure_sensor(
    channel=ROUTING.ops_channel or "",
    slack_token=os.getenv("SLACK_BOT_TOKEN", ""),
    name="slack_run_failures",
    webserver_base_url=ROUTING.dagster_ui_url,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
