"""Block Kit messages: content, escaping of data text, secrets kept out; routing from YAML; the file sink."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from delivery.slack.blocks import alert_message, decided_blocks, digest_message, safe
from delivery.slack.outbox import SENT
from delivery.slack.routing import DEFAULT_ROUTING, Routing, load_routing
from delivery.slack.transport import FileSink, SlackTransport, transport_from_env
from tests.slack_helpers import fast_outbox, make_alert

HOSTILE = ("<!channel> <!here> <@U024BE7LH> <#C024BE7LH|general> <http://evil.example/x|click me> "
           "*bold* _it_ ~strike~ `code` &amp; > quote\n\n\n• fake bullet\u202eRTL\x00")


def all_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_alert_message_shows_the_facts_and_buttons_only_when_a_decision_is_needed():
    alert = make_alert(3, needs_decision=True, reasons=("usage down 38%", "champion left"))
    message = alert_message(alert, "http://dagster.local:3000/", "ml/churn_scores")
    text = all_text(message)
    for fact in ("Account 3", "$40,000", "2027-03-01", "HIGH", "usage down 38%", "champion left",
                 "Executive check-in within 7 days", "Data as of 2026-12-01",
                 "<http://dagster.local:3000/assets/ml/churn_scores|scores in Dagster>"):
        assert fact in text
    actions = [block for block in message["blocks"] if block["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["alert_approve", "alert_reject"]
    assert {e["value"] for e in actions[0]["elements"]} == {"alert-3"}
    assert not any(b["type"] == "actions" for b in alert_message(make_alert(4), "http://x")["blocks"])


def test_customer_written_text_cannot_mention_link_or_format():
    alert = make_alert(1, account_name=HOSTILE, reasons=(HOSTILE,) * 3, playbook=HOSTILE, owner=HOSTILE,
                       segment=HOSTILE, kind=HOSTILE, account_id=HOSTILE, needs_decision=True)
    message = alert_message(alert, "http://dagster.local:3000")
    text = all_text(message)
    # Only our own link survives as Slack markup; every <...> from the data is escaped.
    assert re.findall(r"<[^&]*?>", text) == ["<http://dagster.local:3000/assets/ml/churn_scores|scores in Dagster>"]
    for control in ("<!channel>", "<!here>", "<@U024BE7LH>", "<#C024BE7LH", "<http://evil", "*bold*", "_it_",
                    "~strike~", "`code`", "\u202e", "\x00", "\\u0000"):
        assert control not in text
    assert "&lt;!channel&gt;" in text and "&amp;amp;" in text  # shown as text, not acted on
    for block in message["blocks"]:  # verbatim: Slack does not auto-link names or URLs either
        for part in [block.get("text")] + block.get("fields", []) + block.get("elements", []):
            if part and part.get("type") == "mrkdwn":
                assert part["verbatim"] is True
    assert "\n\n" not in safe(HOSTILE) and len(safe("x" * 10_000)) == 300
    assert safe("<" * 1000, limit=10) == "&lt;&lt;\u2026"  # capped after escaping, never inside an entity


def test_length_caps_keep_every_block_inside_slack_limits():
    long = "<word> " * 5000
    message = alert_message(make_alert(1, account_name=long, reasons=(long,) * 20, playbook=long), "http://x")
    for block in message["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    assert len(message["text"]) <= 400
    digest = digest_message("many", [make_alert(i, account_name=long, reasons=(long,)) for i in range(60)], "http://x")
    assert len(digest["blocks"]) <= 50 and all(len(b["elements"][0]["text"] if b["type"] == "context"
                                                   else b["text"]["text"]) <= 3000 for b in digest["blocks"])


def test_secrets_from_the_environment_and_token_shapes_never_reach_a_message(monkeypatch):
    secret = "s3cr3t-signing-value-1234"
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-" "ant-api03-abcdefghijklmnop")
    leaky = f"customer pasted {secret} and xoxb" "-1111-2222-abcdefABCDEF and sk-" "ant-api03-abcdefghijklmnop"
    message = alert_message(make_alert(1, reasons=(leaky,), playbook=leaky, account_name=f"<{secret}>"), "http://x")
    text = all_text(message)
    assert secret not in text and "xoxb-1111" not in text and "sk-ant-api03" not in text
    assert "[redacted]" in text
    digest = digest_message("queue", [make_alert(1, reasons=(leaky,))], "http://x")
    assert secret not in all_text(digest) and "xoxb-1111" not in all_text(digest)


def test_decided_blocks_replace_the_buttons_with_who_decided():
    blocks = alert_message(make_alert(1, needs_decision=True), "http://x")["blocks"]
    updated = decided_blocks(blocks, "reject", "jane (Slack U1)", "<!here> not now", "alert alert-1 rejected")
    assert not any(block["type"] == "actions" for block in updated)
    assert "*Rejected* by jane (Slack U1): &lt;!here&gt; not now" in updated[-1]["elements"][0]["text"]


def test_routing_by_severity_segment_and_owner_with_dms(tmp_path):
    config = tmp_path / "routing.yaml"
    config.write_text("""
default_channel: C0DEFAULT
dm_min_severity: critical
rules:
  - {severity: [critical], channel: C0LEADERS}
  - {segment: [Enterprise], channel: C0ENTERPRISE}
  - {owner: [omar@example.com], segment: [smb], channel: C0OMARSMB}
owners:
  Jane@Example.com: {user_id: U0JANE, channel: C0JANE}
""")
    routing = load_routing(config)
    assert routing.destinations(make_alert(1, severity="critical", segment="enterprise")) == \
        ["C0LEADERS", "C0ENTERPRISE", "C0JANE", "user:U0JANE"]
    assert routing.destinations(make_alert(2, owner="omar@example.com", segment="smb")) == ["C0OMARSMB"]
    assert routing.destinations(make_alert(3, owner="omar@example.com", severity="critical")) == \
        ["C0LEADERS", "email:omar@example.com"]
    assert routing.destinations(make_alert(4, owner="lee@example.com", severity="low")) == ["C0DEFAULT"]
    assert isinstance(load_routing(DEFAULT_ROUTING), Routing)  # the shipped file is valid


@pytest.mark.parametrize("body, message", [
    ("rules: [{channel: C1}]", "default_channel: Field required"),
    ("default_channel: C1\nchanels: []", "chanels: Extra inputs are not permitted"),
    ("default_channel: C1\ndm_min_severity: urgent", "dm_min_severity must be one of"),
    ("default_channel: [C1", "while parsing"),
])
def test_a_bad_routing_file_is_one_line_naming_the_problem(tmp_path, body, message):
    config = tmp_path / "routing.yaml"
    config.write_text(body)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        load_routing(config)
    assert str(config) in str(error.value)


def test_without_a_token_the_same_block_kit_goes_to_the_file_sink_and_the_console(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    sink_path = tmp_path / "slack" / "messages.jsonl"
    sink = transport_from_env(sink_path)
    assert isinstance(sink, FileSink)
    routing = Routing(default_channel="C0ALERTS", dm_min_severity="critical")
    alerts = [make_alert(1, severity="critical", needs_decision=True), make_alert(2)]
    outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
    outbox.enqueue_alerts(alerts, routing)
    outbox.deliver(sink, budget_seconds=10)
    outbox.enqueue_alerts(alerts, routing)
    outbox.deliver(sink, budget_seconds=2)  # nothing twice
    records = [json.loads(line) for line in sink_path.read_text().splitlines()]
    # Paced per channel: the DM goes out while the channel waits its second.
    assert [r["channel"] for r in records] == ["C0ALERTS", "email:jane@example.com", "C0ALERTS"]
    expected = alert_message(alerts[0], routing.dagster_ui_url, routing.asset_path)
    assert records[0]["blocks"] == expected["blocks"] and records[0]["text"] == expected["text"]
    console = capsys.readouterr().out.splitlines()
    assert len(console) == 3 and console[0].startswith("[csops] slack (file sink) C0ALERTS: CRITICAL churn risk: Account 1")
    assert set(outbox.counts()) == {SENT}
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-anything")
    assert isinstance(transport_from_env(sink_path), SlackTransport)


def test_the_file_sink_echoes_the_first_messages_and_keeps_every_one(tmp_path, capsys):
    sink = FileSink(tmp_path / "messages.jsonl", echo=2)
    for n in range(6):
        assert sink.post("C1", {"text": f"message {n}", "blocks": []}, key=f"k{n}").kind == "ok"
    console = capsys.readouterr().out.splitlines()
    assert console == ["[csops] slack (file sink) C1: message 0", "[csops] slack (file sink) C1: message 1",
                       f"[csops] slack (file sink): further messages only in {tmp_path / 'messages.jsonl'}"]
    assert len((tmp_path / "messages.jsonl").read_text().splitlines()) == 6
    assert sink.find("C1", "k5", 0).kind == "ok"
