"""Everything tunable about the churn and expansion models, in one dataclass with documented defaults.

`MLConfig()` is the production configuration. Overrides come from a JSON or YAML file named by `CSOPS_ML_CONFIG`
(keys as the field names; `lgbm_params` is merged into the defaults) or from `dataclasses.replace` in code and tests.
Policy dbt applies too has its home in the dbt vars: `churn_grace_days` is `csops_churn_grace_days`.
The registry folder is `CSOPS_MODELS_DIR` (default `<repo>/models`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from csops.dbt import project_var
from csops.settings import Settings

TASKS = ("churn", "expansion")
# the champion's candidates, simplest first (ml/candidates.py)
CANDIDATES = ("days_to_term_end", "health_score", "health_learned", "logistic_regression", "lightgbm")


def default_lgbm_params() -> dict:
    return {
        "objective": "binary",
        "learning_rate": 0.03,
        "num_leaves": 15,
        "max_depth": 5,
        "min_data_in_leaf": 80,
        "feature_fraction": 0.7,
        "bagging_fraction": 0.7,
        "bagging_freq": 1,
        "lambda_l2": 5.0,
        "min_gain_to_split": 0.0,
        "max_bin": 63,
        "metric": ["auc", "binary_logloss"],
        "first_metric_only": True,
    }


@dataclass(frozen=True)
class MLConfig:
    # labels: an event within `horizon_days` after the snapshot day (the snapshot day itself excluded)
    horizon_days: int = 90
    # contract v1 grace period: a churn is confirmed only once this many days passed after it; a churn label is
    # known only when horizon + grace days lie before the as-of date. Read from the dbt var csops_churn_grace_days
    # (dbt_project.yml), its one home: the marts confirm churns with the same number.
    churn_grace_days: int = field(default_factory=lambda: int(project_var("csops_churn_grace_days")))
    # snapshots: every `cadence_days` back from the as-of date, from `warmup_days` after the data start on
    cadence_days: int = 7
    warmup_days: int = 91  # 90-day changes and the support baseline exist from here on
    # expansion counts only these fct_revenue_events drivers (more seats or an added product, never price changes)
    expansion_drivers: tuple[str, ...] = ("more_seats", "added_product", "added_product_and_seats")

    # rolling-origin backtest (ml/split.py): the latest labelled days in `backtest_folds` windows (at most
    # `backtest_window_max_days` each), each tested on a model trained on the days a horizon or more before it
    backtest_folds: int = 4
    backtest_min_folds: int = 2
    backtest_window_max_days: int = 42
    train_min_days: int = 28
    # bootstrap by account of the pooled out-of-time rows: intervals of ROC-AUC and of the differences between
    # candidates (ml/selection.py)
    bootstrap_samples: int = 200
    interval: float = 0.90
    # which candidates compete (a subset of CANDIDATES, simplest first)
    candidates: tuple[str, ...] = CANDIDATES

    # "too few positives": below these a model is not trained / not validated, and says so
    min_train_positives: int = 30
    min_test_positives: int = 10
    # calibration: Platt (sigmoid) unless the calibration slice has at least this many positives (then isotonic)
    isotonic_min_positives: int = 1000

    # LightGBM
    seed: int = 17
    # LightGBM is deterministic for a given thread count; the default uses every core of the machine it runs on.
    num_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    # no early stopping (a validation slice of a small book holds a handful of outcomes and picks a tree count by
    # chance): a fixed number of trees, `boost_rounds_per_positive_account` per account with a positive in the
    # training rows, within these bounds; min_data_in_leaf is at least this share of the training rows
    boost_rounds_per_positive_account: float = 4.0
    min_boost_round: int = 40
    max_boost_round: int = 400
    min_data_in_leaf_share: float = 0.001
    lgbm_params: dict = field(default_factory=default_lgbm_params)

    # evaluation and promotion
    review_budgets: tuple[float, ...] = (0.10, 0.20)
    promotion_metric: str = "roc_auc"
    promotion_margin: float = 0.005
    # a champion trained on data up to day D serves until D + this many days of data, unless the config, the feature
    # columns or LightGBM change: a daily run then scores with it instead of retraining on one more day
    # (the weekly retrain is due each week); 0 retrains whenever the training data changes
    retrain_every_days: int = 7
    # risk bands: "high" = the share of the calibration slice a 10% review budget flags, "medium" = the next 10%
    band_budgets: tuple[float, float] = (0.10, 0.20)

    # feature families left out of training (ml/features.py), e.g. the voice ones ("voice_sentiment", ...)
    excluded_feature_families: tuple[str, ...] = ()

    # explanations and drift
    top_reasons: int = 3
    psi_warn: float = 0.10
    psi_fail: float = 0.25
    psi_bins: int = 10

    # point-in-time check: snapshot dates and accounts rebuilt from truncated data
    pit_dates: int = 2
    pit_accounts: int = 25

    def __post_init__(self) -> None:
        if self.num_threads < 1:
            raise ValueError("num_threads must be at least 1")
        if self.horizon_days < 1 or self.cadence_days < 1:
            raise ValueError("horizon_days and cadence_days must be positive")
        if not self.candidates or set(self.candidates) - set(CANDIDATES):
            raise ValueError(f"candidates must be a non-empty subset of {CANDIDATES}")
        if self.backtest_min_folds < 1 or self.backtest_folds < self.backtest_min_folds:
            raise ValueError("backtest_folds must be at least backtest_min_folds, which must be at least 1")

    @classmethod
    def from_env(cls) -> MLConfig:
        """The defaults, overridden by the file `CSOPS_ML_CONFIG` names (YAML or JSON), if any."""
        path = Settings.from_env().ml_config
        if not path:
            return cls()
        text = path.read_text()
        if path.suffix in (".yml", ".yaml"):
            import yaml

            overrides = yaml.safe_load(text) or {}
        else:
            overrides = json.loads(text)
        return cls.with_overrides(overrides)

    @classmethod
    def with_overrides(cls, overrides: dict) -> MLConfig:
        base = cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown ML config keys: {sorted(unknown)}")
        if "churn_grace_days" in overrides:
            raise ValueError("churn_grace_days is the dbt var csops_churn_grace_days: set it in dbt_project.yml")
        values = dict(overrides)
        if "lgbm_params" in values:
            values["lgbm_params"] = {**base.lgbm_params, **values["lgbm_params"]}
        for name in ("expansion_drivers", "review_budgets", "band_budgets", "candidates", "excluded_feature_families"):
            if name in values:
                values[name] = tuple(values[name])
        return dataclasses.replace(base, **values)

    def as_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def label_delay_days(self, task: str) -> int:
        """Days after a snapshot until its label is known: the horizon, plus the grace period for churn."""
        return self.horizon_days + (self.churn_grace_days if task == "churn" else 0)


def models_dir() -> Path:
    """The registry root: `CSOPS_MODELS_DIR`, default `<repo>/models`."""
    return Settings.from_env().models_dir
