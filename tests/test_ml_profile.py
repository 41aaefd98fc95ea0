"""The data profile (ml.profile): warns when the data leaves feature families empty, as the ML feature step's
advisory asset check."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from ml import pipeline
from ml.profile import DataProfile, profile_data

DAY = date(2026, 6, 30)
FLAGS = ("has_support_data", "has_survey_data", "has_engagement_data", "has_stakeholder_data")


def daily(con: duckdb.DuckDBPyConnection, other_share: float, present: tuple[str, ...]) -> None:
    """Three accounts on DAY (and one row the day before that must not count)."""
    con.execute("create schema if not exists marts")
    flags = ", ".join(f"{flag in present} as {flag}" for flag in FLAGS)
    con.execute(f"""create or replace table marts.fct_account_daily as
        select 'A' || i as account_id, DATE '{DAY}' - (i = 3)::int as date_day, 100.0 as events_30d,
               100.0 * {other_share} as events_30d_other, {flags}
        from range(4) as t(i)""")


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        yield connection


def test_foreign_vocabulary_and_absent_sources_warn_and_name_the_features(con):
    daily(con, other_share=1.0, present=())
    profile = profile_data(con, DAY)
    assert profile.status == "WARN" and profile.accounts == 3 and profile.unmapped_share == 1.0
    kinds = {(f.kind, f.subject): f for f in profile.findings}
    assert set(kinds) == {("unmapped_events", "usage_events"), ("absent_source", "support_tickets"),
                          ("absent_source", "survey_responses"), ("absent_source", "activities"),
                          ("absent_source", "contacts")}
    assert {"events_share_core", "key_value_events_share", "feature_categories_used_30d", "health_adoption"} <= set(
        kinds["unmapped_events", "usage_events"].features)
    assert set(kinds["absent_source", "survey_responses"].features) == {
        "latest_nps_score", "nps_trend", "days_since_latest_nps", "health_sentiment"}
    assert "tickets_30d" in profile.summary() and "100% of the usage events" in profile.summary()
    assert "tickets_30d" in profile.as_metadata()["emptied_features"]


def test_mapped_data_with_every_source_passes(con):
    daily(con, other_share=0.2, present=FLAGS)
    profile = profile_data(con, DAY)
    assert profile.status == "PASS" and profile.findings == ()
    assert profile.unmapped_share == pytest.approx(0.2)


def test_one_absent_source_warns_alone(con):
    daily(con, other_share=0.4, present=FLAGS[1:])
    assert [(f.kind, f.subject) for f in profile_data(con, DAY).findings] == [("absent_source", "support_tickets")]


def test_stored_profile_round_trips_and_the_asset_check_warns(tmp_path):
    from orchestration.defs.ml.checks import data_profile_check

    path = tmp_path / "warehouse.duckdb"
    for share, present, passed in ((1.0, (), False), (0.1, FLAGS, True)):
        with duckdb.connect(str(path)) as con:
            daily(con, other_share=share, present=present)
            profile = profile_data(con, DAY)
            pipeline.write_table(con, profile.to_frame(), pipeline.PROFILE_TABLE)
            assert pipeline.read_data_profile(con) == profile
        result = data_profile_check(duckdb=DuckDBResource(database=str(path)))
        assert result.passed is passed
        if not passed:
            assert result.severity == dg.AssetCheckSeverity.WARN
            assert "seed vocabulary" in result.description
            assert "events_share_core" in result.metadata["emptied_features"].value
