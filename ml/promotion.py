"""Promotion rule: a new model replaces the champion only if it beats both baselines and the current champion on the
same test slice by the configured margin (metric `promotion_metric`, default ROC-AUC). First run: beating the
baselines is enough. Otherwise the champion stays, and the decision says why in plain words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ml.metrics import metric_value
from ml.registry import Registry

BASELINE_LABELS = {"health_score": "the health-score baseline", "logistic_regression": "the logistic-regression baseline"}


@dataclass
class Decision:
    promote: bool
    reasons: list[str]
    metric: str
    margin: float
    candidate: float | None = None
    compared: dict = field(default_factory=dict)  # name -> its metric value (None = could not be measured)
    champion_before: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return ("promoted: " if self.promote else "not promoted: ") + "; ".join(self.reasons)


def decide(status: str, status_reasons: list[str], metrics: dict, champion_version: str | None,
           champion_metrics: dict | None, metric: str, margin: float, champion_note: str = "") -> Decision:
    """`metrics` holds the candidate ("model") and baselines measured on the test slice; `champion_metrics` the
    current champion measured on the same slice (None when there is no champion or it could not be scored)."""
    candidate = metric_value(metrics.get("model"), metric)
    decision = Decision(promote=False, reasons=[], metric=metric, margin=margin, candidate=candidate,
                        champion_before=champion_version)
    if status != "trained":
        decision.reasons.append(f"the new model is {status.replace('_', ' ')}: " + "; ".join(status_reasons))
        return decision
    if candidate is None:
        decision.reasons.append(f"the new model's {metric} could not be measured on the test slice")
        return decision
    beaten = True
    for name, label in BASELINE_LABELS.items():
        value = metric_value(metrics.get(name), metric)
        decision.compared[name] = value
        if value is None:
            decision.reasons.append(f"{label} could not be measured, so it was not compared")
        elif candidate < value + margin:
            beaten = False
            decision.reasons.append(f"{metric} {candidate:.4f} does not beat {label} ({value:.4f}) by {margin}")
        else:
            decision.reasons.append(f"{metric} {candidate:.4f} beats {label} ({value:.4f}) by {margin} or more")
    if champion_version is not None:
        value = metric_value(champion_metrics, metric)
        decision.compared["champion"] = value
        if value is None:
            decision.reasons.append(f"champion {champion_version} could not be scored on this test slice"
                                    + (f" ({champion_note})" if champion_note else "")
                                    + ", so it was compared on the baselines only")
        elif candidate < value + margin:
            beaten = False
            decision.reasons.append(f"{metric} {candidate:.4f} does not beat champion {champion_version} "
                                    f"({value:.4f}) by {margin}: the champion stays")
        else:
            decision.reasons.append(f"{metric} {candidate:.4f} beats champion {champion_version} ({value:.4f}) "
                                    f"by {margin} or more")
    else:
        decision.reasons.append("no champion yet (first run): beating the baselines is enough")
    decision.promote = beaten
    return decision


def champion_status(registry: Registry, task: str) -> tuple[str, str, dict]:
    """PASS when the last training promoted its model; WARN when the champion stays or there is none (scores fall
    back to the health score), saying why; FAIL when the champion in use cannot be loaded."""
    decisions = registry.decisions(task)
    last = decisions[-1] if decisions else {}
    version = registry.champion(task)
    champion, why = registry.champion_or_reason(task)
    reasons = last.get("reasons") or []
    metadata = {"champion": version or "none", "last_version": last.get("version") or "none", "reasons": reasons}
    if version and champion is None:
        return "FAIL", why, metadata
    if last.get("promoted"):
        return "PASS", f"promoted {last['version']}: " + "; ".join(reasons), metadata
    if champion is None:
        return "WARN", f"no {task} model in use; scores fall back to the health score. " + why, metadata
    return "WARN", f"champion {champion.version} stays: " + "; ".join(reasons), metadata
