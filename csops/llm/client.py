"""The Anthropic client as csops builds it: key from ANTHROPIC_API_KEY, base URL from ANTHROPIC_BASE_URL (read by
the SDK itself when None: how tests point it at a local server), a bounded timeout and the SDK's own retries
(408/409/429/5xx with backoff, honouring retry-after)."""

from __future__ import annotations

import os

USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def api_key_from_env(api_key: str | None = None) -> str | None:
    return api_key or os.environ.get("ANTHROPIC_API_KEY") or None


def anthropic_client(api_key: str | None, base_url: str | None, timeout_seconds: float, max_retries: int):
    """`(client, errors)`: the client and the exception types a call raises when the API fails."""
    import anthropic

    api_key = api_key_from_env(api_key)
    if not api_key:
        raise ValueError("the Claude client needs an API key: set ANTHROPIC_API_KEY")
    client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=max_retries)
    return client, (anthropic.APIError,)


def message_usage(message) -> dict:
    usage = getattr(message, "usage", None)
    return {name: int(getattr(usage, name, 0) or 0) for name in USAGE_FIELDS} if usage else {}


def tool_input(message, tool_name: str):
    """The input of the forced tool call in a Messages API answer, or None."""
    for block in getattr(message, "content", None) or []:
        if getattr(block, "type", None) == "tool_use" and block.name == tool_name:
            return block.input
    return None
