"""Account agent commands: `account`, `queue`, `alerts list|show|ack|approve|reject`, and `eval-agent` (lab).

They read and write the operational database only (`CSOPS_OPDB_URL`, default SQLite under the data folder), never
the DuckDB warehouse, so a decision goes through while a pipeline run holds the warehouse."""

from __future__ import annotations

import argparse
import json
import sys

from csops.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    account = commands.add_parser("account", help="an account's state, why it is there, its history and open actions")
    account.add_argument("account_id")
    account.set_defaults(handler=_account_command)
    queue = commands.add_parser("queue", help="the next-best-action queue, highest expected value first")
    queue.add_argument("--owner", default=None, help="one owner's queue")
    queue.add_argument("--limit", type=int, default=20)
    queue.set_defaults(handler=_queue_command)
    alerts = commands.add_parser("alerts", help="risk alerts: list, show, ack, approve or reject")
    verbs = alerts.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="active alerts (all with --all)")
    listing.add_argument("--owner", default=None)
    listing.add_argument("--all", action="store_true", help="closed alerts too")
    listing.set_defaults(handler=_alerts_list)
    show = verbs.add_parser("show", help="an alert with its evidence, plan and lifecycle")
    show.add_argument("alert_id", type=int)
    show.set_defaults(handler=_alerts_show)
    for verb, text, handler in (
        ("ack", "acknowledge an alert (seen, a decision will follow)", _alerts_ack),
        ("approve", "approve the alert's plan: creates its tasks and email draft", _alerts_approve),
        ("reject", "reject the alert's plan with --reason; the next run re-plans", _alerts_reject),
    ):
        decision = verbs.add_parser(verb, help=text)
        decision.add_argument("alert_id", type=int)
        decision.add_argument("--by", required=True, help="who decides")
        if verb == "reject":
            decision.add_argument("--reason", required=True)
        else:
            decision.add_argument("--note", default=None)
        decision.set_defaults(handler=handler)
    evaluate = commands.add_parser("eval-agent", help="measure the agent on a generated set with hidden truth")
    evaluate.add_argument("--accounts", type=int, default=300)
    evaluate.add_argument("--months", type=int, default=18)
    evaluate.add_argument("--seed", type=int, default=3)
    evaluate.add_argument("--weeks", type=int, default=40, help="weekly ticks replayed (default %(default)s)")
    evaluate.add_argument("--work", default=None, help="folder for the generated set (default: a temp folder)")
    evaluate.set_defaults(handler=_eval_command)


def _session(settings: Settings):
    from csops.opdb import open_opdb, sessions

    return sessions(open_opdb(settings.opdb_url))()


def _fail(message: str) -> int:
    print(f"csops: {message}", file=sys.stderr)
    return 1


def _line(values: list, widths: list[int]) -> str:
    return "  ".join(str("" if v is None else v)[:w].ljust(w) for v, w in zip(values, widths)).rstrip()


def _account_command(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from csops.opdb.models import AccountState, Action, Alert, StateTransition

    with _session(settings) as session:
        state = session.get(AccountState, args.account_id)
        if state is None:
            return _fail(f"no account {args.account_id!r} in the operational database (has the agent run?)")
        print(f"{state.account_id}  owner {state.owner}  phase {state.phase}  stage {state.stage}"
              f"  gate {state.gate or '-'}  risk {state.risk_band or '-'}"
              + (f" ({state.risk_score:.2f})" if state.risk_score is not None else ""))
        if state.missing:
            print(f"missing: {', '.join(state.missing)}" + ("  (escalated)" if state.escalated else ""))
        print(f"open plan: {state.open_plan_kind or '-'} ({state.open_plan_status or '-'})  next action: "
              f"{state.next_action or '-'}  since {state.stage_since}")
        history = session.scalars(select(StateTransition).where(StateTransition.account_id == state.account_id)
                                  .order_by(StateTransition.id)).all()
        print(f"why: {history[-1].reason}" if history else "why: -")
        print("history:")
        for t in history:
            print(f"  {t.as_of_date}  {t.from_stage or '(new)'} -> {t.to_stage}  {t.reason}")
            print(f"      evidence {json.dumps(t.evidence, sort_keys=True, default=str)}")
        actions = session.scalars(select(Action).where(Action.account_id == state.account_id,
                                                       Action.status.in_(("queued", "deferred", "awaiting_approval")))
                                  .order_by(Action.expected_value.desc())).all()
        print("open actions:" if actions else "open actions: none")
        for a in actions:
            print(f"  #{a.id} {a.status} {a.playbook} -> {a.owner} due {a.due_on} EV {a.expected_value:,.0f}: {a.title}")
        alerts = session.scalars(select(Alert).where(Alert.account_id == state.account_id, Alert.status != "closed"))
        for alert in alerts:
            print(f"alert #{alert.id} {alert.severity} {alert.kind} {alert.status} ({alert.playbook})")
    return 0


def _queue_command(args: argparse.Namespace, settings: Settings) -> int:
    from actions.summary import top_of_queue

    with _session(settings) as session:
        rows = top_of_queue(session, args.limit, owner=args.owner)
    if not rows:
        print("the queue is empty" + (f" for {args.owner}" if args.owner else ""))
        return 0
    widths = [6, 10, 20, 26, 10, 10, 60]
    print(_line(["action", "account", "owner", "playbook", "EV", "due", "title"], widths))
    for r in rows:
        print(_line([r["action_id"], r["account_id"], r["owner"], r["playbook"], f"{r['expected_value']:,.0f}",
                     r["due_on"], r["title"]], widths))
    return 0


def _alerts_list(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from actions.summary import alert_counts
    from csops.opdb.models import Alert

    with _session(settings) as session:
        query = select(Alert).order_by(Alert.id)
        if not args.all:
            query = query.where(Alert.status != "closed")
        if args.owner:
            query = query.where(Alert.owner == args.owner)
        alerts = session.scalars(query).all()
        counts = alert_counts(session)
    widths = [5, 10, 10, 9, 12, 8, 26, 20]
    print(_line(["id", "account", "kind", "severity", "status", "delivery", "playbook", "owner"], widths))
    for a in alerts:
        print(_line([a.id, a.account_id, a.kind, a.severity, a.status, a.delivery, a.playbook, a.owner], widths))
    print(f"{len(alerts)} alert(s); raised {counts['raised']}, held {counts['held']}, in digests {counts['digest']}")
    return 0


def _alerts_show(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from actions.lifecycle import LifecycleError, get_alert
    from csops.opdb.models import AlertEvent, Plan

    with _session(settings) as session:
        try:
            alert = get_alert(session, args.alert_id)
        except LifecycleError as error:
            return _fail(str(error))
        print(f"alert #{alert.id}  {alert.severity} {alert.kind} on {alert.account_id}  status {alert.status}"
              f"  owner {alert.owner}  data as of {alert.as_of_date}  delivery {alert.delivery or '-'}")
        plan = session.get(Plan, alert.plan_id) if alert.plan_id else None
        if plan:
            print(f"plan #{plan.id} {plan.kind} ({plan.playbook}) {plan.status}"
                  + (" needs approval" if plan.needs_approval and plan.status == "pending" else "")
                  + (f"; decided by {plan.decided_by}: {plan.reason or ''}" if plan.decided_by else "")
                  + (f"; expires {plan.expires_on}" if plan.status == "pending" and plan.expires_on else ""))
            print(f"  {plan.evidence.get('action')}")
        print("evidence:")
        for name, value in sorted((alert.evidence.get("signals") or {}).items()):
            print(f"  {name}: {value}")
        print("lifecycle:")
        for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)):
            print(f"  {e.at:%Y-%m-%d %H:%M}  {e.from_status or '-'} -> {e.to_status}  by {e.by}"
                  + (f": {e.note}" if e.note else ""))
    return 0


def _decide(settings: Settings, decide) -> int:
    from actions.lifecycle import LifecycleError

    with _session(settings) as session:
        try:
            outcome = decide(session)
        except LifecycleError as error:
            return _fail(str(error))
        session.commit()
    print(outcome.message)
    return 0


def _alerts_ack(args: argparse.Namespace, settings: Settings) -> int:
    from actions.lifecycle import acknowledge

    return _decide(settings, lambda session: acknowledge(session, args.alert_id, args.by, args.note))


def _alerts_approve(args: argparse.Namespace, settings: Settings) -> int:
    from actions.lifecycle import approve

    return _decide(settings, lambda session: approve(session, args.alert_id, args.by, args.note))


def _alerts_reject(args: argparse.Namespace, settings: Settings) -> int:
    from actions.lifecycle import reject

    return _decide(settings, lambda session: reject(session, args.alert_id, args.by, args.reason))


def _eval_command(args: argparse.Namespace, settings: Settings) -> int:
    from lab.agent_eval import main as eval_main

    return eval_main(args, settings)
