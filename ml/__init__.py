"""Churn and expansion models: training sets, LightGBM training, evaluation, registry (plain Python, no Dagster).

One job per module:
    config       every knob (MLConfig) and the registry root (CSOPS_MODELS_DIR)
    features     point-in-time features from the dbt marts, snapshot days, the scoring day
    labels       churn / expansion labels from fct_revenue_events; unknown labels excluded
    split        temporal split train | gap | validation | calibration | gap | test (short history: train | gap | test,
                 validation and calibration from held-out accounts)
    train        LightGBM with early stopping, calibration, baselines and metrics on the test slice
    calibration  Platt / isotonic calibration, monotone, as a table
    baselines    health-score ranking and logistic regression on the same features
    metrics      ROC-AUC, PR-AUC, Brier, recall / lift at review budgets, outcomes caught, lead time
    explain      SHAP contributions (pred_contrib) grouped by family and phrased for CSMs
    drift        population stability index of features and score
    promotion    the promotion rule and its reasons
    registry     model versions, champion pointer, decisions log
    scoring      scores of every active account (champion or health-score fallback)
    leakage      point-in-time proof: features rebuilt from data truncated at the snapshot day
    pipeline     the steps the Dagster assets and the evaluation share
    report       metrics table and model card
    evaluate     `csops evaluate`: generate -> ingest -> dbt -> train -> metrics vs baselines vs oracle
    oracle       evaluation only: a model on the generator's hidden state
    dbt_runner   dbt subprocess on a given DuckDB file with private target/log folders, from a saved parse if one fits
    synthetic    small hand-made training sets with a known signal (tests)
"""

import os

# LightGBM's OpenMP threads spin while waiting by default; beside another busy process on a 2-core machine that
# made training 15x slower (136 s instead of 8 s, measured by the benchmark). Set before lightgbm loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
