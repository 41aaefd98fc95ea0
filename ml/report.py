"""Human-readable output: the metrics table (model vs baselines vs champion/oracle) and the model card."""

from __future__ import annotations

from ml.config import MLConfig

ROWS = [
    ("roc_auc", "ROC-AUC", 3),
    ("roc_auc_renewal_due", "ROC-AUC, renewal due in H", 3),
    ("pr_auc", "PR-AUC", 3),
    ("brier", "Brier score", 4),
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
COLUMN_LABELS = {"model": "LightGBM", "health_score": "health score", "logistic_regression": "logistic reg.",
                 "champion": "champion", "oracle": "oracle (hidden state)"}


def _fmt(value, digits: int) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def metrics_table(metrics: dict[str, dict | None], markdown: bool = True) -> str:
    """Rows = metrics, columns = scorers present in `metrics` (model, baselines, champion, oracle)."""
    names = [n for n in ("model", "health_score", "logistic_regression", "champion", "oracle") if metrics.get(n)]
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
    split = training.get("split") or {}
    counts = training.get("counts") or {}
    top = list(importance.items())[:12]
    lines = [
        f"# {task.capitalize()} model {version}",
        "",
        f"- **Predicts** the probability that {TASK_TEXT[task]} within {cfg.horizon_days} days after the scoring day.",
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
        "| slice | first day | last day | rows | positives | positive accounts |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("train", "valid", "calib", "test"):
        c = counts.get(name) or {}
        window = split.get(name) or ["", ""]
        lines.append(f"| {name} | {window[0]} | {window[1]} | {c.get('rows', 0):,} | {c.get('positives', 0):,} | "
                     f"{c.get('positive_accounts', 0):,} |")
    lines += [
        "",
        f"Split: {split.get('description', 'not recorded')}.",
        "",
        "## Test-slice metrics (out of time)",
        metrics_table({k: v for k, v in metrics.items() if isinstance(v, dict) and k != "test_slice"}),
        "",
        "Review budgets flag the top 10% / 20% of active accounts on each snapshot day. An outcome is caught when its "
        "account was flagged in the horizon before it; lead time = days from the first flag to the outcome.",
        "",
        "## Model",
        f"- LightGBM {training.get('lightgbm_version')}, {training.get('best_iteration')} trees (early stopping on "
        f"validation), seed {cfg.seed}, deterministic, {cfg.num_threads} threads.",
        f"- Calibration: {calibration.get('method')} ({calibration.get('note')}); risk bands: high >= "
        f"{calibration.get('bands', {}).get('high', 0):.3f}, medium >= {calibration.get('bands', {}).get('medium', 0):.3f}"
        " (the probabilities a 10% / 20% review budget flags on the calibration slice).",
        "",
        "Top features by gain:",
        "",
        *[f"- `{name}`: {gain:,.0f}" for name, gain in top],
        "",
        "## Limits",
        "- Churn can only happen when a contract ends, so days to renewal dominates the ranking; the ROC-AUC among "
        "accounts whose renewal is due within the horizon shows how well the model separates those who leave.",
        "- Trained on the oldest labelled snapshots (later ones test it, and validate and calibrate it unless other "
        "accounts of the training days do), so it lags the as-of date by one or two horizons plus the test window.",
        *(["- Validation and calibration come from other accounts on the training days (too little history for "
           "later days), so they cannot see a shift in the base rate since then; the test slice can."]
          if split.get("holdout_account_share") else []),
        "- Reasons are the model's SHAP contributions grouped by feature family: they say what moved the score, not "
        "what caused the outcome.",
        "- Free text (tickets, notes, comments) is not used.",
    ]
    return "\n".join(lines) + "\n"
