"""End to end on a small generated set (150 accounts x 15 months: `built_warehouse` in conftest.py): the Dagster ML
assets train, write a registry version with every file, pass the point-in-time check and score every active account.
Temp warehouse, dbt target and registry only."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from ml.registry import VERSION_FILES, Registry

ML_DIR = Path(__file__).resolve().parents[1] / "ml"


@pytest.fixture
def ml_env(tmp_path, monkeypatch, built_warehouse):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, db)
    config = tmp_path / "ml.json"
    config.write_text(json.dumps({"pit_dates": 1, "pit_accounts": 12}))
    monkeypatch.setenv("CSOPS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CSOPS_ML_CONFIG", str(config))
    return db, Registry(tmp_path / "models")


def test_ml_assets_train_register_and_score_every_active_account(ml_env):
    from orchestration.defs.ml import assets as ml_assets
    from orchestration.defs.ml import checks as ml_checks
    from orchestration.lib.warehouse import Warehouse

    db, registry = ml_env
    assets = [ml_assets.feature_snapshots, ml_checks.point_in_time_check, *ml_assets.task_assets,
              *ml_checks.task_checks]
    result = dg.materialize(assets, resources={"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse()},
                            raise_on_error=False)
    assert result.success
    checks = {(e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name):
              e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    pit = checks[("ml/feature_snapshots", "point_in_time")]
    assert pit.passed, pit.description
    assert pit.metadata["rows_compared"].value > 0 and pit.metadata["mismatches"].value == 0
    for task in ("churn", "expansion"):
        assert checks[(f"ml/{task}_scores", "every_active_account_scored")].passed
        promotion = checks[(f"ml/{task}_model", "promotion")]
        assert promotion.passed or promotion.severity == dg.AssetCheckSeverity.WARN
        assert promotion.description  # says why (promoted, champion stays, or no model in use)

    # churn trains on this set: a complete version folder of the backtest's choice, promoted on the first run
    versions = registry.versions("churn")
    assert len(versions) == 1
    folder = registry.version_dir("churn", versions[0])
    names = sorted(p.name for p in folder.iterdir())
    assert [n for n in names if n.startswith("model.")] in (["model.json"], ["model.txt"])
    assert sorted(n for n in names if not n.startswith("model.")) == sorted(VERSION_FILES)
    decision = registry.decisions("churn")[-1]
    assert decision["version"] == versions[0] and decision["reasons"]

    with duckdb.connect(str(db), read_only=True) as con:
        last_day = con.execute("select max(date_day) from marts.fct_account_daily").fetchall()[0][0]
        for task in ("churn", "expansion"):
            scores = con.execute(f"select * from ml.{task}_scores").df()
            days = set(scores["as_of_date"].astype(str))
            # the as-of day, or the day before when the last day is still partial
            assert len(days) == 1 and days.pop() in {str(last_day), str(last_day - timedelta(days=1))}
            day = scores["as_of_date"].iloc[0]
            active = {r[0] for r in con.execute("select account_id from marts.fct_account_daily where date_day = ?",
                                                [day]).fetchall()}
            assert set(scores["account_id"]) == active and scores["account_id"].is_unique
            assert scores["risk_band"].isin(["high", "medium", "low"]).all()
            assert scores["reasons_text"].str.len().gt(0).all()
            champion = registry.champion(task)
            assert set(scores["model_version"]) == {champion or "baseline:health_score"}
            if champion:
                assert scores["probability"].between(0, 1).all()
        training = con.execute("select slice, count(*) n, sum(label) pos from ml.churn_training_set group by 1") \
            .df().set_index("slice")
        assert {"history", "fold_0", "fold_1", "unlabelled"} <= set(training.index)

    # the same data again (as a second `csops demo`): features and labels rebuilt, no model trained or written
    decisions = registry.decisions()
    again = dg.materialize([ml_assets.feature_snapshots, *ml_assets.task_assets],
                           resources={"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse()})
    for task in ("churn", "expansion"):
        model = again.asset_materializations_for_node(f"ml__{task}_model")[0].metadata
        assert model["status"].value == "skipped", model["reasons"].value
        assert model["reasons"].value.startswith("training data and config unchanged since ")
    assert registry.versions("churn") == versions and registry.decisions() == decisions


def test_no_model_input_reads_the_truth_or_generator_event_names():
    for path in ML_DIR.glob("*.py"):
        if path.name in {"oracle.py", "evaluate.py"}:  # evaluation only
            continue
        text = path.read_text()
        assert "_truth" not in text, path
        assert not re.search(r"event_type\s*=\s*'(?!churn|expansion)", text), path
