"""The writing policy: `policy.yaml` beside this module (or CSOPS_BRIEFS_POLICY), each key overridable by an
environment variable CSOPS_BRIEFS_<KEY>. Secrets are not part of it: the API key is read from ANTHROPIC_API_KEY."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")


class BriefPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSOPS_BRIEFS_", extra="forbid")

    writer: Literal["auto", "claude", "offline"] = "auto"
    model: str = "claude-sonnet-4-6"
    max_tokens: int = 2048
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    timeout_seconds: float = 60
    max_retries: int = 3
    concurrency: int = 4
    batch_min_requests: int = 50
    batch_poll_seconds: float = 30
    batch_max_wait_seconds: float = 86400
    price_input: float = 3.0
    price_output: float = 15.0
    price_cache_write: float = 3.75
    price_cache_read: float = 0.30
    batch_discount: float = 0.5
    renewal_within_days: int = 120
    churn_bands: list[str] = ["high", "critical"]
    expansion_bands: list[str] = ["high"]
    unused_seat_share_min: float = 0.5

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings, file_secret_settings):
        # The environment overrides the file (passed as init values).
        return env_settings, init_settings

    @classmethod
    def load(cls, path: Path | str | None = None) -> BriefPolicy:
        path = Path(path or os.environ.get("CSOPS_BRIEFS_POLICY") or DEFAULT_POLICY)
        if not path.exists():
            raise ValueError(f"brief policy file not found: {path}")
        return cls(**(yaml.safe_load(path.read_text()) or {}))

    def resolved_writer(self) -> str:
        """`claude` or `offline`: `auto` picks Claude only when a key is set."""
        if self.writer == "auto":
            return "claude" if os.environ.get("ANTHROPIC_API_KEY") else "offline"
        return self.writer

    def cost_usd(self, usage: dict, batch: bool = False) -> float:
        cost = (usage.get("input_tokens", 0) * self.price_input + usage.get("output_tokens", 0) * self.price_output
                + usage.get("cache_creation_input_tokens", 0) * self.price_cache_write
                + usage.get("cache_read_input_tokens", 0) * self.price_cache_read) / 1e6
        return round(cost * (self.batch_discount if batch else 1.0), 6)
