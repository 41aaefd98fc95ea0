"""Block Kit messages for risk alerts and digests, and the escaping every piece of data text goes through.

Everything that is not a literal of this module (account names, reasons, playbooks, owners, ticket text) is data and
may be customer-written: `safe()` makes it inert before it enters a message, so it can never mention a user or a
channel, open a link, format text or overflow a block, and `redact()` removes secrets from the finished message.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

METADATA_EVENT = "csops_outbox"  # message metadata event type; its payload carries the outbox key
SEVERITY_EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
                  "low": ":white_circle:"}
SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}
# Slack's limits: section text 3000 chars, field 2000, header 150, button text 75, 50 blocks per message.
# Alerts per digest message: 60 lines of at most ~330 chars fill about 8 sections, far under 50 blocks.
DIGEST_CHUNK = 60
PAST_TENSE = {"approve": "Approved", "reject": "Rejected"}
MAX_SECTION, MAX_LINE, MAX_HEADER, MAX_REASONS, MAX_BLOCKS = 2900, 300, 140, 5, 50
# mrkdwn has no escape character: formatting marks in data become look-alikes that Slack does not interpret.
_MRKDWN_MARKS = str.maketrans({"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb", "|": "\u2223"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
# Token shapes that must never leave the process, whatever variable they came from.
_SECRET_SHAPES = re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|sk-ant-[A-Za-z0-9_-]{6,}"
                            r"|sk-[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}")
_SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class AlertMessage:
    """One alert as the delivery layer sees it: what the account agent hands over, already in plain words."""

    alert_id: str
    dedup_key: str
    account_id: str
    account_name: str
    arr: float
    renewal_date: date | None
    severity: str  # critical | high | medium | low
    kind: str  # churn_risk, expansion, handoff_gap, ...
    reasons: tuple[str, ...]
    playbook: str
    as_of: date
    owner: str  # the CSM's e-mail (or handle in the routing map)
    segment: str
    needs_decision: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"alert {self.alert_id}: severity must be one of {sorted(SEVERITY_RANK)}, "
                             f"not {self.severity!r}")


def safe(text: object, limit: int = MAX_LINE, one_line: bool = True) -> str:
    """Data text made inert for mrkdwn: `&`, `<`, `>` escaped (no `<!channel>`, `<@U..>`, `<#C..>`, `<url|label>`),
    formatting marks replaced by look-alikes, control and bidi characters removed, newlines folded, length capped."""
    value = _CONTROL.sub("", str(text if text is not None else ""))
    if one_line:
        value = " ".join(value.split())
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").translate(_MRKDWN_MARKS)
    if len(value) > limit:  # capped after escaping, never inside an entity
        value = re.sub(r"&[a-z]*$", "", value[: limit - 1]).rstrip() + "\u2026"
    return value


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of this process's secret-looking variables (tokens, secrets, passwords, API keys)."""
    environ = os.environ if environ is None else environ
    return sorted({v for k, v in environ.items() if _SECRET_NAMES.search(k) and len(v) >= 8}, key=len, reverse=True)


def redact(payload: dict, environ: dict[str, str] | None = None) -> dict:
    """The message with every secret value of the environment and every token-shaped string replaced."""
    text = json.dumps(payload, ensure_ascii=False)
    for value in secret_values(environ):
        # Values were escaped twice on their way here (json, then `safe`): replace each form.
        for form in {value, json.dumps(value)[1:-1], safe(value, limit=10**6, one_line=False)}:
            text = text.replace(form, "[redacted]")
    return json.loads(_SECRET_SHAPES.sub("[redacted]", text))


def money(amount: float) -> str:
    return f"${amount:,.0f}"


def asset_url(ui_base_url: str, asset_path: str) -> str:
    """The Dagster UI page of an asset (`ml/churn_scores`); the base comes from config, the path is ours."""
    return f"{ui_base_url.rstrip('/')}/assets/{'/'.join(quote(part, safe='') for part in asset_path.split('/'))}"


def _words(code: str) -> str:
    return code.replace("_", " ")  # churn_risk -> churn risk


def _text(mrkdwn: str) -> dict:
    # verbatim: Slack does not auto-link bare URLs, #channel names or @names in this text.
    return {"type": "mrkdwn", "text": mrkdwn, "verbatim": True}


def alert_message(alert: AlertMessage, ui_base_url: str, asset_path: str = "ml/churn_scores") -> dict:
    """`chat.postMessage` arguments (text, blocks) for one alert; buttons carry the alert id when a decision is due."""
    emoji = SEVERITY_EMOJI[alert.severity]
    name = safe(alert.account_name, MAX_HEADER)
    renewal = alert.renewal_date.isoformat() if alert.renewal_date else "none on file"
    reasons = "\n".join(f"\u2022 {safe(reason)}" for reason in alert.reasons[:MAX_REASONS]) or "\u2022 (none given)"
    blocks: list[dict] = [
        {"type": "section", "text": _text(f"{emoji} *{alert.severity.upper()} {safe(_words(alert.kind), 40)}*: *{name}*")},
        {"type": "section", "fields": [
            _text(f"*ARR*\n{money(alert.arr)}"), _text(f"*Renewal*\n{renewal}"),
            _text(f"*Owner*\n{safe(alert.owner, 80)}"), _text(f"*Segment*\n{safe(alert.segment, 40)}"),
        ]},
        {"type": "section", "text": _text(f"*Why*\n{reasons}")},  # 5 x 300 chars: within 3000
        {"type": "section", "text": _text(f"*Recommended playbook*\n{safe(alert.playbook, 1000, one_line=False)}")},
        {"type": "context", "elements": [_text(
            f"Data as of {alert.as_of.isoformat()} \u00b7 account {safe(alert.account_id, 60)} \u00b7 "
            f"<{asset_url(ui_base_url, asset_path)}|scores in Dagster>")]},
    ]
    if alert.needs_decision:
        blocks.append({"type": "actions", "block_id": "decision", "elements": [
            {"type": "button", "action_id": "alert_approve", "style": "primary", "value": alert.alert_id,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "alert_reject", "style": "danger", "value": alert.alert_id,
             "text": {"type": "plain_text", "text": "Reject"}},
        ]})
    text = f"{alert.severity.upper()} {safe(_words(alert.kind), 40)}: {name} ({money(alert.arr)} ARR)"
    return redact({"text": text, "blocks": blocks})


def _digest_line(alert: AlertMessage, ui_base_url: str) -> str:
    reason = safe(alert.reasons[0], 120) if alert.reasons else "no reason given"
    decision = " \u00b7 _needs a decision_" if alert.needs_decision else ""
    return (f"{SEVERITY_EMOJI[alert.severity]} *{safe(alert.account_name, 80)}* {money(alert.arr)} "
            f"\u00b7 {safe(_words(alert.kind), 40)} \u00b7 {reason}{decision}")


def digest_message(title: str, alerts: list[AlertMessage], ui_base_url: str) -> dict:
    """One message listing many alerts (a channel over its budget, an owner's daily queue): none left out; the lines
    are packed into sections under Slack's size limits."""
    ordered = sorted(alerts, key=lambda a: (-SEVERITY_RANK[a.severity], -a.arr, a.alert_id))
    blocks: list[dict] = [{"type": "section", "text": _text(f"*{safe(title, MAX_HEADER)}* ({len(alerts)} alerts)")}]
    chunk: list[str] = []
    for line in (_digest_line(alert, ui_base_url) for alert in ordered):
        if chunk and len("\n".join([*chunk, line])) > MAX_SECTION:
            blocks.append({"type": "section", "text": _text("\n".join(chunk))})
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append({"type": "section", "text": _text("\n".join(chunk))})
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"a digest of {len(alerts)} alerts needs {len(blocks)} blocks; split it (Slack allows "
                         f"{MAX_BLOCKS})")
    blocks.append({"type": "context", "elements": [_text(f"<{ui_base_url.rstrip('/')}/assets|csops in Dagster>")]})
    return redact({"text": f"{safe(title, MAX_HEADER)}: {len(alerts)} alerts", "blocks": blocks})


def decided_blocks(blocks: list[dict], decision: str, by: str, reason: str | None, outcome: str) -> list[dict]:
    """The alert's blocks with the buttons replaced by who decided what (`chat.update` after a decision)."""
    kept = [block for block in blocks if block.get("block_id") != "decision"]
    line = f"*{PAST_TENSE.get(decision, safe(decision, 20))}* by {safe(by, 80)}"
    if reason:
        line += f": {safe(reason, 500)}"
    return [*kept, {"type": "context", "elements": [_text(f"{line} \u00b7 {safe(outcome, 200)}")]}]
