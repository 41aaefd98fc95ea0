"""Slack delivery: Block Kit messages, routing, the exactly-once outbox, the file sink and the approval app."""
