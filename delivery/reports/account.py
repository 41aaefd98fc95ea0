"""The QBR / value report of one account, built from the marts (and the churn and expansion scores, the agent's queue
and the brief's summary when they exist). Every figure is a `Fact` citing its table and column.

Read here: marts.dim_accounts, fct_account_lifecycle, fct_account_daily, fct_account_health,
fct_account_phase_history, fct_lean_waste, fct_handoff_audit, fct_revenue_events, staging.stg_handoffs (the success
criteria and use cases written at handoff), ml.churn_scores / ml.expansion_scores.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from delivery.reports import sources
from delivery.reports.charts import Chart
from delivery.reports.content import Fact, Report, Section, money, pct, show

# Keywords of the handoff's use cases and success criteria -> the feature category (seed feature_categories) that
# measures them.
USE_CASE_CATEGORIES = {
    "report": "reporting", "dashboard": "reporting", "export": "reporting",
    "automat": "automation", "workflow": "automation", "alert": "automation",
    "integration": "integration", "api": "integration", "sync": "integration",
    "collaboration": "collaboration", "sharing": "collaboration",
    "admin": "admin",
}
CATEGORIES = ["core", "reporting", "automation", "integration", "collaboration", "admin", "other"]
HEALTH_SAMPLE_DAYS = 7
# Handoff text is written by people (sometimes customers): shown escaped, shortened, with contact details masked.
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|\+?\d[\d ()./-]{7,}\d")
TEXT_LIMIT = 160


class ReportError(Exception):
    """A report cannot be built (unknown account, warehouse not built): the message is the one-line reason."""


def clean_text(text: str | None) -> str | None:
    if text is None or not str(text).strip():
        return None
    text = _CONTACT.sub("[contact removed]", " ".join(str(text).split()))
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def table_exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, name]).fetchone()[0])


def require_marts(con) -> None:
    if not table_exists(con, "marts.dim_accounts"):
        raise ReportError("the warehouse has no marts yet: run `csops demo` or `csops run` first")


def _row(con, sql: str, params: list) -> dict | None:
    frame = con.execute(sql, params).df()
    if frame.empty:
        return None
    return {k: (None if pd.isna(v) else v) for k, v in frame.iloc[0].to_dict().items()}


def _values(series: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else round(float(v), 4) for v in series]


def renewal_accounts(con, days: int) -> list[str]:
    """Accounts with a renewal in the next `days` days (dim_accounts.days_to_renewal)."""
    return [r[0] for r in con.execute(
        "SELECT account_id FROM marts.dim_accounts WHERE days_to_renewal BETWEEN 0 AND ? ORDER BY account_id",
        [days]).fetchall()]


# -- the figures, one query each (the tests query the same figures their own way) ------------------------------------
def usage_monthly(con, account_id: str) -> pd.DataFrame:
    """Month-end active users (30 days), licensed seats and seat utilisation."""
    return con.execute(
        "SELECT strftime(date_day, '%Y-%m') AS month, arg_max(active_users_30d, date_day) AS active_users, "
        "arg_max(licensed_seats, date_day) AS licensed_seats, arg_max(seat_utilization, date_day) AS utilization "
        "FROM marts.fct_account_daily WHERE account_id = ? GROUP BY 1 ORDER BY 1", [account_id]).df()


def health_weekly(con, account_id: str) -> pd.DataFrame:
    """Health score every 7 days back from the account's latest scored day."""
    return con.execute(
        "SELECT date_day, health_score, health_band FROM marts.fct_account_health WHERE account_id = ? "
        "AND date_diff('day', date_day, (SELECT max(date_day) FROM marts.fct_account_health WHERE account_id = ?)) "
        f"% {HEALTH_SAMPLE_DAYS} = 0 ORDER BY date_day", [account_id, account_id]).df()


def phase_changes(con, account_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT valid_from_date, phase_name FROM marts.fct_account_phase_history WHERE account_id = ? "
        "ORDER BY valid_from_date", [account_id]).df()


def waste_monthly(con, account_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT strftime(date_day, '%Y-%m') AS month, arg_max(unused_seat_cost_per_year, date_day) AS unused_cost, "
        "arg_max(unused_seats, date_day) AS unused_seats, arg_max(currency_code, date_day) AS currency "
        "FROM marts.fct_lean_waste WHERE account_id = ? GROUP BY 1 ORDER BY 1", [account_id]).df()


def category_usage(con, account_id: str) -> dict[str, float]:
    """Events per feature category in the 30 days ending on the account's latest day."""
    row = _row(con, "SELECT " + ", ".join(f"events_30d_{c}" for c in CATEGORIES) + " FROM marts.fct_account_daily "
               "WHERE account_id = ? ORDER BY date_day DESC LIMIT 1", [account_id])
    return {c: float(row[f"events_30d_{c}"]) for c in CATEGORIES} if row else {}


def time_to_value(con, segment: str | None) -> pd.DataFrame:
    """Median days to first value of the new accounts that reached it: the segment's and all."""
    return con.execute(
        "SELECT median(days_to_value) FILTER (WHERE a.segment IS NOT DISTINCT FROM ?) AS segment_median, "
        "median(days_to_value) AS all_median, count(days_to_value) AS accounts "
        "FROM marts.fct_account_lifecycle l JOIN marts.dim_accounts a USING (account_id)", [segment]).df()


def named_categories(*texts: str | None) -> list[str]:
    text = " ".join(t or "" for t in texts).lower()
    return sorted({cat for word, cat in USE_CASE_CATEGORIES.items() if word in text})


# -- sections -------------------------------------------------------------------------------------------------------
def _usage_section(con, acc: dict) -> Section:
    frame = usage_monthly(con, acc["account_id"])
    section = Section("usage", "Usage and seat utilisation")
    if frame.empty:
        section.note = "no active days in marts.fct_account_daily: usage cannot be shown"
        return section
    section.chart = Chart("usage", "Active users (30 days) and licensed seats, month-end", "line",
                          list(frame["month"]), {"Active users (30 days)": _values(frame["active_users"]),
                                                 "Licensed seats": _values(frame["licensed_seats"])},
                          "marts.fct_account_daily.active_users_30d, licensed_seats (last day of each month)",
                          unit="people")
    last, first = frame.iloc[-1], frame.iloc[0]
    util = None if pd.isna(last["utilization"]) else float(last["utilization"])
    section.facts = [
        Fact(f"active users (30 days) {last['month']}", int(last["active_users"]),
             "marts.fct_account_daily.active_users_30d"),
        Fact(f"seat utilisation {last['month']}", util, "marts.fct_account_daily.seat_utilization"),
        Fact(f"active users (30 days) {first['month']}", int(first["active_users"]),
             "marts.fct_account_daily.active_users_30d"),
    ]
    seats = ("no seat-licensed contract" if pd.isna(last["licensed_seats"])
             else f"{int(last['licensed_seats'])} licensed seats")
    section.bullets = [
        f"{int(last['active_users'])} people used the product in the 30 days to {last['month']} ({seats}; "
        f"utilisation {pct(util)}).",
        f"{int(first['active_users'])} active users in {first['month']}, the first month of the data.",
    ]
    return section


def _health_section(con, acc: dict) -> Section:
    frame = health_weekly(con, acc["account_id"])
    section = Section("health", "Health history and lifecycle phases")
    if frame.empty:
        section.note = "no health score in marts.fct_account_health"
        return section
    categories = [d.date().isoformat() if hasattr(d, "date") else str(d) for d in frame["date_day"]]
    days = [pd.Timestamp(d) for d in frame["date_day"]]
    markers, marker_values = {}, [None] * len(days)
    for change in phase_changes(con, acc["account_id"]).itertuples():
        start = pd.Timestamp(change.valid_from_date)
        later = [i for i, d in enumerate(days) if d >= start]
        if later and start > days[0]:  # a change inside the charted weeks: marked on the first week after it
            markers[categories[later[0]]] = change.phase_name
            marker_values[later[0]] = float(frame["health_score"].iloc[later[0]])
    series = {"Health score": _values(frame["health_score"])}
    if markers:
        series["Phase change"] = marker_values
    section.chart = Chart("health", "Health score (0-100), weekly, with lifecycle phase changes", "line", categories,
                          series, "marts.fct_account_health.health_score every 7 days; "
                          "marts.fct_account_phase_history.valid_from_date, phase_name", unit="score",
                          markers=markers, points_only=("Phase change",))
    section.facts = [
        Fact("health score", acc["latest_health_score"], "marts.dim_accounts.latest_health_score"),
        Fact("health band", acc["latest_health_band"], "marts.dim_accounts.latest_health_band"),
        Fact("lifecycle phase", acc["current_phase_name"], "marts.dim_accounts.current_phase_name"),
        *[Fact(f"phase from {c}", label, "marts.fct_account_phase_history.phase_name") for c, label in markers.items()],
    ]
    section.bullets = [f"Health {show(acc['latest_health_score'])} ({acc['latest_health_band']}) on "
                       f"{show(acc['latest_health_date'])}; phase now: {acc['current_phase_name'] or 'n/a'}."]
    section.bullets += [f"{label} from the week of {c}." for c, label in markers.items()]
    return section


def _ttv_section(con, acc: dict) -> Section:
    section = Section("ttv", "Time to first value")
    medians = time_to_value(con, acc["segment"]).iloc[0]
    days = acc.get("days_to_value")
    source = "marts.fct_account_lifecycle.days_to_value"
    if days is None:
        section.note = ("not observed: the account's onboarding began before the data window "
                        f"({source} is null for accounts created before it)" if not acc.get("is_new_account") else
                        f"first value not reached yet ({source} is null; first contract "
                        f"{show(acc['first_contract_start_date'])})")
        return section
    bars = {"This account": float(days), f"{acc['segment'] or 'unknown'} median": medians["segment_median"],
            "All new accounts median": medians["all_median"]}
    section.chart = Chart("ttv", "Days from first contract to first value", "bar", list(bars),
                          {"Days to first value": [None if pd.isna(v) else float(v) for v in bars.values()]},
                          f"{source} (medians over the {int(medians['accounts'])} new accounts that reached value)",
                          unit="days")
    section.facts = [Fact("days to first value", int(days), source),
                     Fact("first value date", acc.get("time_to_value_date"),
                          "marts.fct_account_lifecycle.time_to_value_date"),
                     Fact("segment median days to value", medians["segment_median"], source)]
    section.bullets = [f"First value on {show(acc.get('time_to_value_date'))}, {int(days)} days after the first "
                       f"contract started (segment median {show(medians['segment_median'])})."]
    return section


def _waste_section(con, acc: dict) -> Section:
    section = Section("waste", "Waste in money: licensed seats nobody used")
    frame = waste_monthly(con, acc["account_id"])
    if frame.empty or frame["unused_cost"].isna().all():
        section.note = ("no seat-licensed contract: unused seats cannot be measured "
                        "(marts.fct_lean_waste.licensed_seats is null)")
        return section
    currency = frame["currency"].dropna().iloc[-1] if frame["currency"].notna().any() else ""
    section.chart = Chart("waste", f"Yearly cost of unused seats, month-end ({currency})", "bar", list(frame["month"]),
                          {"Unused seat cost per year": _values(frame["unused_cost"])},
                          "marts.fct_lean_waste.unused_seat_cost_per_year (last day of each month)", unit=currency)
    last = frame.iloc[-1]
    cost = None if pd.isna(last["unused_cost"]) else float(last["unused_cost"])
    seats = None if pd.isna(last["unused_seats"]) else int(last["unused_seats"])
    section.facts = [Fact(f"unused seats {last['month']}", seats, "marts.fct_lean_waste.unused_seats"),
                     Fact(f"unused seat cost per year {last['month']}", cost,
                          "marts.fct_lean_waste.unused_seat_cost_per_year")]
    section.bullets = [f"{show(seats)} licensed seats unused in the last 30 days, worth {money(cost, currency)} "
                       "a year."]
    return section


def _outcomes_section(con, acc: dict) -> tuple[Section, Section]:
    """Outcomes vs the success criteria captured at handoff, and the ROI (or the input it lacks)."""
    outcomes = Section("outcomes", "Outcomes vs success criteria (from the handoff)")
    roi = Section("roi", "Return on investment")
    handoff = _row(con, "SELECT h.success_criteria, h.use_cases, h.pain_points, h.implementation_deadline_date "
                   "FROM marts.fct_handoff_audit a JOIN staging.stg_handoffs h USING (opportunity_id) "
                   "WHERE a.account_id = ?", [acc["account_id"]])
    usage = category_usage(con, acc["account_id"])
    arr = acc["active_arr_amount"]
    roi.facts = [Fact("ARR (the investment per year)", arr, "marts.dim_accounts.active_arr_amount")]
    missing = ["a quantified baseline captured at handoff or kickoff (the cost, hours or volume of the process "
               "the product replaces): the landing contract's handoffs carry success criteria as text only"]
    if handoff is None:
        outcomes.note = ("no handoff captured for this account (marts.fct_handoff_audit has no opportunity: "
                         "it was created before the data window or sales sent none): no success criteria to compare")
        missing.append("the handoff itself (no success criteria for this account)")
    else:
        named = named_categories(handoff["use_cases"], handoff["success_criteria"])
        categories = [c for c in CATEGORIES if usage.get(c) or c in named]
        outcomes.chart = Chart(
            "outcomes", "Events in the last 30 days by feature category: named at handoff vs others", "bar",
            categories, {"Named at handoff": [usage.get(c, 0.0) if c in named else None for c in categories],
                         "Not named": [None if c in named else usage.get(c, 0.0) for c in categories]},
            "marts.fct_account_daily.events_30d_<category> (latest day); "
            "staging.stg_handoffs.use_cases, success_criteria",
            unit="events", colours={"Named at handoff": "#3a9d5d", "Not named": "#7f8c8d"})
        deadline, ttv = handoff["implementation_deadline_date"], acc.get("time_to_value_date")
        if deadline is None:
            live = "no implementation deadline was agreed at handoff"
        elif ttv is None:
            live = f"implementation deadline {show(deadline)}: first value not reached yet"
        else:
            delta = (pd.Timestamp(ttv) - pd.Timestamp(deadline)).days
            live = (f"first value on {show(ttv)}, " + (f"{-delta} days before" if delta <= 0 else f"{delta} days after")
                    + f" the implementation deadline {show(deadline)}")
        criteria = clean_text(handoff["success_criteria"])
        outcomes.bullets = [
            f"Success criteria at handoff: {criteria or 'none written'}",
            f"Use cases at handoff: {clean_text(handoff['use_cases']) or 'none written'}.",
            "Measured through the feature categories they name: "
            + (", ".join(f"{c} ({usage.get(c, 0):,.0f} events in 30 days)" for c in named) or "none named") + ".",
            live[0].upper() + live[1:] + ".",
        ]
        outcomes.facts = [Fact("success criteria", criteria, "staging.stg_handoffs.success_criteria"),
                          Fact("implementation deadline", deadline,
                               "staging.stg_handoffs.implementation_deadline_date"),
                          *[Fact(f"events in 30 days, {c}", usage.get(c), f"marts.fct_account_daily.events_30d_{c}")
                            for c in named]]
    roi.note = "ROI not computed. Missing input: " + "; ".join(missing) + "."
    roi.bullets = [f"Investment side known: ARR {money(arr, acc.get('currency'))} "
                   "(marts.dim_accounts.active_arr_amount).",
                   "Capture the baseline at the next kickoff or QBR to report ROI from then on."]
    return outcomes, roi


def _scores(con, task: str, account_id: str) -> dict | None:
    table = f"ml.{task}_scores"
    if not table_exists(con, table):
        return None
    return _row(con, f"SELECT probability, risk_band, reasons_text, model_version FROM {table} WHERE account_id = ?",
                [account_id])


def _risk_section(con, acc: dict, report: Report) -> Section:
    section = Section("risks", "Risks and next steps")
    aid = acc["account_id"]
    latest = _row(con, "SELECT d.has_champion, d.has_executive_sponsor, w.is_support_spike, w.unused_seat_share, "
                  "h.why_moved_30d FROM marts.fct_account_daily d "
                  "JOIN marts.fct_lean_waste w USING (account_id, date_day) "
                  "JOIN marts.fct_account_health h USING (account_id, date_day) WHERE d.account_id = ? "
                  "ORDER BY d.date_day DESC LIMIT 1", [aid]) or {}
    handoff = _row(con, "SELECT open_tasks FROM marts.fct_handoff_audit WHERE account_id = ?", [aid]) or {}
    churn, expansion = _scores(con, "churn", aid), _scores(con, "expansion", aid)
    risks, steps = [], []
    if churn is None:
        report.data_notes.append("churn score: not available (no ml.churn_scores row for the account)")
    else:
        section.facts += [Fact("churn risk band", churn["risk_band"], "ml.churn_scores.risk_band"),
                          Fact("churn scored by", churn["model_version"], "ml.churn_scores.model_version")]
        likelihood = ("" if churn["probability"] is None
                      else f" ({pct(churn['probability'])} within the model's horizon)")
        risks.append(f"Churn risk {churn['risk_band']}{likelihood}: "
                     f"{clean_text(churn['reasons_text']) or 'no reason given'}")
    if acc["latest_health_band"] in ("red", "yellow"):
        moved = latest.get("why_moved_30d")
        risks.append(f"Health {acc['latest_health_band']}: {moved or 'no 30-day movement recorded'}")
        section.facts.append(Fact("health change 30 days", moved, "marts.fct_account_health.why_moved_30d"))
    share = latest.get("unused_seat_share")
    if share is not None and share >= 0.25:
        risks.append(f"{pct(share)} of licensed seats unused")
        steps.append("Adoption plan for the unused seats before the renewal conversation.")
        section.facts.append(Fact("unused seat share", round(float(share), 3),
                                  "marts.fct_lean_waste.unused_seat_share"))
    if latest.get("is_support_spike"):
        risks.append("Support load above the account's own baseline")
        steps.append("Review the open tickets with support before the QBR.")
        section.facts.append(Fact("support spike", True, "marts.fct_lean_waste.is_support_spike"))
    for role, column in (("champion", "has_champion"), ("executive sponsor", "has_executive_sponsor")):
        if latest.get(column) is False:
            risks.append(f"No {role} on record")
            steps.append(f"Identify {'an' if role[0] in 'aeiou' else 'a'} {role}.")
            section.facts.append(Fact(column, False, f"marts.fct_account_daily.{column}"))
    if handoff.get("open_tasks"):
        steps += [f"Handoff task: {task.strip()}." for task in handoff["open_tasks"].split(";")]
        section.facts.append(Fact("handoff open tasks", handoff["open_tasks"], "marts.fct_handoff_audit.open_tasks"))
    if acc["days_to_renewal"] is not None and acc["days_to_renewal"] <= 120:
        steps.append(f"Renewal on {show(acc['next_renewal_date'])} ({int(acc['days_to_renewal'])} days): agree the "
                     "renewal plan and the value case with the sponsor.")
        section.facts.append(Fact("days to renewal", int(acc["days_to_renewal"]), "marts.dim_accounts.days_to_renewal"))
    if expansion is not None and expansion["risk_band"] == "high":
        steps.append("Expansion propensity high: prepare an expansion proposal.")
        section.facts.append(Fact("expansion band", expansion["risk_band"], "ml.expansion_scores.risk_band"))
    queue = sources.account_queue(con, aid)
    if queue.ok:
        steps += [f"Agent queue: {row.title} ({row.owner}, due {show(row.due_on)})" for row in queue.frame.itertuples()]
    else:
        report.data_notes.append(f"account agent queue: {queue.reason()}")
    section.bullets = [f"Risk: {r}" for r in risks] or ["No risk signal in the marts today."]
    section.bullets += [f"Next: {s}" for s in steps] or ["Next: keep the QBR cadence."]
    return section


def _summary_section(con, acc: dict, report: Report, sections: list[Section]) -> Section:
    section = Section("summary", "Executive summary and value story")
    brief = sources.brief_summary(con, acc["account_id"])
    cur = acc.get("currency")
    if brief.ok and not brief.frame.empty:
        row = brief.frame.iloc[0]
        section.bullets.append(str(row["summary"]))
        section.facts.append(Fact(f"executive summary ({row['kind']})", f"written {show(row['generated_at'])}",
                                  f"{sources.TABLES['briefs']}.brief_json"))
    else:
        report.data_notes.append("brief's executive summary: " + (brief.reason() or "no unflagged brief of kind "
                                 + ", ".join(sources.SUMMARY_KINDS)) + "; summary written from the facts")
        section.bullets.append(
            f"{acc['account_name']} ({acc['segment'] or 'segment unknown'}, customer since "
            f"{show(acc['first_contract_start_date'])}) holds ARR {money(acc['active_arr_amount'], cur)}, renewing on "
            f"{show(acc['next_renewal_date'])}. Health {show(acc['latest_health_score'])} "
            f"({acc['latest_health_band']}).")
    expansions = con.execute(
        "SELECT count(*), sum(arr_delta_amount) FROM marts.fct_revenue_events WHERE account_id = ? "
        "AND event_type = 'expansion'", [acc["account_id"]]).fetchone()
    if expansions[0]:
        section.bullets.append(f"Grew ARR {expansions[0]} time(s) by {money(expansions[1], cur)} in total.")
        section.facts.append(Fact("expansion ARR", float(expansions[1]),
                                  "marts.fct_revenue_events.arr_delta_amount (expansion)"))
    if acc.get("qbr_ebr_count_365d"):
        section.bullets.append(f"{int(acc['qbr_ebr_count_365d'])} QBR/EBR held in the last year.")
    if acc.get("latest_nps_score") is not None:
        section.bullets.append(f"Latest NPS answer: {show(acc['latest_nps_score'])}.")
        section.facts.append(Fact("latest NPS", acc["latest_nps_score"],
                                  "marts.fct_account_lifecycle.latest_nps_score"))
    # the value story: the first sentence of each measured section
    section.bullets += [s.bullets[0] for s in sections if s.bullets and s.key in ("usage", "ttv")]
    section.bullets += [s.bullets[-1] for s in sections if s.bullets and s.key == "outcomes"]  # live by the deadline?
    section.facts += [Fact("ARR", acc["active_arr_amount"], "marts.dim_accounts.active_arr_amount"),
                      Fact("next renewal", acc["next_renewal_date"], "marts.dim_accounts.next_renewal_date")]
    return section


def build_account_report(con, account_id: str) -> Report:
    require_marts(con)
    acc = _row(con, "SELECT a.*, l.days_to_value, l.time_to_value_date, l.qbr_ebr_count_365d, l.latest_nps_score, "
               "(SELECT arg_max(currency_code, date_day) FROM marts.fct_account_daily d "
               "WHERE d.account_id = a.account_id) "
               "AS currency FROM marts.dim_accounts a LEFT JOIN marts.fct_account_lifecycle l USING (account_id) "
               "WHERE a.account_id = ?", [account_id])
    if acc is None:
        raise ReportError(f"unknown account {account_id!r}: not in marts.dim_accounts")
    as_of = pd.Timestamp(acc["as_of_date"]).date() if acc.get("as_of_date") is not None else date.today()
    report = Report("account", f"{acc['account_name']}: quarterly business review",
                    f"{acc['segment'] or 'segment unknown'} · CSM {acc['csm_owner'] or 'unassigned'} · data as of "
                    f"{as_of.isoformat()}", as_of, [])
    body = [_usage_section(con, acc), _health_section(con, acc), _ttv_section(con, acc), _waste_section(con, acc),
            *_outcomes_section(con, acc)]
    risks = _risk_section(con, acc, report)
    report.sections = [_summary_section(con, acc, report, body), *body, risks]
    return report
