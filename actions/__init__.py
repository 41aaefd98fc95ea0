"""The account agent: per-account state and the phase router, playbooks, the next-best-action queue, risk alerts
and human approval. Plain Python over the warehouse and the operational database; Dagster wires it.

    signals.py    the signal catalogue (marts and ml.*_scores, point in time) and the evidence check
    playbook.py   playbooks/*.yaml validated into dataclasses      policy.py  policy.yaml
    tick.py       one tick: the phase router and the account state with its history
    alerts.py     raise, escalate, hold, notify within budget     lifecycle.py  approve, reject, acknowledge, expire
    queue.py      expected value, capacity                        holdout.py    the seeded draw
    postmortem.py root cause of a churn                           lift.py       lift per playbook
    publish.py    tables for the warehouse and the gates' verdicts summary.py   plain rows for the demo and the CLI
"""
