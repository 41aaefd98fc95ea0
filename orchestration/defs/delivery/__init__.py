"""Delivery wiring: the Slack sensors."""
