"""Slack commands: `slack-app` (the approval buttons' HTTP endpoint) and `slack-deliver` (one delivery tick, what the
`slack_alerts` sensor runs; without SLACK_BOT_TOKEN the messages go to the file sink and the console)."""

from __future__ import annotations

import argparse
import os

from csops.cli.output import say
from csops.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    app = commands.add_parser("slack-app", help="serve the Slack approval buttons (slack_bolt, HTTP, signed requests)")
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s; put a TLS proxy in "
                     "front for Slack)")
    app.add_argument("--port", type=int, default=3001)
    app.add_argument("--decide", default=None, help="module:function recording decisions (default: the account agent's, as `csops alerts approve`)")
    app.set_defaults(handler=_app_command)
    deliver = commands.add_parser("slack-deliver", help="queue pending alerts and deliver the Slack outbox once")
    deliver.add_argument("--budget", type=float, default=60.0, help="seconds to spend delivering (default %(default)s)")
    deliver.set_defaults(handler=_deliver_command)


def _app_command(args: argparse.Namespace, settings: Settings) -> int:
    from delivery.slack.app import build_app, make_http_server
    from delivery.slack.outbox import create_outbox_engine
    from delivery.slack.service import SlackConfig, load_object

    config = SlackConfig.from_env(settings)
    missing = [name for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN") if not os.environ.get(name)]
    decide_path = args.decide or config.decide
    if missing or not decide_path:
        say("slack-app: set " + ", ".join(missing + ([] if decide_path else ["CSOPS_SLACK_DECIDE (or --decide)"])))
        return 2
    try:
        decide = load_object(decide_path, "decision function")
    except ValueError as error:
        say(f"slack-app: {error}")
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(token=os.environ["SLACK_BOT_TOKEN"], signing_secret=os.environ["SLACK_SIGNING_SECRET"],
                    decide=decide, engine=create_outbox_engine(config.outbox_url),
                    base_url=os.environ.get("SLACK_API_BASE_URL"))
    server = make_http_server(app, args.host, args.port)
    say(f"Slack approval app on http://{args.host}:{server.server_address[1]}/slack/events (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _deliver_command(args: argparse.Namespace, settings: Settings) -> int:
    from delivery.slack.service import SlackConfig, run_tick

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        report = run_tick(SlackConfig.from_env(settings), args.budget)
    except ValueError as error:  # a bad routing file or feed path
        say(f"slack-deliver: {error}")
        return 2
    say(f"slack: {report.line()}")
    return 1 if report.delivery.failed else 0
