"""The trained-model registry: one folder per model version, and a `champion.json` pointer per task.

Layout (see models/README.md):

    <root>/champion.json                 {"churn": "<version>", "expansion": "<version>"}
    <root>/decisions.jsonl               one line per training: promotion decision, why, and the training fingerprint
                                     (append-only; a training on an unchanged fingerprint is skipped, not logged)
    <root>/<task>/<version>/model.txt    LightGBM text model, or model.json for a linear champion (ml.candidates)
                          features.json  ordered feature list (and their families)
                          training.json  training window and slices, horizon, cadence, parameters, seed, data hash
                          metrics.json   test-slice metrics of the model, its baselines and the champion it faced
                          calibration.json  method, parameters, table (score -> probability), risk-band cut-offs
                          drift_reference.json  bins and shares of every feature and the score on the test slice
                          promotion.json  the decision taken when the version was registered
                          MODEL_CARD.md  for humans

A version folder is written once (to a temp folder, then renamed) and never edited; promotion only moves the pointer.
Root: `CSOPS_MODELS_DIR`, default `<repo>/models`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb

from ml.calibration import Calibrator
from ml.candidates import MODEL_FILES, Scorer, load_scorer
from ml.config import TASKS, models_dir

VERSION_FILES = ("features.json", "training.json", "metrics.json", "calibration.json",
                 "drift_reference.json", "promotion.json", "MODEL_CARD.md")


@dataclass
class LoadedModel:
    task: str
    version: str
    scorer: Scorer
    features: list[str]
    calibrator: Calibrator
    bands: dict
    training: dict
    metrics: dict
    drift_reference: dict | None
    event_types: list[str]  # the types of the event-type slots (ml.features.fit_event_types) it was trained with


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


class Registry:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else models_dir()

    # -- pointer ----------------------------------------------------------------------------------------------
    @property
    def pointer_path(self) -> Path:
        return self.root / "champion.json"

    def champions(self) -> dict:
        if not self.pointer_path.exists():
            return {}
        return json.loads(self.pointer_path.read_text())

    def champion(self, task: str) -> str | None:
        return self.champions().get(task)

    def set_champion(self, task: str, version: str) -> None:
        if not any((self.version_dir(task, version) / name).exists() for name in MODEL_FILES):
            raise FileNotFoundError(f"no model {task}/{version} in {self.root}")
        pointer = self.champions() | {task: version}
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".champion-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(pointer, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.pointer_path)

    # -- versions ---------------------------------------------------------------------------------------------
    def version_dir(self, task: str, version: str) -> Path:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}")
        return self.root / task / version

    def versions(self, task: str) -> list[str]:
        folder = self.root / task
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if folder.exists() else []

    def new_version_id(self, task: str, data_hash: str, now: datetime | None = None) -> str:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{data_hash[:8] or 'nodata'}"
        version, n = base, 1
        while self.version_dir(task, version).exists():
            n += 1
            version = f"{base}-{n}"
        return version

    def write_version(self, task: str, version: str, scorer: Scorer, files: dict[str, object]) -> Path:
        """Write every file of a version at once (temp folder + rename): a version is complete or absent."""
        final = self.version_dir(task, version)
        if final.exists():
            raise FileExistsError(f"model version {task}/{version} exists and is never rewritten")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{version}-"))
        try:
            scorer.save(tmp)
            for name, content in files.items():
                if name.endswith(".json"):
                    _write_json(tmp / name, content)
                else:
                    (tmp / name).write_text(str(content))
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def log_decision(self, record: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "decisions.jsonl", "a") as fh:
            fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    def decisions(self, task: str | None = None) -> list[dict]:
        path = self.root / "decisions.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in rows if task is None or r.get("task") == task]

    def load(self, task: str, version: str) -> LoadedModel:
        folder = self.version_dir(task, version)
        read = lambda name: json.loads((folder / name).read_text())  # noqa: E731
        calibration = read("calibration.json")
        features = read("features.json")
        drift_path = folder / "drift_reference.json"
        return LoadedModel(
            task=task, version=version, scorer=load_scorer(folder),
            features=features["features"], calibrator=Calibrator.from_dict(calibration),
            bands=calibration["bands"], training=read("training.json"), metrics=read("metrics.json"),
            drift_reference=json.loads(drift_path.read_text()) if drift_path.exists() else None,
            event_types=features.get("event_types", []),
        )

    def champion_or_reason(self, task: str) -> tuple[LoadedModel | None, str]:
        """The champion model, or None and why there is none to use (never promoted, or it cannot be loaded)."""
        version = self.champion(task)
        if version is None:
            decisions = self.decisions(task)
            why = f"no {task} model has been promoted yet"
            if decisions:
                why += f"; last training: {'; '.join(decisions[-1].get('reasons') or [])}"
            return None, why
        try:
            return self.load(task, version), ""
        except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
            return None, f"champion {version} could not be loaded: {exc}"
