"""The account agent measured on a generated set with hidden truth (`csops eval-agent`, docs/agent.md).

1. Generate a landing zone (its truth in `_truth/`) and run the product's main job on it (ingest, dbt, models,
   scores, one agent tick at the end).
2. Backtest: replay the agent weekly over the last `--weeks` weeks on a fresh operational database. Each week the
   champion models score the accounts active that day from the point-in-time feature snapshots, then one tick runs
   with that day as its as-of day, as the daily run would have. Every alert the tick raises or updates has its
   evidence rebuilt from the marts on that day (risk hallucination).
3. Compare with the truth: critical alerts vs churn or contraction within 90 days (precision), churners with an
   alert at least 60 days before the churn (recall), notified alerts per owner per week, and the handoff audit's
   missing fields vs the fields the generator left out (precision and recall).

The models are trained on the same history: ticks before the end of the model's calibration slice score accounts
the model learned from, so precision and recall are also reported on the ticks after it (out of sample).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

HORIZON_DAYS = 90  # "truly churn or contract within 90 days"
LEAD_DAYS = 60  # "churners alerted at least 60 days ahead"
LOOKBACK_DAYS = 180  # an alert older than this before the churn does not count as a warning of it


@dataclass
class Backtest:
    ticks: list[date] = field(default_factory=list)
    active: list[tuple] = field(default_factory=list)  # (day, account, kind, severity) after each tick
    criticals: list[tuple] = field(default_factory=list)  # (day, account) a critical alert was raised or escalated
    scored: list[tuple] = field(default_factory=list)  # (day, account) every account scored at each tick
    notified: list[tuple] = field(default_factory=list)  # (day, owner, delivery)
    evidence_checked: int = 0
    evidence_problems: list[str] = field(default_factory=list)


def build(work: Path, accounts: int, months: int, seed: int, say) -> Path:
    """Generate and run the main job into `work`; the warehouse path."""
    import dagster as dg

    from csops.instance import ensure_dagster_home
    from csops.settings import Settings
    from lab.generator import generate
    from orchestration.lib.dbt_project import prepare_manifest
    from orchestration.run import failed_checks, run_pipeline

    os.environ.update({"CSOPS_DATA_DIR": str(work / "data"), "CSOPS_LANDING_DIR": str(work / "landing"),
                       "CSOPS_MODELS_DIR": str(work / "models")})
    for name in ("CSOPS_DUCKDB_PATH", "DAGSTER_HOME", "CSOPS_OPDB_URL"):
        os.environ.pop(name, None)
    settings = Settings.from_env()
    settings.export()
    ensure_dagster_home(settings.dagster_home)
    say(f"generating {accounts} accounts x {months} months (seed {seed})")
    generate(settings.landing_dir, accounts=accounts, months=months, seed=seed)
    prepare_manifest()
    say("running the main job")
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(instance, log_level="WARNING")
    if not result.success:
        raise RuntimeError(f"the main job failed: {failed_checks(result)}")
    return settings.duckdb_path


def backtest(con, opdb_url: str, days: list[date], say) -> Backtest:
    from sqlalchemy import select

    from actions.signals import verify_evidence
    from actions.tick import run_tick
    from csops.opdb import open_opdb, sessions
    from csops.opdb.models import Alert, AlertEvent
    from ml import pipeline
    from ml.config import MLConfig, models_dir
    from ml.features import build_feature_frame
    from ml.registry import Registry

    cfg, registry = MLConfig.from_env(), Registry(models_dir())
    engine = open_opdb(opdb_url)
    out, last_event = Backtest(), 0
    for day in days:
        frame = build_feature_frame(con, [day])
        out.scored += [(day, str(a)) for a in frame["account_id"]]
        for task in ("churn", "expansion"):
            run = pipeline.score_task(con, task, cfg, registry, frame=frame, as_of=day)
            pipeline.write_table(con, run.scores, pipeline.scores_table(task))
        with sessions(engine)() as session:
            before = {a.id: a.severity for a in session.scalars(select(Alert).where(Alert.status != "closed"))}
            result = run_tick(con, session, as_of=day, today=day)
            session.commit()
            current = list(session.scalars(select(Alert).where(Alert.status != "closed")))
            for alert in current:
                if alert.status != "held":
                    out.active.append((day, alert.account_id, alert.kind, alert.severity))
                if alert.severity == "critical" and before.get(alert.id) != "critical" and alert.status != "held":
                    out.criticals.append((day, alert.account_id))
            fresh = [a for a in current if a.as_of_date == day]
            out.evidence_problems += verify_evidence(con, [{"id": a.id, "account_id": a.account_id,
                                                            "as_of_date": a.as_of_date, "evidence": a.evidence}
                                                           for a in fresh])
            out.evidence_checked += len(fresh)
            for event, owner in session.execute(select(AlertEvent, Alert.owner).join(Alert, Alert.id == AlertEvent.alert_id)
                                                .where(AlertEvent.id > last_event, AlertEvent.to_status == "notified")):
                out.notified.append((day, owner, "digest" if (event.note or "").startswith("in the weekly digest")
                                     else "notify"))
            last_event = session.scalar(select(AlertEvent.id).order_by(AlertEvent.id.desc()).limit(1)) or 0
        out.ticks.append(day)
        say(f"  tick {day}: raised {result.alerts_raised}, escalated {result.alerts_escalated}, "
            f"held {result.alerts_held}, notified {result.alerts_notified}, digest {result.alerts_digest}")
    return out


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def alert_figures(bt: Backtest, truth: pd.DataFrame, end: date, out_of_sample_from: date | None) -> dict:
    churn = {r.account_id: r.churn_date for r in truth.itertuples() if r.churn_date is not None}
    contractions = {r.account_id: list(r.contraction_dates) for r in truth.itertuples()}

    def bad_within(account: str, day: date) -> bool:
        horizon = day + timedelta(days=HORIZON_DAYS)
        c = churn.get(account)
        return (c is not None and day < c <= horizon) or any(day < d <= horizon for d in contractions.get(account, []))

    def precision(rows):
        known = [(d, a) for d, a in rows if d + timedelta(days=HORIZON_DAYS) <= end]
        hits = sum(bad_within(a, d) for d, a in known)
        return {"critical_alerts": len(known), "true": hits, "precision": _ratio(hits, len(known))}

    first = bt.ticks[0]
    churners = {a: c for a, c in churn.items() if first + timedelta(days=LEAD_DAYS) <= c <= end}

    def recall(kinds: tuple[str, ...] | None, severities: tuple[str, ...] | None = None):
        warned = set()
        for day, account, kind, severity in bt.active:
            c = churners.get(account)
            if c is None or (kinds and kind not in kinds) or (severities and severity not in severities):
                continue
            if LEAD_DAYS <= (c - day).days <= LOOKBACK_DAYS:
                warned.add(account)
        return {"churners": len(churners), "alerted_60d_ahead": len(warned), "recall": _ratio(len(warned),
                                                                                             len(churners))}

    per_owner_week = defaultdict(lambda: [0, 0])
    for day, owner, delivery in bt.notified:
        per_owner_week[(owner, day)][delivery == "digest"] += 1
    owners = {o for o, _ in per_owner_week}
    weeks = len(bt.ticks)
    notified = [v[0] for v in per_owner_week.values()]
    figures = {
        "precision_all_ticks": precision(bt.criticals),
        # the same share over every scored account and tick: what alerting at random would reach
        "base_rate_all_ticks": precision(bt.scored)["precision"],
        "recall_churn_risk_alerts": recall(("churn_risk",)),
        "recall_any_alert": recall(None),
        "alerts_per_owner_per_week": {
            "owners": len(owners), "weeks": weeks,
            "mean_notified": round(sum(notified) / (len(owners) * weeks), 2) if owners else 0.0,
            "max_notified": max(notified, default=0),
            "mean_digest": round(sum(v[1] for v in per_owner_week.values()) / (len(owners) * weeks), 2)
            if owners else 0.0},
        "risk_hallucination": {"alerts_checked": bt.evidence_checked, "unsupported": len(bt.evidence_problems),
                               "examples": bt.evidence_problems[:5]},
    }
    if out_of_sample_from:
        figures["precision_out_of_sample"] = precision([(d, a) for d, a in bt.criticals if d > out_of_sample_from])
        figures["out_of_sample_after"] = out_of_sample_from.isoformat()
    return figures


def handoff_figures(session, truth: pd.DataFrame, audited: set[str] | None = None) -> dict:
    """The agent's missing handoff fields (its state after the last tick) vs the fields the generator left out; with
    `audited`, only on those accounts (the ones the handoff-audit mart covers)."""
    from sqlalchemy import select

    from actions.signals import HANDOFF_FIELDS
    from csops.opdb.models import AccountState

    states = {s.account_id: s for s in session.scalars(select(AccountState))}
    scope = [a for a in truth["account_id"].unique() if a in states and states[a].stage != "post_mortem"
             and (audited is None or a in audited)]
    truth_missing = {(r.account_id, r.field) for r in truth.itertuples() if not r.present and r.account_id in scope}
    found = set()
    for account in scope:
        st = states[account]
        missing = st.missing if st.stage == "fetch_missing_anchors" else []
        fields = HANDOFF_FIELDS if "handoff" in missing else missing
        found |= {(account, f) for f in fields}
    hits = len(found & truth_missing)
    return {"accounts": len(scope), "truly_missing": len(truth_missing), "found_missing": len(found),
            "precision": _ratio(hits, len(found)), "recall": _ratio(hits, len(truth_missing))}


def _out_of_sample_from(con) -> date | None:
    """The last day of the churn champion's calibration slice (later ticks are out of sample), if any."""
    from ml.config import models_dir
    from ml.registry import Registry

    registry = Registry(models_dir())
    version = registry.champion("churn")
    if not version:
        return None
    training = json.loads((registry.version_dir("churn", version) / "training.json").read_text())
    split = training.get("split") or {}
    return date.fromisoformat(split["calib"][1]) if "calib" in split else None


def evaluate(warehouse: Path, truth_dir: Path, work: Path, weeks: int, say) -> dict:
    import duckdb

    from actions.tick import run_tick
    from csops.opdb import open_opdb, sessions
    from ml.config import models_dir
    from ml.registry import Registry

    accounts = pd.read_parquet(truth_dir / "accounts.parquet")
    accounts["churn_date"] = accounts["churn_date"].map(lambda d: None if pd.isna(d) else pd.Timestamp(d).date())
    accounts["contraction_dates"] = accounts["contraction_dates"].map(
        lambda xs: [pd.Timestamp(x).date() for x in (xs if xs is not None else [])])
    handoffs = pd.read_parquet(truth_dir / "handoffs.parquet")
    url = f"sqlite:///{work / 'backtest.sqlite'}"
    with duckdb.connect(str(warehouse)) as con:
        end = con.execute("select max(as_of_date) from ml.churn_scores").fetchall()[0][0]
        snapshot_days = sorted(r[0] for r in con.execute(
            "select distinct snapshot_date from ml.feature_snapshots where snapshot_date <= ?", [end]).fetchall())
        days = [d for d in snapshot_days if d >= end - timedelta(weeks=weeks)]
        if not days or days[-1] != end:
            days.append(end)
        say(f"backtest: {len(days)} weekly ticks from {days[0]} to {days[-1]}")
        bt = backtest(con, url, days, say)
        figures = alert_figures(bt, accounts, end, _out_of_sample_from(con))
        registry = Registry(models_dir())
        models = {task: registry.champion(task) or "baseline:health_score" for task in ("churn", "expansion")}
        with sessions(open_opdb(url))() as session:
            audited = {r[0] for r in con.execute("select account_id from marts.fct_handoff_audit").fetchall()}
            figures["handoff_audit_all_new_logos"] = handoff_figures(session, handoffs)
            figures["handoff_audit_audited_accounts"] = handoff_figures(session, handoffs, audited)
            # the backtest's last tick ran on the as-of day: a second tick on the same data must change nothing
            rerun = run_tick(con, session, as_of=end, today=end)
            figures["last_tick_rerun_changes"] = rerun.transitions + rerun.alerts_raised + rerun.actions_created
    figures.update({"as_of": end.isoformat(), "ticks": len(bt.ticks), "models": models})
    return figures


def main(args, settings) -> int:
    from csops.cli.output import say

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="csops-agent-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    built = work / "data" / "warehouse.duckdb"
    if (work / "landing" / "_truth").exists() and built.exists():
        say(f"reusing the generated set and warehouse in {work}")
        os.environ.update({"CSOPS_DATA_DIR": str(work / "data"), "CSOPS_MODELS_DIR": str(work / "models")})
        warehouse = built
    else:
        warehouse = build(work, args.accounts, args.months, args.seed, say)
    figures = evaluate(warehouse, work / "landing" / "_truth", work, args.weeks, say)
    figures["command"] = (f"csops eval-agent --accounts {args.accounts} --months {args.months} --seed {args.seed} "
                          f"--weeks {args.weeks}")
    report = work / "agent_eval.json"
    report.write_text(json.dumps(figures, indent=2, default=str))
    print(json.dumps(figures, indent=2, default=str))
    say(f"report: {report}")
    return 0
