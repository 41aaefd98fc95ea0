"""The CS leader's portfolio report: retention, churn tax and expansion gap, health by segment, top risks and waste,
handoff gaps, the agent's load and playbook lift (when its tables exist), model quality, and an operating-model
readiness view computed from the data itself.

Definitions this report adds (the marts hold the rest):
- expansion gap: usage the customer gets but does not pay for, in money: per active account, active users (30 days)
  above licensed seats x its seat price (marts.fct_account_daily), summed on the as-of date;
- readiness thresholds: `READY` below, one line each, stated in the report next to each verdict.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from csops import contract
from csops.reporting.cs_highlights import largest_muda
from delivery.reports import models, sources
from delivery.reports.account import ReportError, require_marts, table_exists
from delivery.reports.charts import BAND_COLOURS, Chart
from delivery.reports.content import Fact, Report, Section, Table, money, pct, show

TOP = 10
CHURN_TASK = "churn"
# Verdict "ready for more automation" when the measure reaches these (the data says "needs work first" otherwise).
READY = {
    "handoff_completeness": 0.90,  # share of the six required handoff fields present
    "source_freshness_days": 31,  # a fact source whose newest record is older than this before the as-of is stale
    "health_auc": 0.70,  # ROC-AUC of the health score on the churn model's test slice
    "risks_with_playbook": 0.80,  # share of the agent's alerts that name a playbook
    "alerts_per_owner": 25,  # most alerts any one owner holds
}
SOURCE_DATES = {"accounts": "created_at", "contracts": "start_date", "handoffs": "closed_at",
                "contacts": "created_at", "usage_events": "occurred_at", "support_tickets": "opened_at",
                "survey_responses": "responded_at", "activities": "occurred_at"}
HANDOFF_FIELDS = ["executive_sponsor", "champion", "success_criteria", "use_cases", "implementation_deadline",
                  "pain_points"]


def as_of(con):
    return con.execute("SELECT max(as_of_date) FROM marts.dim_accounts").fetchone()[0]


def portfolio_currency(con) -> str | None:
    """The currency most active days are billed in (the marts sum money per account, not across currencies)."""
    return con.execute("SELECT mode(currency_code) FROM marts.fct_account_daily").fetchone()[0]


def retention_monthly(con) -> pd.DataFrame:
    return con.execute(
        "SELECT strftime(month_start_date, '%Y-%m') AS month, nrr, grr, nrr_t12m, grr_t12m, churned_arr_amount, "
        "churn_tax_amount, expansion_arr_amount FROM marts.fct_nrr_monthly WHERE grouping_type = 'overall' "
        "ORDER BY month_start_date").df()


def health_by_segment(con) -> pd.DataFrame:
    """Active accounts per segment and latest health band."""
    return con.execute(
        "SELECT coalesce(segment, 'unknown') AS segment, latest_health_band AS band, count(*) AS accounts "
        "FROM marts.dim_accounts WHERE active_arr_amount > 0 AND latest_health_band IS NOT NULL "
        "GROUP BY ALL ORDER BY ALL").df()


def expansion_gap(con) -> pd.DataFrame:
    return con.execute(
        "SELECT d.account_id, a.account_name, d.active_users_30d - d.licensed_seats AS users_over_seats, d.seat_price, "
        "(d.active_users_30d - d.licensed_seats) * d.seat_price AS gap_amount, d.currency_code "
        "FROM marts.fct_account_daily d JOIN marts.dim_accounts a USING (account_id) "
        "WHERE d.date_day = (SELECT max(date_day) FROM marts.fct_account_daily) "
        "AND d.active_users_30d > d.licensed_seats ORDER BY gap_amount DESC, d.account_id").df()


WASTE_COLUMNS = ["account_id", "account_name", "unused_seats", "licensed_seats", "unused_seat_cost_per_year",
                 "currency_code"]


def top_waste(con) -> pd.DataFrame:
    return pd.DataFrame(largest_muda(con, TOP), columns=WASTE_COLUMNS)


def handoff_missing(con) -> dict[str, int]:
    row = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE NOT has_{f}) AS {f}" for f in HANDOFF_FIELDS)
                      + ", count(*) AS audited FROM marts.fct_handoff_audit").df().iloc[0]
    return {k: int(v) for k, v in row.items()}


def source_freshness(con, day) -> pd.DataFrame:
    rows = []
    for name, column in SOURCE_DATES.items():
        table = f"raw.{name}"
        if not table_exists(con, table):  # not readable here (e.g. raw tables left in Snowflake): unknown
            rows.append((name, None, None, None))
            continue
        count, newest = con.execute(f"SELECT count(*), max({column})::DATE FROM {table}").fetchone()
        rows.append((name, count, newest, None if newest is None else (day - newest).days))
    return pd.DataFrame(rows, columns=["source", "rows", "newest", "days_old"])


# -- sections -------------------------------------------------------------------------------------------------------
def _retention(con) -> tuple[Section, Section]:
    frame = retention_monthly(con)
    retention = Section("retention", "Net and gross revenue retention")
    series = {"NRR (monthly)": [None if pd.isna(v) else round(100 * v, 2) for v in frame["nrr"]],
              "GRR (monthly)": [None if pd.isna(v) else round(100 * v, 2) for v in frame["grr"]]}
    if frame["nrr_t12m"].notna().any():
        series["NRR (trailing 12 months)"] = [None if pd.isna(v) else round(100 * v, 2) for v in frame["nrr_t12m"]]
    retention.chart = Chart("retention", "NRR and GRR by month (%)", "line", list(frame["month"]), series,
                            "marts.fct_nrr_monthly.nrr, grr, nrr_t12m (grouping_type = 'overall')", unit="%")
    last = frame.dropna(subset=["nrr"]).iloc[-1] if frame["nrr"].notna().any() else None
    if last is not None:
        retention.facts = [Fact(f"NRR {last['month']}", round(float(last["nrr"]), 4), "marts.fct_nrr_monthly.nrr"),
                           Fact(f"GRR {last['month']}", round(float(last["grr"]), 4), "marts.fct_nrr_monthly.grr")]
        retention.bullets = [f"{last['month']}: NRR {pct(last['nrr'])}, GRR {pct(last['grr'])} (monthly)."]
    if frame["nrr_t12m"].isna().all():
        retention.note = "trailing-12-month NRR/GRR need 12 months of history before the data window's start"
    tax = Section("churn_tax", "Churn tax and expansion gap")
    currency = portfolio_currency(con)
    tax.chart = Chart("churn_tax", "Churned ARR and the churn tax on top of it, by month", "bar",
                      list(frame["month"]), {"Churned ARR": [float(v) for v in frame["churned_arr_amount"].fillna(0)],
                                             "Churn tax": [float(v) for v in frame["churn_tax_amount"].fillna(0)]},
                      "marts.fct_nrr_monthly.churned_arr_amount, churn_tax_amount (overall)", unit=currency or "",
                      colours={"Churned ARR": "#c0392b", "Churn tax": "#e07b39"})
    gap = expansion_gap(con)
    tax.bullets = [
        f"Churned ARR in the window: {money(frame['churned_arr_amount'].sum(), currency)}; churn tax (replacement "
        f"CAC and lost expansion): {money(frame['churn_tax_amount'].sum(), currency)}.",
        f"Expansion gap today: {len(gap)} accounts use more seats than they license, worth "
        f"{money(gap['gap_amount'].sum(), currency)} a year at their own seat price.",
    ]
    tax.facts = [Fact("churn tax, window", float(frame["churn_tax_amount"].sum()),
                      "marts.fct_nrr_monthly.churn_tax_amount"),
                 Fact("expansion gap", float(gap["gap_amount"].sum()),
                      "marts.fct_account_daily (active_users_30d - licensed_seats) x seat_price")]
    if not gap.empty:
        tax.table = Table(["account", "users over seats", "gap per year"],
                          [[r.account_name, str(int(r.users_over_seats)), money(r.gap_amount, r.currency_code)]
                           for r in gap.head(TOP).itertuples()])
    return retention, tax


def _health(con) -> Section:
    frame = health_by_segment(con)
    section = Section("health", "Health distribution by segment")
    segments = sorted(frame["segment"].unique())
    pivot = frame.pivot_table(index="segment", columns="band", values="accounts", aggfunc="sum").reindex(segments)
    section.chart = Chart("health", "Active accounts by health band and segment", "stacked", segments,
                          {band.capitalize(): [int(v) if not pd.isna(v) else 0 for v in
                                               (pivot[band] if band in pivot else [0] * len(segments))]
                           for band in ("green", "yellow", "red")},
                          "marts.dim_accounts.latest_health_band, segment (active_arr_amount > 0)", unit="accounts",
                          colours={b.capitalize(): c for b, c in BAND_COLOURS.items()})
    for segment in segments:
        counts = frame[frame["segment"] == segment].set_index("band")["accounts"]
        section.bullets.append(f"{segment}: {int(counts.sum())} active accounts, {int(counts.get('red', 0))} red.")
    return section


def _risks(con, report: Report) -> Section:
    section = Section("risks", "Top risks (ARR at risk)")
    currency = portfolio_currency(con)
    if table_exists(con, "ml.churn_scores"):
        frame = con.execute(
            "SELECT a.account_name, a.csm_owner, a.active_arr_amount, s.risk_band, s.probability, s.model_version, "
            "CASE WHEN s.probability IS NULL THEN s.context ELSE s.reasons_text END AS why "
            "FROM ml.churn_scores s JOIN marts.dim_accounts a USING (account_id) "
            "ORDER BY s.risk_rank LIMIT ?", [TOP]).df()
        section.table = Table(["account", "CSM", "ARR", "band", "churn probability", "why"],
                              [[r.account_name, str(r.csm_owner), money(r.active_arr_amount, currency),
                                str(r.risk_band),
                                "n/a (rule-based)" if pd.isna(r.probability) else pct(r.probability),
                                str(r.why)[:90]] for r in frame.itertuples()])
        section.bullets = [f"The {len(frame)} accounts ranked first by ml.churn_scores.risk_rank; "
                           f"scored by {frame['model_version'].iloc[0] if len(frame) else 'n/a'}."]
        high = con.execute("SELECT count(*) FROM ml.churn_scores WHERE risk_band = 'high'").fetchone()[0]
        section.facts = [Fact("accounts in the high band", high, "ml.churn_scores.risk_band")]
    else:
        section.note = "no churn scores (ml.churn_scores is missing): run the ML steps"
        report.data_notes.append("churn scores: table ml.churn_scores missing")
    return section


def _waste(con) -> Section:
    frame = top_waste(con)
    section = Section("waste", "Top waste: licensed seats nobody used")
    currency = portfolio_currency(con)
    if frame.empty:
        section.note = "no unused seats with a price on the latest day (marts.fct_lean_waste)"
        return section
    section.chart = Chart("waste", "Yearly cost of unused seats, top accounts", "bar", list(frame["account_name"]),
                          {"Unused seat cost per year": [float(v) for v in frame["unused_seat_cost_per_year"]]},
                          "marts.fct_lean_waste.unused_seat_cost_per_year (latest day)",
                          unit=f"{currency or ''} per year")
    total = con.execute("SELECT sum(unused_seat_cost_per_year) FROM marts.fct_lean_waste "
                        "WHERE date_day = (SELECT max(date_day) FROM marts.fct_lean_waste)").fetchone()[0]
    section.bullets = [f"Unused seats cost {money(total, currency)} a year across the portfolio; the top {len(frame)} "
                       f"accounts hold {money(frame['unused_seat_cost_per_year'].sum(), currency)}."]
    section.facts = [Fact("unused seat cost per year, portfolio", float(total or 0),
                          "marts.fct_lean_waste.unused_seat_cost_per_year")]
    return section


def _handoffs(con) -> Section:
    missing = handoff_missing(con)
    audited = missing.pop("audited")
    section = Section("handoffs", "Handoff gaps (new accounts)")
    if not audited:
        section.note = "no new account in the data window: marts.fct_handoff_audit is empty"
        return section
    section.chart = Chart("handoffs", "New accounts whose handoff lacks each required field", "bar",
                          [f.replace("_", " ") for f in missing],
                          {"Accounts missing the field": list(missing.values())},
                          "marts.fct_handoff_audit.has_<field>", unit="accounts")
    open_count = con.execute("SELECT count(*) FROM marts.fct_handoff_audit WHERE NOT is_ready").fetchone()[0]
    section.bullets = [f"{open_count} of {audited} new accounts have an incomplete handoff."]
    section.facts = [Fact("handoffs not ready", open_count, "marts.fct_handoff_audit.is_ready")]
    return section


def _agent(con, report: Report) -> Section:
    section = Section("agent", "Alert and queue load per owner; playbook lift")
    load, lift = sources.owner_load(con), sources.playbook_lift(con)
    if load.ok:
        frame = load.frame
        section.chart = Chart("agent", "Queued actions and alerts per owner", "stacked", list(frame["owner"]),
                              {"Queued": [int(v) for v in frame["queued"]],
                               "Alerts": [int(v) for v in frame["alerts"]]},
                              f"{sources.TABLES['queue']}, {sources.TABLES['alerts']} (rows per owner)", unit="items")
    else:
        section.bullets.append(f"Load per owner {load.reason()}.")
        report.data_notes.append(f"agent load per owner: {load.reason()}")
    if lift.ok:
        section.table = Table(["playbook", "outcome", "lift", "interval"],
                              [[str(r.playbook), str(r.metric), f"{r.lift:+.3f}", f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"]
                               for r in lift.frame.itertuples()])
    else:
        section.bullets.append(f"Playbook lift {lift.reason()}.")
        report.data_notes.append(f"playbook lift: {lift.reason()}")
    return section


def _model_quality(con, models_root: Path, report: Report) -> tuple[Section, models.Champion]:
    section = Section("models", "Model quality: the churn champion against its baselines")
    champ = models.champion(models_root, CHURN_TASK)
    if champ.version is None:
        section.note = champ.reason
        report.data_notes.append(champ.reason)
        return section, champ
    section.table = Table(["metric", *[label for _, label in models.SCORERS]], models.metric_rows(champ))
    section.bullets = [f"Champion {champ.version}, trained on data as of {champ.training.get('as_of_date')}; "
                       f"backtest windows {champ.metrics.get('test_slice')}."]
    section.facts = [Fact("champion ROC-AUC", (champ.metrics.get("model") or {}).get("roc_auc"),
                          f"{models_root}/{CHURN_TASK}/{champ.version}/metrics.json model.roc_auc"),
                     Fact("health score ROC-AUC", (champ.metrics.get("health_score") or {}).get("roc_auc"),
                          f"{models_root}/{CHURN_TASK}/{champ.version}/metrics.json health_score.roc_auc")]
    curve = models.calibration_curve(con, models_root, champ)
    if curve is None:
        section.note = "calibration plot: the champion has no out-of-time reliability table"
    else:
        section.chart = Chart("calibration", "Calibration out of time: observed churn rate vs predicted probability",
                              "line", [f"{p:.3f}" for p in curve["predicted"]],
                              {"Observed rate": [round(float(v), 4) for v in curve["observed"]],
                               "Perfect calibration": [round(float(v), 4) for v in curve["predicted"]]},
                              "the champion's out-of-time reliability table (calibration.json)",
                              unit="churn rate", colours={"Perfect calibration": "#7f8c8d"})
    return section, champ


def _readiness(con, day, champ: models.Champion) -> Section:
    section = Section("readiness", "Operating-model readiness for more automation")
    rows = []

    def verdict(ok: bool | None) -> str:
        return "unknown: input missing" if ok is None else ("ready for more automation" if ok else "needs work first")

    missing = handoff_missing(con)
    audited = missing.pop("audited")
    completeness = None if not audited else 1 - sum(missing.values()) / (len(HANDOFF_FIELDS) * audited)
    rows.append(["Handoff data completeness", "n/a" if completeness is None else pct(completeness),
                 f">= {pct(READY['handoff_completeness'])}",
                 verdict(None if completeness is None else completeness >= READY["handoff_completeness"])])
    fresh = source_freshness(con, day)
    facts_sources = [s for s in fresh.itertuples() if contract.SOURCES[s.source].kind == "fact"]
    readable = fresh.dropna(subset=["rows"])
    stale = [s.source for s in facts_sources if s.rows and s.days_old > READY["source_freshness_days"]]
    empty = [s.source for s in readable.itertuples() if not s.rows]
    rows.append(["Sources stale or missing", ", ".join(stale + [f"{e} (no rows)" for e in empty]) or "none",
                 f"every event source within {READY['source_freshness_days']} days",
                 verdict(None if readable.empty else not stale and not empty)])
    auc = (champ.metrics.get("health_score") or {}).get("roc_auc")
    rows.append(["Health score predicts churn (ROC-AUC)", "n/a" if auc is None else f"{auc:.3f}",
                 f">= {READY['health_auc']}", verdict(None if auc is None else auc >= READY["health_auc"])])
    risks = sources.risks_with_playbook(con)
    share = None
    if risks.ok and int(risks.frame["risks"].iloc[0]):
        share = int(risks.frame["with_playbook"].iloc[0]) / int(risks.frame["risks"].iloc[0])
    rows.append(["Risks with a playbook", "n/a" if share is None else pct(share),
                 f">= {pct(READY['risks_with_playbook'])}",
                 verdict(None if share is None else share >= READY["risks_with_playbook"])])
    load = sources.owner_load(con)
    most = int(load.frame["alerts"].max()) if load.ok and len(load.frame) else None
    rows.append(["Most alerts held by one owner", show(most), f"<= {READY['alerts_per_owner']}",
                 verdict(None if most is None else most <= READY["alerts_per_owner"])])
    section.table = Table(["area", "measured", "ready when", "verdict"], rows)
    ready = [r[0] for r in rows if r[3].startswith("ready")]
    work = [r[0] for r in rows if r[3] == "needs work first"]
    section.bullets = [f"Ready for more automation: {', '.join(ready) or 'none yet'}.",
                       f"Needs work first: {', '.join(work) or 'none'}."]
    unknown = [r[0] for r in rows if r[3].startswith("unknown")]
    if unknown:
        section.bullets.append(f"Not measurable yet (input missing): {', '.join(unknown)}.")
    section.facts = [Fact("handoff completeness", None if completeness is None else round(completeness, 3),
                          "marts.fct_handoff_audit.has_<field>"),
                     *[Fact(f"newest {s.source} record", s.newest, f"raw.{s.source}.{SOURCE_DATES[s.source]}")
                       for s in fresh.itertuples()]]
    return section


def build_portfolio_report(con, models_root: Path) -> Report:
    require_marts(con)
    if not table_exists(con, "marts.fct_nrr_monthly"):
        raise ReportError("the warehouse has no marts.fct_nrr_monthly: run the pipeline first")
    day = as_of(con)
    report = Report("portfolio", "Customer Success portfolio report", f"data as of {show(day)}",
                    pd.Timestamp(day).date(), [])
    retention, tax = _retention(con)
    models_section, champ = _model_quality(con, models_root, report)
    report.sections = [retention, tax, _health(con), _risks(con, report), _waste(con), _handoffs(con),
                       _agent(con, report), models_section, _readiness(con, day, champ)]
    return report
