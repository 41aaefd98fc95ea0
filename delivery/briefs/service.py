"""Writing the briefs an account needs: guardrails on every output, one regeneration with the reasons, then the
offline writer's output flagged; a cache on the fact sheet's content hash; an audit line per generation.

Which accounts need which brief (`needed_kinds`):
- churned account (status `churned`)                   -> churn_post_mortem (and nothing else)
- new account still in handoff (phases 1-3, or handoff fields missing) -> transition_brief, success_plan
- renewal within `renewal_within_days` (120)           -> renewal_brief
- churn band in `churn_bands` (high, critical)         -> risk_mitigation_plan, customer_email; + save_plan when
                                                          the renewal is also within the window
- expansion band in `expansion_bands`, churn not high  -> expansion_readiness
- unused seat share >= `unused_seat_share_min`         -> licence_optimisation_plan
- the account agent's open plan kind                   -> that kind
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from csops.llm.client import USAGE_FIELDS
from csops.llm.privacy import Redactor
from delivery.briefs.facts import FactSheet
from delivery.briefs.guardrails import Verdict, check_output
from delivery.briefs.policy import BriefPolicy
from delivery.briefs.writer import KINDS, PROMPTS, ClaudeWriter, Generation, OfflineWriter, Writer

TABLE = "delivery.briefs"


def needed_kinds(sheet: FactSheet, policy: BriefPolicy) -> list[str]:
    get = sheet.get
    if get("account.churn_status") == "churned":
        return ["churn_post_mortem"]
    kinds: list[str] = []
    phase = get("account.phase_number")
    if get("account.is_new") and ((phase is not None and phase <= 3) or (get("handoff.missing_field_count") or 0) > 0):
        kinds += ["transition_brief", "success_plan"]
    days = get("renewal.days_to_renewal")
    renewing = days is not None and 0 <= days <= policy.renewal_within_days
    if renewing:
        kinds.append("renewal_brief")
    churn_high = get("churn.band") in policy.churn_bands
    if churn_high:
        kinds += ["risk_mitigation_plan", "customer_email"] + (["save_plan"] if renewing else [])
    elif get("expansion.band") in policy.expansion_bands:
        kinds.append("expansion_readiness")
    if (get("licences.unused_seat_share") or 0) >= policy.unused_seat_share_min:
        kinds.append("licence_optimisation_plan")
    if get("agent.open_plan_kind") in KINDS:
        kinds.append(get("agent.open_plan_kind"))
    return list(dict.fromkeys(kinds))


def make_writer(policy: BriefPolicy, api_key: str | None = None, base_url: str | None = None) -> Writer:
    """The configured writer: Claude with a key (policy `writer`: auto/claude), else the offline one."""
    choice = "claude" if api_key and policy.writer != "offline" else policy.resolved_writer()
    return ClaudeWriter(policy, api_key, base_url) if choice == "claude" else OfflineWriter()


@dataclass
class Brief:
    account_id: str
    kind: str
    facts_hash: str
    brief: dict
    label: dict
    verdicts: list[dict]
    flagged: bool
    flag_reasons: list[str]
    usage: dict
    cost_usd: float
    calls: int
    cache_key: str
    attempts: int  # drafts the configured writer made (2: the first was rejected or failed)

    def markdown(self) -> str:
        return render_markdown(self.brief, self.label)

    def row(self) -> dict:
        return {"account_id": self.account_id, "kind": self.kind, "facts_hash": self.facts_hash,
                "cache_key": self.cache_key, "writer": self.label["writer"], "model": self.label["model"],
                "prompt_version": self.label["prompt_version"], "facts_as_of": self.label["facts_as_of"],
                "flagged": self.flagged, "flag_reasons": json.dumps(self.flag_reasons),
                "brief_json": json.dumps(self.brief), "markdown": self.markdown(),
                "verdicts": json.dumps(self.verdicts), "input_tokens": self.usage.get("input_tokens", 0),
                "output_tokens": self.usage.get("output_tokens", 0), "cost_usd": self.cost_usd,
                "generated_at": self.label["generated_at"]}


def label(gen: Generation, sheet: FactSheet, flagged: bool) -> dict:
    writer = "offline writer (no model: deterministic sentences from the facts)" if gen.writer == "offline" \
        else f"Claude ({gen.model})"
    return {"ai_drafted": gen.writer != "offline", "writer": gen.writer, "model": gen.model,
            "prompt_version": gen.prompt_version, "facts_as_of": sheet.as_of, "flagged": flagged,
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "text": f"{'AI-drafted' if gen.writer != 'offline' else 'Drafted'} by the {writer}, prompt "
                    f"{gen.prompt_version}, facts as of {sheet.as_of}. A person reviews it before any use."
                    + (" FLAGGED: the model's output failed the guardrails and was replaced." if flagged else "")}


def render_markdown(brief: dict, tag: dict) -> str:
    lines = [f"# {brief['title']}", "", f"_{tag['text']}_", ""]
    for section in brief["sections"]:
        lines += [f"## {section['heading']}", ""]
        for part, prefix in (("facts", "Fact"), ("hypotheses", "Hypothesis")):
            for claim in section[part]:
                lines.append(f"- {prefix}: {claim['text']} [{', '.join(claim['fact_ids'])}]")
        lines.append("")
    return "\n".join(lines)


class AuditLog:
    """One JSON line per generation attempt: prompt hash, model, tokens, cost, guardrail verdicts, outcome."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        if not self.path:
            return
        line = json.dumps({"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **record}, default=str)
        with self._lock, self.path.open("a") as out:
            out.write(line + "\n")


def _add(total: dict, usage: dict) -> None:
    for name in USAGE_FIELDS:
        total[name] = total.get(name, 0) + usage.get(name, 0)


def cache_key(sheet: FactSheet, kind: str, writer: Writer) -> str:
    version = PROMPTS.kinds[kind].version if writer.name != "offline" else "offline"
    return f"{sheet.content_hash}:{writer.name}:{writer.model}:{version}"


def write_brief(sheet: FactSheet, kind: str, writer: Writer, policy: BriefPolicy, redactor: Redactor,
                audit: AuditLog, first: Generation | None = None) -> Brief:
    """Generate, check, regenerate once with the reasons, else fall back to the offline writer and flag."""
    usage, cost, calls, feedback = {}, 0.0, 0, []
    verdicts: list[Verdict] = []
    for attempt in (1, 2):
        gen = first if attempt == 1 and first is not None else writer.write(sheet, kind, feedback)
        calls += gen.calls
        gen_cost = policy.cost_usd(gen.usage, batch=gen.batch) if gen.usage else 0.0
        _add(usage, gen.usage)
        cost += gen_cost
        verdicts = check_output(gen.brief, sheet, redactor) if gen.brief else \
            [Verdict("generation", False, [gen.error or "no output"])]
        passed = all(v.passed for v in verdicts)
        audit.write({"account_id": sheet.account_id, "kind": kind, "facts_hash": sheet.content_hash,
                     "attempt": attempt, "writer": gen.writer, "model": gen.model,
                     "prompt_version": gen.prompt_version, "prompt_hash": gen.prompt_hash, "batch": gen.batch,
                     "usage": gen.usage, "cost_usd": gen_cost, "verdicts": [v.as_dict() for v in verdicts],
                     "outcome": "accepted" if passed else ("regenerate" if attempt == 1 else "fallback")})
        if passed:
            return Brief(sheet.account_id, kind, sheet.content_hash, gen.brief, label(gen, sheet, False),
                         [v.as_dict() for v in verdicts], False, [], usage, round(cost, 6), calls,
                         cache_key(sheet, kind, writer), attempt)
        feedback = [r for v in verdicts for r in v.reasons]
        if writer.name == "offline":
            break  # the offline writer answers the same way twice
    fallback = OfflineWriter().write(sheet, kind)
    final = check_output(fallback.brief, sheet, redactor)
    audit.write({"account_id": sheet.account_id, "kind": kind, "facts_hash": sheet.content_hash, "attempt": "fallback",
                 "writer": "offline", "model": "offline", "prompt_version": fallback.prompt_version,
                 "verdicts": [v.as_dict() for v in final], "outcome": "stored flagged"})
    return Brief(sheet.account_id, kind, sheet.content_hash, fallback.brief, label(fallback, sheet, True),
                 [v.as_dict() for v in final], True, feedback, usage, round(cost, 6), calls,
                 cache_key(sheet, kind, writer), attempt)


@dataclass
class RunResult:
    briefs: list[Brief] = field(default_factory=list)
    reused: int = 0  # briefs whose fact sheet did not change: no call made
    calls: int = 0

    def per_account(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for b in self.briefs:
            entry = out.setdefault(b.account_id, {"briefs": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
            entry["briefs"] += 1
            entry["input_tokens"] += b.usage.get("input_tokens", 0)
            entry["output_tokens"] += b.usage.get("output_tokens", 0)
            entry["cost_usd"] = round(entry["cost_usd"] + b.cost_usd, 6)
        return out

    def totals(self) -> dict:
        usage: dict = {}
        for b in self.briefs:
            _add(usage, b.usage)
        return {"written": len(self.briefs), "reused": self.reused, "api_calls": self.calls,
                "flagged": sum(b.flagged for b in self.briefs), **usage,
                "cost_usd": round(sum(b.cost_usd for b in self.briefs), 6)}


def write_briefs(jobs: list[tuple[FactSheet, str, Redactor]], writer: Writer, policy: BriefPolicy, audit: AuditLog,
                 existing: dict[tuple[str, str], str] | None = None,
                 progress: Callable[[str], None] = lambda _m: None) -> RunResult:
    """Write every (sheet, kind) job whose cache key (fact sheet hash, writer, model, prompt version) is not in
    `existing` ({(account_id, kind): cache_key}); bounded concurrency, the batch path for large Claude refreshes."""
    existing = existing or {}
    todo = [(s, k, r) for s, k, r in jobs if existing.get((s.account_id, k)) != cache_key(s, k, writer)]
    result = RunResult(reused=len(jobs) - len(todo))
    firsts: dict[str, Generation] = {}
    if isinstance(writer, ClaudeWriter) and 0 < policy.batch_min_requests <= len(todo):
        progress(f"{len(todo)} briefs through the Message Batches API")
        firsts = writer.write_batch([(f"{s.account_id}--{k}", s, k) for s, k, _ in todo])
        result.calls += 1

    def one(job: tuple[FactSheet, str, Redactor]) -> Brief:
        sheet, kind, redactor = job
        return write_brief(sheet, kind, writer, policy, redactor, audit, firsts.get(f"{sheet.account_id}--{kind}"))

    with ThreadPoolExecutor(max_workers=max(1, policy.concurrency)) as pool:
        for brief in pool.map(one, todo):
            result.briefs.append(brief)
            result.calls += brief.calls
    progress(f"{len(result.briefs)} briefs written, {result.reused} unchanged, {result.calls} API calls")
    return result
