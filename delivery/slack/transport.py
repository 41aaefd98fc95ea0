"""Where outbox messages go: Slack's Web API through `slack_sdk`, or a JSONL file and the console (no token: the demo).

Both answer the outbox's three questions with an `Outcome`: post this, was this already posted, and which channel ID
is this destination. Only the outbox retries; the Slack client is built without retry handlers.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from delivery.slack.blocks import METADATA_EVENT
from delivery.slack.routing import EMAIL, USER

SLACK_DEFAULT_BASE_URL = WebClient.BASE_URL
# Errors Slack returns with HTTP 200 that mean "try again later" and may follow a stored message.
_TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


@dataclass(frozen=True)
class Outcome:
    """ok: done (channel, ts); rate_limited: not posted, retry after `retry_after` s; uncertain: may or may not have
    been posted; failed: permanent (bad channel, bad blocks); absent: a lookup found no such message."""

    kind: str
    channel: str | None = None
    ts: str | None = None
    retry_after: float = 0.0
    error: str | None = None


def slack_client(token: str | None = None, base_url: str | None = None, timeout: float = 10) -> WebClient:
    """`WebClient` for `SLACK_BOT_TOKEN` at `SLACK_API_BASE_URL` (default Slack's own). `retry_handlers=[]`: the SDK's
    default handler re-posts after a dropped connection (a second copy when Slack had stored the first), and a 429
    retried inside the SDK would block the deliverer; the outbox decides every retry instead."""
    return WebClient(token=token or os.environ.get("SLACK_BOT_TOKEN"),
                     base_url=base_url or os.environ.get("SLACK_API_BASE_URL") or SLACK_DEFAULT_BASE_URL,
                     timeout=timeout, retry_handlers=[])


def classify(error: Exception) -> Outcome:
    """An exception from a Slack call as an outcome. Anything without a definite answer is `uncertain`."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        code = (error.response.data or {}).get("error", "") if isinstance(error.response.data, dict) else ""
        if status == 429 or code == "ratelimited":
            headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
            value = headers.get("retry-after", "1")
            return Outcome("rate_limited", retry_after=float(value[0] if isinstance(value, list) else value),
                           error="ratelimited")
        if status >= 500 or code in _TRANSIENT_ERRORS:
            return Outcome("uncertain", error=f"HTTP {status} {code}".strip())
        return Outcome("failed", error=code or f"HTTP {status}")
    return Outcome("uncertain", error=f"{type(error).__name__}: {error}"[:300])


class SlackTransport:
    def __init__(self, client: WebClient):
        self.client = client

    def post(self, channel: str, message: dict, key: str) -> Outcome:
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=message["text"], blocks=message["blocks"], unfurl_links=False,
                unfurl_media=False, metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}})
        except Exception as error:  # every failure becomes a decision of the outbox, none is raised
            return classify(error)
        return Outcome("ok", channel=response["channel"], ts=response["ts"])

    def find(self, channel: str, key: str, oldest: float) -> Outcome:
        """Look for a message carrying this outbox key posted since `oldest` (the first uncertain attempt)."""
        cursor = None
        try:
            while True:
                page = self.client.conversations_history(channel=channel, oldest=f"{oldest:.6f}", limit=200,
                                                         include_all_metadata=True, cursor=cursor)
                for message in page.get("messages", []):
                    metadata = message.get("metadata") or {}
                    if (metadata.get("event_type") == METADATA_EVENT
                            and (metadata.get("event_payload") or {}).get("key") == key):
                        return Outcome("ok", channel=channel, ts=message["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return Outcome("absent")
        except Exception as error:
            return classify(error)

    def resolve(self, destination: str) -> Outcome:
        """A channel ID for a destination: channels as they are, users and e-mails through their DM channel (history
        lookups need the D... ID, not the user ID)."""
        try:
            if destination.startswith(EMAIL):
                user = self.client.users_lookupByEmail(email=destination[len(EMAIL):])["user"]["id"]
            elif destination.startswith(USER):
                user = destination[len(USER):]
            else:
                return Outcome("ok", channel=destination)
            return Outcome("ok", channel=self.client.conversations_open(users=user)["channel"]["id"])
        except Exception as error:
            return classify(error)


class FileSink:
    """The demo path: each message as one JSON line (the same Block Kit payload), and a console line for the first
    `echo` messages of this sink (a run that raises hundreds of alerts would bury the rest of the console)."""

    def __init__(self, path: Path, echo: int = 2):
        self.path = Path(path)
        self.echoed, self.echo = 0, echo

    def post(self, channel: str, message: dict, key: str) -> Outcome:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ts = f"{time.time():.6f}"
        record = {"channel": channel, "ts": ts, "metadata": {"event_type": METADATA_EVENT,
                                                             "event_payload": {"key": key}}, **message}
        with self.path.open("a") as sink:
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
        self.echoed += 1
        if self.echoed <= self.echo:
            print(f"[csops] slack (file sink) {channel}: {message['text']}", file=sys.stdout, flush=True)
        elif self.echoed == self.echo + 1:
            print(f"[csops] slack (file sink): further messages only in {self.path}", file=sys.stdout, flush=True)
        return Outcome("ok", channel=channel, ts=ts)

    def find(self, channel: str, key: str, oldest: float) -> Outcome:
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                record = json.loads(line) if line.strip() else {}
                if record.get("metadata", {}).get("event_payload", {}).get("key") == key:
                    return Outcome("ok", channel=record["channel"], ts=record["ts"])
        return Outcome("absent")

    def resolve(self, destination: str) -> Outcome:
        return Outcome("ok", channel=destination)


def transport_from_env(sink_path: Path, timeout: float = 10) -> SlackTransport | FileSink:
    """Slack when `SLACK_BOT_TOKEN` is set, the file sink otherwise."""
    if os.environ.get("SLACK_BOT_TOKEN"):
        return SlackTransport(slack_client(timeout=timeout))
    return FileSink(sink_path)
