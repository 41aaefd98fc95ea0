"""The agent's policy (`actions/policy.yaml`, versioned): capacities, budgets, holdout, stale age, escalation, expiry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from actions.playbook import OWNER_ROLES, PlaybookError

POLICY_PATH = Path(__file__).parent / "policy.yaml"


@dataclass(frozen=True)
class Policy:
    version: int
    capacity_per_week: dict[str, int]
    role_owners: dict[str, str]
    manager: str
    alerts_per_owner_per_week: int
    stale_input_days: int
    escalation_days: int
    approval_expiry_days: int
    expansion_arr_share: float
    holdout_share: float
    holdout_seed: int
    holdout_exempt: tuple[str, ...]
    lift_outcome_days: int
    lift_confidence: float

    def replace(self, **changes) -> Policy:
        from dataclasses import replace

        return replace(self, **changes)


def _number(data: dict, key: str, where: str, kind=int, low: float = 0, high: float | None = None):
    value = data.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or (kind is int and not isinstance(value, int)):
        raise PlaybookError(f"{where}: {key}: expected {kind.__name__}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise PlaybookError(f"{where}: {key}: {value} is outside {low}..{high if high is not None else 'inf'}")
    return kind(value)


def load_policy(path: Path = POLICY_PATH) -> Policy:
    where = Path(path).name
    data = yaml.safe_load(Path(path).read_text()) or {}
    capacity = data.get("capacity_per_week") or {}
    if set(capacity) != set(OWNER_ROLES):
        raise PlaybookError(f"{where}: capacity_per_week: needs exactly the roles {', '.join(OWNER_ROLES)}")
    for role in capacity:
        _number(capacity, role, f"{where}: capacity_per_week")
    role_owners = data.get("role_owners") or {}
    if set(role_owners) != set(OWNER_ROLES) - {"csm"}:
        raise PlaybookError(f"{where}: role_owners: needs the roles other than csm")
    holdout, lift = data.get("holdout") or {}, data.get("lift") or {}
    return Policy(
        version=_number(data, "version", where, low=1),
        capacity_per_week={k: int(v) for k, v in capacity.items()},
        role_owners={k: str(v) for k, v in role_owners.items()},
        manager=str(data.get("manager") or role_owners["cs_director"]),
        alerts_per_owner_per_week=_number(data, "alerts_per_owner_per_week", where),
        stale_input_days=_number(data, "stale_input_days", where),
        escalation_days=_number(data, "escalation_days", where, low=1),
        approval_expiry_days=_number(data, "approval_expiry_days", where, low=1),
        expansion_arr_share=_number(data, "expansion_arr_share", where, float, 0, 10),
        holdout_share=_number(holdout, "share", f"{where}: holdout", float, 0, 0.5),
        holdout_seed=_number(holdout, "seed", f"{where}: holdout"),
        holdout_exempt=tuple(holdout.get("exempt") or ()),
        lift_outcome_days=_number(lift, "outcome_days", f"{where}: lift", low=1),
        lift_confidence=_number(lift, "confidence", f"{where}: lift", float, 0.5, 0.999),
    )
