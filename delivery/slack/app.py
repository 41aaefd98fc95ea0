"""The approval app: Approve / Reject buttons on alerts, handled by `slack_bolt` in HTTP mode (`csops slack-app`).

Every request is checked before any listener runs: Slack's signature (HMAC of the body with the signing secret), a
timestamp within five minutes, and never seen before (a replayed request carries a signature already recorded).
Refused requests are recorded with their reason. A decision goes through the injected `decide(alert_id, decision,
by, reason)` (the same function as `csops alerts approve`); the message is then updated to show who decided. Reject
asks for a reason in a modal (views.open), required before the decision is recorded.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from delivery.slack.blocks import decided_blocks, safe
from delivery.slack.outbox import STALE_AFTER, OutboxMessage, RefusedRequest, SeenRequest
from delivery.slack.transport import SLACK_DEFAULT_BASE_URL

REJECT_VIEW = "csops_reject_reason"
Decide = Callable[..., str]
log = logging.getLogger(__name__)


class RequestGuard:
    """Signature, freshness and replay checks, with refusals recorded."""

    def __init__(self, engine: Engine, signing_secret: str, clock=time.time):
        self.engine, self.clock = engine, clock
        self.verifier = SignatureVerifier(signing_secret)

    def refusal(self, body: str, timestamp: str | None, signature: str | None) -> str | None:
        """None if the request may proceed, else why not (and recorded)."""
        now = self.clock()
        reason = None
        if not timestamp or not signature:
            reason = "unsigned"
        elif not timestamp.isdigit() or abs(now - int(timestamp)) > STALE_AFTER:
            reason = "stale"
        elif not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            reason = "forged"
        else:
            try:
                with Session(self.engine) as session, session.begin():
                    session.execute(delete(SeenRequest).where(SeenRequest.received_at < now - 2 * STALE_AFTER))
                    session.add(SeenRequest(signature=signature, received_at=now))
            except IntegrityError:
                reason = "replayed"
        if reason:
            with Session(self.engine) as session, session.begin():
                session.add(RefusedRequest(received_at=now, reason=reason, request_timestamp=(timestamp or "")[:20]))
        return reason


def app_client(token: str, base_url: str | None = None) -> WebClient:
    """Client for chat.update / views.open / ephemeral notes: all safe to repeat, so the SDK may retry them."""
    return WebClient(token=token, base_url=base_url or SLACK_DEFAULT_BASE_URL, timeout=5,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2), ConnectionErrorRetryHandler()])


def _who(body: dict) -> str:
    user = body.get("user") or {}
    return f"{user.get('username') or user.get('name') or 'unknown'} (Slack {user.get('id', '?')})"


def reason_modal(alert_id: str, channel: str, ts: str) -> dict:
    return {
        "type": "modal", "callback_id": REJECT_VIEW,
        "private_metadata": json.dumps({"alert_id": alert_id, "channel": channel, "ts": ts}),
        "title": {"type": "plain_text", "text": "Reject the plan"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "blocks": [{"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Why?"},
                    "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True,
                                "max_length": 1000}}],
    }


def build_app(*, token: str, signing_secret: str, decide: Decide, engine: Engine, base_url: str | None = None,
              clock=time.time) -> App:
    """The bolt app. Listeners run before the HTTP answer (`process_before_response`): each is one database write
    and one Slack call, well inside Slack's three seconds, and the answer then reflects what was recorded."""
    guard = RequestGuard(engine, signing_secret, clock)
    # Bolt's own verification is off because ours does the same checks and also refuses replays and records refusals.
    app = App(client=app_client(token, base_url), request_verification_enabled=False,
              token_verification_enabled=False, process_before_response=True)

    @app.middleware
    def verify(request, next):  # noqa: A002 (bolt passes `next` by name)
        def header(name: str) -> str | None:
            values = request.headers.get(name) or [None]
            return values[0]

        reason = guard.refusal(request.raw_body, header("x-slack-request-timestamp"), header("x-slack-signature"))
        if reason:
            log.warning("refused a Slack request: %s", reason)
            return BoltResponse(status=401, body=f"refused: {reason}")
        return next()

    def record(body: dict, client: WebClient, alert_id: str, decision: str, reason: str | None,
               channel: str, ts: str, blocks: list[dict] | None) -> None:
        by = _who(body)
        try:
            outcome = decide(alert_id, decision, by=by, reason=reason)
        except Exception as error:  # the agent refused (already decided, unknown alert): tell the person only
            client.chat_postEphemeral(channel=channel, user=body["user"]["id"],
                                      text=f"Not recorded: {safe(str(error), 300)}")
            return
        if blocks is None:
            with Session(engine) as session:
                payload = session.scalar(select(OutboxMessage.payload).where(
                    OutboxMessage.channel == channel, OutboxMessage.ts == ts))
            blocks = (payload or {}).get("blocks", [])
        client.chat_update(channel=channel, ts=ts, blocks=decided_blocks(blocks, decision, by, reason, outcome),
                           text=f"{decision} recorded by {safe(by, 80)}")

    @app.action("alert_approve")
    def approve(ack, body, client):
        ack()
        record(body, client, body["actions"][0]["value"], "approve", None, body["channel"]["id"],
               body["message"]["ts"], body["message"].get("blocks", []))

    @app.action("alert_reject")
    def reject(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=reason_modal(
            body["actions"][0]["value"], body["channel"]["id"], body["message"]["ts"]))

    @app.view(REJECT_VIEW)
    def reject_reason(ack, body, view, client):
        reason = ((view["state"]["values"].get("reason") or {}).get("reason") or {}).get("value") or ""
        if not reason.strip():
            return ack(response_action="errors", errors={"reason": "A reason is required to reject."})
        ack()
        where = json.loads(view["private_metadata"])
        record(body, client, where["alert_id"], "reject", reason.strip(), where["channel"], where["ts"], None)

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *_args):
        pass


def make_http_server(app: App, host: str = "127.0.0.1", port: int = 3001, path: str = "/slack/events"):
    """A WSGI server for the app (wsgiref: one request at a time, enough for button clicks)."""
    return make_server(host, port, SlackRequestHandler(app, path=path), handler_class=_QuietHandler)
