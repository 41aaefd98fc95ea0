"""Explanations are plain phrases from SHAP contributions; features never encode the outcome by name."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd

from ml.config import MLConfig
from ml.explain import context_text, contributions, family_contributions, phrase, top_reasons
from ml.features import FEATURE_NAMES, FEATURES, snapshot_dates
from ml.leakage import banned_feature_names, compare_frames
from lab.synthetic import make_training_set
from ml.candidates import train_booster


def test_phrases_read_like_a_csm_would_say_them():
    row = {"seat_utilization_now": 0.41, "seat_utilization_30d_ago": 0.55, "seat_utilization_60d_ago": 0.82,
           "seat_utilization_90d_ago": 0.70}
    assert phrase("seat_utilization", row) == "seat utilization fell from 82% to 41% in 60 days"
    assert phrase("renewal", {"days_to_next_renewal": 34, "next_renewal_date": date(2026, 8, 4)}) == \
        "renewal in 34 days (2026-08-04)"
    assert phrase("champion", {"has_champion": 0.0, "champion_left_90d": 1.0}) == \
        "the champion left in the last 90 days; no champion now"
    assert phrase("nps", {"latest_nps_score": 3, "nps_trend": -4, "days_since_latest_nps": 45}) == \
        "latest NPS 3 (down 4 from the answer before), 45 days ago"
    assert phrase("health", {"health_score": 48.0, "health_score_90d_ago": 72.0, "health_band": "yellow"}) == \
        "health score 48 (yellow), down from 72 in 90 days"
    assert phrase("csm_touch", {"days_since_last_touch": 75, "live_touches_90d": 0}) == \
        "no live meeting or call in 90 days; last CSM touch 75 days ago"
    assert phrase("ticket_volume", {"tickets_30d": 4, "tickets_30d_90d_ago": 1}) == \
        "4 support tickets in 30 days (was 1, 90 days ago)"
    assert phrase("breadth", {"feature_categories_used_30d": 1, "feature_categories_90d_ago": 1}) == \
        "uses 1 feature area in 30 days"
    # missing data is said, not crashed on
    assert phrase("nps", {"latest_nps_score": float("nan")}) == "no NPS answer on record"


def test_every_feature_family_has_a_phrase_that_survives_missing_values():
    empty = {name: np.nan for name in FEATURE_NAMES}
    for family in {f.family for f in FEATURES}:
        text = phrase(family, empty, {})
        assert isinstance(text, str) and text and "_" not in text.split(" ")[0], (family, text)


def test_top_reasons_come_from_lightgbm_contributions():
    frame = make_training_set(accounts=100, weeks=30, seed=4)
    frame["seat_utilization_now"] = frame["seat_utilization"]
    frame["seat_utilization_60d_ago"] = frame["seat_utilization"] + 0.3
    cfg = dataclasses.replace(MLConfig(), num_threads=1)
    booster = train_booster(frame, FEATURE_NAMES, cfg)
    at_risk = frame[(frame["seat_utilization"] < 0.4) & (frame["days_to_next_renewal"] <= 60)]
    sample = at_risk.head(5)
    contrib = contributions(booster, sample, FEATURE_NAMES)
    assert contrib.shape == (5, len(FEATURE_NAMES) + 1)
    raw = booster.predict(sample[FEATURE_NAMES].to_numpy(dtype=float), raw_score=True)
    assert np.allclose(contrib.sum(axis=1), raw)  # SHAP values add up to the prediction
    families, per_family = family_contributions(contrib[:, :-1], FEATURE_NAMES)
    assert per_family.shape == (5, len(families))
    reasons = top_reasons(sample, contrib[:, :-1], FEATURE_NAMES, k=3)
    assert all(1 <= len(r) <= 3 for r in reasons)
    for row_reasons in reasons:
        families_named = [r["family"] for r in row_reasons]
        assert families_named[0] == "seat_utilization", row_reasons
        assert "renewal" not in families_named  # timing is context, not a reason a CSM can act on
    assert reasons[0][0]["phrase"].startswith("seat utilization fell from"), reasons[0]
    with_context = top_reasons(sample, contrib[:, :-1], FEATURE_NAMES, k=3, exclude=())
    assert any(r["family"] == "renewal" for r in with_context[0])
    assert context_text(sample.iloc[0].to_dict()).startswith("renewal in ")
    assert all(r["contribution"] > 0 for rs in reasons for r in rs)


def test_no_feature_is_named_like_an_outcome():
    assert banned_feature_names(FEATURE_NAMES) == []
    assert banned_feature_names(["churn_status", "notice_given", "seat_utilization"]) == ["churn_status",
                                                                                         "notice_given"]


def test_snapshot_days_step_back_from_the_as_of_day():
    days = snapshot_dates(date(2025, 1, 1), date(2025, 6, 30), cadence_days=7, warmup_days=91)
    assert days[-1] == date(2025, 6, 30) and days[0] >= date(2025, 4, 2)
    assert {(b - a).days for a, b in zip(days, days[1:], strict=False)} == {7}


def test_compare_frames_finds_changed_and_missing_rows():
    full = pd.DataFrame({"account_id": ["a", "b"], "snapshot_date": [date(2025, 1, 1)] * 2, "x": [1.0, np.nan]})
    same = full.copy()
    assert compare_frames(full, same, ["x"])[2] == []
    changed = pd.DataFrame({"account_id": ["a"], "snapshot_date": [date(2025, 1, 1)], "x": [2.0]})
    rows, values, mismatches = compare_frames(full, changed, ["x"])
    assert rows == 1 and {m["column"] for m in mismatches} == {"x", "*row*"}
