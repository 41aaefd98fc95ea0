"""QBR decks, value reports and the portfolio report on a generated, scored warehouse (`scored_warehouse`): every
chart of the decks read back with python-pptx and checked against the marts (queried here their own way), the PDF's
pages, the missing-input statements, the optional agent/brief tables, the CLI and the Dagster assets."""

from __future__ import annotations

import json
import shutil
import statistics
from datetime import date
import subprocess
import sys

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from pptx import Presentation
from pypdf import PdfReader

from delivery.reports import account, sources
from delivery.reports.html import expected_pdf_pages
from delivery.reports.write import FORMATS, write_account, write_portfolio


@pytest.fixture(scope="module")
def warehouse(scored_warehouse, tmp_path_factory):
    db, models = scored_warehouse
    copy = tmp_path_factory.mktemp("reports") / "warehouse.duckdb"
    shutil.copy(db, copy)
    return copy, models


@pytest.fixture(scope="module")
def picked(warehouse) -> dict[str, str]:
    """A new account with a handoff naming use cases and a first-value date, and an older account renewing soon."""
    with duckdb.connect(str(warehouse[0]), read_only=True) as con:
        new = con.execute(
            "SELECT l.account_id FROM marts.fct_account_lifecycle l JOIN marts.fct_handoff_audit h USING (account_id) "
            "WHERE l.days_to_value IS NOT NULL AND h.has_use_cases ORDER BY 1 LIMIT 1").fetchone()[0]
        old = con.execute("SELECT account_id FROM marts.dim_accounts WHERE NOT is_new_account "
                          "AND days_to_renewal BETWEEN 0 AND 120 ORDER BY 1 LIMIT 1").fetchone()[0]
    return {"new": new, "old": old}


@pytest.fixture(scope="module")
def written(warehouse, picked, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    with duckdb.connect(str(warehouse[0]), read_only=True) as con:
        accounts = {kind: write_account(con, aid, out) for kind, aid in picked.items()}
        portfolio = write_portfolio(con, out, warehouse[1])
    return accounts, portfolio


def deck_charts(path) -> dict[str, tuple[list[str], dict[str, list]]]:
    """Chart title -> (categories, {series name: values}) of every native chart in the deck."""
    charts = {}
    for slide in Presentation(str(path)).slides:
        for shape in slide.shapes:
            if shape.has_chart:
                chart = shape.chart
                plot = chart.plots[0]
                charts[chart.chart_title.text_frame.text] = (
                    [str(c) for c in plot.categories], {s.name: list(s.values) for s in plot.series})
    return charts


def close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(float(a) - float(b)) < 1e-6)


def month_end(con, table: str, columns: str, account_id: str):
    """The last row of each month of the account, by a window function (the report uses arg_max)."""
    return con.execute(
        f"SELECT strftime(date_day, '%Y-%m'), {columns} FROM (SELECT *, row_number() OVER (PARTITION BY "
        f"date_trunc('month', date_day) ORDER BY date_day DESC) AS n FROM {table} WHERE account_id = ?) "
        "WHERE n = 1 ORDER BY date_day", [account_id]).fetchall()


def test_every_deck_chart_is_native_and_holds_the_marts_figures(warehouse, picked, written):
    accounts, _ = written
    with duckdb.connect(str(warehouse[0]), read_only=True) as con:
        for kind, aid in picked.items():
            report = accounts[kind].report
            charts = deck_charts(accounts[kind].files["pptx"])
            assert len(charts) == len(report.charts()) >= 3  # every chart of the report is a native deck chart
            for categories, series in charts.values():
                assert categories and any(v is not None for values in series.values() for v in values)

            categories, series = charts["Active users (30 days) and licensed seats, month-end"]
            expected = month_end(con, "marts.fct_account_daily", "active_users_30d, licensed_seats", aid)
            assert categories == [r[0] for r in expected]
            assert series["Active users (30 days)"] == [float(r[1]) for r in expected]
            assert all(close(a, r[2]) for a, r in zip(series["Licensed seats"], expected, strict=True))

            categories, series = charts["Health score (0-100), weekly, with lifecycle phase changes"]
            scores = con.execute("SELECT date_day::VARCHAR, health_score FROM marts.fct_account_health "
                                 "WHERE account_id = ? ORDER BY date_day DESC", [aid]).fetchall()[::7][::-1]
            assert categories == [r[0] for r in scores]
            assert series["Health score"] == [float(r[1]) for r in scores]
            starts = [r[0] for r in con.execute("SELECT valid_from_date FROM marts.fct_account_phase_history "
                                                "WHERE account_id = ?", [aid]).fetchall()]
            for category, value in zip(categories, series.get("Phase change", []), strict=False):
                if value is not None:  # a phase began in the 7 days up to this point
                    assert any(0 <= (date.fromisoformat(category) - start).days < 7 for start in starts)

            waste = month_end(con, "marts.fct_lean_waste", "unused_seat_cost_per_year", aid)
            _, series = charts[next(t for t in charts if t.startswith("Yearly cost of unused seats"))]
            assert all(close(a, r[1]) for a, r in zip(series["Unused seat cost per year"], waste, strict=True))

        # the new account: time to value against the medians, and use-case usage against the handoff
        charts = deck_charts(accounts["new"].files["pptx"])
        aid = picked["new"]
        values = [r[0] for r in con.execute("SELECT l.days_to_value FROM marts.fct_account_lifecycle l "
                                            "WHERE days_to_value IS NOT NULL").fetchall()]
        own = con.execute("SELECT days_to_value FROM marts.fct_account_lifecycle WHERE account_id = ?",
                          [aid]).fetchone()[0]
        _, series = charts["Days from first contract to first value"]
        assert series["Days to first value"][0] == own
        assert series["Days to first value"][2] == statistics.median(values)
        categories, series = charts["Events in the last 30 days by feature category: named at handoff vs others"]
        latest = con.execute("SELECT * FROM marts.fct_account_daily WHERE account_id = ? ORDER BY date_day DESC "
                             "LIMIT 1", [aid]).df().iloc[0]
        for i, category in enumerate(categories):
            shown = [v for v in (series["Named at handoff"][i], series["Not named"][i]) if v is not None]
            assert shown == [float(latest[f"events_30d_{category}"])]
        texts = con.execute("SELECT use_cases, success_criteria FROM staging.stg_handoffs WHERE account_id = ?",
                            [aid]).fetchone()
        named = [c for c, v in zip(categories, series["Named at handoff"], strict=True) if v is not None]
        assert named == [c for c in account.CATEGORIES if c in account.named_categories(*texts)]


def test_speaker_notes_cite_table_and_column_of_the_facts(written):
    accounts, _ = written
    deck = Presentation(str(accounts["new"].files["pptx"]))
    notes = [slide.notes_slide.notes_text_frame.text for slide in list(deck.slides)[1:]]
    assert len(notes) == len(accounts["new"].report.sections)
    for text in notes:
        assert text.startswith("Sources for") and ("marts." in text or "ml." in text)
    facts = [f for section in accounts["new"].report.sections for f in section.facts]
    assert any(f.source == "marts.dim_accounts.active_arr_amount" for f in facts)
    for fact in facts:  # "label = value [schema.table.column]"
        assert any(f"- {fact.cite()}" in text for text in notes)


def test_roi_names_its_missing_baseline_instead_of_inventing_one(written):
    accounts, _ = written
    for written_account in accounts.values():
        roi = next(s for s in written_account.report.sections if s.key == "roi")
        assert roi.note.startswith("ROI not computed. Missing input: a quantified baseline")
        assert roi.chart is None
    old_outcomes = next(s for s in accounts["old"].report.sections if s.key == "outcomes")
    assert old_outcomes.chart is None and "no handoff captured" in old_outcomes.note


def test_portfolio_deck_charts_hold_the_marts_and_registry_figures(warehouse, written):
    _, portfolio = written
    charts = deck_charts(portfolio.files["pptx"])
    assert len(charts) == len(portfolio.report.charts())
    with duckdb.connect(str(warehouse[0]), read_only=True) as con:
        rows = con.execute("SELECT nrr, grr FROM marts.fct_nrr_monthly WHERE grouping_type = 'overall' "
                           "ORDER BY month_start_date").fetchall()
        _, series = charts["NRR and GRR by month (%)"]
        assert all(close(a, None if r[0] is None else round(100 * r[0], 2))
                   for a, r in zip(series["NRR (monthly)"], rows, strict=True))
        assert all(close(a, None if r[1] is None else round(100 * r[1], 2))
                   for a, r in zip(series["GRR (monthly)"], rows, strict=True))
        categories, series = charts["Active accounts by health band and segment"]
        for i, segment in enumerate(categories):
            for band in ("green", "yellow", "red"):
                count = con.execute("SELECT count(*) FROM marts.dim_accounts WHERE coalesce(segment, 'unknown') = ? "
                                    "AND latest_health_band = ? AND active_arr_amount > 0",
                                    [segment, band]).fetchone()[0]
                assert series[band.capitalize()][i] == count
        top = con.execute("SELECT unused_seat_cost_per_year FROM marts.fct_lean_waste WHERE date_day = "
                          "(SELECT max(date_day) FROM marts.fct_lean_waste) ORDER BY 1 DESC LIMIT 10").fetchall()
        _, series = charts["Yearly cost of unused seats, top accounts"]
        assert all(close(a, r[0]) for a, r in zip(series["Unused seat cost per year"], top, strict=True))
        _, series = charts["New accounts whose handoff lacks each required field"]
        missing = con.execute("SELECT count(*) FILTER (WHERE NOT has_executive_sponsor), "
                              "count(*) FILTER (WHERE NOT has_pain_points) FROM marts.fct_handoff_audit").fetchone()
        assert (series["Accounts missing the field"][0], series["Accounts missing the field"][-1]) == missing
    # the registry has a churn champion on this set: its metrics next to the baselines, and a calibration plot
    models = next(s for s in portfolio.report.sections if s.key == "models")
    assert [row[0] for row in models.table.rows][:2] == ["ROC-AUC", "PR-AUC"]
    categories, series = charts["Calibration out of time: observed churn rate vs predicted probability"]
    assert len(categories) == 10 and all(0 <= v <= 1 for v in series["Observed rate"])
    readiness = next(s for s in portfolio.report.sections if s.key == "readiness")
    verdicts = {row[0]: row[3] for row in readiness.table.rows}
    assert verdicts["Handoff data completeness"] in {"ready for more automation", "needs work first"}
    assert verdicts["Risks with a playbook"] == "unknown: input missing"  # no agent tables in this warehouse


def test_pdf_has_a_header_page_and_one_page_per_section(written):
    accounts, portfolio = written
    for item in [*accounts.values(), portfolio]:
        pages = PdfReader(str(item.files["pdf"])).pages
        assert len(pages) == expected_pdf_pages(item.report)
        assert item.report.title.split(":")[0] in pages[0].extract_text()
        for page, section in zip(pages[1:], item.report.sections, strict=True):
            assert page.extract_text().replace("ﬁ", "fi").replace("ﬀ", "ff").startswith(section.title)


def test_reports_say_which_optional_inputs_are_missing_and_read_them_when_present(warehouse, picked, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse[0], db)
    with duckdb.connect(str(db)) as con:
        before = account.build_account_report(con, picked["new"])
        assert any(sources.TABLES["briefs"] in note for note in before.data_notes)
        con.execute("CREATE SCHEMA agent; CREATE SCHEMA delivery")
        con.execute("CREATE TABLE agent.queue AS SELECT * FROM (VALUES (?, 'csm_a', 'call the sponsor', "
                    "DATE '2026-07-01'), ('X2', 'csm_b', 'send the plan', DATE '2026-07-02')) "
                    "t(account_id, owner, title, due_on)", [picked["new"]])
        con.execute("CREATE TABLE agent.alerts AS SELECT * FROM (VALUES ('X1', 'csm_a', 'save_play'), "
                    "('X2', 'csm_a', NULL), ('X3', 'csm_b', 'adoption')) t(account_id, owner, playbook)")
        con.execute("CREATE TABLE agent.playbook_lift AS SELECT * FROM (VALUES ('save_play', 'renewed', 0.12, 0.03, "
                    "0.21)) t(playbook, metric, lift, ci_low, ci_high)")
        # as the briefs step stores them: the flagged renewal brief is skipped, the success plan is used
        brief = {"title": "Success plan", "sections": [
            {"heading": "Goals", "facts": [{"text": "Two goals were agreed.", "fact_ids": ["f1"]}],
             "hypotheses": [{"text": "A guess, not for the customer.", "fact_ids": ["f1"]}]},
            {"heading": "Next", "facts": [{"text": "Not the summary.", "fact_ids": ["f2"]}], "hypotheses": []}]}
        con.execute("CREATE TABLE delivery.briefs (account_id VARCHAR, kind VARCHAR, brief_json VARCHAR, "
                    "flagged BOOLEAN, generated_at VARCHAR)")
        con.executemany("INSERT INTO delivery.briefs VALUES (?, ?, ?, ?, '2026-07-01T00:00:00+00:00')", [
            [picked["new"], "renewal_brief", json.dumps({"title": "Flagged", "sections": []}), True],
            [picked["new"], "success_plan", json.dumps(brief), False],
            [picked["new"], "customer_email", json.dumps({"title": "Email", "sections": []}), False]])
        after = account.build_account_report(con, picked["new"])
        portfolio = write_portfolio(con, tmp_path, warehouse[1], ("pptx",))
    summary = after.sections[0]
    assert summary.bullets[0] == "Success plan: Two goals were agreed."
    assert any(f.source == "delivery.briefs.brief_json" and "success_plan" in f.label for f in summary.facts)
    assert any("call the sponsor" in b for b in after.sections[-1].bullets)
    assert not any("agent" in n or "brief" in n for n in after.data_notes)
    categories, series = deck_charts(portfolio.files["pptx"])["Queued actions and alerts per owner"]
    assert categories == ["csm_a", "csm_b"] and series == {"Queued": [1, 1], "Alerts": [2, 1]}
    agent = next(s for s in portfolio.report.sections if s.key == "agent")
    assert agent.table.rows == [["save_play", "renewed", "+0.120", "[+0.030, +0.210]"]]
    readiness = {r[0]: r for r in next(s for s in portfolio.report.sections if s.key == "readiness").table.rows}
    assert readiness["Risks with a playbook"][1] == "67%" and readiness["Most alerts held by one owner"][1] == "2"


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-c", "import sys; from csops.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_cli_writes_one_format_and_fails_clearly_on_unknown_accounts_and_a_missing_warehouse(
        warehouse, picked, tmp_path, monkeypatch):
    import os

    env = {**os.environ, "CSOPS_DUCKDB_PATH": str(warehouse[0]), "CSOPS_REPORTS_DIR": str(tmp_path / "reports"),
           "CSOPS_MODELS_DIR": str(warehouse[1]), "CSOPS_DATA_DIR": str(tmp_path)}
    done = run_cli("report", picked["old"], "--format", "pptx", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "reports" / "accounts" / f"{picked['old']}.pptx").exists()
    assert not (tmp_path / "reports" / "accounts" / f"{picked['old']}.html").exists()
    done = run_cli("report", "NO_SUCH_ACCOUNT", env=env)
    assert done.returncode == 1 and done.stderr.strip() == \
        "csops report: unknown account 'NO_SUCH_ACCOUNT': not in marts.dim_accounts"
    done = run_cli("report", "--portfolio", env={**env, "CSOPS_DUCKDB_PATH": str(tmp_path / "none.duckdb")})
    assert done.returncode == 1 and "no warehouse at" in done.stderr and "csops demo" in done.stderr


def test_assets_write_reports_for_accounts_renewing_within_120_days_and_the_portfolio(
        warehouse, tmp_path, monkeypatch):
    from orchestration.defs.reports import assets
    from orchestration.lib.warehouse import Warehouse

    db = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse[0], db)
    monkeypatch.setenv("CSOPS_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CSOPS_MODELS_DIR", str(warehouse[1]))
    with duckdb.connect(str(db)) as con:  # a few accounts keep the test short: the rest is the same code
        keep = [r[0] for r in con.execute("SELECT account_id FROM marts.dim_accounts WHERE days_to_renewal "
                                          "BETWEEN 0 AND 120 ORDER BY 1 LIMIT 2").fetchall()]
        con.execute("UPDATE marts.dim_accounts SET days_to_renewal = 400 WHERE account_id NOT IN (SELECT unnest(?))",
                    [keep])
    result = dg.materialize([assets.value_reports, assets.portfolio_report],
                            resources={"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse()})
    assert result.success
    files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "reports" / "accounts").iterdir()
             if not p.name.startswith(".")}
    assert set(files) == {f"{aid}.{fmt}" for aid in keep for fmt in FORMATS}
    assert {f"portfolio.{fmt}" for fmt in FORMATS} <= {p.name for p in (tmp_path / "reports").iterdir()}

    def value_metadata(run):
        return next(e.materialization.metadata for e in run.get_asset_materialization_events()
                    if e.asset_key == dg.AssetKey(["reports", "value_reports"]))

    assert value_metadata(result)["accounts"].value == 2 and value_metadata(result)["not_written"].value == []
    assert value_metadata(result)["written"].value == 2
    # Nothing changed: the second run redraws nothing and leaves the files as they were.
    again = dg.materialize([assets.value_reports],
                           resources={"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse()})
    assert value_metadata(again)["unchanged"].value == 2 and value_metadata(again)["written"].value == 0
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "reports" / "accounts").iterdir()
            if not p.name.startswith(".")} == files
    # A changed figure redraws that account's report only.
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE marts.dim_accounts SET active_arr_amount = active_arr_amount + 1000 WHERE account_id = ?",
                    [keep[0]])
    third = dg.materialize([assets.value_reports],
                           resources={"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse()})
    assert value_metadata(third)["written"].value == 1 and value_metadata(third)["unchanged"].value == 1


def test_reports_are_downstream_of_what_they_read_in_the_asset_graph(dbt_manifest):
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    value = graph.get(dg.AssetKey(["reports", "value_reports"]))
    portfolio = graph.get(dg.AssetKey(["reports", "portfolio_report"]))
    assert value.group_name == portfolio.group_name == "reports"
    assert {dg.AssetKey(["marts", "fct_account_health"]), dg.AssetKey(["ml", "churn_scores"])} <= value.parent_keys
    assert {dg.AssetKey(["marts", "fct_nrr_monthly"]), dg.AssetKey(["ml", "churn_model"])} <= portfolio.parent_keys
    # Hook for the agent and the briefs: once their assets join the graph under the keys of the tables the reports
    # read, they must be upstream of both reports (orchestration/defs/reports/assets.py AGENT_AND_BRIEF_KEYS).
    optional = {dg.AssetKey(table.split(".")) for table in sources.TABLES.values()}
    present = optional & set(graph.get_all_asset_keys())
    assert present <= value.parent_keys and present <= portfolio.parent_keys
