"""Training on hand-made sets: determinism, "too few positives" said plainly with baselines still running,
registry versions and the promotion rules (the champion stays and says why)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import numpy as np
import pytest

from ml.config import MLConfig
from ml.pipeline import AsOf, score_task, train_and_register
from ml.promotion import champion_status, decide
from ml.registry import VERSION_FILES, Registry
from ml.scoring import score_accounts
from lab.synthetic import make_training_set
from ml.train import fit_task

CFG = dataclasses.replace(MLConfig(), max_boost_round=150, num_threads=1)
# only the contract-only reference competes: it ranks the latest period worse than a LightGBM champion
WEAK_TREES = dataclasses.replace(CFG, candidates=("days_to_term_end",))


@pytest.fixture(scope="module")
def training_set():
    return make_training_set(accounts=150, weeks=60, seed=3)


@pytest.fixture(scope="module")
def fitted(training_set):
    return fit_task(training_set, "churn", CFG)


def test_backtests_every_candidate_and_serves_the_best_on_a_learnable_signal(fitted):
    assert fitted.status == "trained", fitted.reasons
    model, lr, health = (fitted.metrics[k] for k in ("model", "logistic_regression", "health_score"))
    assert fitted.champion == "lightgbm" and model is fitted.metrics["lightgbm"]  # the signal is non-linear
    assert model["roc_auc"] > 0.75 and model["roc_auc"] > health["roc_auc"]
    assert model["roc_auc_lo"] < model["roc_auc"] < model["roc_auc_hi"]
    assert lr["roc_auc"] is not None and model["brier"] is not None
    assert set(fitted.metrics) >= {"days_to_term_end", "health_score", "health_learned", "logistic_regression"}
    assert "meaningfully better than days to term end" in fitted.selection.reasons[0]
    for key in ("pr_auc", "recall_at_10", "recall_at_20", "lift_at_10", "lift_at_20", "lead_time_median_at_20"):
        assert model[key] is not None, key
    assert len(fitted.plan.folds) == CFG.backtest_folds
    assert all((f.test[0] - f.train[1]).days >= CFG.horizon_days for f in fitted.plan.folds)
    assert fitted.calibrator.method == "platt"


def test_training_is_deterministic_with_a_seed(training_set, fitted):
    again = fit_task(training_set, "churn", CFG)
    strip = lambda text: "\n".join(l for l in text.splitlines() if not l.startswith("[")) # noqa: E731
    assert strip(again.scorer.booster.model_to_string()) == strip(fitted.scorer.booster.model_to_string())
    assert again.metrics == fitted.metrics
    assert again.data_hash == fitted.data_hash


def test_too_few_positives_says_so_and_keeps_the_baselines(training_set):
    rare = training_set.copy()
    positives = rare.index[rare["label"].eq(1)]
    rare.loc[positives, "label"] = 0.0
    rare.loc[positives[::40], "label"] = 1.0  # about 18 positives over the whole period, under 30 in training
    result = fit_task(rare, "churn", CFG)
    assert result.status == "not_validated", result.reasons
    assert any(r.startswith("LightGBM not backtested") and "(need 30)" in r for r in result.reasons), result.reasons
    assert any("too few positives to compare the candidates" in r for r in result.reasons), result.reasons
    assert result.metrics["health_score"]["roc_auc"] is not None  # the rules need no training: still measured
    assert result.champion in ("days_to_term_end", "health_score")


def test_too_little_history_says_so_and_keeps_the_health_baseline():
    short = make_training_set(accounts=60, weeks=12, seed=1)
    result = fit_task(short, "churn", CFG)
    assert result.status == "not_trained"
    assert "not enough history" in result.reasons[0]
    assert result.metrics["health_score"]["roc_auc"] is not None


def test_a_book_of_three_accounts_says_so_instead_of_failing():
    few = make_training_set(accounts=3, weeks=30, seed=1)
    result = fit_task(few, "churn", CFG)
    assert result.status != "trained" and "lightgbm" not in result.metrics
    assert any("not backtested" in r for r in result.reasons), result.reasons


def test_no_known_label_says_so():
    frame = make_training_set(accounts=20, weeks=8, seed=2)
    frame["label_known"] = False
    result = fit_task(frame, "expansion", CFG)
    assert result.status == "not_trained" and "no snapshot has a known expansion label" in result.reasons[0]


# --------------------------------------------------------------------------------------------------------------------
# promotion rules


CHOSEN = ["LightGBM ranks best out of time"]


def test_first_run_serves_the_backtests_choice():
    decision = decide("trained", [], CHOSEN, {"roc_auc": 0.8}, None, None, "roc_auc", 0.01)
    assert decision.promote and decision.reasons[0] == CHOSEN[0] and any("first run" in r for r in decision.reasons)


def test_champion_stays_only_when_it_beats_the_new_choice_on_the_latest_period_and_says_why():
    decision = decide("trained", [], CHOSEN, {"roc_auc": 0.78}, "v1", {"roc_auc": 0.80}, "roc_auc", 0.01)
    assert not decision.promote
    assert any("champion v1" in r and "champion stays" in r for r in decision.reasons)
    assert decide("trained", [], CHOSEN, {"roc_auc": 0.795}, "v1", {"roc_auc": 0.80}, "roc_auc", 0.01).promote


def test_unvalidated_models_are_never_promoted():
    decision = decide("not_validated", ["too few positives: 3"], CHOSEN, {"roc_auc": 0.99}, None, None, "roc_auc", 0.0)
    assert not decision.promote and any("not validated" in r and "too few positives" in r for r in decision.reasons)


def test_champion_that_cannot_be_scored_is_replaced_and_says_why():
    decision = decide("trained", [], CHOSEN, {"roc_auc": 0.8}, "v1", None, "roc_auc", 0.01,
                      "it needs features the data lacks: x")
    assert decision.promote and any("could not be scored" in r for r in decision.reasons)


# --------------------------------------------------------------------------------------------------------------------
# registry


def test_registry_versions_pointer_and_decisions(tmp_path, training_set):
    registry = Registry(tmp_path / "models")
    as_of = training_set["snapshot_date"].max()
    first = train_and_register(training_set, "churn", CFG, registry, as_of)
    assert first.promoted and registry.champion("churn") == first.version
    folder = registry.version_dir("churn", first.version)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*VERSION_FILES, "model.txt"])
    training = json.loads((folder / "training.json").read_text())
    assert training["horizon_days"] == 90 and training["backtest"]["test"] and training["seed"] == CFG.seed
    assert training["candidate"] == "lightgbm" and training["selection"]["reasons"]
    metrics_file = json.loads((folder / "metrics.json").read_text())
    assert {"model", "days_to_term_end", "health_score", "health_learned", "logistic_regression", "lightgbm"} <= \
        set(metrics_file)
    calibration = json.loads((folder / "calibration.json").read_text())
    assert calibration["method"] == "platt" and calibration["table"] and calibration["bands"]["high"] >= \
        calibration["bands"]["medium"]
    assert json.loads((folder / "features.json").read_text())["features"][0] == "seat_utilization"
    card = (folder / "MODEL_CARD.md").read_text()
    assert "# Churn model" in card and "**Why this one**: LightGBM ranks best" in card
    assert "| predicted from | to | rows | mean predicted | observed |" in card and calibration["check"]["reliability"]

    # same data, a config whose choice ranks the latest period worse than the champion: the champion stays
    second = train_and_register(training_set, "churn", WEAK_TREES, registry, as_of)
    assert second.result.champion == "days_to_term_end"
    assert not second.promoted and registry.champion("churn") == first.version
    assert second.version != first.version and len(registry.versions("churn")) == 2
    last = registry.decisions("churn")[-1]
    assert last["promoted"] is False and any("champion stays" in r for r in last["reasons"])
    with pytest.raises(FileExistsError):
        registry.write_version("churn", first.version, first.result.scorer, {})


def test_unchanged_training_data_and_config_train_no_new_version(tmp_path, training_set):
    registry = Registry(tmp_path / "models")
    as_of = training_set["snapshot_date"].max()
    first = train_and_register(training_set, "churn", CFG, registry, as_of)
    # the same frame in another row order: the same fingerprint, nothing trained or written
    again = train_and_register(training_set.sample(frac=1, random_state=1), "churn", CFG, registry, as_of)
    assert again.skipped and again.version is None and not again.promoted
    assert again.result.reasons == [f"training data and config unchanged since version {first.version}"]
    assert again.as_metadata()["status"] == "skipped" and again.fingerprint == first.fingerprint
    assert registry.versions("churn") == [first.version] and len(registry.decisions("churn")) == 1
    assert registry.champion("churn") == first.version
    recorded = json.loads((registry.version_dir("churn", first.version) / "training.json").read_text())
    assert recorded["fingerprint"] == first.fingerprint == registry.decisions("churn")[0]["fingerprint"]

    # one label flipped: new data, but the champion is younger than the retrain cadence, so it is kept and says so
    changed = training_set.copy()
    row = changed.index[changed["label_known"]][0]
    changed.loc[row, "label"] = 1.0 - changed.loc[row, "label"]
    kept = train_and_register(changed, "churn", CFG, registry, as_of + timedelta(days=CFG.retrain_every_days - 1))
    assert kept.skipped and kept.version is None and kept.fingerprint != first.fingerprint
    due = (as_of + timedelta(days=CFG.retrain_every_days)).isoformat()[:10]
    assert kept.result.reasons[0].startswith(f"champion {first.version} was trained on data to")
    assert kept.progress_note() == f"churn model {first.version} kept (retrains from {due})"
    # the cadence has passed: a new version
    second = train_and_register(changed, "churn", CFG, registry, as_of + timedelta(days=CFG.retrain_every_days))
    assert not second.skipped and second.version not in (None, first.version)
    # a config change retrains at once, whatever the champion's age
    third = train_and_register(changed, "churn", dataclasses.replace(CFG, horizon_days=91), registry,
                               as_of + timedelta(days=CFG.retrain_every_days))
    assert not third.skipped and third.fingerprint != second.fingerprint
    # with a cadence of 0, any change of the training data retrains
    changed.loc[row, "label"] = 1.0 - changed.loc[row, "label"]
    fourth = train_and_register(changed, "churn", dataclasses.replace(CFG, horizon_days=91, retrain_every_days=0),
                                registry, as_of + timedelta(days=CFG.retrain_every_days))
    assert not fourth.skipped
    assert len(registry.decisions("churn")) == 4


def test_scores_fall_back_to_the_health_score_without_a_model(training_set):
    today = training_set[training_set["snapshot_date"] == training_set["snapshot_date"].max()].copy()
    scores = score_accounts(today, "churn", None, CFG, "no churn model has been promoted yet")
    assert len(scores) == len(today) and scores["probability"].isna().all()
    assert set(scores["model_version"]) == {"baseline:health_score"}
    assert scores["risk_band"].notna().all()
    assert all("no churn model in use" in text for text in scores["reasons_text"])
    assert (scores.sort_values("risk_rank")["raw_score"].diff().dropna() <= 0).all()


def test_scores_with_the_champion_have_probabilities_bands_and_reasons(tmp_path, training_set):
    registry = Registry(tmp_path / "models")
    run = train_and_register(training_set, "churn", CFG, registry, training_set["snapshot_date"].max())
    today = training_set[training_set["snapshot_date"] == training_set["snapshot_date"].max()].copy()
    day = today["snapshot_date"].max()
    scoring = score_task(today, "churn", CFG, registry, AsOf(day, day))
    scores = scoring.scores
    assert set(scores["model_version"]) == {run.version}
    assert scores["probability"].between(0, 1).all() and set(scores["risk_band"]) <= {"high", "medium", "low"}
    assert scores["top_reasons"].map(len).max() <= CFG.top_reasons
    top = scores.iloc[0]
    assert top["risk_rank"] == 1 and top["reasons_text"]
    assert np.isclose(scores["probability"].max(), top["probability"])
    assert scoring.drift is not None and {"feature", "score"} == set(scoring.drift["kind"])


def test_champion_status_passes_on_promotion_warns_when_it_stays_and_fails_when_it_cannot_load(tmp_path,
                                                                                              training_set):
    registry = Registry(tmp_path / "models")
    status, description, _ = champion_status(registry, "churn")
    assert status == "WARN" and "no churn model in use" in description
    first = train_and_register(training_set, "churn", CFG, registry, training_set["snapshot_date"].max())
    status, description, metadata = champion_status(registry, "churn")
    assert status == "PASS" and description.startswith(f"promoted {first.version}: ")
    assert metadata["champion"] == metadata["last_version"] == first.version
    train_and_register(training_set, "churn", WEAK_TREES, registry, training_set["snapshot_date"].max())
    status, description, _ = champion_status(registry, "churn")
    assert status == "WARN" and description.startswith(f"champion {first.version} stays: ")
    (registry.version_dir("churn", first.version) / "model.txt").write_text("not a model")
    status, description, _ = champion_status(registry, "churn")
    assert status == "FAIL" and f"champion {first.version} could not be loaded" in description


def test_segment_and_phase_are_split_as_categories_with_their_codes_recorded(tmp_path, training_set):
    # an effect of one phase only, unordered: risk in phase 9 (renewal), none in the phases on either side
    rng = np.random.default_rng(0)
    frame = training_set.assign(segment_code=rng.integers(0, 3, len(training_set)).astype(float),
                                lifecycle_phase=rng.choice([1.0, 4.0, 8.0, 9.0, 10.0], len(training_set)))
    frame["label"] = np.where(frame["label_known"], ((frame["lifecycle_phase"] == 9) & (rng.random(len(frame)) < 0.5))
                              | (frame["label"] == 1), np.nan).astype(float)
    registry = Registry(tmp_path / "models")
    run = train_and_register(frame, "churn", CFG, registry, frame["snapshot_date"].max())
    model = registry.load("churn", run.version)
    columns = [model.features.index(f) for f in ("segment_code", "lifecycle_phase")]
    assert f"[categorical_feature: {','.join(map(str, columns))}]" in model.scorer.booster.model_to_string()
    features = json.loads((registry.version_dir("churn", run.version) / "features.json").read_text())
    assert features["categorical"]["segment_code"] == {"smb": 0, "mid_market": 1, "enterprise": 2}
    assert features["categorical"]["lifecycle_phase"]["growth_and_renewal"] == 9
    # the loaded model scores as the trained one: the same codes reach both
    day = frame[frame["snapshot_date"] == frame["snapshot_date"].max()]
    assert np.allclose(model.scorer.raw(day), run.result.scorer.raw(day))
