"""One interface, two writers: `ClaudeWriter` (the Messages API through the `anthropic` SDK, structured output by a
forced tool) and `OfflineWriter` (deterministic, from the facts alone; the default without an API key).

Both return the same structure: a title and sections, each section's claims split into `facts` (what the data
shows) and `hypotheses` (interpretation, proposed actions), every claim citing the fact ids it rests on.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, Field, ValidationError

from csops.llm.client import anthropic_client, message_usage, tool_input
from csops.llm.untrusted import customer_block
from delivery.briefs.facts import Fact, FactSheet
from delivery.briefs.policy import BriefPolicy
from delivery.briefs.risks import RISKS

PROMPTS_DIR = Path(__file__).with_name("prompts")
TOOL_NAME = "write_brief"
OFFLINE_VERSION = "offline-v1"


class Claim(BaseModel):
    text: str = Field(min_length=1, description="One sentence. Numbers and dates only as they appear in cited facts.")
    fact_ids: list[str] = Field(min_length=1, description="Ids of the facts (from the fact sheet) the claim rests on.")


class Section(BaseModel):
    heading: str = Field(min_length=1, description="Section heading, no numbers.")
    facts: list[Claim] = Field(description="What the cited facts show.")
    hypotheses: list[Claim] = Field(description="Interpretation and proposed actions, each citing its facts.")


class BriefOutput(BaseModel):
    title: str = Field(min_length=1, description="Title of the brief, no numbers.")
    sections: list[Section] = Field(min_length=1)


TOOL = {
    "name": TOOL_NAME,
    "description": "Return the brief as sections of cited claims, facts kept apart from hypotheses.",
    "input_schema": BriefOutput.model_json_schema(),
}


# -------------------------------------------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class KindSpec:
    kind: str
    role: str
    version: str
    title: str
    instructions: str
    sections: tuple[str, ...]


@dataclass(frozen=True)
class Prompts:
    systems: dict[str, str]  # role -> static system text (rules + every kind of the role): the cached prefix
    kinds: dict[str, KindSpec]


def load_prompts(folder: Path = PROMPTS_DIR) -> Prompts:
    systems, kinds = {}, {}
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        missing = {"name", "version", "system", "kinds"} - set(doc or {})
        if missing:
            raise ValueError(f"prompt file {path.name} lacks {sorted(missing)}")
        listing = []
        for kind, spec in doc["kinds"].items():
            if kind in kinds:
                raise ValueError(f"brief kind {kind!r} defined twice (second time in {path.name})")
            kinds[kind] = KindSpec(kind, doc["name"], str(doc["version"]), spec["title"], spec["instructions"].strip(),
                                   tuple(spec["sections"]))
            listing.append(f"- {kind}: {spec['title']}. Sections: {', '.join(spec['sections'])}. "
                           f"{spec['instructions'].strip()}")
        systems[doc["name"]] = doc["system"].strip() + "\n\nKinds of document you write:\n" + "\n".join(listing)
    return Prompts(systems, kinds)


PROMPTS = load_prompts()
KINDS = tuple(PROMPTS.kinds)


def _fact_line(fact: Fact) -> dict:
    out = fact.as_dict()
    out.pop("source", None)
    return out


def build_request(sheet: FactSheet, kind: str, policy: BriefPolicy, feedback: list[str] = (),
                  prompts: Prompts = PROMPTS) -> dict:
    """The Messages API parameters of one brief. Customer text goes in as JSON inside <customer_text>, data only."""
    if kind not in prompts.kinds:
        raise ValueError(f"unknown brief kind {kind!r}; known: {', '.join(prompts.kinds)}")
    spec = prompts.kinds[kind]
    trusted = json.dumps({"account_id": sheet.account_id, "account_name": sheet.account_name, "as_of": sheet.as_of,
                          "facts": [_fact_line(f) for f in sheet.trusted()]}, default=str, indent=1)
    quoted = customer_block([{"id": f.id, "as_of": f.as_of, "quoted_text": f.value} for f in sheet.untrusted()])
    user = (f"Write the {kind} ({spec.title}) with the sections: {', '.join(spec.sections)}.\n\n"
            f"<fact_sheet>\n{trusted}\n</fact_sheet>\n\n{quoted}")
    if feedback:
        user += ("\n\nYour previous answer was rejected by the checks for these reasons; write it again without "
                 "them:\n- " + "\n- ".join(feedback[:20]))
    params = {
        "model": policy.model,
        "max_tokens": policy.max_tokens,
        "system": [{"type": "text", "text": prompts.systems[spec.role], "cache_control": {"type": "ephemeral"}}],
        "tools": [TOOL],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
        "messages": [{"role": "user", "content": user}],
    }
    if policy.effort:
        params["output_config"] = {"effort": policy.effort}
    return params


def prompt_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -------------------------------------------------------------------------------------------------------- writers
@dataclass
class Generation:
    """One attempt of a writer: the brief (None when it failed) and what it cost."""

    writer: str
    model: str
    prompt_version: str
    brief: dict | None = None
    error: str | None = None
    usage: dict = field(default_factory=dict)
    prompt_hash: str = ""
    batch: bool = False
    calls: int = 0  # API requests made (the SDK's own retries not counted)


class Writer(Protocol):
    name: str
    model: str

    def write(self, sheet: FactSheet, kind: str, feedback: list[str] = ()) -> Generation: ...


def parse_message(message) -> tuple[dict | None, str | None]:
    """The brief of a Messages API answer: the forced tool's input, validated against the schema."""
    data = tool_input(message, TOOL_NAME)
    if data is not None:
        try:
            return BriefOutput.model_validate(data).model_dump(), None
        except ValidationError as err:
            return None, f"output does not match the schema: {err.error_count()} error(s), first: " \
                         f"{err.errors()[0]['msg']} at {err.errors()[0]['loc']}"
    return None, f"no {TOOL_NAME} tool call in the answer (stop_reason {getattr(message, 'stop_reason', None)})"


class ClaudeWriter:
    name = "claude"

    def __init__(self, policy: BriefPolicy, api_key: str | None = None, base_url: str | None = None):
        self.policy, self.model = policy, policy.model
        self.client, self._errors = anthropic_client(api_key, base_url, policy.timeout_seconds, policy.max_retries)

    def _generation(self, kind: str, params: dict, batch: bool = False) -> Generation:
        return Generation(self.name, self.model, PROMPTS.kinds[kind].version, prompt_hash=prompt_hash(params),
                          batch=batch)

    def write(self, sheet: FactSheet, kind: str, feedback: list[str] = ()) -> Generation:
        params = build_request(sheet, kind, self.policy, list(feedback))
        gen = self._generation(kind, params)
        gen.calls = 1
        try:
            message = self.client.messages.create(**params)
        except self._errors as err:
            gen.error = f"{type(err).__name__}: {str(err)[:200]}"
            return gen
        gen.usage = message_usage(message)
        gen.brief, gen.error = parse_message(message)
        return gen

    def write_batch(self, jobs: list[tuple[str, FactSheet, str]]) -> dict[str, Generation]:
        """First drafts of many briefs through the Message Batches API (half price, results within 24 hours):
        jobs are (custom_id, sheet, kind). A job without a result comes back with an error, to be written singly."""
        requests, gens = [], {}
        for custom_id, sheet, kind in jobs:
            params = build_request(sheet, kind, self.policy)
            requests.append({"custom_id": custom_id, "params": params})
            gens[custom_id] = self._generation(kind, params, batch=True)
        try:
            batch = self.client.messages.batches.create(requests=requests)
            deadline = time.monotonic() + self.policy.batch_max_wait_seconds
            while batch.processing_status != "ended" and time.monotonic() < deadline:
                time.sleep(self.policy.batch_poll_seconds)
                batch = self.client.messages.batches.retrieve(batch.id)
            if batch.processing_status != "ended":
                self.client.messages.batches.cancel(batch.id)
                raise TimeoutError(f"batch {batch.id} not ended after {self.policy.batch_max_wait_seconds} s")
            for line in self.client.messages.batches.results(batch.id):
                gen = gens.get(line.custom_id)
                if gen is None:
                    continue
                if line.result.type == "succeeded":
                    gen.usage = message_usage(line.result.message)
                    gen.brief, gen.error = parse_message(line.result.message)
                else:
                    gen.error = f"batch result {line.result.type}"
        except (*self._errors, TimeoutError) as err:
            for gen in gens.values():
                gen.error = gen.error or f"batch failed: {type(err).__name__}: {str(err)[:200]}"
        for gen in gens.values():
            if gen.brief is None and gen.error is None:
                gen.error = "no result in the batch"
        return gens


class OfflineWriter:
    """Builds the brief from the facts with fixed sentences: no model, no network, the same output for the same
    sheet. Says so in its label; the fallback for any output the guardrails reject twice."""

    name = "offline"
    model = "offline"

    def write(self, sheet: FactSheet, kind: str, feedback: list[str] = ()) -> Generation:
        if kind not in PROMPTS.kinds:
            raise ValueError(f"unknown brief kind {kind!r}; known: {', '.join(PROMPTS.kinds)}")
        return Generation(self.name, self.model, OFFLINE_VERSION, brief=offline_brief(sheet, kind))


# ------------------------------------------------------------------------------------------ the offline sentences
def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value)
    return str(value)


def _claim(sheet: FactSheet, text: str, *ids: str) -> dict | None:
    """A claim citing `ids`, or None when none of them holds a value."""
    facts = sheet.by_id()
    if not any(facts.get(i) is not None and facts[i].value not in (None, [], "") for i in ids):
        return None
    return {"text": text, "fact_ids": [i for i in ids if i in facts]}


def _stated(sheet: FactSheet, fact_id: str, label: str) -> dict | None:
    fact = sheet.by_id().get(fact_id)
    if fact is None or fact.value in (None, [], ""):
        return None
    shown = fact.unit and fact.unit not in ("date", "probability") and fact.unit.lower() not in label.lower()
    unit = f" {fact.unit}" if shown else ""
    return _claim(sheet, f"{label}: {_fmt(fact.value)}{unit}.", fact_id)


ACTIONS = {
    "churn_risk": "Agree a save plan with the account team and book an executive check-in.",
    "low_usage": "Review usage with the customer's admins and re-onboard the teams that stopped logging in.",
    "low_adoption": "Run an enablement session on the features the customer bought but does not use.",
    "unused_licences": "Map the seats held to teams and plan their rollout with the customer's admins.",
    "support_spike": "Review the open tickets with support and agree an owner for each blocker.",
    "health_decline": "Find out with the customer what changed in the last month.",
    "red_health": "Escalate internally and set a weekly review until the account recovers.",
    "detractor": "Call the respondent's team to understand the feedback and close the loop.",
    "low_engagement": "Book a live touchpoint; the last ones are too far apart.",
    "erratic_usage": "Check with the admins whether usage depends on a few periodic jobs or people.",
    "no_executive_sponsor": "Ask the sales owner to introduce the executive sponsor.",
    "no_champion": "Identify a champion among the active users.",
    "handoff_incomplete": "Fetch the missing handoff fields from the sales owner before the kickoff.",
    "renewal_due": "Confirm the decision process and the people involved in the renewal.",
    "churned": "Record the reasons with the account team and check whether a win-back is possible later.",
}


def _evidence(sheet: FactSheet, risk: Fact) -> str:
    facts = sheet.by_id()
    parts = [f"{i} = {_fmt(facts[i].value)}" for i in risk.supports if facts.get(i) and facts[i].value is not None]
    return f" ({'; '.join(parts)})" if parts else ""


def _risk_claims(sheet: FactSheet) -> tuple[list[dict], list[dict]]:
    facts, actions = [], []
    for fact in sheet.facts:
        if not fact.id.startswith("risk."):
            continue
        name = fact.id.removeprefix("risk.")
        facts.append({"text": f"The data shows {RISKS[name].label}{_evidence(sheet, fact)}.",
                      "fact_ids": [fact.id, *fact.supports]})
        if name in ACTIONS:
            actions.append({"text": ACTIONS[name], "fact_ids": [fact.id]})
    return facts, actions


def _keep(*claims) -> list[dict]:
    return [c for c in claims if c]


def _stated_all(sheet: FactSheet, pairs: list[tuple[str, str]]) -> list[dict]:
    return _keep(*(_stated(sheet, fact_id, label) for fact_id, label in pairs))


def _snapshot(sheet: FactSheet) -> list[dict]:
    return _stated_all(sheet, [
        ("account.segment", "Segment"), ("account.phase", "Lifecycle phase"), ("revenue.arr", "Active ARR"),
        ("health.score", "Health score"), ("health.band", "Health band"),
        ("renewal.next_renewal_date", "Next renewal date"), ("renewal.days_to_renewal", "Days to renewal")])


def _movement(sheet: FactSheet) -> list[dict]:
    return _stated_all(sheet, [
        ("health.change_30d", "Health change"), ("health.why_moved_30d", "Why health moved in 30 days"),
        ("churn.band", "Churn band"), ("churn.probability", "Churn probability"), ("expansion.band", "Expansion band")])


def _model_reasons(sheet: FactSheet) -> list[dict]:
    return _keep(_claim(sheet, "The scoring models list their reasons in the fact sheet; check them before the call.",
                        "churn.top_reasons", "expansion.top_reasons"),
                 _stated(sheet, "agent.next_best_action", "The account agent's next best action"))


def _customer_voice(sheet: FactSheet) -> list[dict]:
    ids = [f.id for f in sheet.untrusted()]
    return [{"text": "Recent customer texts (tickets, surveys, notes) are in the fact sheet as quoted data; read "
                     "them before the meeting.", "fact_ids": ids}] if ids else []


def _seats(sheet: FactSheet) -> list[dict]:
    return _stated_all(sheet, [
        ("licences.licensed_seats", "Licensed seats"), ("licences.active_users_30d", "Active users"),
        ("licences.unused_seats", "Unused seats"), ("licences.unused_seat_share", "Unused seat share"),
        ("licences.unused_seat_cost_per_year", "Cost of unused seats")])


def _value(sheet: FactSheet) -> list[dict]:
    return _stated_all(sheet, [("value.days_to_value", "Days to first value"),
                               ("value.qbr_ebr_count_365d", "Business reviews held"),
                               ("health.score_adoption", "Adoption score"), ("health.score_usage", "Usage score")])


def _handoff(sheet: FactSheet) -> list[dict]:
    return _stated_all(sheet, [
        ("handoff.has_handoff", "Handoff received"), ("handoff.missing_field_count", "Handoff fields missing"),
        ("handoff.has_executive_sponsor", "Executive sponsor named"), ("handoff.has_champion", "Champion named"),
        ("handoff.has_success_criteria", "Success criteria written"), ("handoff.open_tasks", "Open handoff tasks")])


def _section(heading: str, facts: list[dict], hypotheses: list[dict] = ()) -> dict:
    return {"heading": heading, "facts": list(facts), "hypotheses": list(hypotheses)}


def _fallback_fact(sheet: FactSheet) -> list[dict]:
    """A section never stays empty: at least the account's segment or phase (the sheet's first facts)."""
    first = next((f for f in sheet.trusted() if f.value not in (None, [], "")), None)
    return [{"text": "Few facts are on record for this account.", "fact_ids": [first.id]}] if first else []


def offline_brief(sheet: FactSheet, kind: str) -> dict:
    spec = PROMPTS.kinds[kind]
    risks, actions = _risk_claims(sheet)
    by_kind = {
        "transition_brief": [_section("What was sold", _snapshot(sheet)),
                             _section("What is missing", _handoff(sheet)),
                             _section("First steps", risks, actions)],
        "renewal_brief": [_section("Health and why it moved", _snapshot(sheet) + _movement(sheet)),
                          _section("Risks", risks, _model_reasons(sheet)),
                          _section("Opportunities", _seats(sheet) + _value(sheet)),
                          _section("Talking points", _customer_voice(sheet), actions)],
        "churn_post_mortem": [_section("What happened", _keep(_stated(sheet, "account.churn_status", "Status"),
                                                              _stated(sheet, "churn.last_churn_date", "Churn date"))
                                       + _snapshot(sheet)),
                              _section("Signals before the churn", _movement(sheet) + risks, _model_reasons(sheet)),
                              _section("Lessons", _customer_voice(sheet), actions)],
        "expansion_readiness": [_section("Readiness", _movement(sheet)),
                                _section("Value realised", _value(sheet)),
                                _section("White space", _seats(sheet)),
                                _section("Blockers", risks, actions)],
        "risk_mitigation_plan": [_section("Risks", risks), _section("Actions", [], actions),
                                 _section("Signals to watch", _movement(sheet))],
        "success_plan": [_section("Starting point", _snapshot(sheet) + _handoff(sheet)),
                         _section("Goals", _value(sheet)), _section("Milestones", risks, actions)],
        "licence_optimisation_plan": [_section("Seats and usage", _seats(sheet)),
                                      _section("Value realised so far", _value(sheet)),
                                      _section("Roadmap", risks, actions)],
        "save_plan": [_section("Situation", _snapshot(sheet) + _movement(sheet)), _section("Risks", risks),
                      _section("Save actions", [], actions + _model_reasons(sheet)),
                      _section("Escalation", [], _keep(_claim(
                          sheet, "Escalate to the CS leader if the next review shows no progress.", "churn.band")))],
        "customer_email": [
            _section("Subject", _keep(_claim(sheet, "Planning our next steps together", "account.phase"))),
            _section("Body", _keep(
                _claim(sheet, "Hi [NAME], thank you for working with us.", "account.customer_since", "account.phase"),
                _claim(sheet, f"Ahead of your renewal on {sheet.get('renewal.next_renewal_date')}, I would like to "
                              "set up time to review your goals and what comes next.", "renewal.next_renewal_date")
                or _claim(sheet, "I would like to set up time to review your goals and what comes next.",
                          "account.phase"),
                _claim(sheet, "Would a call next week suit you? Best regards", "account.phase"))),
        ],
    }
    sections = by_kind[kind]
    for section in sections:
        if not section["facts"] and not section["hypotheses"]:
            section["facts"] = _fallback_fact(sheet)
    return {"title": f"{spec.title}: {sheet.account_name}", "sections": sections}
