"""Promotion rule: the backtest's champion candidate (`ml.selection`) replaces the current champion unless it cannot
be trusted (status not `trained`) or the current champion, scored on the same latest labelled period (which neither
was trained on), beats it by the configured margin (metric `promotion_metric`, default ROC-AUC). First run: the
backtest's choice is served. Otherwise the champion stays, and the decision says why in plain words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ml.metrics import metric_value
from ml.registry import Registry


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


def decide(status: str, status_reasons: list[str], selection_reasons: list[str], latest: dict | None,
           champion_version: str | None, champion_metrics: dict | None, metric: str, margin: float,
           champion_note: str = "") -> Decision:
    """`latest`: the chosen candidate's metrics on the latest backtest window; `champion_metrics` the current
    champion's on the same rows (None when there is none or it could not be scored)."""
    candidate = metric_value(latest, metric)
    decision = Decision(promote=False, reasons=list(selection_reasons), metric=metric, margin=margin,
                        candidate=candidate, champion_before=champion_version)
    if status != "trained":
        decision.reasons.append(f"the new model is {status.replace('_', ' ')}: " + "; ".join(status_reasons))
        return decision
    if champion_version is None:
        decision.reasons.append("no champion yet (first run): the backtest's choice is served")
        decision.promote = True
        return decision
    value = metric_value(champion_metrics, metric)
    decision.compared["champion"] = value
    if value is None:
        decision.reasons.append(f"champion {champion_version} could not be scored on the latest labelled period"
                                + (f" ({champion_note})" if champion_note else "") + ": the backtest's choice replaces it")
        decision.promote = True
    elif candidate is not None and candidate + margin < value:
        decision.reasons.append(f"on the latest labelled period champion {champion_version} ({metric} {value:.4f}) "
                                f"beats the new choice ({candidate:.4f}) by more than {margin}: the champion stays")
    else:
        decision.reasons.append(f"on the latest labelled period the new choice ({metric} "
                                f"{'n/a' if candidate is None else f'{candidate:.4f}'}) is not beaten by champion "
                                f"{champion_version} ({value:.4f}) by more than {margin}: it replaces it")
        decision.promote = True
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
