"""Churn and expansion models: training sets, champion choice by backtest, evaluation, registry (plain Python, no Dagster).

One job per module:
    config       every knob (MLConfig; the churn grace days from the dbt vars) and the registry root (CSOPS_MODELS_DIR)
    features     point-in-time features from the dbt marts, snapshot days, the scoring day, categorical codes
    labels       churn / expansion labels from fct_revenue_events; unknown labels excluded
    split        rolling-origin backtest plan: the latest labelled days in windows, each trained a horizon before
    candidates   days to term end, configured and learned health score, logistic regression, small-data LightGBM
    selection    candidates backtested fold by fold, bootstrap intervals by account, the champion rule
    train        the backtest of every candidate, the champion's latest fit, its calibration and base-rate check
    calibration  Platt / isotonic calibration, monotone, as a table
    baselines    the health-score ranking (the fallback when no champion can be served)
    metrics      ROC-AUC, PR-AUC, Brier, recall / lift at review budgets, outcomes caught, lead time
    explain      SHAP contributions (pred_contrib) grouped by family and phrased for CSMs
    drift        population stability index of features and score; the drift verdict (PASS / WARN / FAIL)
    promotion    the promotion rule and its reasons; the champion's and the health score's status (PASS / WARN / FAIL)
    registry     model versions, champion pointer, decisions log
    scoring      scores of every active account (champion or health-score fallback)
    leakage      point-in-time proof: features rebuilt from data truncated at the snapshot day
    pipeline     the whole steps (feature snapshots -> training set -> train, skipped when unchanged -> score + drift)
                 with the run's AsOf: the Dagster assets, the benchmark and `lab.evaluate` call these
    report       metrics table and model card

The evaluation harness (`lab.evaluate`, `lab.oracle`, `lab.synthetic`) and the dbt runner (`csops.dbt`) live outside.
"""

import os

# LightGBM's OpenMP threads spin while waiting by default; beside another busy process on a 2-core machine that
# made training 15x slower (136 s instead of 8 s, measured by the benchmark). Set before lightgbm loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
