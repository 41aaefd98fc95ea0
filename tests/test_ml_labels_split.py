"""Labels (horizon, unknown labels excluded, expansion drivers) and the rolling-origin backtest plan (every window
tested on days at least H after its training days; fewer, shorter windows on short history)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from ml.config import MLConfig
from ml.labels import label_snapshots, load_outcome_events
from ml.split import HISTORY, NotEnoughHistory, backtest_plan

AS_OF = date(2025, 12, 31)


def snaps(*rows):
    return pd.DataFrame(rows, columns=["account_id", "snapshot_date"])


def test_churn_within_horizon_is_positive_and_later_or_earlier_is_not():
    frame = snaps(("a", date(2025, 1, 1)), ("a", date(2025, 3, 1)), ("a", date(2025, 5, 1)), ("b", date(2025, 3, 1)))
    events = pd.DataFrame({"account_id": ["a"], "event_date": [date(2025, 4, 1)]})
    out = label_snapshots(frame, events, AS_OF, horizon_days=90)
    # 2025-01-01 + 90 days = 2025-04-01: the event is on the last day of the window
    assert out["label"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert out["event_date"].tolist()[:2] == [date(2025, 4, 1), date(2025, 4, 1)]
    assert out["label_known"].all()


def test_event_on_the_snapshot_day_or_after_the_horizon_does_not_count():
    frame = snaps(("a", date(2025, 4, 1)), ("a", date(2024, 12, 31)))
    events = pd.DataFrame({"account_id": ["a"], "event_date": [date(2025, 4, 1)]})
    out = label_snapshots(frame, events, AS_OF, horizon_days=90)
    assert out["label"].tolist() == [0.0, 0.0]


def test_snapshots_whose_window_runs_past_the_as_of_date_have_no_label():
    frame = snaps(("a", date(2025, 9, 1)), ("a", date(2025, 10, 1)), ("a", date(2025, 12, 1)))
    events = pd.DataFrame({"account_id": ["a"], "event_date": [date(2025, 12, 15)]})
    # churn: horizon 90 + grace 30 days must lie before the as-of date
    out = label_snapshots(frame, events, AS_OF, horizon_days=90, delay_days=120)
    assert out["label_known"].tolist() == [True, False, False]
    assert out["label"].iloc[0] == 0.0 and out["label"].iloc[1:].isna().all()
    assert out["event_date"].iloc[1:].isna().all()


def test_expansion_labels_count_seats_and_products_never_price_changes(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_revenue_events (account_id varchar, event_type varchar, "
                    "event_date date, change_driver varchar)")
        con.execute("insert into marts.fct_revenue_events values "
                    "('a', 'expansion', '2025-02-01', 'more_seats'), ('b', 'expansion', '2025-02-01', 'price_change'),"
                    "('c', 'expansion', '2025-02-01', 'added_product'), ('d', 'churn', '2025-02-01', null),"
                    "('e', 'expansion', '2025-02-01', 'added_product_and_seats')")
        cfg = MLConfig()
        expansion = load_outcome_events(con, "expansion", cfg)
        churn = load_outcome_events(con, "churn", cfg)
    assert sorted(expansion["account_id"]) == ["a", "c", "e"]
    assert churn["account_id"].tolist() == ["d"]


def weekly(start: date, weeks: int) -> list[date]:
    return [start + timedelta(days=7 * i) for i in range(weeks)]


@pytest.mark.parametrize("weeks", [60, 80, 120])
def test_backtest_windows_are_newest_first_and_each_trains_a_horizon_before_it(weeks):
    cfg = MLConfig()
    days = weekly(date(2024, 1, 1), weeks)
    plan = backtest_plan(days, cfg)
    assert len(plan.folds) == cfg.backtest_folds and plan.latest.test[1] == days[-1]
    for newer, older in zip(plan.folds, plan.folds[1:]):
        assert older.test[1] < newer.test[0]  # contiguous windows, no day in two
        assert older.train[1] <= newer.train[1]  # expanding training days
    for fold in plan.folds:
        assert fold.train[0] == days[0] and (fold.test[0] - fold.train[1]).days >= cfg.horizon_days
        assert (fold.test[1] - fold.test[0]).days < plan.window_days <= cfg.backtest_window_max_days
    names = plan.assign(pd.Series(days))
    assert set(names) == {HISTORY, *[f.name for f in plan.folds]}
    assert (names[pd.Series(days) < plan.test[0]] == HISTORY).all()


def test_backtest_follows_a_configured_horizon():
    plan = backtest_plan(weekly(date(2024, 1, 1), 40), dataclasses.replace(MLConfig(), horizon_days=30))
    assert all((f.test[0] - f.train[1]).days >= 30 for f in plan.folds)


def test_too_little_history_says_so():
    with pytest.raises(NotEnoughHistory, match="cannot hold"):
        backtest_plan(weekly(date(2024, 1, 1), 15), MLConfig())


def test_a_year_of_data_still_gets_weekly_windows():
    cfg = MLConfig()
    days = weekly(date(2025, 9, 29), 22)  # 147 days: the churn labels of a 12-month data set
    plan = backtest_plan(days, cfg)
    assert len(plan.folds) == cfg.backtest_folds and plan.window_days == cfg.cadence_days
    assert all((f.test[0] - f.train[1]).days >= cfg.horizon_days for f in plan.folds)
    with pytest.raises(NotEnoughHistory, match="cannot hold"):
        backtest_plan(days, dataclasses.replace(cfg, train_min_days=56))


def test_no_outcome_at_all_gives_negative_known_labels():
    frame = snaps(("a", date(2025, 1, 1)), ("b", date(2025, 2, 1)))
    out = label_snapshots(frame, pd.DataFrame({"account_id": [], "event_date": []}), AS_OF, horizon_days=90)
    assert out["label"].tolist() == [0.0, 0.0] and out["label_known"].all()


def test_the_churn_grace_period_has_one_home_in_the_dbt_vars(tmp_path, monkeypatch):
    import yaml

    from csops.settings import DBT_PROJECT_DIR

    declared = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    cfg = MLConfig()
    assert cfg.churn_grace_days == declared["csops_churn_grace_days"]
    assert cfg.label_delay_days("churn") == cfg.horizon_days + declared["csops_churn_grace_days"]
    # the renewal window is declared once, for the lifecycle phase and Muri's window alike
    assert "muri_renewal_window_days" not in declared["csops_lean"] and declared["csops_renewal_window_days"]
    override = tmp_path / "ml.json"
    override.write_text('{"churn_grace_days": 45}')
    monkeypatch.setenv("CSOPS_ML_CONFIG", str(override))
    with pytest.raises(ValueError, match="csops_churn_grace_days"):
        MLConfig.from_env()
