"""The brief writer as a Dagster resource: the policy file decides model, limits and prices; the API key arrives as
an `EnvVar` (read when a run starts, never stored in the definitions)."""

from __future__ import annotations

import dagster as dg

from delivery.briefs.policy import BriefPolicy
from delivery.briefs.service import Writer, make_writer


class BriefWriterResource(dg.ConfigurableResource):
    """Claude when `api_key` is set (and the policy's writer is not `offline`), else the offline writer."""

    api_key: str | None = None
    base_url: str | None = None  # None: the SDK reads ANTHROPIC_BASE_URL
    policy_path: str | None = None  # None: CSOPS_BRIEFS_POLICY or delivery/briefs/policy.yaml

    def policy(self) -> BriefPolicy:
        return BriefPolicy.load(self.policy_path)

    def writer(self, policy: BriefPolicy) -> Writer:
        return make_writer(policy, self.api_key, self.base_url)
