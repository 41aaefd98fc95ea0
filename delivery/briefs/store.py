"""Where briefs live: the warehouse table `delivery.briefs` (one row per account and kind, the latest), and the audit
log `<data dir>/briefs/audit.jsonl`. `refresh_briefs` is the whole step the Dagster asset runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from csops.llm.privacy import Redactor
from delivery.briefs.facts import AgentInputs, build_fact_sheets, known_names
from delivery.briefs.policy import BriefPolicy
from delivery.briefs.service import TABLE, AuditLog, RunResult, Writer, needed_kinds, write_briefs

COLUMNS = {
    "account_id": "VARCHAR", "kind": "VARCHAR", "facts_hash": "VARCHAR", "cache_key": "VARCHAR", "writer": "VARCHAR",
    "model": "VARCHAR", "prompt_version": "VARCHAR", "facts_as_of": "VARCHAR", "flagged": "BOOLEAN",
    "flag_reasons": "VARCHAR", "brief_json": "VARCHAR", "markdown": "VARCHAR", "verdicts": "VARCHAR",
    "input_tokens": "BIGINT", "output_tokens": "BIGINT", "cost_usd": "DOUBLE", "generated_at": "VARCHAR",
}


def ensure_table(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS delivery")
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns}, PRIMARY KEY (account_id, kind))")


def existing_keys(con) -> dict[tuple[str, str], str]:
    ensure_table(con)
    return {(a, k): key for a, k, key in con.execute(f"SELECT account_id, kind, cache_key FROM {TABLE}").fetchall()}


def save(con, result: RunResult, needed: set[tuple[str, str]]) -> None:
    """Upsert the briefs written; drop the rows of briefs no longer needed (the account left the rule)."""
    ensure_table(con)
    if result.briefs:
        frame = pd.DataFrame([b.row() for b in result.briefs], columns=list(COLUMNS))
        con.register("new_briefs", frame)
        con.execute(f"INSERT OR REPLACE INTO {TABLE} SELECT * FROM new_briefs")
        con.unregister("new_briefs")
    stale = [key for key in existing_keys(con) if key not in needed]
    for account_id, kind in stale:
        con.execute(f"DELETE FROM {TABLE} WHERE account_id = ? AND kind = ?", [account_id, kind])


def refresh_briefs(con, writer: Writer, policy: BriefPolicy, data_dir: Path,
                   agent_inputs: dict[str, AgentInputs | dict] | None = None,
                   progress: Callable[[str], None] = lambda _m: None) -> RunResult:
    """Fact sheets of every account, the briefs each needs (service.needed_kinds), written where the sheet changed,
    stored in `delivery.briefs`; the audit log under `data_dir/briefs/`."""
    sheets = build_fact_sheets(con, agent_inputs=agent_inputs)
    jobs = []
    for account_id, sheet in sheets.items():
        kinds = needed_kinds(sheet, policy)
        if kinds:
            redactor = Redactor(known_names(con, account_id))
            jobs += [(sheet, kind, redactor) for kind in kinds]
    progress(f"{len(sheets)} fact sheets, {len(jobs)} briefs needed")
    result = write_briefs(jobs, writer, policy, AuditLog(data_dir / "briefs" / "audit.jsonl"), existing_keys(con),
                          progress)
    save(con, result, {(s.account_id, k) for s, k, _ in jobs})
    return result


def summary(con) -> list[tuple[str, str]]:
    """Rows (label, value) for the demo summary: briefs stored, by kind, flagged."""
    try:
        rows = con.execute(f"SELECT kind, count(*), count(*) FILTER (WHERE flagged), min(writer) FROM {TABLE} "
                           "GROUP BY kind ORDER BY kind").fetchall()
    except Exception as err:  # noqa: BLE001 - no table yet: the briefs step has not run
        if "does not exist" in str(err) or "Catalog" in type(err).__name__:
            return [("briefs", "not written yet")]
        raise
    out = [("briefs written", str(sum(r[1] for r in rows))), ("briefs flagged", str(sum(r[2] for r in rows)))]
    out += [(f"  {kind}", f"{count} ({flagged} flagged, {writer} writer)") for kind, count, flagged, writer in rows]
    return out
