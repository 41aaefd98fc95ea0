"""Human-readable output: the metrics table (model vs baselines vs champion/oracle) and the model card."""

from __future__ import annotations

from ml.config import MLConfig

ROWS = [
    ("roc_auc", "ROC-AUC (mean of the windows)", 3),
    ("roc_auc_lo", "  interval, low (bootstrap by account)", 3),
    ("roc_auc_hi", "  interval, high", 3),
    ("roc_auc_vs_served_lo", "  minus the served one, low", 3),
    ("roc_auc_vs_served_hi", "  minus the served one, high", 3),
    ("roc_auc_renewal_due", "ROC-AUC, renewal due in H", 3),
    ("pr_auc", "PR-AUC", 3),
    ("brier", "Brier score (calibrated out of time)", 4),
    ("brier_constant", "Brier of a constant (earlier base rate)", 4),
    ("base_rate", "base rate", 3),
    ("recall_at_10", "recall @10% (rows)", 3),
    ("lift_at_10", "lift @10%", 2),
    ("recall_at_20", "recall @20% (rows)", 3),
    ("lift_at_20", "lift @20%", 2),
    ("outcome_recall_at_10", "outcomes caught @10%", 3),
    ("outcome_recall_at_20", "outcomes caught @20%", 3),
    ("lead_time_median_at_20", "median lead time @20% (days)", 0),
    ("positive_rows", "positive rows", 0),
    ("outcomes", "outcomes (account, event)", 0),
    ("rows", "rows", 0),
]
COLUMN_LABELS = {"model": "served", "days_to_term_end": "days to term end", "health_score": "health score",
                 "health_learned": "learned health", "logistic_regression": "logistic reg.", "lightgbm": "LightGBM",
                 "champion": "champion before", "oracle": "oracle (hidden state)"}


def _fmt(value, digits: int) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def metrics_table(metrics: dict[str, dict | None], markdown: bool = True) -> str:
    """Rows = metrics, columns = scorers present in `metrics` (served, candidates, champion before, oracle)."""
    names = [n for n in COLUMN_LABELS if metrics.get(n)]
    header = ["metric", *[COLUMN_LABELS[n] for n in names]]
    body = [[label, *[_fmt((metrics[n] or {}).get(key), digits) for n in names]] for key, label, digits in ROWS]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    fmt = lambda row: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths, strict=True)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *[fmt(r) for r in body]])


TASK_TEXT = {
    "churn": "the account churns (its last active contract ends with no contract starting within the grace period)",
    "expansion": "the account's ARR rises through more seats or an added product (price changes do not count)",
}


def model_card(task: str, version: str, training: dict, metrics: dict, calibration: dict, decision: dict,
               importance: dict, cfg: MLConfig) -> str:
    backtest = training.get("backtest") or {}
    counts = training.get("counts") or {}
    selection = training.get("selection") or {}
    check = calibration.get("check") or {}
    top = list(importance.items())[:12]
    lines = [
        f"# {task.capitalize()} model {version}",
        "",
        f"- **Predicts** the probability that {TASK_TEXT[task]} within {cfg.horizon_days} days after the scoring day.",
        f"- **Served**: {training.get('scorer')}.",
        "- **Why this one**: " + "; ".join(selection.get("reasons") or ["not recorded"]),
        f"- **Status**: {training.get('status')}" + (f" ({'; '.join(training.get('reasons') or [])})"
                                                     if training.get("reasons") else ""),
        f"- **Promotion**: {'promoted to champion' if decision.get('promote') else 'not promoted'}: "
        + "; ".join(decision.get("reasons") or []),
        "",
        "## Data",
        f"- Data as of {training.get('as_of_date')}; snapshots every {cfg.cadence_days} days per active account "
        "(features of `marts.fct_account_daily`, health, Lean waste, segment and lifecycle phase on that day).",
        f"- Labels from `marts.fct_revenue_events`; a snapshot's label is known {cfg.label_delay_days(task)} days "
        "later, newer snapshots are not used.",
        f"- Training data hash `{training.get('data_hash')}`.",
        "",
        "| window | trained on | tested on | rows | positives | positive accounts |",
        "|---|---|---|---|---|---|",
    ]
    for fold in backtest.get("folds") or []:
        c = counts.get(fold["name"]) or {}
        lines.append(f"| {fold['name']} | {fold['train'][0]}..{fold['train'][1]} | {fold['test'][0]}..{fold['test'][1]}"
                     f" | {c.get('rows', 0):,} | {c.get('positives', 0):,} | {c.get('positive_accounts', 0):,} |")
    lines += [
        "",
        f"Backtest: {backtest.get('description', 'not recorded')}. The served scorer is the one fitted for the "
        "latest window (fold_0).",
        "",
        "## Candidates out of time (backtest windows pooled)",
        metrics_table({k: v for k, v in metrics.items() if isinstance(v, dict) and k not in ("test_slice", "champion")}),
        "",
        "ROC-AUC is the mean of the windows' ROC-AUCs (each window is scored by its own fit), with a "
        f"{cfg.interval:.0%} bootstrap interval by account. Review budgets flag the top 10% / 20% of active accounts "
        "on each snapshot day. An outcome is caught when its account was flagged in the horizon before it.",
        "",
        "## Calibration",
        f"- {calibration.get('method')} ({calibration.get('note')}), fitted on the latest labelled period (fold_0). "
        + (check.get("note") or "") + ".",
        f"- Risk bands: high >= {calibration.get('bands', {}).get('high', 0):.3f}, medium >= "
        f"{calibration.get('bands', {}).get('medium', 0):.3f} (the calibrated probabilities a 10% / 20% review budget "
        "flags in the latest labelled period).",
        "- Out of time over the backtest (each window calibrated on the window before it): Brier "
        f"{_fmt(check.get('brier'), 4)} vs {_fmt(check.get('brier_constant'), 4)} for a constant; mean predicted "
        f"{_fmt(check.get('mean_predicted'), 3)}, observed {_fmt(check.get('observed_rate'), 3)}.",
        "",
        "| predicted from | to | rows | mean predicted | observed |",
        "|---|---|---|---|---|",
        *[f"| {r['from']:.3f} | {r['to']:.3f} | {r['rows']:,} | {r['mean_predicted']:.3f} | {r['observed']:.3f} |"
          for r in check.get("reliability") or []],
        "",
        "## Model",
        f"- {training.get('scorer')}; seed {cfg.seed}, deterministic, {cfg.num_threads} threads.",
        *([f"- Learned health-score weights (fitted on the latest window's training days; the configured ones are "
           f"dbt var `csops_health`): {training['health_weights_learned']}"] if training.get("health_weights_learned")
          else []),
        "",
        "Top features (LightGBM: gain; linear: |coefficient| per standard deviation):",
        "",
        *[f"- `{name}`: {gain:,.4g}" for name, gain in top],
        "",
        "## Limits",
        "- Churn can only happen when a contract ends, so days to renewal dominates the ranking; the ROC-AUC among "
        "accounts whose renewal is due within the horizon shows how well the model separates those who leave.",
        "- The served scorer was trained on the days at least a horizon before the latest labelled period, so it lags "
        "the as-of date by about two horizons.",
        "- Reasons are the scorer's contributions grouped by feature family: they say what moved the score, not "
        "what caused the outcome.",
        "- Free text (tickets, notes, comments) is not used.",
    ]
    return "\n".join(lines) + "\n"
