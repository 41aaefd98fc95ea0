"""The account agent: per-account state and the phase router, playbooks, the next-best-action queue, risk alerts
and human approval. Plain Python over the warehouse and the operational database; Dagster wires it."""
