"""Calibration is monotone and picks Platt or isotonic by slice size; PSI matches hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.calibration import Calibrator, fit_calibrator
from ml.drift import bin_edges, drift_report, proportions, psi, psi_from_proportions, reference_profile, status


def noisy_scores(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * score - 3)))).astype(int)
    return score, y


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_is_monotone_and_round_trips(method):
    score, y = noisy_scores(4000)
    cal = fit_calibrator(score, y, method=method)
    grid = np.linspace(-6, 6, 500)
    p = cal.predict(grid)
    assert np.all(np.diff(p) >= -1e-12)
    assert np.all((p >= 0) & (p <= 1))
    again = Calibrator.from_dict(cal.as_dict((-6, 6)))
    assert np.allclose(again.predict(grid), p)
    table = cal.as_dict((-6, 6))["table"]
    assert [row[1] for row in table] == sorted(row[1] for row in table)


def test_platt_unless_the_slice_has_many_positives():
    score, y = noisy_scores(4000)
    assert fit_calibrator(score, y, isotonic_min_positives=10_000).method == "platt"
    assert fit_calibrator(score, y, isotonic_min_positives=int(y.sum())).method == "isotonic"


def test_calibrated_probabilities_match_the_observed_rate():
    score, y = noisy_scores(20000, seed=1)
    p = fit_calibrator(score, y).predict(score)
    assert abs(p.mean() - y.mean()) < 0.01


def test_no_positives_gives_a_constant_and_says_so():
    cal = fit_calibrator(np.arange(10.0), np.zeros(10))
    assert cal.method == "constant" and "0 positives" in cal.note
    assert np.all(cal.predict([1.0, 5.0]) == 0.0)


def test_backwards_score_keeps_the_order_flat():
    score, y = noisy_scores(3000)
    cal = fit_calibrator(-score, y, method="platt")
    assert np.ptp(cal.predict(np.linspace(-3, 3, 50))) < 1e-9
    assert "backwards" in cal.note


def test_psi_known_values():
    assert psi_from_proportions([0.5, 0.5], [0.5, 0.5]) == 0.0
    # (0.9 - 0.5) ln(0.9/0.5) + (0.1 - 0.5) ln(0.1/0.5)
    expected = 0.4 * math.log(1.8) - 0.4 * math.log(0.2)
    assert psi_from_proportions([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected, rel=1e-12)
    assert psi_from_proportions([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(
        sum((a - 0.25) * math.log(a / 0.25) for a in (0.1, 0.2, 0.3, 0.4)), rel=1e-12)


def test_psi_bins_on_reference_deciles_with_a_missing_bin():
    reference = np.arange(1000, dtype=float)
    edges = bin_edges(reference, 10)
    assert len(edges) == 9
    shares = proportions(reference, edges)
    assert len(shares) == 11 and shares[-1] == 0 and np.allclose(shares[:10], 0.1, atol=0.002)
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    shifted = reference + 300
    assert psi(reference, shifted) > 0.25
    with_missing = np.where(np.arange(1000) % 5 == 0, np.nan, reference)
    assert proportions(with_missing, edges)[-1] == pytest.approx(0.2)


def test_drift_report_flags_warn_and_fail():
    import pandas as pd

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"stable": rng.normal(size=5000), "moved": rng.normal(size=5000)})
    today = pd.DataFrame({"stable": rng.normal(size=2000), "moved": rng.normal(loc=1.0, size=2000)})
    profile = reference_profile(train, ["stable", "moved"], rng.normal(size=5000))
    report = drift_report(profile, today, rng.normal(size=2000))
    by_name = dict(zip(report["name"], report["status"], strict=True))
    assert by_name == {"moved": "fail", "stable": "ok", "score": "ok"}
    assert status(0.15, 0.1, 0.25) == "warn" and status(0.05, 0.1, 0.25) == "ok" and status(0.3, 0.1, 0.25) == "fail"


def test_clock_features_are_reported_but_never_gate():
    import pandas as pd

    rng = np.random.default_rng(1)
    train = pd.DataFrame({"tenure_days": rng.uniform(0, 400, 5000)})
    today = pd.DataFrame({"tenure_days": rng.uniform(600, 1000, 500)})
    profile = reference_profile(train, ["tenure_days"], rng.normal(size=5000))
    report = drift_report(profile, today, rng.normal(size=500), exempt=("tenure_days",))
    row = report[report["name"] == "tenure_days"].iloc[0]
    assert row["psi"] > 0.25 and row["status"] == "exempt"


def test_drift_verdict_reads_the_reports_statuses_and_names_the_drifting_columns():
    import pandas as pd

    from ml.config import MLConfig
    from ml.drift import verdict

    cfg = MLConfig()
    report = pd.DataFrame({"kind": "feature", "name": ["moved", "wobbly", "tenure_days", "stable"],
                           "psi": [0.4, 0.15, 0.9, 0.01], "status": ["fail", "warn", "exempt", "ok"]})
    status_, description, metadata = verdict(report, cfg)
    assert status_ == "FAIL" and description == f"PSI above {cfg.psi_fail}: moved"
    assert metadata["exempt_clock_features"] == {"tenure_days": 0.9} and metadata["max_psi"] == 0.9
    assert verdict(report[report["status"] != "fail"], cfg)[:2] == ("WARN", f"PSI above {cfg.psi_warn}: wobbly")
    # an exempt clock never gates, however far it moved
    assert verdict(report[report["status"].isin(["exempt", "ok"])], cfg)[0] == "PASS"
    # the statuses decide, not a second threshold: a report scored with other thresholds keeps its verdict
    assert verdict(report.assign(status="ok"), cfg)[0] == "PASS"
    assert verdict(report.iloc[0:0], cfg) == ("PASS", "no model in use: nothing to compare", {"rows": 0})
