"""Point-in-time model features: one row per active account and snapshot day, read from the dbt feature marts.

Every feature of snapshot day D is a value of day D (or of day D-30/60/90 for changes) from marts that promise to be
point in time (`fct_account_daily`, `fct_account_health`, `fct_lean_waste`), the account's CRM segment as of D
(`int_account_versions`), its lifecycle phase on D (`fct_account_phase_history`), the term of the contracts covering
D (`stg_contracts`) and usage by the data's own event types up to D (`int_feature_usage_type_daily`). Nothing reads
contract rows that start after D, revenue events, churn status or the generator's event names; `ml.leakage` proves it
on a sample by rebuilding the marts from data truncated at D.

Features that need no product vocabulary (a customer's event names are unknown to the seed): rates of the
EVENT_TYPE_SLOTS most frequent event types of the training window (`fit_event_types`; slot k is the k-th most
frequent, the list is stored with the feature snapshots and with each model so scoring fills the same columns),
event quantities, usage relative to the account's own history, the billing term.

Columns of `feature_query` (and of the frame `build_feature_frame` returns):
- `account_id`, `snapshot_date`
- the model features (`FEATURE_NAMES`, all DOUBLE, NULL when unknown)
- context columns for explanations and baselines (`CONTEXT_COLUMNS`: values 30/60/90 days earlier, health band, ...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

DAILY = "marts.fct_account_daily"
HEALTH = "marts.fct_account_health"
LEAN = "marts.fct_lean_waste"
VERSIONS = "intermediate.int_account_versions"
PHASES = "marts.fct_account_phase_history"
TYPE_DAILY = "intermediate.int_feature_usage_type_daily"
CONTRACTS = "staging.stg_contracts"
VOICE = "marts.fct_account_voice"
REQUIRED_TABLES = (DAILY,)
OPTIONAL_TABLES = (HEALTH, LEAN, VERSIONS, PHASES, TYPE_DAILY, CONTRACTS, VOICE)
# The features read from what customers write (fct_account_voice); `MLConfig.excluded_feature_families` can leave
# them out (`csops evaluate --without-voice` measures the model without them).
VOICE_FAMILIES = ("voice_sentiment", "voice_topics", "voice_intent")
# the topics of fct_account_voice the models read as features (and the reasons phrase)
VOICE_TOPICS = ("bug", "outage", "billing", "onboarding", "praise")
LAGS = (30, 60, 90)
EVENT_TYPE_SLOTS = 5

SEGMENT_CODES = {"smb": 0, "mid_market": 1, "enterprise": 2}
USAGE_CATEGORIES = ("core", "reporting", "automation", "integration", "collaboration", "admin")


@dataclass(frozen=True)
class Feature:
    name: str
    family: str  # explanations group contributions by family and phrase the family once
    sql: str  # expression over the aliases d (day D), d30/d60/d90, h (health D), h30/h60/h90, w (lean), v, p, t
    description: str
    source: str = DAILY  # the table the expression needs; NULL when it is missing


def _ratio(num: str, den: str) -> str:
    return f"({num}) / nullif({den}, 0)"


def _features() -> list[Feature]:
    f: list[Feature] = []
    add = f.append
    # usage
    add(Feature("seat_utilization", "seat_utilization", "d.seat_utilization",
                "distinct users in 30 days / licensed seats"))
    for k in LAGS:
        add(Feature(f"seat_utilization_change_{k}d", "seat_utilization", f"d.seat_utilization - d{k}.seat_utilization",
                    f"seat utilization minus its value {k} days earlier"))
    add(Feature("active_users_30d", "active_users", "d.active_users_30d", "distinct active users in 30 days"))
    add(Feature("active_users_7d_share", "active_users", _ratio("d.active_users_7d", "d.active_users_30d"),
                "users active in 7 days / users active in 30 days"))
    for k in LAGS:
        add(Feature(f"active_users_30d_ratio_{k}d", "active_users",
                    f"(d.active_users_30d + 1.0) / (d{k}.active_users_30d + 1.0)",
                    f"30-day active users relative to {k} days earlier"))
    add(Feature("events_30d_per_user", "usage_volume", _ratio("d.events_30d", "d.active_users_30d"),
                "usage events in 30 days per active user"))
    for k in LAGS:
        add(Feature(f"events_30d_ratio_{k}d", "usage_volume", f"(d.events_30d + 1.0) / (d{k}.events_30d + 1.0)",
                    f"usage events in 30 days relative to {k} days earlier"))
    add(Feature("usage_trend_28d", "usage_trend", "d.usage_trend_28d", "events in 28 days / the 28 days before"))
    add(Feature("days_since_last_use", "last_use", "d.days_since_last_use", "days since the latest usage event"))
    add(Feature("feature_categories_used_30d", "breadth", "d.feature_categories_used_30d",
                "feature categories used in 30 days"))
    add(Feature("feature_categories_change_90d", "breadth",
                "d.feature_categories_used_30d - d90.feature_categories_used_30d",
                "feature categories used, change over 90 days"))
    for cat in USAGE_CATEGORIES:
        add(Feature(f"events_share_{cat}", "usage_mix", _ratio(f"d.events_30d_{cat}", "d.events_30d"),
                    f"share of 30-day events in the `{cat}` category (seed vocabulary)"))
    add(Feature("key_value_events_share", "key_value", _ratio("d.key_value_events_30d", "d.events_30d"),
                "share of 30-day events that are key-value events (seed flag)"))
    add(Feature("has_first_value", "time_to_value", "(d.first_value_date is not null)::int",
                "first time-to-value reached by the day"))
    add(Feature("days_to_first_value", "time_to_value", "d.days_to_first_value",
                "days from the first contract start to first value"))
    add(Feature("dau_cv_8w", "erratic_usage", "d.dau_cv_8w", "coefficient of variation of daily users, 8 weeks"))
    add(Feature("dau_wow_change_8w", "erratic_usage", "d.dau_wow_change_8w", "week-over-week change of user-days"))
    # contract
    add(Feature("log_active_arr", "contract_size", "ln(1 + d.active_arr)", "log of active ARR"))
    add(Feature("licensed_seats", "contract_size", "d.licensed_seats", "licensed seats"))
    add(Feature("active_products", "products", "d.active_products", "distinct products held"))
    add(Feature("active_contracts", "products", "d.active_contracts", "contract lines covering the day"))
    add(Feature("days_to_next_renewal", "renewal", "d.days_to_next_renewal",
                "days to the earliest end date of the active contracts"))
    add(Feature("tenure_days", "tenure", "d.tenure_days", "days since the first contract start"))
    # support
    add(Feature("tickets_30d", "ticket_volume", "d.tickets_30d", "tickets opened in 30 days"))
    add(Feature("tickets_90d", "ticket_volume", "d.tickets_90d", "tickets opened in 90 days"))
    add(Feature("tickets_30d_change_90d", "ticket_volume", "d.tickets_30d - d90.tickets_30d",
                "30-day tickets minus the value 90 days earlier"))
    add(Feature("urgent_high_tickets_90d", "urgent_tickets", "d.urgent_high_tickets_90d",
                "urgent or high priority tickets in 90 days"))
    add(Feature("open_tickets", "ticket_backlog", "d.open_tickets", "tickets open at the end of the day"))
    add(Feature("oldest_open_ticket_age_days", "ticket_backlog", "d.oldest_open_ticket_age_days",
                "age of the oldest open ticket"))
    add(Feature("csat_avg_90d", "csat", "d.csat_avg_90d", "average CSAT of tickets closed in 90 days"))
    add(Feature("support_load_ratio", "support_load", "w.support_load_ratio",
                "30-day tickets / the account's usual 30-day load", LEAN))
    # survey
    add(Feature("latest_nps_score", "nps", "d.latest_nps_score", "latest NPS answer (0-10)"))
    add(Feature("nps_trend", "nps", "d.nps_trend", "latest NPS minus the previous answer"))
    add(Feature("days_since_latest_nps", "nps", "d.days_since_latest_nps", "days since the latest NPS answer"))
    # engagement
    add(Feature("days_since_last_touch", "csm_touch", "d.days_since_last_touch", "days since the latest CSM activity"))
    add(Feature("live_touches_90d", "csm_touch", "d.live_touches_90d", "meetings and calls in 90 days"))
    add(Feature("touches_90d", "csm_touch", "d.touches_90d", "CSM activities in 90 days"))
    # stakeholders
    add(Feature("has_champion", "champion", "d.has_champion::int", "a champion is on record"))
    add(Feature("champion_left_90d", "champion", "d.champion_left_90d::int", "a champion left in 90 days"))
    add(Feature("has_executive_sponsor", "sponsor", "d.has_executive_sponsor::int", "an executive sponsor is on record"))
    # health score (rule-based) and its components
    add(Feature("health_score", "health", "h.health_score", "rule-based health score (0-100)", HEALTH))
    for k in LAGS:
        add(Feature(f"health_change_{k}d", "health", f"h.health_score - h{k}.health_score",
                    f"health score minus its value {k} days earlier", HEALTH))
    for comp in ("usage", "adoption", "support", "sentiment", "engagement", "stakeholder"):
        add(Feature(f"health_{comp}", f"health_{comp}", f"h.score_{comp}", f"health component `{comp}` (0-100)",
                    HEALTH))
    # lean waste
    add(Feature("unused_seat_share", "unused_seats", "w.unused_seat_share", "licensed seats unused in 30 days",
                LEAN))
    add(Feature("muri_score", "support_load", "w.muri_score", "support overburden score (0-100)", LEAN))
    # voice of the customer: texts written on or before the day (fct_account_voice is point in time)
    add(Feature("voice_sentiment_30d", "voice_sentiment", "t.sentiment_avg_30d",
                "mean sentiment of the account's texts in 30 days (-1..1)", VOICE))
    add(Feature("voice_sentiment_90d", "voice_sentiment", "t.sentiment_avg_90d",
                "mean sentiment of the account's texts in 90 days (-1..1)", VOICE))
    add(Feature("voice_sentiment_trend", "voice_sentiment", "t.sentiment_trend",
                "30-day minus 90-day mean sentiment", VOICE))
    add(Feature("voice_negative_share_90d", "voice_sentiment", "t.negative_share_90d",
                "share of negative texts in 90 days", VOICE))
    for topic in VOICE_TOPICS:
        add(Feature(f"voice_{topic}_texts_90d", "voice_topics", f"t.{topic}_texts_90d",
                    f"texts about `{topic}` in 90 days", VOICE))
    add(Feature("voice_competitor_mentions_90d", "voice_intent", "t.competitor_mentions_90d",
                "texts naming a competitor in 90 days", VOICE))
    add(Feature("voice_intent_to_leave_90d", "voice_intent", "t.intent_to_leave_texts_90d",
                "texts saying the customer considers leaving in 90 days", VOICE))
    add(Feature("voice_intent_to_downgrade_90d", "voice_intent", "t.intent_to_downgrade_texts_90d",
                "texts asking for fewer seats in 90 days", VOICE))
    # CRM and lifecycle
    add(Feature("segment_code", "segment",
                "case lower(v.segment) " + " ".join(f"when '{k}' then {c}" for k, c in SEGMENT_CODES.items())
                + " end", "segment as of the day: 0 smb, 1 mid-market, 2 enterprise", VERSIONS))
    add(Feature("lifecycle_phase", "lifecycle", "p.phase_number", "lifecycle phase number on the day", PHASES))
    add(Feature("days_in_phase", "lifecycle", "d.date_day - p.valid_from_date", "days in the current phase", PHASES))
    # no vocabulary needed: the data's own event types (slots), quantities, the account's history, the billing term
    for k in range(1, EVENT_TYPE_SLOTS + 1):
        add(Feature(f"event_type_{k}_per_user_30d", "event_types", _ratio(f"u.events_30d_{k}", "d.active_users_30d"),
                    f"30-day events of the training window's #{k} event type per active user", TYPE_DAILY))
        add(Feature(f"event_type_{k}_ratio_90d", "event_types",
                    f"(u.events_30d_{k} + 1.0) / (u.events_30d_90d_ago_{k} + 1.0)",
                    f"30-day events of the #{k} event type relative to 90 days earlier", TYPE_DAILY))
    add(Feature("quantity_30d_per_user", "usage_value", _ratio("u.quantity_30d_0", "d.active_users_30d"),
                "sum of the events' quantity in 30 days per active user", TYPE_DAILY))
    add(Feature("quantity_per_event_30d", "usage_value", _ratio("u.quantity_30d_0", "u.events_30d_0"),
                "average quantity of the 30-day events", TYPE_DAILY))
    add(Feature("quantity_30d_ratio_90d", "usage_value", "(u.quantity_30d_0 + 1.0) / (u.quantity_30d_90d_ago_0 + 1.0)",
                "30-day quantity relative to 90 days earlier", TYPE_DAILY))
    add(Feature("events_30d_vs_lifetime", "usage_history", _ratio("u.events_30d_0", "u.events_per_30d_lifetime"),
                "30-day events relative to the account's average 30 days since its first use", TYPE_DAILY))
    add(Feature("billing_term_months", "billing_term", "c.term_months",
                "term of the longest contract covering the day, in months (1 monthly, 12 annual)", CONTRACTS))
    return f


FEATURES: list[Feature] = _features()
FEATURE_NAMES: list[str] = [f.name for f in FEATURES]
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
# Unordered categories as integer codes, fixed here and in dbt (phase numbers), so training and scoring agree:
# LightGBM splits them by category (`ml.train`), and each model version records the codes (features.json).
CATEGORY_CODES = {"segment_code": SEGMENT_CODES,
                  "lifecycle_phase": {"internal_transition": 1, "diagnostic": 2, "kickoff": 3, "value_activation": 4,
                                      "value_realization": 8, "growth_and_renewal": 9, "advocacy": 10,
                                      "churn_handling": 11}}
CATEGORICAL_FEATURES = tuple(CATEGORY_CODES)
# Clocks: they move with the calendar by construction (tenure grows, NPS surveys come in waves, phases age), so the
# scoring day's values always differ from a months-long training slice. Drift is reported for them, never gated.
DRIFT_EXEMPT = ("tenure_days", "days_since_latest_nps", "days_in_phase", "days_to_first_value")

# Context for explanations (values of earlier days, bands, dates): never model inputs.
_CONTEXT: list[tuple[str, str, str]] = [
    ("seat_utilization_now", "d.seat_utilization", DAILY),
    *[(f"seat_utilization_{k}d_ago", f"d{k}.seat_utilization", DAILY) for k in LAGS],
    ("active_users_30d_now", "d.active_users_30d", DAILY),
    *[(f"active_users_30d_{k}d_ago", f"d{k}.active_users_30d", DAILY) for k in LAGS],
    ("events_30d_now", "d.events_30d", DAILY),
    *[(f"events_30d_{k}d_ago", f"d{k}.events_30d", DAILY) for k in LAGS],
    ("feature_categories_90d_ago", "d90.feature_categories_used_30d", DAILY),
    ("tickets_30d_90d_ago", "d90.tickets_30d", DAILY),
    ("tickets_30d_baseline", "d.tickets_30d_baseline", DAILY),
    ("active_arr", "d.active_arr", DAILY),
    ("next_renewal_date", "d.next_renewal_date", DAILY),
    ("unused_seats", "w.unused_seats", LEAN),
    ("unused_seat_cost_per_year", "w.unused_seat_cost_per_year", LEAN),
    ("currency_code", "d.currency_code", DAILY),
    *[(f"health_score_{k}d_ago", f"h{k}.health_score", HEALTH) for k in LAGS],
    ("health_band", "h.health_band", HEALTH),
    ("why_moved_30d", "h.why_moved_30d", HEALTH),
    ("segment", "v.segment", VERSIONS),
    ("lifecycle_phase_name", "p.phase_name", PHASES),
    *[(f"event_type_{k}_name", f"($event_types::varchar[])[{k}]", TYPE_DAILY) for k in range(1, EVENT_TYPE_SLOTS + 1)],
]
CONTEXT_COLUMNS = [name for name, _, _ in _CONTEXT]
_TEXT_CONTEXT = {"next_renewal_date", "currency_code", "health_band", "why_moved_30d", "segment",
                 "lifecycle_phase_name", *[f"event_type_{k}_name" for k in range(1, EVENT_TYPE_SLOTS + 1)]}


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0])


def data_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date, date]:
    """(first day, as-of day) the feature marts cover."""
    row = con.execute(f"select min(date_day), max(date_day) from {DAILY}").fetchone()
    if row[0] is None:
        raise ValueError(f"{DAILY} is empty: no active account-day to learn from or score")
    return _as_date(row[0]), _as_date(row[1])


PARTIAL_DAY_SHARE = 0.5


def scoring_day(con: duckdb.DuckDBPyConnection) -> tuple[date, str]:
    """The day scores and the snapshot grid are anchored on: the as-of day, or the day before when the as-of day is
    still partial (its usage events are under half the median day of the 28 before, e.g. a pipeline run early in
    the morning). Returns the day and a note saying why, empty when it is the as-of day."""
    _, as_of = data_bounds(con)
    rows = con.execute(
        f"select date_day, sum(events_1d) from {DAILY} where date_day between ? and ? group by 1 order by 1",
        [as_of - timedelta(days=28), as_of]).fetchall()
    totals = {_as_date(d): float(v or 0) for d, v in rows}
    before = [v for d, v in totals.items() if d < as_of]
    if len(before) >= 7 and totals.get(as_of, 0.0) < PARTIAL_DAY_SHARE * float(pd.Series(before).median()):
        previous = as_of - timedelta(days=1)
        if previous in totals:
            return previous, (f"{as_of} looks partial ({totals.get(as_of, 0):,.0f} usage events vs a median day of "
                              f"{pd.Series(before).median():,.0f}): features and scores describe {previous}")
    return as_of, ""


def _as_date(value) -> date:
    return value if isinstance(value, date) and not hasattr(value, "hour") else pd.Timestamp(value).date()


def snapshot_dates(start: date, as_of: date, cadence_days: int, warmup_days: int) -> list[date]:
    """Every `cadence_days` back from the as-of date (included), no earlier than `warmup_days` after the start."""
    first = start + timedelta(days=warmup_days)
    dates = []
    day = as_of
    while day >= first:
        dates.append(day)
        day -= timedelta(days=cadence_days)
    return sorted(dates)


_ALIAS_TABLE = {"d": DAILY, **{f"d{k}": DAILY for k in LAGS}, "h": HEALTH, **{f"h{k}": HEALTH for k in LAGS},
                "w": LEAN, "v": VERSIONS, "p": PHASES, "t": VOICE}


def missing_mart_columns(con: duckdb.DuckDBPyConnection, present: set[str]) -> dict[str, list[str]]:
    """Columns the feature SQL reads that the marts do not have (a renamed or dropped mart column)."""
    needed: dict[str, set[str]] = {}
    for sql in [f.sql for f in FEATURES] + [c[1] for c in _CONTEXT]:
        for alias, column in re.findall(r"\b(d|d30|d60|d90|h|h30|h60|h90|w|v|p|t)\.([a-z_0-9]+)", sql):
            needed.setdefault(_ALIAS_TABLE[alias], set()).add(column)
    needed.setdefault(VERSIONS, set()).update({"account_id", "valid_from_date", "valid_to_date"})
    needed.setdefault(PHASES, set()).update({"account_id", "valid_from_date", "valid_to_date"})
    missing = {}
    for table, columns in needed.items():
        if table not in present:
            continue
        schema, name = table.split(".")
        have = {r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, name]).fetchall()}
        lost = sorted(columns - have)
        if lost:
            missing[table] = lost
    return missing


def fit_event_types(con: duckdb.DuckDBPyConnection, until: date, slots: int = EVENT_TYPE_SLOTS) -> list[str]:
    """The `slots` most frequent event types of the usage up to `until` (the training window), most frequent first."""
    if not table_exists(con, TYPE_DAILY):
        return []
    rows = con.execute(f"select event_type from {TYPE_DAILY} where usage_date <= ? group by event_type "
                       "order by sum(event_count) desc, event_type limit ?", [until, slots]).fetchall()
    return [r[0] for r in rows]


def _usage_values_sql(slots: int, one_day: bool = False) -> str:
    """CTE `u` (account_id, date_day, events/quantity windows per slot 0..slots, 0 = all types) for the snapshot
    keys of CTE `keys`. For a grid of days: cumulative sums per account and slot, looked up as of D, D-30, D-90 and
    D-120. For one day (scoring): the same sums aggregated straight from the days up to D, which skips a window over
    every account's whole history (2.8 of the 3.4 s of a scoring query at 10,000 accounts)."""
    def window(k: int, column: str, lag: int) -> str:
        if one_day:  # the sum of (D - lag - 30, D - lag]
            return (f"coalesce(sum({column}) filter (where slot = {k} and usage_date <= date_day - {lag} "
                    f"and usage_date > date_day - {lag + 30}), 0)")
        def at(at_lag: int) -> str:
            return f"coalesce(max(cum_{column}) filter (where slot = {k} and lag = {at_lag}), 0)"
        return f"{at(lag)} - {at(lag + 30)}"

    pivots = []
    for k in range(slots + 1):
        pivots += [f"{window(k, 'events', 0)} as events_30d_{k}", f"{window(k, 'events', 90)} as events_30d_90d_ago_{k}"]
        if k == 0:
            lifetime = ("coalesce(sum(events) filter (where slot = 0), 0) * 30.0 / greatest(max(date_day - usage_date + 1) "
                        "filter (where slot = 0), 30)") if one_day else (
                "coalesce(max(cum_events) filter (where slot = 0 and lag = 0), 0) * 30.0 / greatest(max(date_day - "
                "first_date + 1) filter (where slot = 0 and lag = 0), 30)")
            pivots += [f"{window(0, 'quantity', 0)} as quantity_30d_0",
                       f"{window(0, 'quantity', 90)} as quantity_30d_90d_ago_0",
                       # the account's average 30 days since its first use (at least 30 days of it)
                       f"{lifetime} as events_per_30d_lifetime"]
    typed = f"""
        slots as (
            select i as slot, ($event_types::varchar[])[i] as event_type
            from range(1, len($event_types::varchar[]) + 1) as t(i)
        ),
        typed as (
            select t.account_id, t.usage_date, s.slot, sum(t.event_count) as events, sum(t.quantity_total) as quantity
            from {TYPE_DAILY} as t join slots as s on s.event_type = t.event_type
            where t.account_id in (select account_id from keys)
            group by all
            union all
            select account_id, usage_date, 0 as slot, sum(event_count), sum(quantity_total)
            from {TYPE_DAILY}
            where account_id in (select account_id from keys)
            group by all
        ),"""
    if one_day:
        return f"""{typed}
        u as (
            select keys.account_id, keys.date_day, {", ".join(pivots)}
            from keys
            left join typed on typed.account_id = keys.account_id and typed.usage_date <= keys.date_day
            group by keys.account_id, keys.date_day
        )"""
    lags = (0, 30, 90, 120)
    return f"""{typed}
        cum as (
            select account_id, slot, usage_date,
                sum(events) over w as cum_events, sum(quantity) over w as cum_quantity,
                min(usage_date) over (partition by account_id, slot) as first_date
            from typed
            window w as (partition by account_id, slot order by usage_date
                         rows between unbounded preceding and current row)
        ),
        probes as (
            select keys.account_id, keys.date_day, s.slot, l.lag, keys.date_day - l.lag as probe_day
            from keys
            cross join (select 0 as slot union all select slot from slots) as s
            cross join (values {", ".join(f"({lag})" for lag in lags)}) as l(lag)
        ),
        looked as (
            select probes.*, cum.cum_events, cum.cum_quantity, cum.first_date
            from probes asof left join cum
                on probes.account_id = cum.account_id and probes.slot = cum.slot and probes.probe_day >= cum.usage_date
        ),
        u as (
            select account_id, date_day, {", ".join(pivots)}
            from looked
            group by account_id, date_day
        )"""


def feature_query(con: duckdb.DuckDBPyConnection, dates: list[date], accounts: list[str] | None = None,
                  event_types: list[str] | None = None) -> tuple[str, dict]:
    """The query (and its parameters) of every account's features on each of `dates` (optionally only `accounts`),
    ordered by day and account; `event_types`: the types of the event-type slots (`fit_event_types`; slots without
    a type are NULL)."""
    event_types = list(event_types or [])[:EVENT_TYPE_SLOTS]
    if not table_exists(con, DAILY):
        raise ValueError(f"{DAILY} does not exist: build the dbt feature marts first")
    present = {t for t in OPTIONAL_TABLES if table_exists(con, t)} | {DAILY}
    missing = missing_mart_columns(con, present)
    if missing:
        raise ValueError("the feature marts lack columns the ML features read (renamed or dropped?): "
                         + "; ".join(f"{t}: {', '.join(c)}" for t, c in missing.items()))

    unfilled = {f"event_type_{k}_per_user_30d" for k in range(len(event_types) + 1, EVENT_TYPE_SLOTS + 1)} | {
        f"event_type_{k}_ratio_90d" for k in range(len(event_types) + 1, EVENT_TYPE_SLOTS + 1)}

    def expr(sql: str, source: str) -> str:
        return sql if source in present else "NULL"

    selects = [f"cast({'NULL' if f.name in unfilled else expr(f.sql, f.source)} as double) as {f.name}"
               for f in FEATURES]
    for name, sql, source in _CONTEXT:
        cast = "varchar" if name in _TEXT_CONTEXT else "double"
        if name == "next_renewal_date":
            cast = "date"
        selects.append(f"cast({expr(sql, source)} as {cast}) as {name}")
    def on_days(table: str, alias: str, lag: int = 0) -> str:
        # Only the rows of the days joined: a join on `d.date_day - lag` alone hashed all 2.8M account-days of the
        # table once per lag at scale (5.3 of the 6.5 s of the feature snapshots).
        return (f"left join (select * from {table} where date_day in (select unnest($dates::date[]) - {lag})) "
                f"as {alias} on {alias}.account_id = d.account_id and {alias}.date_day = d.date_day - {lag}")

    joins = [on_days(DAILY, f"d{k}", k) for k in LAGS]
    if HEALTH in present:
        joins += [on_days(HEALTH, "h")] + [on_days(HEALTH, f"h{k}", k) for k in LAGS]
    if LEAN in present:
        joins.append(on_days(LEAN, "w"))
    if VOICE in present:
        joins.append(on_days(VOICE, "t"))
    if VERSIONS in present:
        joins.append(f"left join {VERSIONS} as v on v.account_id = d.account_id "
                     "and d.date_day >= v.valid_from_date and d.date_day < v.valid_to_date")
    if PHASES in present:
        joins.append(f"left join {PHASES} as p on p.account_id = d.account_id and d.date_day >= p.valid_from_date "
                     "and (p.valid_to_date is null or d.date_day < p.valid_to_date)")
    account_filter = "and d.account_id in (select unnest($accounts::varchar[]))" if accounts is not None else ""
    ctes = [f"""keys as (
            select d.account_id, d.date_day from {DAILY} as d
            where d.date_day in (select unnest($dates::date[])) {account_filter}
        )"""]
    if TYPE_DAILY in present:
        ctes.append(_usage_values_sql(len(event_types), one_day=len(set(dates)) == 1))
        joins.append("left join u on u.account_id = d.account_id and u.date_day = d.date_day")
    if CONTRACTS in present:
        # the contracts covering the day: signed by then (they started), so their term is known on the day
        ctes.append(f"""c as (
            select keys.account_id, keys.date_day,
                round(max(contracts.contract_term_days) / (365.25 / 12)) as term_months
            from keys join {CONTRACTS} as contracts
                on contracts.account_id = keys.account_id and contracts.start_date <= keys.date_day
                and contracts.end_date > keys.date_day
            group by keys.account_id, keys.date_day
        )""")
        joins.append("left join c on c.account_id = d.account_id and c.date_day = d.date_day")
    sql = f"""
        with {", ".join(ctes)}
        select d.account_id, d.date_day as snapshot_date, {", ".join(selects)}
        from {DAILY} as d
        {" ".join(joins)}
        where d.date_day in (select unnest($dates::date[])) {account_filter}
        order by d.date_day, d.account_id
    """
    params: dict = {"dates": list(dates)}
    if TYPE_DAILY in present:
        params["event_types"] = event_types
    if accounts is not None:
        params["accounts"] = list(accounts)
    return sql, params


def build_feature_frame(con: duckdb.DuckDBPyConnection, dates: list[date],
                        accounts: list[str] | None = None, event_types: list[str] | None = None) -> pd.DataFrame:
    """`feature_query`'s rows as a frame, days as `date` objects."""
    frame = con.execute(*feature_query(con, dates, accounts, event_types)).df()
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    if "next_renewal_date" in frame:
        frame["next_renewal_date"] = pd.to_datetime(frame["next_renewal_date"]).dt.date
    frame["account_id"] = frame["account_id"].astype(str)
    return frame.reset_index(drop=True)
