"""Playbooks as data: one YAML file each under `actions/playbooks/`, validated on load into frozen dataclasses.

A bad file fails with one line naming the file and the field (`licence_optimisation.yaml: trigger.all[0].signal:
unknown signal 'unused'`), like `csops/contract.py` for the landing zone. The router and the queue read these
objects only; adding a playbook is adding a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actions.signals import SIGNALS

PLAYBOOK_DIR = Path(__file__).parent / "playbooks"
OWNER_ROLES = ("csm", "cs_director", "account_executive", "support_lead")
CHANNELS = ("internal_task", "email_draft", "slack")
# Where in the agent's graph a playbook fires: the handoff loop, the risk branch, the success branch (no risk),
# opportunities after the velocity checks, or the churn branch.
STAGES = ("handoff", "risk", "success", "opportunity", "churned")
VALUES = ("churn", "expansion")  # expected value: ARR x churn probability, or expansion ARR x propensity
SEVERITIES = ("low", "medium", "high", "critical")
RISK_KINDS = ("churn_risk", "muda", "mura", "muri", "intent_to_leave")
COMPARISONS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
UNARY = ("is_true", "is_false", "is_null", "not_null")


class PlaybookError(ValueError):
    """A playbook file that does not validate: the message names the file and the field."""


def _missing(value: Any) -> bool:
    try:
        return value is None or value != value  # None or NaN
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Condition:
    signal: str
    op: str
    value: Any = None

    def holds(self, signals: dict) -> bool:
        """True when the account's signal satisfies the condition; a missing value satisfies only `is_null`."""
        actual = signals.get(self.signal)
        if self.op == "is_null":
            return _missing(actual)
        if self.op == "not_null":
            return not _missing(actual)
        if _missing(actual):
            return False
        if self.op in ("is_true", "is_false"):
            return bool(actual) is (self.op == "is_true")
        return bool(COMPARISONS[self.op](actual, self.value))


@dataclass(frozen=True)
class Playbook:
    name: str
    title: str
    description: str
    stage: str
    all_of: tuple[Condition, ...]
    any_of: tuple[Condition, ...]
    action: str
    owner_role: str
    priority: int  # 1 (first) to 5
    due_in_days: int
    channel: str
    cooldown_days: int
    needs_approval: bool
    value: str
    risk_kind: str | None = None
    severity: str | None = None
    for_each: str | None = None  # a list signal: one action per item (e.g. per missing handoff field)
    source: str = ""

    def triggered(self, signals: dict) -> bool:
        return all(c.holds(signals) for c in self.all_of) and (
            not self.any_of or any(c.holds(signals) for c in self.any_of))

    def conditions(self) -> tuple[Condition, ...]:
        return self.all_of + self.any_of

    def evidence(self, signals: dict) -> dict:
        """The figures the trigger was decided on, by signal name."""
        names = [c.signal for c in self.conditions()] + ([self.for_each] if self.for_each else [])
        return {name: signals.get(name) for name in names}


def _require(data: dict, key: str, kind: type | tuple, where: str, choices: tuple | None = None) -> Any:
    if key not in data:
        raise PlaybookError(f"{where}: {key}: required")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise PlaybookError(f"{where}: {key}: expected {names}, got {value!r}")
    if choices is not None and value not in choices:
        raise PlaybookError(f"{where}: {key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict):
        raise PlaybookError(f"{where}: expected a mapping with signal, op and value, got {raw!r}")
    unknown = set(raw) - {"signal", "op", "value"}
    if unknown:
        raise PlaybookError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    signal = _require(raw, "signal", str, where)
    if signal not in SIGNALS:
        raise PlaybookError(f"{where}.signal: unknown signal {signal!r} (see actions/signals.py)")
    op = _require(raw, "op", str, where, (*COMPARISONS, *UNARY))
    if op in COMPARISONS and "value" not in raw:
        raise PlaybookError(f"{where}.value: required with op {op!r}")
    return Condition(signal, op, raw.get("value"))


FIELDS = {"title", "description", "stage", "trigger", "action", "owner_role", "priority", "due_in_days", "channel",
          "cooldown_days", "needs_approval", "value", "risk_kind", "severity", "for_each"}


def parse_playbook(name: str, data: Any, source: str) -> Playbook:
    where = source
    if not isinstance(data, dict):
        raise PlaybookError(f"{where}: expected a mapping of playbook fields")
    unknown = set(data) - FIELDS
    if unknown:
        raise PlaybookError(f"{where}: {sorted(unknown)[0]}: unknown field")
    trigger = _require(data, "trigger", dict, where)
    if set(trigger) - {"all", "any"} or not trigger:
        raise PlaybookError(f"{where}: trigger: expected `all:` and/or `any:` lists of conditions")
    blocks = {}
    for block in ("all", "any"):
        items = trigger.get(block) or []
        if not isinstance(items, list):
            raise PlaybookError(f"{where}: trigger.{block}: expected a list of conditions")
        blocks[block] = tuple(_condition(item, f"{where}: trigger.{block}[{i}]") for i, item in enumerate(items))
    risk_kind = data.get("risk_kind")
    if risk_kind is not None and risk_kind not in RISK_KINDS:
        raise PlaybookError(f"{where}: risk_kind: {risk_kind!r} is not one of {', '.join(RISK_KINDS)}")
    severity = data.get("severity")
    if (risk_kind is None) != (severity is None):
        raise PlaybookError(f"{where}: severity: required with risk_kind, and only with it")
    if severity is not None and severity not in SEVERITIES:
        raise PlaybookError(f"{where}: severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    for_each = data.get("for_each")
    if for_each is not None and (for_each not in SIGNALS or SIGNALS[for_each].kind != "list"):
        raise PlaybookError(f"{where}: for_each: {for_each!r} is not a list signal")
    priority = _require(data, "priority", int, where)
    if not 1 <= priority <= 5:
        raise PlaybookError(f"{where}: priority: expected 1 to 5, got {priority}")
    for key in ("due_in_days", "cooldown_days"):
        if _require(data, key, int, where) < 0:
            raise PlaybookError(f"{where}: {key}: must not be negative")
    return Playbook(
        name=name, title=_require(data, "title", str, where), description=_require(data, "description", str, where),
        stage=_require(data, "stage", str, where, STAGES), all_of=blocks["all"], any_of=blocks["any"],
        action=_require(data, "action", str, where), owner_role=_require(data, "owner_role", str, where, OWNER_ROLES),
        priority=priority, due_in_days=data["due_in_days"], channel=_require(data, "channel", str, where, CHANNELS),
        cooldown_days=data["cooldown_days"], needs_approval=_require(data, "needs_approval", bool, where),
        value=_require(data, "value", str, where, VALUES), risk_kind=risk_kind, severity=severity, for_each=for_each,
        source=source,
    )


def load_playbook(path: Path) -> Playbook:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise PlaybookError(f"{Path(path).name}: not valid YAML: {str(error).splitlines()[0]}") from None
    return parse_playbook(Path(path).stem, data, Path(path).name)


def load_playbooks(folder: Path = PLAYBOOK_DIR) -> dict[str, Playbook]:
    """Every `*.yaml` in `folder`, by name (the file's stem), in name order."""
    books = {path.stem: load_playbook(path) for path in sorted(Path(folder).glob("*.yaml"))}
    if not books:
        raise PlaybookError(f"{folder}: no playbook files (*.yaml)")
    return books
