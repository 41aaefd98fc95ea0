"""One tick of the account agent: route every account through the graph, raise alerts, fill the queue.

    handoff audit -> gate "data ready?" --no--> fetch missing anchors (one task per field; re-audited every tick,
                                                escalated to the CSM's manager after `escalation_days`)
                  --yes--> diagnostic (stakeholders, pain documented and measured) -> risk detected?
                     yes -> risk-mitigation plan (needs approval); critical -> save play (needs approval)
                     no  -> success plan -> velocity checks (time to value, licence use) -> next-best-action queue
    churned -> post-mortem (root cause) and win-back trigger;  won back -> phase 1 (handoff audit) again

Risk alerts are always on (phases 5-7) for every active account. Inputs: the signals (marts and scores through a
DuckDB connection); output: rows in the operational database through a session. A tick on unchanged data writes
nothing: every write happens only when a value differs from what is stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import lifecycle
from actions.holdout import draw
from actions.playbook import SEVERITIES, Playbook, load_playbooks
from actions.policy import Policy, load_policy
from actions.postmortem import root_cause
from actions.signals import load_signals
from csops.opdb.models import (AccountState, Action, Alert, HoldoutAssignment, Plan, Postmortem,
                               StateTransition)

AGENT = lifecycle.AGENT
OPEN_ACTIONS = ("queued", "deferred", "awaiting_approval")
OPEN_PLANS = ("pending", "active", "approved")


@dataclass
class TickResult:
    as_of: date | None
    today: date | None
    note: str = ""  # why the tick did nothing, when it did nothing
    accounts: int = 0
    transitions: int = 0
    plans_proposed: int = 0
    plans_expired: int = 0
    actions_created: int = 0
    actions_resolved: int = 0
    alerts_raised: int = 0
    alerts_escalated: int = 0
    alerts_held: int = 0
    alerts_notified: int = 0
    alerts_digest: int = 0
    alerts_closed: int = 0
    alerts_suppressed: int = 0  # risk present, but every playbook of its kind in cooldown or held out
    postmortems: int = 0
    holdouts: int = 0
    held_accounts: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict:
        data = asdict(self)
        data["as_of"], data["today"] = str(self.as_of), str(self.today)
        data["note"] = self.note or "none"
        data["held_accounts"] = ", ".join(self.held_accounts[:20]) or "none"
        data["progress_note"] = (f"{self.transitions} transitions, {self.alerts_raised} alerts raised, "
                                 f"{self.alerts_escalated} escalated, {self.actions_created} actions queued")
        return data


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def warehouse_day(con) -> date | None:
    row = con.execute("select max(date_day) from marts.fct_account_daily").fetchall()[0]
    return row[0] if row and row[0] is not None else None


class Tick:
    def __init__(self, con, session: Session, policy: Policy, playbooks: dict[str, Playbook], as_of: date,
                 today: date, now: datetime):
        self.con, self.session, self.policy, self.books = con, session, policy, playbooks
        self.as_of, self.today, self.now = as_of, today, now
        self.result = TickResult(as_of=as_of, today=today)
        self.states = {s.account_id: s for s in session.scalars(select(AccountState))}
        self.actions: dict[tuple[str, str, str], Action] = {}
        self.last_proposed: dict[tuple[str, str], date] = {}
        for action in session.scalars(select(Action)):
            key = (action.account_id, action.playbook)
            self.last_proposed[key] = max(self.last_proposed.get(key, action.proposed_on), action.proposed_on)
            if action.status in OPEN_ACTIONS:
                self.actions[(action.account_id, action.playbook, action.evidence.get("item") or "")] = action
        for plan in session.scalars(select(Plan)):
            key = (plan.account_id, plan.playbook)
            self.last_proposed[key] = max(self.last_proposed.get(key, plan.proposed_on), plan.proposed_on)
        self.holdouts = {(h.account_id, h.playbook): h for h in session.scalars(select(HoldoutAssignment))}
        self.alerts = {a.dedup_key: a for a in session.scalars(select(Alert).where(Alert.status != "closed"))}
        self.postmortems = {(p.account_id, p.churn_date) for p in session.scalars(select(Postmortem))}
        self.touched_actions: set[int] = set()

    # --- helpers -------------------------------------------------------------------------------------------
    def owner(self, book: Playbook, signals: dict) -> str:
        if book.owner_role == "csm":
            return signals.get("csm_owner") or self.policy.role_owners["cs_director"]
        return self.policy.role_owners[book.owner_role]

    def expected_value(self, book: Playbook, signals: dict) -> float:
        arr = signals.get("active_arr") or 0.0
        if book.value == "expansion":
            p = signals.get("expansion_probability")
            p = signals.get("expansion_percentile") if p is None else p
            return round(arr * self.policy.expansion_arr_share * (p or 0.0), 2)
        p = signals.get("churn_probability")
        p = signals.get("churn_percentile") if p is None else p  # no model: the baseline's rank stands in
        return round(arr * (p or 0.0), 2)

    def in_cooldown(self, account: str, book: Playbook) -> bool:
        last = self.last_proposed.get((account, book.name))
        return last is not None and self.as_of < last + timedelta(days=book.cooldown_days)

    def held_out(self, account: str, book: Playbook) -> bool:
        """Draws (and records, once) whether this eligible account is kept out of the playbook."""
        if book.name in self.policy.holdout_exempt or self.policy.holdout_share <= 0:
            return False
        key = (account, book.name)
        if key not in self.holdouts:
            value = draw(self.policy.holdout_seed, account, book.name)
            row = HoldoutAssignment(account_id=account, playbook=book.name,
                                    in_holdout=value < self.policy.holdout_share, assigned_on=self.as_of,
                                    seed=self.policy.holdout_seed, share=self.policy.holdout_share,
                                    policy_version=self.policy.version, created_at=self.now)
            self.session.add(row)
            self.holdouts[key] = row
            self.result.holdouts += 1
        return self.holdouts[key].in_holdout

    def plan_meta(self, book: Playbook, signals: dict) -> dict:
        return {"title": book.title, "action": book.action, "channel": book.channel,
                "due_in_days": book.due_in_days, "account_name": signals.get("account_name"),
                "signals": book.evidence(signals)}

    def propose_plan(self, account: str, book: Playbook, kind: str, signals: dict) -> Plan:
        plan = Plan(account_id=account, kind=kind, playbook=book.name, needs_approval=book.needs_approval,
                    status="pending" if book.needs_approval else "active", proposed_on=self.as_of,
                    expires_on=self.as_of + timedelta(days=self.policy.approval_expiry_days)
                    if book.needs_approval else None,
                    evidence=self.plan_meta(book, signals), created_at=self.now)
        self.session.add(plan)
        self.session.flush()
        self.last_proposed[(account, book.name)] = self.as_of
        self.result.plans_proposed += 1
        return plan

    def ensure_action(self, account: str, book: Playbook, signals: dict, item: str = "",
                      plan: Plan | None = None, owner: str | None = None, title: str | None = None) -> Action:
        key = (account, book.name, item)
        ev = self.expected_value(book, signals)
        evidence = {"signals": book.evidence(signals), "item": item or None}
        action = self.actions.get(key)
        if action is None:
            action = Action(
                dedup_key=f"{account}:{book.name}:{item or '-'}:{self.as_of}", account_id=account,
                playbook=book.name, title=title or book.action.replace("{item}", item.replace("_", " ")),
                owner=owner or self.owner(book, signals), owner_role=book.owner_role, channel=book.channel,
                priority=book.priority, expected_value=ev,
                status="awaiting_approval" if plan is not None and plan.status == "pending" else "queued",
                week=iso_week(self.today), proposed_on=self.as_of, due_on=self.as_of + timedelta(book.due_in_days),
                plan_id=plan.id if plan else None, evidence=evidence, created_at=self.now, updated_at=self.now)
            self.session.add(action)
            self.session.flush()
            self.actions[key] = action
            self.last_proposed[(account, book.name)] = self.as_of
            self.result.actions_created += 1
        elif action.expected_value != ev or action.evidence != evidence:
            action.expected_value, action.evidence, action.updated_at = ev, evidence, self.now
        self.touched_actions.add(action.id)
        return action

    def eligible(self, account: str, book: Playbook, signals: dict) -> bool:
        """Triggered, not in cooldown, and not held out (an open action or plan is re-used, never re-proposed)."""
        if not book.triggered(signals):
            return False
        if any(k[0] == account and k[1] == book.name for k in self.actions):
            return True
        return not self.in_cooldown(account, book) and not self.held_out(account, book)

    # --- the graph ------------------------------------------------------------------------------------------
    def route(self, s: dict) -> dict:
        """The account's next state (stage, gate, missing, plan) with the reason and evidence, plus its actions."""
        account, prev = s["account_id"], self.states.get(s["account_id"])
        reasons: list[str] = []
        if s["contract_status"] == "churned":
            return self.churned(s)
        if prev is not None and prev.stage == "post_mortem":
            self.record(prev, s, {"phase": 1, "stage": "handoff_audit", "gate": None, "missing": [],
                                  "escalated": False, "open_plan_kind": None, "open_plan_status": None},
                        "won back: a contract is active again; back to phase 1 (handoff audit)",
                        {"contract_status": s["contract_status"]})
            prev = self.states[account]
            reasons.append("won back")
        missing = s.get("handoff_missing_fields") or []
        if missing:
            return self.fetch_anchors(s, prev, missing)
        diagnostic = {
            "champion_present": bool(s.get("has_champion")) and not s.get("champion_left_90d"),
            "sponsor_present": bool(s.get("has_executive_sponsor")),
            "pain_documented": s.get("handoff_missing_field_count") in (None, 0),
            "value_measured": s.get("first_value_date") is not None,
        }
        risky = [b for b in self.books.values() if b.stage == "risk" and b.triggered(s)]
        if risky:
            return self.risk_branch(s, risky, diagnostic)
        return self.success_branch(s, diagnostic)

    def churned(self, s: dict) -> dict:
        account, churn_day = s["account_id"], s.get("last_churn_date")
        day = date.fromisoformat(churn_day) if churn_day else self.as_of
        if (account, day) not in self.postmortems:
            cause, evidence = root_cause(self.con, account, day)
            self.session.add(Postmortem(account_id=account, churn_date=day, root_cause=cause, evidence=evidence,
                                        winback_eligible=bool(s.get("is_winback_eligible")), created_on=self.as_of,
                                        created_at=self.now))
            self.postmortems.add((account, day))
            self.result.postmortems += 1
        for book in self.books.values():
            if book.stage == "churned" and self.eligible(account, book, s):
                title = book.action + (" (win-back eligible)" if s.get("is_winback_eligible") else "")
                self.ensure_action(account, book, s, title=title)
        return {"stage": "post_mortem", "gate": "win_back" if s.get("is_winback_eligible") else None,
                "missing": [], "escalated": False, "open_plan_kind": None, "open_plan_status": None,
                "reason": f"churned on {churn_day}: post-mortem recorded"
                + ("; win-back trigger set" if s.get("is_winback_eligible") else ""),
                "evidence": {"contract_status": s["contract_status"], "last_churn_date": churn_day,
                             "is_winback_eligible": s.get("is_winback_eligible")}}

    def fetch_anchors(self, s: dict, prev: AccountState | None, missing: list[str]) -> dict:
        account = s["account_id"]
        since = prev.stage_since if prev is not None and prev.stage == "fetch_missing_anchors" else self.as_of
        stuck = (self.as_of - since).days
        escalated = stuck >= self.policy.escalation_days
        for book in self.books.values():
            if book.stage == "handoff" and self.eligible(account, book, s):
                for item in (s.get(book.for_each) or [""]) if book.for_each else [""]:
                    self.ensure_action(account, book, s, item=item)
                if escalated:
                    self.ensure_action(account, book, s, item="escalation", owner=self.policy.manager,
                                       title=f"Escalation: handoff stuck {stuck} days, missing "
                                       + ", ".join(missing))
        reason = (f"handoff audit: data not ready, {len(missing)} field(s) missing; fetch-missing-anchors loop"
                  + (f"; stuck {stuck} days: escalated to {self.policy.manager}" if escalated else ""))
        return {"stage": "fetch_missing_anchors", "gate": "data_ready", "missing": list(missing),
                "escalated": escalated, "stage_since": since, "open_plan_kind": None, "open_plan_status": None,
                "reason": reason, "evidence": {"handoff_missing_fields": missing, "days_at_gate": stuck}}

    def risk_branch(self, s: dict, risky: list[Playbook], diagnostic: dict) -> dict:
        account = s["account_id"]
        for book in risky:  # risk playbooks without approval go straight to the queue
            if not book.needs_approval and not book.risk_kind and self.eligible(account, book, s):
                self.ensure_action(account, book, s)
        open_plans = [a for a in self.alerts.values() if a.account_id == account and a.plan_id
                      and a.status in lifecycle.ACTIVE]
        critical = any(b.severity == "critical" for b in risky)
        plan = None
        if open_plans:
            worst = max(open_plans, key=lambda a: SEVERITIES.index(a.severity))
            plan = self.session.get(Plan, worst.plan_id)
        stage = "save_play" if critical else "risk_mitigation"
        return {"stage": stage, "gate": "approval" if plan is not None and plan.status == "pending" else None,
                "missing": [], "escalated": False, "open_plan_kind": plan.kind if plan else None,
                "open_plan_status": plan.status if plan else None,
                "reason": ("critical churn risk: save play" if critical else "risk detected: mitigation plan")
                + (f" ({plan.playbook}, {plan.status})" if plan else " (no plan: cooldown or holdout)"),
                "evidence": {"diagnostic": diagnostic, "risk_playbooks": [b.name for b in risky],
                             "churn_band": s.get("churn_band"), "churn_probability": s.get("churn_probability")}}

    def success_branch(self, s: dict, diagnostic: dict) -> dict:
        account = s["account_id"]
        plan = None
        for book in self.books.values():
            if book.stage == "success" and book.triggered(s):
                plan = self.session.scalars(select(Plan).where(Plan.account_id == account, Plan.playbook == book.name,
                                                               Plan.status.in_(OPEN_PLANS))).first()
                if plan is None and not self.in_cooldown(account, book):
                    plan = self.propose_plan(account, book, "success", s)
        checks = {"time_to_first_value": s.get("first_value_date"), "seat_utilization": s.get("seat_utilization")}
        for book in self.books.values():
            if book.stage == "opportunity" and self.eligible(account, book, s):
                self.ensure_action(account, book, s)
        return {"stage": "queue", "gate": None, "missing": [], "escalated": False,
                "open_plan_kind": plan.kind if plan else None, "open_plan_status": plan.status if plan else None,
                "reason": "no risk detected: success plan, velocity checks, next-best-action queue",
                "evidence": {"diagnostic": diagnostic, "velocity": checks, "churn_band": s.get("churn_band")}}

    # --- state ----------------------------------------------------------------------------------------------
    STATE_FIELDS = ("phase", "stage", "gate", "missing", "risk_score", "risk_band", "open_plan_kind",
                    "open_plan_status", "escalated", "owner")

    def record(self, prev: AccountState | None, s: dict, new: dict, reason: str, evidence: dict) -> None:
        account = s["account_id"]
        values = {"phase": new.get("phase", s.get("phase_number")), "stage": new["stage"], "gate": new["gate"],
                  "missing": new["missing"], "risk_score": s.get("churn_probability"),
                  "risk_band": s.get("churn_band"), "open_plan_kind": new["open_plan_kind"],
                  "open_plan_status": new["open_plan_status"], "escalated": new["escalated"],
                  "owner": s.get("csm_owner")}
        if prev is not None and all(getattr(prev, k) == values[k] for k in self.STATE_FIELDS):
            return
        stage_changed = prev is None or prev.stage != values["stage"]
        since = new.get("stage_since") or (self.as_of if stage_changed else prev.stage_since)
        if prev is None:
            prev = AccountState(account_id=account, **values, stage_since=since, as_of_date=self.as_of,
                                last_transition_at=self.now)
            self.session.add(prev)
            self.states[account] = prev
            from_phase = from_stage = None
        else:
            from_phase, from_stage = prev.phase, prev.stage
            changed = [k for k in self.STATE_FIELDS if getattr(prev, k) != values[k]]
            if not stage_changed:
                reason = f"{', '.join(changed)} changed: {reason}"
            for key, value in values.items():
                setattr(prev, key, value)
            prev.stage_since, prev.as_of_date, prev.last_transition_at = since, self.as_of, self.now
        self.session.add(StateTransition(account_id=account, as_of_date=self.as_of, from_phase=from_phase,
                                         to_phase=values["phase"], from_stage=from_stage, to_stage=values["stage"],
                                         reason=reason, evidence=evidence, created_at=self.now))
        self.result.transitions += 1

    def next_action(self, account: str) -> str | None:
        mine = [a for a in self.actions.values() if a.account_id == account and a.status in OPEN_ACTIONS]
        if not mine:
            return None
        best = min(mine, key=lambda a: (a.status != "queued", -a.expected_value, a.priority, a.id))
        return best.playbook


def run_tick(con, session: Session, policy: Policy | None = None, playbooks: dict[str, Playbook] | None = None,
             as_of: date | None = None, today: date | None = None, now: datetime | None = None) -> TickResult:
    """One tick for every account (scored or churned) on the scores' as-of day. `today`: the day the tick runs for
    (staleness, expiry, capacity week); default the warehouse's last day. The caller commits the session."""
    from actions import alerts, queue

    policy = policy or load_policy()
    playbooks = playbooks or load_playbooks()
    as_of, signals = load_signals(con, as_of)
    if as_of is None:
        return TickResult(as_of=None, today=today, note="no account is scored yet (ml.churn_scores is empty)")
    today = today or warehouse_day(con) or as_of
    tick = Tick(con, session, policy, playbooks, as_of, today, now or lifecycle.utcnow())
    tick.result.plans_expired = lifecycle.expire_due(session, today, tick.now)
    alerts.close_decided(tick)
    alerts.raise_alerts(tick, signals)
    for s in signals:
        new = tick.route(s)
        tick.record(tick.states.get(s["account_id"]), s, new, new["reason"], new["evidence"])
    queue.resolve_untriggered(tick, signals)
    queue.rank(tick)
    for s in signals:
        state = tick.states[s["account_id"]]
        best = tick.next_action(s["account_id"])
        if state.next_action != best:
            state.next_action = best
    alerts.notify(tick)
    tick.result.accounts = len(signals)
    session.flush()
    return tick.result
