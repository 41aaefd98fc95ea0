"""Features that need no product vocabulary: event-type slots fitted on the training window, stored with the model and
used by scoring; quantities and the billing term."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from ml import pipeline
from ml.config import MLConfig
from ml.features import TYPE_DAILY, build_feature_frame, fit_event_types
from ml.registry import Registry


def test_fit_event_types_reads_only_the_training_window():
    with duckdb.connect() as con:
        con.execute("create schema intermediate")
        con.execute(f"""create table {TYPE_DAILY} as select * from (values
            ('A1', DATE '2025-01-10', 'b', 50, 50.0), ('A1', DATE '2025-01-11', 'a', 20, 20.0),
            ('A2', DATE '2025-01-12', 'c', 20, 20.0), ('A2', DATE '2025-09-01', 'late', 1000, 1000.0))
            as t(account_id, usage_date, event_type, event_count, quantity_total)""")
        assert fit_event_types(con, date(2025, 6, 30), slots=5) == ["b", "a", "c"]  # ties by name
        assert fit_event_types(con, date(2025, 12, 31), slots=2) == ["late", "b"]


def test_slots_are_the_training_window_types_and_count_their_events(scored_warehouse):
    db, models = scored_warehouse
    cfg = MLConfig.from_env()
    with duckdb.connect(str(db), read_only=True) as con:
        as_of = pipeline.read_as_of(con)
        types = pipeline.read_event_types(con)
        until = pipeline.training_window_end(pipeline.feature_snapshot_dates(con, cfg, as_of), as_of, cfg)
        assert types == fit_event_types(con, until) and len(types) == 5
        # the window ends before every backtest fit's training days do, so no later usage chose them
        for task in ("churn", "expansion"):
            backtest = json.loads(next((models / task).glob("*/training.json")).read_text())["backtest"]
            assert all(until <= date.fromisoformat(fold["train"][1]) for fold in backtest["folds"])
        frame = pipeline.read_table(con, pipeline.FEATURE_TABLE)
        sample = frame[frame["active_users_30d_now"] > 0].sample(20, random_state=1)
        for row in sample.itertuples():
            day = row.snapshot_date
            counted = con.execute(
                "select count(*) from staging.stg_usage_events where account_id = ? "
                "and occurred_on > ? and occurred_on <= ? and lower(trim(event_type)) = ?",
                [row.account_id, day - timedelta(days=30), day, types[0]]).fetchone()
            assert row.event_type_1_per_user_30d * row.active_users_30d_now == pytest.approx(counted[0]), \
                (row.account_id, day)
        terms = frame["billing_term_months"].dropna()
        assert set(terms.unique()) >= {1.0, 12.0} and len(terms) > 0.95 * len(frame)
    for task in ("churn", "expansion"):
        assert all(json.loads(p.read_text())["event_types"] == types for p in (models / task).glob("*/features.json"))


def test_scoring_fills_the_slots_with_the_champions_types(scored_warehouse, tmp_path):
    db, models = scored_warehouse
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(db, copy)
    cfg = MLConfig.from_env()
    registry = Registry(models)
    task = next((t for t in ("churn", "expansion") if registry.champion(t)), None)
    assert task is not None, "no model was promoted on the scored warehouse"
    champion, _ = registry.champion_or_reason(task)
    with duckdb.connect(str(copy)) as con:
        before = pipeline.score(con, task, cfg, registry).scores.set_index("account_id")["probability"]
        # today's snapshots fitted other slots: scoring still reads the champion's
        reordered = list(reversed(pipeline.read_event_types(con)))
        pipeline.write_table(con, pd.DataFrame({"slot": range(1, 6), "event_type": reordered}),
                             pipeline.EVENT_TYPES_TABLE)
        after = pipeline.score(con, task, cfg, registry).scores.set_index("account_id")["probability"]
        pd.testing.assert_series_equal(before, after)
        day = pipeline.AsOf.of(con).scoring_day
        mine = build_feature_frame(con, [day], event_types=champion.event_types)
        other = build_feature_frame(con, [day], event_types=reordered)
    assert not mine["event_type_1_per_user_30d"].equals(other["event_type_1_per_user_30d"])


def test_a_days_features_are_the_same_scored_alone_as_in_the_snapshot_grid(scored_warehouse):
    # Scoring builds one day with direct sums, the snapshots a grid with cumulative windows: no train/serve skew.
    db, _ = scored_warehouse
    with duckdb.connect(str(db), read_only=True) as con:
        types = pipeline.read_event_types(con)
        scoring_day = pipeline.AsOf.of(con).scoring_day
        for day in (scoring_day, scoring_day - timedelta(days=100)):
            alone = build_feature_frame(con, [day], event_types=types)
            grid = build_feature_frame(con, [day - timedelta(days=7), day], event_types=types)
            grid = grid[grid["snapshot_date"] == day].reset_index(drop=True)
            assert len(alone) > 0 and alone["events_30d_vs_lifetime"].notna().any()
            pd.testing.assert_frame_equal(alone, grid, check_exact=False, rtol=1e-12)
