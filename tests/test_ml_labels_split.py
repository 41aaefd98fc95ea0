"""Labels (horizon, unknown labels excluded, expansion drivers) and the temporal split (gaps of at least H, accounts
held out on short history)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from ml.config import MLConfig
from ml.labels import label_snapshots, load_outcome_events
from ml.split import NotEnoughHistory, account_fraction, temporal_split

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
def test_split_is_ordered_with_gaps_of_at_least_the_horizon(weeks):
    cfg = MLConfig()
    split = temporal_split(weekly(date(2024, 1, 1), weeks), cfg)
    assert split.train[1] < split.valid[0] <= split.valid[1] < split.calib[0] <= split.calib[1] < split.test[0]
    gap_train_valid, gap_calib_test = split.gaps_days()
    assert gap_train_valid >= cfg.horizon_days and gap_calib_test >= cfg.horizon_days
    assert (split.train[1] - split.train[0]).days >= cfg.train_min_days
    slices = split.assign(pd.Series(weekly(date(2024, 1, 1), weeks)), ["a"] * weeks)
    assert set(slices) == {"train", "valid", "calib", "test", "gap"}
    # no label window of an earlier slice reaches into a later one
    last_train = max(d for d, s in zip(weekly(date(2024, 1, 1), weeks), slices, strict=True) if s == "train")
    first_valid = min(d for d, s in zip(weekly(date(2024, 1, 1), weeks), slices, strict=True) if s == "valid")
    assert last_train + timedelta(days=cfg.horizon_days) <= first_valid


def test_split_follows_a_configured_horizon():
    cfg = dataclasses.replace(MLConfig(), horizon_days=30)
    split = temporal_split(weekly(date(2024, 1, 1), 40), cfg)
    assert min(split.gaps_days()) >= 30


def test_too_little_history_says_so():
    with pytest.raises(NotEnoughHistory, match="cannot hold"):
        temporal_split(weekly(date(2024, 1, 1), 15), MLConfig())


def test_a_year_of_data_holds_accounts_out_of_the_training_days_instead_of_a_second_gap():
    cfg = MLConfig()
    days = weekly(date(2025, 9, 29), 22)  # 147 days: the churn labels of a 12-month data set
    with pytest.raises(NotEnoughHistory, match="cannot hold"):
        temporal_split(days, dataclasses.replace(cfg, holdout_account_share=0.0))
    split = temporal_split(days, cfg)
    assert split.train[1] + timedelta(days=cfg.horizon_days) <= split.test[0]
    assert (split.train[1] - split.train[0]).days >= cfg.train_min_days
    assert split.gaps_days() == (0, (split.test[0] - split.train[1]).days)
    accounts = [f"ACC-{i:05d}" for i in range(2000)]
    frame = pd.DataFrame([(a, d) for a in accounts for d in days], columns=["account_id", "snapshot_date"])
    frame["slice"] = split.assign(frame["snapshot_date"], frame["account_id"]).to_numpy()
    on_training_days = frame[(frame["snapshot_date"] >= split.train[0]) & (frame["snapshot_date"] <= split.train[1])]
    # every account sits in one slice on all its training days, so no outcome is seen by two slices
    per_account = on_training_days.groupby("account_id")["slice"].agg(set)
    assert per_account.map(len).eq(1).all()
    shares = per_account.map(min).value_counts(normalize=True)
    assert abs(shares["valid"] - 0.15) < 0.03 and abs(shares["calib"] - 0.15) < 0.03
    # the test slice is out of time and holds every account; the same call gives the same slices
    test = frame[frame["slice"] == "test"]
    assert test["snapshot_date"].min() >= split.test[0] and test["account_id"].nunique() == len(accounts)
    assert set(frame.loc[frame["snapshot_date"] > split.train[1], "slice"]) <= {"gap", "test"}
    again = split.assign(frame["snapshot_date"], frame["account_id"]).to_numpy()
    assert (again == frame["slice"].to_numpy()).all()
    # the hash is fixed (not Python's per-process one), and rows are matched to their own account whatever the index
    pinned = pd.DataFrame({"account_id": ["ACC-00000", "ACC-00001", "ACC-00011"], "snapshot_date": [days[0]] * 3},
                          index=[7, 7, 3])
    assert split.assign(pinned["snapshot_date"], pinned["account_id"]).tolist() == ["train", "valid", "calib"]


def test_a_coarse_cadence_that_leaves_no_room_between_the_gaps_also_holds_accounts_out():
    cfg = dataclasses.replace(MLConfig(), cadence_days=28)
    days = [date(2025, 1, 1) + timedelta(days=28 * i) for i in range(10)]  # 252 days, one snapshot every 4 weeks
    split = temporal_split(days, cfg)
    assert split.holdout_account_share == cfg.holdout_account_share
    assert split.train[1] + timedelta(days=cfg.horizon_days) <= split.test[0]


def test_no_outcome_at_all_gives_negative_known_labels():
    frame = snaps(("a", date(2025, 1, 1)), ("b", date(2025, 2, 1)))
    out = label_snapshots(frame, pd.DataFrame({"account_id": [], "event_date": []}), AS_OF, horizon_days=90)
    assert out["label"].tolist() == [0.0, 0.0] and out["label_known"].all()


def test_a_missing_account_id_is_not_hashed_as_another_account():
    fractions = account_fraction(pd.Series(["ACC-1", None, "ACC-2", "ACC-1"]))
    assert fractions[0] == fractions[3]
    assert len({fractions[0], fractions[1], fractions[2]}) == 3


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
