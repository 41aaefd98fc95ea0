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


OUTCOME_WORDS = {"churn": "churned", "expansion": "expanded"}


def health_record(metrics: dict, learned_weights: dict | None) -> dict | None:
    """What the decision log keeps of the health score's backtest: the configured one's ROC-AUC and interval, the
    learned one's and its weights."""
    configured, learned = metrics.get("health_score") or {}, metrics.get("health_learned") or {}
    if configured.get("roc_auc_lo") is None:
        return None
    return {"roc_auc": configured["roc_auc"], "roc_auc_lo": configured["roc_auc_lo"],
            "roc_auc_hi": configured["roc_auc_hi"], "learned_roc_auc": learned.get("roc_auc"),
            "learned_weights": learned_weights}


def health_warning(task: str, record: dict | None) -> str | None:
    """Plain words when the configured health score cannot be shown to rank the task's past outcomes better than
    chance out of time (its interval reaches 0.5), or ranks them backwards (its interval lies below 0.5)."""
    if not record or record["roc_auc_lo"] > 0.5:
        return None
    auc = f"ROC-AUC {record['roc_auc']:.2f} ({record['roc_auc_lo']:.2f}-{record['roc_auc_hi']:.2f}) out of time"
    if record["roc_auc_hi"] < 0.5:
        healthier = "healthier" if task == "churn" else "less healthy"
        text = (f"the configured health score ranks past {task} outcomes backwards: {auc}; accounts that "
                f"{OUTCOME_WORDS[task]} looked {healthier} than the rest")
    else:
        text = f"the configured health score ranks past {task} outcomes no better than chance: {auc}"
    if record.get("learned_weights") and record.get("learned_roc_auc") is not None:
        text += (f". Weights fitted from past outcomes rank them at {record['learned_roc_auc']:.2f}: "
                 f"{record['learned_weights']} (dbt var csops_health)")
    return text


def health_score_status(registry: Registry, tasks: tuple[str, ...]) -> tuple[str, str, dict]:
    """WARN when the configured health score ranks a task's past outcomes backwards or no better than chance (the
    last backtest that measured it); PASS otherwise, or when nothing measured it yet."""
    warnings, metadata = [], {}
    for task in tasks:
        records = [d["health_score"] for d in registry.decisions(task) if d.get("health_score")]
        if not records:
            metadata[task] = "not measured yet"
            continue
        metadata[task] = records[-1]
        if text := health_warning(task, records[-1]):
            warnings.append(text)
    if warnings:
        return "WARN", "; ".join(warnings), metadata
    measured = {t: m for t, m in metadata.items() if isinstance(m, dict)}
    if not measured:
        return "PASS", "no backtest has measured the health score yet", metadata
    return "PASS", "the configured health score ranks past outcomes better than chance out of time: " + ", ".join(
        f"{t} ROC-AUC {m['roc_auc']:.2f} ({m['roc_auc_lo']:.2f}-{m['roc_auc_hi']:.2f})" for t, m in measured.items()
    ), metadata
