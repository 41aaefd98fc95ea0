"""The fact sheet of an account: every fact a brief may state, each with a stable id, a value, a unit and an as-of
date, assembled from the marts and the model scores (plus, optionally, what the account agent knows).

Customer-written text (ticket subjects and bodies, survey comments, activity and handoff notes) is included only as
quoted data: facts with `untrusted=True`, redacted (privacy.Redactor) when the sheet is built, never an instruction.
The sheet's content hash decides whether its briefs are regenerated.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from csops.llm.privacy import Redactor
from delivery.briefs.risks import RISKS

TEXT_LIMIT = 400  # characters of one customer text kept (a ticket body can be long)


@dataclass(frozen=True)
class Fact:
    id: str
    value: Any
    unit: str = ""
    as_of: str = ""
    source: str = ""
    untrusted: bool = False
    supports: tuple[str, ...] = ()  # for risk.* facts: the ids of the facts that show the risk

    def as_dict(self) -> dict:
        out = {"id": self.id, "value": self.value, "unit": self.unit, "as_of": self.as_of, "source": self.source}
        if self.untrusted:
            out["untrusted"] = True
        if self.supports:
            out["supports"] = list(self.supports)
        return out


@dataclass
class AgentInputs:
    """What the account agent knows about one account; every field optional.

    - `open_plan_kind`: the kind of plan the agent has open and wants drafted (a brief kind, e.g. "save_plan").
    - `next_best_action`: the agent's next best action, a short internal sentence.
    - `alerts`: open alerts, each a string or a dict {"type": ..., "message": ..., "risk": <a risks.RISKS name>}; an
      alert naming a risk lets a brief name it (the agent saw it), which the marts alone may not show.
    """

    open_plan_kind: str | None = None
    next_best_action: str | None = None
    alerts: list[Any] = field(default_factory=list)

    @classmethod
    def from_value(cls, value: AgentInputs | dict | None) -> AgentInputs | None:
        if value is None or isinstance(value, AgentInputs):
            return value
        unknown = set(value) - {"open_plan_kind", "next_best_action", "alerts"}
        if unknown:
            raise ValueError(f"unknown agent input fields: {sorted(unknown)}")
        return cls(**value)


@dataclass(frozen=True)
class FactSheet:
    account_id: str
    account_name: str
    as_of: str
    facts: tuple[Fact, ...]

    def by_id(self) -> dict[str, Fact]:
        return {f.id: f for f in self.facts}

    def get(self, fact_id: str, default: Any = None) -> Any:
        fact = self.by_id().get(fact_id)
        return default if fact is None else fact.value

    @property
    def risks(self) -> list[str]:
        return [f.id.removeprefix("risk.") for f in self.facts if f.id.startswith("risk.")]

    def trusted(self) -> list[Fact]:
        return [f for f in self.facts if not f.untrusted]

    def untrusted(self) -> list[Fact]:
        return [f for f in self.facts if f.untrusted]

    def as_dict(self) -> dict:
        return {"account_id": self.account_id, "account_name": self.account_name, "as_of": self.as_of,
                "facts": [f.as_dict() for f in self.facts]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), default=str)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def _clean(value: Any) -> Any:
    """JSON-able, stable values: dates as ISO strings, floats rounded, NaN as None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def derive_risks(values: dict[str, Any], agent: AgentInputs | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """(risk name, ids of the facts showing it) for every risk the facts show. The thresholds are the brief's, not
    the health model's: a risk is named when a CSM should hear about it."""
    found: list[tuple[str, tuple[str, ...]]] = []

    def when(name: str, condition: bool, *ids: str) -> None:
        if condition:
            found.append((name, ids))

    def num(key: str) -> float | None:
        value = values.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def below(key: str, limit: float) -> bool:
        return num(key) is not None and num(key) < limit

    when("churn_risk", values.get("churn.band") in ("high", "critical"), "churn.band", "churn.probability")
    when("low_usage", below("health.score_usage", 40), "health.score_usage")
    when("low_adoption", below("health.score_adoption", 40), "health.score_adoption")
    when("unused_licences", (num("licences.unused_seat_share") or 0) >= 0.3, "licences.unused_seat_share",
         "licences.unused_seats")
    when("support_spike", values.get("support.is_spike") is True, "support.is_spike", "support.tickets_30d")
    when("health_decline", below("health.change_30d", -9.99), "health.change_30d", "health.why_moved_30d")
    when("red_health", values.get("health.band") == "red", "health.band", "health.score")
    when("detractor", below("sentiment.latest_nps", 7), "sentiment.latest_nps")
    when("low_engagement", below("health.score_engagement", 40), "health.score_engagement")
    when("erratic_usage", values.get("usage.is_erratic") is True, "usage.is_erratic")
    when("no_executive_sponsor", values.get("handoff.has_executive_sponsor") is False, "handoff.has_executive_sponsor")
    when("no_champion", values.get("handoff.has_champion") is False, "handoff.has_champion")
    when("handoff_incomplete", (num("handoff.missing_field_count") or 0) > 0, "handoff.missing_field_count")
    days = num("renewal.days_to_renewal")
    when("renewal_due", days is not None and 0 <= days <= 120, "renewal.days_to_renewal", "renewal.next_renewal_date")
    when("churned", values.get("account.churn_status") == "churned", "account.churn_status", "churn.last_churn_date")
    if agent:
        for i, alert in enumerate(agent.alerts):
            if isinstance(alert, dict) and alert.get("risk") in RISKS:
                found.append((alert["risk"], (f"agent.alert_{i + 1}",)))
    return found


def assemble(account_id: str, account_name: str, as_of: str, values: list[Fact], texts: list[tuple[str, str, str]],
             redactor: Redactor, agent: AgentInputs | dict | None = None) -> FactSheet:
    """A sheet from trusted facts, customer texts (id, text, as-of) redacted here, agent inputs and derived risks.

    The one constructor: the warehouse reader and the evaluation cases both go through it, so no sheet skips the
    redaction."""
    agent = AgentInputs.from_value(agent)
    facts = [Fact(f.id, _clean(f.value), f.unit, f.as_of or as_of, f.source, False, f.supports) for f in values]
    if agent:
        if agent.open_plan_kind:
            facts.append(Fact("agent.open_plan_kind", agent.open_plan_kind, "", as_of, "account agent"))
        if agent.next_best_action:
            facts.append(Fact("agent.next_best_action", agent.next_best_action, "", as_of, "account agent"))
        for i, alert in enumerate(agent.alerts):
            message = alert.get("message", "") if isinstance(alert, dict) else str(alert)
            facts.append(Fact(f"agent.alert_{i + 1}", message, "", as_of, "account agent"))
    plain = {f.id: f.value for f in facts}
    for name, ids in derive_risks(plain, agent):
        facts.append(Fact(f"risk.{name}", True, RISKS[name].label, as_of, "derived",
                          supports=tuple(i for i in ids if i in plain)))
    for fact_id, text, text_as_of in texts:
        redacted = redactor.redact(str(text)[:TEXT_LIMIT]).text
        facts.append(Fact(fact_id, redacted, "quoted customer text", text_as_of or as_of, "customer", True))
    return FactSheet(account_id, account_name, as_of, tuple(facts))


# --------------------------------------------------------------------------------------------- from the warehouse
def _rows(con, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _one(con, sql: str, params: list) -> dict:
    rows = _rows(con, sql, params)
    return rows[0] if rows else {}


def _table_exists(con, schema: str, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, name]).fetchone()[0])


def known_names(con, account_id: str) -> list[str]:
    """Every person csops knows for the account: contacts, handoff sponsor and champion, CSM owners, activity owners."""
    names = [r["n"] for r in _rows(con, "SELECT contact_name AS n FROM staging.stg_contacts WHERE account_id = ?",
                                   [account_id])]
    for row in _rows(con, "SELECT executive_sponsor_name, champion_name FROM staging.stg_handoffs WHERE account_id = ?",
                     [account_id]):
        names += [row["executive_sponsor_name"], row["champion_name"]]
    names += [r["n"] for r in _rows(con, "SELECT DISTINCT owner AS n FROM staging.stg_activities WHERE account_id = ?",
                                    [account_id])]
    names += [r["n"] for r in _rows(con, "SELECT csm_owner AS n FROM marts.dim_accounts WHERE account_id = ?",
                                    [account_id])]
    return [n for n in names if n]


def _score(con, table: str, account_id: str) -> dict:
    if not _table_exists(con, "ml", table):
        return {}
    return _one(con, f"SELECT probability, risk_band, top_reasons, as_of_date, model_version FROM ml.{table} "
                     "WHERE account_id = ? ORDER BY as_of_date DESC LIMIT 1", [account_id])


def _reasons(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    out = []
    for item in list(value)[:3]:
        out.append(item.get("reason") or item.get("feature") or json.dumps(item, default=str)
                   if isinstance(item, dict) else str(item))
    return out


POINTS = "points of 100"
# (fact id, column, unit) of the latest fct_account_health and fct_lean_waste rows.
HEALTH_FACTS = [
    ("health.score", "health_score", POINTS), ("health.band", "health_band", ""),
    ("health.change_30d", "health_change_30d", "points over 30 days"), ("health.why_moved_30d", "why_moved_30d", ""),
    ("health.score_usage", "score_usage", POINTS), ("health.score_adoption", "score_adoption", POINTS),
    ("health.score_support", "score_support", POINTS), ("health.score_engagement", "score_engagement", POINTS),
    ("health.score_stakeholder", "score_stakeholder", POINTS),
]
WASTE_FACTS = [
    ("licences.licensed_seats", "licensed_seats", "seats"), ("licences.active_users_30d", "active_users_30d",
                                                              "users in 30 days"),
    ("licences.unused_seats", "unused_seats", "seats"),
    ("licences.unused_seat_share", "unused_seat_share", "share of licensed seats"),
    ("support.tickets_30d", "tickets_30d", "tickets in 30 days"), ("support.is_spike", "is_support_spike", ""),
    ("usage.is_erratic", "is_erratic", ""),
]


def build_fact_sheet(con, account_id: str, agent: AgentInputs | dict | None = None) -> FactSheet | None:
    """The sheet of `account_id` from the warehouse behind `con`; None when the account is not in dim_accounts."""
    acc = _one(con, "SELECT * FROM marts.dim_accounts WHERE account_id = ?", [account_id])
    if not acc:
        return None
    as_of = _clean(acc["as_of_date"])
    health = _one(con, "SELECT * FROM marts.fct_account_health WHERE account_id = ? AND date_day <= ? "
                       "ORDER BY date_day DESC LIMIT 1", [account_id, as_of])
    waste = _one(con, "SELECT * FROM marts.fct_lean_waste WHERE account_id = ? AND date_day <= ? "
                      "ORDER BY date_day DESC LIMIT 1", [account_id, as_of])
    handoff = _one(con, "SELECT * FROM marts.fct_handoff_audit WHERE account_id = ?", [account_id])
    life = _one(con, "SELECT * FROM marts.fct_account_lifecycle WHERE account_id = ?", [account_id])
    events = _rows(con, "SELECT event_type, event_date, arr_delta_amount, change_driver FROM marts.fct_revenue_events "
                        "WHERE account_id = ? ORDER BY event_date DESC LIMIT 3", [account_id])
    churn, expansion = _score(con, "churn_scores", account_id), _score(con, "expansion_scores", account_id)
    h_as_of, w_as_of = _clean(health.get("date_day")), _clean(waste.get("date_day"))

    F = Fact
    facts = [
        F("account.segment", acc.get("segment"), "", as_of, "dim_accounts"),
        F("account.industry", acc.get("industry"), "", as_of, "dim_accounts"),
        F("account.customer_since", acc.get("first_contract_start_date"), "date", as_of, "dim_accounts"),
        F("account.phase", acc.get("current_phase_name"), "lifecycle phase", as_of, "dim_accounts"),
        F("account.phase_number", acc.get("current_phase_number"), "lifecycle phase number", as_of, "dim_accounts"),
        F("account.is_new", acc.get("is_new_account"), "", as_of, "dim_accounts"),
        F("account.churn_status", acc.get("churn_status"), "", as_of, "dim_accounts"),
        F("revenue.arr", acc.get("active_arr_amount"), "ARR", as_of, "dim_accounts"),
        F("renewal.next_renewal_date", acc.get("next_renewal_date"), "date", as_of, "dim_accounts"),
        F("renewal.days_to_renewal", acc.get("days_to_renewal"), "days", as_of, "dim_accounts"),
        *(F(fid, health.get(column), unit, h_as_of, "fct_account_health") for fid, column, unit in HEALTH_FACTS),
        *(F(fid, waste.get(column), unit, w_as_of, "fct_lean_waste") for fid, column, unit in WASTE_FACTS),
        F("licences.unused_seat_cost_per_year", waste.get("unused_seat_cost_per_year"),
          f"{waste.get('currency_code') or ''} per year".strip(), w_as_of, "fct_lean_waste"),
        F("sentiment.latest_nps", life.get("latest_nps_score"), "NPS answer 0-10", as_of, "fct_account_lifecycle"),
        F("value.days_to_value", life.get("days_to_value"), "days", as_of, "fct_account_lifecycle"),
        F("value.qbr_ebr_count_365d", life.get("qbr_ebr_count_365d"), "QBRs and EBRs in 365 days", as_of,
          "fct_account_lifecycle"),
        F("churn.last_churn_date", acc.get("last_churn_date"), "date", as_of, "dim_accounts"),
    ]
    for task, score in (("churn", churn), ("expansion", expansion)):
        score_as_of, source = _clean(score.get("as_of_date")) or as_of, f"ml.{task}_scores"
        facts += [F(f"{task}.probability", score.get("probability"), "probability", score_as_of, source),
                  F(f"{task}.band", score.get("risk_band"), "", score_as_of, source),
                  F(f"{task}.top_reasons", _reasons(score.get("top_reasons")), "model reasons", score_as_of, source),
                  F(f"{task}.model_version", score.get("model_version"), "", score_as_of, source)]
    if handoff.get("has_handoff") is not None:
        facts += [
            F("handoff.has_handoff", handoff.get("has_handoff"), "", as_of, "fct_handoff_audit"),
            F("handoff.missing_field_count", handoff.get("missing_field_count"), "of 6 required fields", as_of,
              "fct_handoff_audit"),
            F("handoff.has_executive_sponsor", handoff.get("has_executive_sponsor"), "", as_of, "fct_handoff_audit"),
            F("handoff.has_champion", handoff.get("has_champion"), "", as_of, "fct_handoff_audit"),
            F("handoff.has_success_criteria", handoff.get("has_success_criteria"), "", as_of, "fct_handoff_audit"),
            F("handoff.open_tasks", handoff.get("open_tasks"), "", as_of, "fct_handoff_audit"),
        ]
    for i, event in enumerate(events):
        facts.append(F(f"revenue.event_{i + 1}", f"{event['event_type']} on {_clean(event['event_date'])}",
                       "", as_of, "fct_revenue_events"))
        facts.append(F(f"revenue.event_{i + 1}_arr_delta", event["arr_delta_amount"], "ARR change", as_of,
                       "fct_revenue_events"))
    texts: list[tuple[str, str, str]] = []
    for row in _rows(con, "SELECT ticket_id, subject, body, opened_on FROM staging.stg_support_tickets "
                          "WHERE account_id = ? AND opened_on <= ? ORDER BY opened_at DESC LIMIT 3", [account_id, as_of]):
        texts.append((f"text.ticket_{row['ticket_id']}.subject", row["subject"], _clean(row["opened_on"])))
        if row["body"]:
            texts.append((f"text.ticket_{row['ticket_id']}.body", row["body"], _clean(row["opened_on"])))
    for row in _rows(con, "SELECT response_id, comment, responded_on FROM staging.stg_survey_responses "
                          "WHERE account_id = ? AND comment IS NOT NULL AND responded_on <= ? "
                          "ORDER BY responded_at DESC LIMIT 2", [account_id, as_of]):
        texts.append((f"text.survey_{row['response_id']}.comment", row["comment"], _clean(row["responded_on"])))
    for row in _rows(con, "SELECT activity_id, notes, occurred_on FROM staging.stg_activities WHERE account_id = ? "
                          "AND notes IS NOT NULL AND occurred_on <= ? ORDER BY occurred_at DESC LIMIT 3",
                     [account_id, as_of]):
        texts.append((f"text.activity_{row['activity_id']}.notes", row["notes"], _clean(row["occurred_on"])))
    for row in _rows(con, "SELECT notes, pain_points FROM staging.stg_handoffs WHERE account_id = ? "
                          "ORDER BY loaded_at DESC LIMIT 1", [account_id]):
        for column in ("notes", "pain_points"):
            if row[column]:
                texts.append((f"text.handoff.{column}", row[column], as_of))
    return assemble(account_id, acc.get("account_name") or account_id, as_of, facts, texts,
                    Redactor(known_names(con, account_id)), agent)


def build_fact_sheets(con, account_ids: list[str] | None = None,
                      agent_inputs: dict[str, AgentInputs | dict] | None = None) -> dict[str, FactSheet]:
    """Sheets of `account_ids` (default: every account in dim_accounts); `agent_inputs` by account id, optional."""
    ids = account_ids or [r[0] for r in con.execute("SELECT account_id FROM marts.dim_accounts ORDER BY 1").fetchall()]
    agent_inputs = agent_inputs or {}
    sheets = {}
    for account_id in ids:
        sheet = build_fact_sheet(con, account_id, agent_inputs.get(account_id))
        if sheet is not None:
            sheets[account_id] = sheet
    return sheets
