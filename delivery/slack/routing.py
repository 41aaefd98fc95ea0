"""Which Slack destinations an alert goes to: channels by severity, segment and owner, and the owner's DM, from a YAML
file (delivery/slack/routing.yaml by default)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from delivery.slack.blocks import SEVERITY_RANK, AlertMessage

DEFAULT_ROUTING = Path(__file__).with_name("routing.yaml")
# A destination is a channel ID, `user:<Slack user ID>` or `email:<address>` (resolved with users.lookupByEmail).
USER, EMAIL = "user:", "email:"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: list[str] = Field(default_factory=list)
    segment: list[str] = Field(default_factory=list)
    owner: list[str] = Field(default_factory=list)
    channel: str

    def matches(self, alert: AlertMessage) -> bool:
        return ((not self.severity or alert.severity in self.severity)
                and (not self.segment or alert.segment.lower() in {s.lower() for s in self.segment})
                and (not self.owner or alert.owner.lower() in {o.lower() for o in self.owner}))


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str | None = None
    channel: str | None = None


class Routing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_channel: str
    ops_channel: str | None = None
    dagster_ui_url: str = "http://127.0.0.1:3000"
    asset_path: str = "ml/churn_scores"
    max_messages_per_channel_per_run: int = Field(default=20, ge=1)
    rules: list[Rule] = Field(default_factory=list)
    dm_min_severity: str | None = "high"
    owners: dict[str, Owner] = Field(default_factory=dict)
    daily_digest_hour_utc: int = Field(default=8, ge=0, le=23)

    def channels(self, alert: AlertMessage) -> list[str]:
        """The channels an alert goes to, in rule order, each once."""
        found = [rule.channel for rule in self.rules if rule.matches(alert)]
        owner = self.owners.get(alert.owner.lower())
        if owner and owner.channel:
            found.append(owner.channel)
        return list(dict.fromkeys(found or [self.default_channel]))

    def owner_destination(self, owner: str) -> str:
        known = self.owners.get(owner.lower())
        return f"{USER}{known.user_id}" if known and known.user_id else f"{EMAIL}{owner}"

    def destinations(self, alert: AlertMessage) -> list[str]:
        """Channels, plus the owner's DM when the alert is severe enough."""
        found = self.channels(alert)
        if (self.dm_min_severity and alert.owner
                and SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[self.dm_min_severity]):
            found.append(self.owner_destination(alert.owner))
        return found


def load_routing(path: Path | None = None) -> Routing:
    """The routing config; a bad file raises ValueError with one line naming the file and the fields."""
    path = Path(path or DEFAULT_ROUTING)
    try:
        data = yaml.safe_load(path.read_text()) or {}
        routing = Routing.model_validate(data)
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"routing config {path}: {error}") from None
    except ValidationError as error:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"routing config {path}: {fields}") from None
    if routing.dm_min_severity and routing.dm_min_severity not in SEVERITY_RANK:
        raise ValueError(f"routing config {path}: dm_min_severity must be one of {sorted(SEVERITY_RANK)}")
    routing.owners = {name.lower(): owner for name, owner in routing.owners.items()}
    return routing
