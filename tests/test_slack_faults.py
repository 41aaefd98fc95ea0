"""The fault lab at a small size (docs/slack.md has the 1,000-alert figures): every message posted exactly once,
none lost, the recorded ts is Slack's, never more than one message per second in a channel, across a SIGKILL."""

from __future__ import annotations

from lab.slack_faults import run


def test_small_fault_schedule_posts_each_message_once(tmp_path):
    result = run(alerts=60, channels=6, crashes=1, seed=3, workdir=tmp_path, max_seconds=300)
    assert result["messages"] == result["sent"] == result["posted_once"] == result["recorded_ts_matches_slack"] == 60
    assert result["posted_twice_or_more"] == 0 and result["lost"] == 0
    assert result["deliverer_crashes"] == 1
    assert result["max_messages_per_channel_per_second"] == 1
    faults = result["post_requests_by_outcome"]
    assert faults["hold_after"] == 1 and faults.get("500_after", 0) + faults.get("timeout", 0) > 0
    assert "429_pace" not in faults  # Slack never had to refuse a post for the channel's pace
