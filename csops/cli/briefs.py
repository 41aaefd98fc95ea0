"""Brief commands: `csops eval-briefs` scores the configured brief writer on adversarial fact sheets (lab)."""

from __future__ import annotations

import argparse
import json

from csops.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser("eval-briefs", help="evaluate the brief writer: grounding, invented risks, unsafe drafts, "
                                                 "prompt injection, personal data (docs/briefs.md)")
    ev.add_argument("--writer", choices=["auto", "offline", "claude"], default=None,
                    help="writer to evaluate (default: the policy's, auto = Claude when ANTHROPIC_API_KEY is set)")
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.set_defaults(handler=_eval_command)


def _eval_command(args: argparse.Namespace, _settings: Settings) -> int:
    from delivery.briefs.policy import BriefPolicy
    from delivery.briefs.service import make_writer
    from lab.briefs_eval import evaluate, format_report

    policy = BriefPolicy.load()
    if args.writer:
        policy = policy.model_copy(update={"writer": args.writer})
    try:
        writer = make_writer(policy)
    except ValueError as err:
        print(f"eval-briefs: {err}")
        return 2
    report = evaluate(writer, policy)
    print(json.dumps({**report.figures(), "failures": report.failures}, indent=1) if args.json
          else format_report(report))
    return 0 if report.passed else 1
