"""The signals the agent reasons on: one row per account on the as-of day, read from the marts and `ml.*_scores`.

A catalogue as data (name, kind, source, description), like `ml/features.py`: playbook triggers may name only these,
alerts carry their values as evidence, and `verify_evidence` rebuilds them from the marts to prove an alert's
figures are real (risk hallucination must be 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd

HANDOFF_FIELDS = ("executive_sponsor", "champion", "success_criteria", "use_cases", "implementation_deadline",
                  "pain_points")


@dataclass(frozen=True)
class Signal:
    name: str
    kind: str  # number, bool, text, date, list
    source: str
    description: str


def _s(name, kind, source, description):
    return Signal(name, kind, source, description)


SIGNALS: dict[str, Signal] = {s.name: s for s in [
    _s("account_name", "text", "marts.dim_accounts", "Account name."),
    _s("csm_owner", "text", "marts.dim_accounts", "The account's CSM."),
    _s("segment", "text", "marts.dim_accounts", "enterprise, mid_market or smb."),
    _s("active_arr", "number", "marts.fct_account_daily", "ARR of the contracts active on the as-of day."),
    _s("days_to_renewal", "number", "marts.fct_account_daily", "Days to the next renewal."),
    _s("contract_status", "text", "marts.fct_account_phase_history", "active, renewal_gap, pending_renewal, churned."),
    _s("phase_number", "number", "marts.fct_account_phase_history", "Journey phase (1-4, 8-11)."),
    _s("phase_gate", "text", "marts.fct_account_phase_history", "The gate that put the account in its phase."),
    _s("is_new_account", "bool", "marts.fct_account_lifecycle", "Created inside the data window (onboarding applies)."),
    _s("last_churn_date", "date", "marts.fct_account_lifecycle", "Day of the last churn (up to the as-of day)."),
    _s("is_winback_eligible", "bool", "marts.fct_account_lifecycle", "Churned recently after a green relationship."),
    _s("latest_nps_score", "number", "marts.fct_account_daily", "Latest NPS answer (0-10)."),
    _s("health_score", "number", "marts.fct_account_health", "Health score on the as-of day."),
    _s("health_band", "text", "marts.fct_account_health", "green, yellow or red."),
    _s("handoff_missing_field_count", "number", "marts.fct_handoff_audit", "Handoff fields still missing."),
    _s("handoff_missing_fields", "list", "marts.fct_handoff_audit", "The missing handoff fields, by name."),
    _s("has_champion", "bool", "marts.fct_account_daily", "A champion contact is present."),
    _s("has_executive_sponsor", "bool", "marts.fct_account_daily", "An executive sponsor contact is present."),
    _s("champion_left_90d", "bool", "marts.fct_account_daily", "A champion left within 90 days."),
    _s("seat_utilization", "number", "marts.fct_account_daily", "Active users (30 d) over licensed seats."),
    _s("usage_trend_28d", "number", "marts.fct_account_daily", "Usage trend over 28 days."),
    _s("first_value_date", "date", "marts.fct_account_daily", "Day the account first reached value."),
    _s("tenure_days", "number", "marts.fct_account_daily", "Days since the first contract started."),
    _s("csat_avg_90d", "number", "marts.fct_account_daily", "Average CSAT over 90 days."),
    _s("urgent_high_tickets_90d", "number", "marts.fct_account_daily", "Urgent and high tickets over 90 days."),
    _s("unused_seats", "number", "marts.fct_lean_waste", "Licensed seats without an active user (30 d)."),
    _s("unused_seat_share", "number", "marts.fct_lean_waste", "Unused seats over licensed seats (Muda)."),
    _s("unused_seat_cost_per_year", "number", "marts.fct_lean_waste", "Unused seats in money per year (Muda)."),
    _s("is_erratic", "bool", "marts.fct_lean_waste", "Erratic daily usage (Mura)."),
    _s("is_support_spike", "bool", "marts.fct_lean_waste", "Support load well above baseline (Muri)."),
    _s("is_in_renewal_window", "bool", "marts.fct_lean_waste", "Inside the renewal window."),
    _s("muri_score", "number", "marts.fct_lean_waste", "Overburden score."),
    _s("churn_probability", "number", "ml.churn_scores", "Calibrated churn probability (null without a model)."),
    _s("churn_band", "text", "ml.churn_scores", "Churn risk band: high, medium, low."),
    _s("churn_percentile", "number", "ml.churn_scores", "Rank of the churn risk among active accounts (0-1)."),
    _s("churn_reasons", "text", "ml.churn_scores", "The churn model's top reasons in plain words."),
    _s("expansion_probability", "number", "ml.expansion_scores", "Expansion propensity (null without a model)."),
    _s("expansion_band", "text", "ml.expansion_scores", "Expansion band: high, medium, low."),
    _s("expansion_percentile", "number", "ml.expansion_scores", "Rank of the expansion propensity (0-1)."),
    _s("score_as_of_date", "date", "ml.churn_scores", "The data day the scores describe."),
    _s("voice_sentiment_90d", "number", "marts.fct_account_voice", "Mean sentiment of the account's texts, 90 days."),
    _s("voice_praise_texts_90d", "number", "marts.fct_account_voice", "Texts praising the product, 90 days."),
    _s("voice_competitor_mentions_90d", "number", "marts.fct_account_voice", "Texts naming a competitor, 90 days."),
    _s("voice_intent_to_leave_90d", "number", "marts.fct_account_voice",
       "Texts saying the customer considers leaving or switching, 90 days."),
    _s("voice_quote", "text", "intermediate.int_voice_text_signals",
       "The latest text of 90 days with intent to leave or a competitor, personal data redacted, as the customer or "
       "CSM wrote it (untrusted: escape it wherever it is shown)."),
]}
VOICE = "marts.fct_account_voice"
VOICE_TEXTS = "intermediate.int_voice_text_signals"

# Point in time wherever the marts keep history: the daily marts on the as-of day, the phase from the phase history
# row covering it; only the handoff audit, the account's name and owner and the win-back flag are current-only.
_SQL = """
with scores as (
    select c.account_id, c.as_of_date as score_as_of_date, c.probability as churn_probability,
           c.risk_band as churn_band, c.risk_percentile as churn_percentile, c.reasons_text as churn_reasons,
           e.probability as expansion_probability, e.risk_band as expansion_band,
           e.risk_percentile as expansion_percentile
    from ml.churn_scores c left join ml.expansion_scores e using (account_id)
),
phase as (
    select p.account_id, p.phase_number, p.phase_gate,
           case when p.phase_number = 11 and l.last_churn_date <= $as_of then 'churned'
                when p.phase_number = 11 then 'pending_renewal'
                else coalesce(p.entry_contract_status, 'active') end as contract_status,
           case when l.last_churn_date <= $as_of then l.last_churn_date end as last_churn_date
    from marts.fct_account_phase_history p
    left join marts.fct_account_lifecycle l using (account_id)
    where p.valid_from_date <= $as_of and (p.valid_to_date is null or p.valid_to_date > $as_of)
),
universe as (
    select account_id from scores
    union select account_id from phase where contract_status = 'churned'
)
select u.account_id, a.account_name, a.csm_owner, a.segment, d.active_arr, d.days_to_next_renewal as days_to_renewal,
       case when ph.contract_status in ('churned', 'pending_renewal') or coalesce(d.active_contracts, 0) = 0
            then ph.contract_status else 'active' end as contract_status, ph.phase_number, ph.phase_gate, l.is_new_account, ph.last_churn_date,
       l.is_winback_eligible, d.latest_nps_score, h.health_score, h.health_band,
       ho.missing_field_count as handoff_missing_field_count,
       {handoff_list} as handoff_missing_fields,
       d.has_champion, d.has_executive_sponsor, d.champion_left_90d, d.seat_utilization, d.usage_trend_28d,
       d.first_value_date, d.tenure_days, d.csat_avg_90d, d.urgent_high_tickets_90d,
       w.unused_seats, w.unused_seat_share, w.unused_seat_cost_per_year, w.is_erratic, w.is_support_spike,
       w.is_in_renewal_window, w.muri_score,
       s.churn_probability, s.churn_band, s.churn_percentile, s.churn_reasons, s.expansion_probability,
       s.expansion_band, s.expansion_percentile, s.score_as_of_date
from universe u
join marts.dim_accounts a using (account_id)
left join phase ph using (account_id)
left join marts.fct_account_lifecycle l using (account_id)
left join scores s using (account_id)
left join marts.fct_handoff_audit ho using (account_id)
left join marts.fct_account_daily d on d.account_id = u.account_id and d.date_day = $as_of
left join marts.fct_lean_waste w on w.account_id = u.account_id and w.date_day = $as_of
left join marts.fct_account_health h on h.account_id = u.account_id and h.date_day = $as_of
order by u.account_id
"""
_HANDOFF_LIST = ("case when ho.account_id is null then null when not ho.has_handoff then ['handoff'] else "
                 "list_filter([" + ", ".join(f"case when not ho.has_{f} then '{f}' end" for f in HANDOFF_FIELDS)
                 + "], lambda x: x is not null) end")


def scores_as_of(con) -> date | None:
    """The data day of the churn scores (the day the agent reasons about)."""
    row = con.execute("select max(as_of_date) from ml.churn_scores").fetchall()[0]
    return _to_date(row[0]) if row and row[0] is not None else None


def _to_date(value) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date()


def _plain(value, kind: str):
    """A JSON-able Python value for evidence and comparisons."""
    if kind == "list":
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else [str(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "date":
        return _to_date(value).isoformat()
    if kind == "bool":
        return bool(value)
    if kind == "number":
        number = float(value)
        return int(number) if number.is_integer() else round(number, 6)
    return str(value)


# What customers wrote (fct_account_voice, ml/voice): read when the voice marts exist, else the voice signals are null.
_VOICE_SQL = f"""
with quotes as (
    select account_id, evidence as voice_quote
    from {VOICE_TEXTS}
    where (intent_to_leave or competitors <> '') and evidence is not null
      and created_on between $as_of - 89 and $as_of
    qualify row_number() over (partition by account_id order by created_on desc, text_id desc) = 1
)
select v.account_id, v.sentiment_avg_90d as voice_sentiment_90d, v.praise_texts_90d as voice_praise_texts_90d,
       v.competitor_mentions_90d as voice_competitor_mentions_90d,
       v.intent_to_leave_texts_90d as voice_intent_to_leave_90d, q.voice_quote
from {VOICE} v left join quotes q using (account_id)
where v.date_day = $as_of
"""


def _exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, name]).fetchone()[0])


def load_signals(con, as_of: date | None = None) -> tuple[date | None, list[dict]]:
    """(as-of day, one dict of plain signal values per account): every scored account and every churned one.
    (None, []) when nothing is scored yet."""
    as_of = as_of or scores_as_of(con)
    if as_of is None:
        return None, []
    frame = con.execute(_SQL.format(handoff_list=_HANDOFF_LIST), {"as_of": as_of}).df()
    if _exists(con, VOICE) and _exists(con, VOICE_TEXTS):
        voice = con.execute(_VOICE_SQL, {"as_of": as_of}).df()
        frame = frame.merge(voice, on="account_id", how="left")
    rows = []
    for record in frame.to_dict("records"):
        row = {"account_id": str(record["account_id"])}
        for name, signal in SIGNALS.items():
            row[name] = _plain(record.get(name), signal.kind)
        rows.append(row)
    return as_of, rows


def values_match(expected, actual) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return math.isclose(float(expected), float(actual), rel_tol=1e-6, abs_tol=1e-6)
        except (TypeError, ValueError):
            return False
    return expected == actual


def verify_evidence(con, alerts: list[dict]) -> list[str]:
    """Rebuild each alert's evidence from the marts and scores on its as-of day; the list of mismatches (empty: every
    figure is supported). `alerts`: dicts with id, account_id, as_of_date and evidence (its `signals`)."""
    problems, by_day = [], {}
    for alert in alerts:
        day = _to_date(alert["as_of_date"])
        if day not in by_day:
            by_day[day] = {row["account_id"]: row for row in load_signals(con, day)[1]}
        rebuilt = by_day[day].get(alert["account_id"])
        if rebuilt is None:
            problems.append(f"alert {alert['id']}: account {alert['account_id']} not in the marts on {day}")
            continue
        for name, value in (alert["evidence"].get("signals") or {}).items():
            if name not in SIGNALS:
                problems.append(f"alert {alert['id']}: {name} is not a signal")
            elif not values_match(value, rebuilt.get(name)):
                problems.append(f"alert {alert['id']}: {name} is {value!r} in the alert, {rebuilt.get(name)!r} in the "
                                f"marts on {day}")
    return problems
