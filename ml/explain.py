"""Reasons a CSM can act on: LightGBM's own SHAP values (`pred_contrib=True`) turned into plain phrases.

Contributions (log-odds) are summed per feature family (e.g. seat utilization now and its 30/60/90-day changes), the
families pushing the prediction up the most are kept, and each is phrased from the account's own values:
"seat utilization fell from 82% to 41% in 60 days".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.features import FEATURE_BY_NAME, LAGS, VOICE_TOPICS
from ml.voice.rules import VoiceRules


def contributions(booster: lgb.Booster, frame: pd.DataFrame, features: list[str], num_threads: int = 1) -> np.ndarray:
    """(rows, features + 1) SHAP values in log-odds; the last column is the bias. Rows are independent, so the values
    are the same for any thread count."""
    x = frame[features].to_numpy(dtype=float)
    return np.asarray(booster.predict(x, pred_contrib=True, num_threads=num_threads))


def family_of(feature: str) -> str:
    spec = FEATURE_BY_NAME.get(feature)
    return spec.family if spec else feature


def family_contributions(contrib: np.ndarray, features: list[str]) -> tuple[list[str], np.ndarray]:
    families = list(dict.fromkeys(family_of(f) for f in features))
    index = {name: i for i, name in enumerate(families)}
    out = np.zeros((contrib.shape[0], len(families)))
    for j, feature in enumerate(features):
        out[:, index[family_of(feature)]] += contrib[:, j]
    return families, out


# Facts about the contract's timing and size: they move the score (churn only happens when a contract ends) but a
# CSM cannot act on them, so they are reported as context, not as reasons.
CONTEXT_FAMILIES = ("renewal", "lifecycle", "tenure", "segment", "contract_size", "products")


def top_reasons(frame: pd.DataFrame, contrib: np.ndarray, features: list[str], k: int = 3,
                exclude: tuple[str, ...] = CONTEXT_FAMILIES) -> list[list[dict]]:
    """Per row, up to k families (context families excluded) that raise the prediction most:
    {family, contribution, phrase}."""
    families, fam = family_contributions(contrib, features)
    members = {family: [(n, f) for n, f in enumerate(features) if family_of(f) == family] for family in families}
    records = frame.to_dict("records")
    out = []
    for i, row in enumerate(records):
        order = [j for j in np.argsort(-fam[i], kind="mergesort") if families[j] not in exclude]
        reasons = []
        for j in order[:k]:
            if fam[i, j] <= 0:
                break
            family = families[j]
            within = {f: float(contrib[i, n]) for n, f in members[family]}
            reasons.append({"family": family, "contribution": round(float(fam[i, j]), 4),
                            "phrase": phrase(family, row, within)})
        out.append(reasons)
    return out


def context_text(row: dict) -> str:
    """Renewal timing and lifecycle phase in words: what a CSM should know before reading the reasons."""
    parts = [phrase("renewal", row)]
    if row.get("lifecycle_phase_name") and row.get("lifecycle_phase_name") == row.get("lifecycle_phase_name"):
        parts.append(phrase("lifecycle", row))
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------------------------------
# phrases


def _num(row: dict, key: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _int(x: float) -> str:
    return f"{x:,.0f}"


def _biggest_change(row: dict, now_key: str, lag_key: str, relative: bool) -> tuple[int, float, float] | None:
    now = _num(row, now_key)
    if now is None:
        return None
    best = None
    for k in LAGS:
        before = _num(row, lag_key.format(k=k))
        if before is None:
            continue
        size = abs(now - before) / max(abs(before), 1.0) if relative else abs(now - before)
        if best is None or size > best[0]:
            best = (size, k, before)
    return None if best is None else (best[1], best[2], now)


def _moved(word: str, before: str, after: str, days: int, went_up: bool) -> str:
    return f"{word} {'rose' if went_up else 'fell'} from {before} to {after} in {days} days"


def _seat_utilization(row, _):
    change = _biggest_change(row, "seat_utilization_now", "seat_utilization_{k}d_ago", relative=False)
    now = _num(row, "seat_utilization_now")
    if now is None:
        return "no licensed seats to measure utilization"
    over = " (more active users than licensed seats)" if now > 1.0 else ""
    if change is None:
        return f"seat utilization is {_pct(now)}{over}"
    days, before, now = change
    if abs(now - before) < 0.05:
        return f"seat utilization is {_pct(now)}{over}, flat over {days} days"
    return _moved("seat utilization", _pct(before), _pct(now), days, now > before) + over


def _active_users(row, _):
    change = _biggest_change(row, "active_users_30d_now", "active_users_30d_{k}d_ago", relative=True)
    now = _num(row, "active_users_30d_now")
    if change is None or abs(change[2] - change[1]) < max(1.0, 0.1 * max(change[1], 1.0)):
        share = _num(row, "active_users_7d_share")
        text = f"{_int(now or 0)} active users in 30 days"
        return text + (f", {_pct(share)} of them active this week" if share is not None else "")
    days, before, now = change
    return _moved("active users (30 days)", _int(before), _int(now), days, now > before)


def _usage_volume(row, _):
    change = _biggest_change(row, "events_30d_now", "events_30d_{k}d_ago", relative=True)
    if change is None or change[1] == 0:
        per_user = _num(row, "events_30d_per_user")
        return f"{per_user:.0f} usage events per active user in 30 days" if per_user is not None else "no usage events"
    days, before, now = change
    delta = (now - before) / before
    if abs(delta) < 0.1:
        return f"product usage steady at {_int(now)} events a month"
    return (f"product usage {'up' if delta > 0 else 'down'} {abs(delta) * 100:.0f}% in {days} days "
            f"({_int(before)} to {_int(now)} events a month)")


def _usage_trend(row, _):
    trend = _num(row, "usage_trend_28d")
    if trend is None:
        return "no usage in the previous 4 weeks to compare with"
    if abs(trend - 1) < 0.05:
        return "usage in the last 4 weeks matches the 4 weeks before"
    return f"usage in the last 4 weeks is {abs(trend - 1) * 100:.0f}% {'above' if trend > 1 else 'below'} the 4 weeks before"


def _last_use(row, _):
    days = _num(row, "days_since_last_use")
    if days is None:
        return "no product use on record"
    return "product used today" if days == 0 else "last product use yesterday" if days == 1 else \
        f"no product use for {_int(days)} days"


def _count_30d(row, now_column: str, before_column: str, missing: str, say) -> str:
    """"<count> in 30 days (was <count>, 90 days ago)": `say(n)` words the count; the past only when it differs."""
    now, before = _num(row, now_column), _num(row, before_column)
    if now is None:
        return missing
    return f"{say(now)} in 30 days" + (f" (was {_int(before)}, 90 days ago)" if before is not None and before != now
                                      else "")


def _breadth(row, _):
    return _count_30d(row, "feature_categories_used_30d", "feature_categories_90d_ago", "no feature usage on record",
                      lambda n: f"uses {_int(n)} feature area{'s' if n != 1 else ''}")


def _usage_mix(row, within):
    feature = max(within, key=lambda f: abs(within[f])) if within else None
    share = _num(row, feature) if feature else None
    if share is None:
        return "no usage to break down by feature area"
    area = feature.removeprefix("events_share_")
    return f"no {area} feature usage in 30 days" if share == 0 else \
        f"{area} features are {_pct(share)} of product usage"


def _key_value(row, _):
    share = _num(row, "key_value_events_share")
    return "no key-value events in 30 days" if not share else f"key-value events are {_pct(share)} of product usage"


def _time_to_value(row, _):
    reached = _num(row, "has_first_value")
    days = _num(row, "days_to_first_value")
    tenure = _num(row, "tenure_days")
    if reached:
        return f"reached first value {_int(days)} days after the contract start" if days is not None else \
            "reached first value"
    return f"has not reached first value after {_int(tenure)} days" if tenure is not None else \
        "has not reached first value"


def _erratic(row, _):
    cv = _num(row, "dau_cv_8w")
    return "not enough history to judge usage rhythm" if cv is None else \
        f"daily active users vary by {cv * 100:.0f}% around their mean (8 weeks)"


def _money(row, value: float) -> str:
    return f"{row.get('currency_code') or ''} {_int(value)}".strip()


def _contract_size(row, _):
    arr = _num(row, "active_arr")
    seats = _num(row, "licensed_seats")
    text = f"ARR {_money(row, arr)}" if arr is not None else "ARR unknown"
    return text + (f", {_int(seats)} licensed seats" if seats is not None else "")


def _products(row, _):
    products = _num(row, "active_products") or 0
    return f"{_int(products)} product{'s' if products != 1 else ''} under contract"


def _renewal(row, _):
    days = _num(row, "days_to_next_renewal")
    when = row.get("next_renewal_date")
    return "no renewal date" if days is None else f"renewal in {_int(days)} days ({when})"


def _tenure(row, _):
    days = _num(row, "tenure_days")
    return "tenure unknown" if days is None else f"customer for {days / 30.4:.0f} months"


def _ticket_volume(row, _):
    return _count_30d(row, "tickets_30d", "tickets_30d_90d_ago", "no support data",
                      lambda n: f"{_int(n)} support ticket{'s' if n != 1 else ''}")


def _urgent(row, _):
    n = _num(row, "urgent_high_tickets_90d")
    return "no support data" if n is None else f"{_int(n)} urgent or high-priority ticket{'s' if n != 1 else ''} in 90 days"


def _backlog(row, _):
    n = _num(row, "open_tickets")
    age = _num(row, "oldest_open_ticket_age_days")
    if n is None:
        return "no support data"
    if n == 0:
        return "no open tickets"
    return f"{_int(n)} open ticket{'s' if n != 1 else ''}" + (f", the oldest {_int(age)} days old" if age is not None else "")


def _csat(row, _):
    csat = _num(row, "csat_avg_90d")
    return "no CSAT rating in 90 days" if csat is None else f"CSAT averages {csat:.1f}/5 over 90 days"


def _support_load(row, _):
    ratio = _num(row, "support_load_ratio")
    if ratio is None:
        return "no support history to compare the ticket load with"
    return f"support load is {ratio:.1f}x the account's usual"


def _nps(row, _):
    score = _num(row, "latest_nps_score")
    if score is None:
        return "no NPS answer on record"
    trend = _num(row, "nps_trend")
    days = _num(row, "days_since_latest_nps")
    text = f"latest NPS {score:.0f}"
    if trend:
        text += f" ({'up' if trend > 0 else 'down'} {abs(trend):.0f} from the answer before)"
    return text + (f", {_int(days)} days ago" if days is not None else "")


def _csm_touch(row, within):
    last = _num(row, "days_since_last_touch")
    live = _num(row, "live_touches_90d")
    if last is None and live is None:
        return "no CSM activity on record"
    if live == 0:
        return "no live meeting or call in 90 days" + (f"; last CSM touch {_int(last)} days ago" if last else "")
    return f"last CSM touch {_int(last)} days ago, {_int(live or 0)} live touch{'es' if live != 1 else ''} in 90 days"


def _champion(row, _):
    has = _num(row, "has_champion")
    left = _num(row, "champion_left_90d")
    if has is None:
        return "no contact data"
    if left:
        return "the champion left in the last 90 days" + ("" if has else "; no champion now")
    return "no champion on record" if not has else "a champion is in place"


def _sponsor(row, _):
    has = _num(row, "has_executive_sponsor")
    return "no contact data" if has is None else "no executive sponsor on record" if not has else \
        "an executive sponsor is in place"


def _health(row, _):
    change = _biggest_change(row, "health_score", "health_score_{k}d_ago", relative=False)
    band = row.get("health_band")
    now = _num(row, "health_score")
    if now is None:
        return "no health score"
    text = f"health score {now:.0f}" + (f" ({band})" if isinstance(band, str) and band else "")
    if change is not None and abs(change[2] - change[1]) >= 5:
        days, before, _ = change
        text += f", {'up' if now > before else 'down'} from {before:.0f} in {days} days"
    return text


HEALTH_COMPONENTS = {"usage": "usage", "adoption": "adoption (feature breadth)", "support": "support experience",
                     "sentiment": "sentiment (NPS and what the customer writes)", "engagement": "CSM engagement",
                     "stakeholder": "stakeholder coverage (champion, sponsor)"}


def _health_component(name: str) -> Callable:
    def phrase_component(row, _):
        score = _num(row, f"health_{name}")
        label = HEALTH_COMPONENTS[name]
        return f"no data for the health score's {label}" if score is None else \
            f"health score's {label} at {score:.0f}/100"

    return phrase_component


def _unused(row, _):
    share = _num(row, "unused_seat_share")
    if share is None:
        return "no licensed seats"
    seats = _num(row, "unused_seats")
    cost = _num(row, "unused_seat_cost_per_year")
    text = f"{_pct(share)} of licensed seats unused in 30 days"
    if seats is not None and cost is not None and seats > 0:
        text += f" ({_int(seats)} seats, {_money(row, cost)} a year)"
    return text


@functools.cache
def _voice_rules() -> VoiceRules:
    return VoiceRules.load()  # the classifier's sentiment bands, read once


def _voice_sentiment(row, _):
    mean = _num(row, "voice_sentiment_90d")
    if mean is None:
        return "nothing written by or about the customer in 90 days"
    rules = _voice_rules()
    tone = "negative" if mean <= rules.negative_below else "positive" if mean >= rules.positive_above else "neutral"
    text = f"what the customer wrote in 90 days reads {tone} (mean sentiment {mean:+.2f}"
    negative = _num(row, "voice_negative_share_90d")
    text += f", {_pct(negative)} of texts negative)" if negative is not None else ")"
    trend = _num(row, "voice_sentiment_trend")
    if trend is not None and abs(trend) >= 0.1:
        text += f", {'souring' if trend < 0 else 'improving'} over the last 30 days"
    return text


def _voice_topics(row, within):
    counts = {t: _num(row, f"voice_{t}_texts_90d") or 0 for t in VOICE_TOPICS}
    named = sorted((t for t in counts if counts[t] > 0), key=lambda t: -abs(within.get(f"voice_{t}_texts_90d", 0)))
    if not named:
        return "no texts about bugs, outages, billing, onboarding or praise in 90 days"
    return "texts of 90 days about " + ", ".join(f"{t} ({_int(counts[t])})" for t in named[:3])


def _voice_intent(row, _):
    leave = _num(row, "voice_intent_to_leave_90d") or 0
    rivals = _num(row, "voice_competitor_mentions_90d") or 0
    down = _num(row, "voice_intent_to_downgrade_90d") or 0
    parts = [f"{_int(n)} {what}" for n, what in ((leave, "texts about leaving"), (rivals, "competitor mentions"),
                                                 (down, "requests for fewer seats")) if n]
    return "in 90 days: " + ", ".join(parts) if parts else "no talk of leaving, competitors or fewer seats in 90 days"


def _segment(row, _):
    segment = row.get("segment")
    return "segment unknown" if not segment or segment != segment else f"{str(segment).replace('_', '-')} segment"


def _lifecycle(row, _):
    name = row.get("lifecycle_phase_name")
    days = _num(row, "days_in_phase")
    if not name or name != name:
        return "lifecycle phase unknown"
    return f"in lifecycle phase '{name}'" + (f" for {_int(days)} days" if days is not None else "")


def _event_types(row, within):
    """The event-type slot that moved the score most (or the first one)."""
    slots = sorted({int(f.split("_")[2]) for f in within} or {1}, key=lambda k: -max(
        abs(within.get(f"event_type_{k}_per_user_30d", 0.0)), abs(within.get(f"event_type_{k}_ratio_90d", 0.0))))
    k = slots[0]
    name = row.get(f"event_type_{k}_name")
    name = f"'{name}'" if name and name == name else f"event type #{k}"
    rate, ratio = _num(row, f"event_type_{k}_per_user_30d"), _num(row, f"event_type_{k}_ratio_90d")
    if rate is None:
        return f"no {name} events to measure"
    return f"{name} events: {rate:.1f} per active user in 30 days" + (
        f", {ratio:.1f}x the level 90 days earlier" if ratio is not None else "")


def _usage_value(row, _):
    per_user, ratio = _num(row, "quantity_30d_per_user"), _num(row, "quantity_30d_ratio_90d")
    if per_user is None:
        return "no usage quantity to measure"
    return f"usage quantity {per_user:,.0f} per active user in 30 days" + (
        f", {ratio:.1f}x the level 90 days earlier" if ratio is not None else "")


def _usage_history(row, _):
    level = _num(row, "events_30d_vs_lifetime")
    return "no usage history to compare with" if level is None else \
        f"30-day usage at {_pct(level)} of the account's own average since its first use"


def _billing_term(row, _):
    months = _num(row, "billing_term_months")
    if months is None:
        return "billing term unknown"
    return "monthly plan (can leave at any month end)" if months <= 1 else f"{_int(months)}-month term"


PHRASES: dict[str, Callable] = {
    "seat_utilization": _seat_utilization, "active_users": _active_users, "usage_volume": _usage_volume,
    "usage_trend": _usage_trend, "last_use": _last_use, "breadth": _breadth, "usage_mix": _usage_mix,
    "key_value": _key_value, "time_to_value": _time_to_value, "erratic_usage": _erratic,
    "contract_size": _contract_size, "products": _products, "renewal": _renewal, "tenure": _tenure,
    "ticket_volume": _ticket_volume, "urgent_tickets": _urgent, "ticket_backlog": _backlog, "csat": _csat,
    "support_load": _support_load, "nps": _nps, "csm_touch": _csm_touch, "champion": _champion,
    "sponsor": _sponsor, "health": _health, "unused_seats": _unused, "segment": _segment, "lifecycle": _lifecycle,
    "voice_sentiment": _voice_sentiment, "voice_topics": _voice_topics, "voice_intent": _voice_intent,
    **{f"health_{c}": _health_component(c) for c in HEALTH_COMPONENTS},
    "event_types": _event_types, "usage_value": _usage_value, "usage_history": _usage_history,
    "billing_term": _billing_term,
}


def phrase(family: str, row: dict, within: dict[str, float] | None = None) -> str:
    fn = PHRASES.get(family)
    if fn is None:
        return family.replace("_", " ")
    try:
        return fn(row, within or {})
    except (TypeError, ValueError, ZeroDivisionError):
        return family.replace("_", " ")
