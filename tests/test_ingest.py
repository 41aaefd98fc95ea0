"""Ingest: landing batches -> raw tables, quarantine, ledger, deduplication, idempotence, reconciliation."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from csops import contract
from csops.ingest import MissingRequiredSourceError, batches_loaded_by_run, ingest_source
from csops.quality.raw_expectations import raw_sample_query, validate_raw
from csops.quality.reconciliation import reconcile

ACCOUNT_HEADER = "account_id,account_name,segment,industry,region,csm_owner,created_at"
CONTRACT_HEADER = "contract_id,account_id,product,start_date,end_date,arr,licensed_seats,currency"
EVENT_HEADER = "event_id,account_id,user_id,event_type,feature,occurred_at,quantity"


def write_batch(landing: Path, source: str, name: str, lines: list[str], mtime: float | None = None) -> Path:
    """Write a CSV batch; `mtime` orders batches the way the contract says (modification time, then name)."""
    folder = landing / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    text = "\n".join(lines) + "\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    write_batch(
        root,
        "accounts",
        "2025-01.csv",
        [
            ACCOUNT_HEADER + ",crm_tier",
            "A1,Acme,Enterprise,software,NA,csm_ana,2024-01-01T09:00:00+02:00,gold",
            "A2,Beta,smb,retail,EMEA,csm_bo,2024-02-01,silver",
        ],
        mtime=1_700_000_000,
    )
    write_batch(
        root,
        "contracts",
        "2025-01.csv",
        [CONTRACT_HEADER, "C1,A1,core,2024-01-01,2025-01-01,12000.50,10.0,", "C2,A2,core,2024-02-01,2025-02-01,3000,,eur"],
        mtime=1_700_000_000,
    )
    write_batch(
        root,
        "usage_events",
        "2025-01.csv",
        [EVENT_HEADER, "E1,A1,u1,login,,2024-03-01T10:00:00Z,", "E2,A1,u2,report_exported,reports,2024-03-01T11:00:00Z,2"],
        mtime=1_700_000_000,
    )
    return root


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def ingest_all(con, landing: Path) -> dict[str, list]:
    return {source: ingest_source(con, landing, source) for source in contract.SOURCE_NAMES}


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_valid_batches_load_typed_and_normalized(con, landing):
    ingest_all(con, landing)
    acme = con.execute(
        "SELECT segment, created_at, _extra, _batch_file, _row_number FROM raw.accounts WHERE account_id = 'A1'"
    ).fetchone()
    # Enum case is normalized, the +02:00 offset is converted to UTC, unlisted columns are kept as JSON.
    assert acme[0] == "enterprise"
    assert acme[1] == datetime(2024, 1, 1, 7, 0)
    assert json.loads(acme[2]) == {"crm_tier": "gold"}
    assert acme[3:] == ("2025-01.csv", 1)
    assert con.execute("SELECT created_at FROM raw.accounts WHERE account_id = 'A2'").fetchone()[0] == datetime(2024, 2, 1)
    contracts = dict(con.execute("SELECT contract_id, licensed_seats FROM raw.contracts").fetchall())
    assert contracts == {"C1": 10, "C2": None}
    assert con.execute("SELECT currency FROM raw.contracts WHERE contract_id = 'C1'").fetchone()[0] == "USD"
    quantities = dict(con.execute("SELECT event_id, quantity FROM raw.usage_events").fetchall())
    assert quantities == {"E1": 1.0, "E2": 2.0}


def test_bad_rows_are_quarantined_with_reason_and_original_values(con, landing):
    write_batch(
        landing,
        "contracts",
        "2025-02.csv",
        [
            CONTRACT_HEADER,
            "C3,A1,addon,2024-06-01,2025-06-01,500,5,USD",
            "C4,A404,core,2024-06-01,2025-06-01,500,5,USD",
            "C5,A1,core,2024-06-01,2024-05-01,-1,2.5,USD",
            "C6,,core,2024/06/01,2025-06-01,abc,5,USD",
        ],
    )
    ingest_all(con, landing)
    assert count(con, "raw.contracts") == 3
    reasons = dict(con.execute("SELECT json_extract_string(_row, '$.contract_id'), _reason FROM raw.contracts_quarantine").fetchall())
    assert reasons["C4"] == "unknown account_id: A404"
    assert set(reasons["C5"].split("; ")) == {
        "arr below 0",
        "invalid integer in licensed_seats: 2.5",
        "end_date is not after start_date",
    }
    assert "missing required value: account_id" in reasons["C6"]
    assert "invalid date in start_date: 2024/06/01" in reasons["C6"]
    assert "invalid money in arr: abc" in reasons["C6"]
    original = json.loads(con.execute("SELECT _row FROM raw.contracts_quarantine WHERE _reason LIKE 'unknown%'").fetchone()[0])
    assert original["arr"] == "500" and original["account_id"] == "A404"


def test_missing_column_quarantines_the_whole_batch(con, landing):
    write_batch(
        landing,
        "usage_events",
        "2025-02-export-b.csv",
        ["event_id,account_id,user_id,event_type,feature,event_time,quantity", "E9,A1,u1,login,,2024-03-02T10:00:00Z,1"],
    )
    results = ingest_all(con, landing)["usage_events"]
    broken = next(r for r in results if r.batch_file == "2025-02-export-b.csv")
    assert broken.status == "quarantined"
    assert broken.reason == "schema error: missing column(s) occurred_at"
    assert (broken.rows_read, broken.rows_loaded, broken.rows_quarantined) == (1, 0, 1)
    assert con.execute("SELECT count(*) FROM raw.usage_events WHERE event_id = 'E9'").fetchone()[0] == 0
    kept = json.loads(con.execute("SELECT _row FROM raw.usage_events_quarantine").fetchone()[0])
    assert kept["event_time"] == "2024-03-02T10:00:00Z"


def test_fact_duplicates_are_dropped_and_counted_entities_keep_versions(con, landing):
    ingest_all(con, landing)
    write_batch(
        landing,
        "usage_events",
        "2025-02.csv",
        [EVENT_HEADER, "E1,A1,u1,login,,2024-03-01T10:00:00Z,", "E3,A2,u9,login,,2024-03-05T10:00:00Z,", "E3,A2,u9,login,,2024-03-05T10:00:00Z,"],
    )
    write_batch(landing, "contracts", "2025-02.csv", [CONTRACT_HEADER, "C1,A1,core,2024-01-01,2025-01-01,15000,12,USD"])
    results = ingest_all(con, landing)
    events = results["usage_events"][0]
    assert (events.rows_read, events.rows_loaded, events.rows_deduplicated) == (3, 1, 2)
    assert sorted(r[0] for r in con.execute("SELECT event_id FROM raw.usage_events").fetchall()) == ["E1", "E2", "E3"]
    # An entity row arriving again is a new version, not a duplicate: staging picks the newest.
    assert count(con, "raw.contracts") == 3
    assert results["contracts"][0].rows_deduplicated == 0


def test_rerun_is_idempotent_and_late_files_load(con, landing):
    ingest_all(con, landing)
    snapshot = {t: count(con, t) for t in ("raw.accounts", "raw.usage_events", "raw.ingest_ledger")}
    assert all(results == [] for results in ingest_all(con, landing).values())
    assert {t: count(con, t) for t in snapshot} == snapshot
    # A batch that lands later (even with an older timestamp inside) loads on the next run.
    write_batch(landing, "usage_events", "2025-03.csv.gz", [EVENT_HEADER, "E7,A2,u3,login,,2024-02-01T10:00:00Z,1"])
    results = ingest_all(con, landing)["usage_events"]
    assert [(r.batch_file, r.rows_loaded) for r in results] == [("2025-03.csv.gz", 1)]
    assert count(con, "raw.usage_events") == snapshot["raw.usage_events"] + 1


def test_optional_sources_may_be_absent_required_ones_may_not(con, landing, tmp_path):
    ingest_all(con, landing)
    for source in ("handoffs", "contacts", "support_tickets", "survey_responses", "activities"):
        assert count(con, f"raw.{source}") == 0
    empty = tmp_path / "empty_landing"
    (empty / "accounts").mkdir(parents=True)
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    with pytest.raises(MissingRequiredSourceError, match="required source 'accounts'"):
        ingest_source(other, empty, "accounts")


def test_parquet_and_unreadable_batches(con, landing):
    pd.DataFrame(
        {"event_id": ["P1"], "account_id": ["A2"], "user_id": ["u5"], "event_type": ["login"], "feature": [None],
         "occurred_at": ["2024-04-01T08:00:00Z"], "quantity": [3]}
    ).to_parquet(landing / "usage_events" / "2025-04.parquet")
    (landing / "usage_events" / "2025-05.parquet").write_bytes(b"not a parquet file")
    results = {r.batch_file: r for r in ingest_all(con, landing)["usage_events"]}
    assert results["2025-04.parquet"].rows_loaded == 1
    assert results["2025-05.parquet"].status == "quarantined"
    assert results["2025-05.parquet"].reason.startswith("unreadable file")
    assert con.execute("SELECT quantity FROM raw.usage_events WHERE event_id = 'P1'").fetchone()[0] == 3.0


def test_reconciliation_holds_and_detects_lost_rows(con, landing):
    write_batch(landing, "usage_events", "2025-02.csv", [EVENT_HEADER, "E1,A1,u1,login,,2024-03-01T10:00:00Z,", "E5,A1,u1,login,,never,"])
    ingest_all(con, landing)
    for source in contract.SOURCE_NAMES:
        assert reconcile(con, source).passed, source
    summary = reconcile(con, "usage_events")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined, summary.rows_deduplicated) == (4, 2, 1, 1)
    con.execute("DELETE FROM raw.usage_events WHERE event_id = 'E2'")
    broken = reconcile(con, "usage_events")
    assert not broken.passed
    assert "holds 1 rows but the ledger says 2" in broken.problems[0]


def test_expectation_suite_passes_on_ingested_data_and_catches_bypassed_rows(con, landing):
    ingest_all(con, landing)
    assert validate_raw("accounts", con.execute(raw_sample_query("accounts")).df()).success
    # A row written around ingest (a manual fix, a bug) must not pass the gate.
    con.execute(
        "INSERT INTO raw.accounts (account_id, account_name, segment, created_at, _batch_file, _row_number) "
        "VALUES ('A3', 'Gamma', 'strategic', NULL, 'manual', 1)"
    )
    result = validate_raw("accounts", con.execute(raw_sample_query("accounts")).df())
    assert not result.success
    failed = {(f.expectation, f.column) for f in result.failures}
    assert ("expect_column_values_to_be_in_set", "segment") in failed
    assert ("expect_column_values_to_not_be_null", "created_at") in failed


def test_run_check_validates_the_batches_that_run_loaded(con, landing):
    for source in contract.SOURCE_NAMES:
        ingest_source(con, landing, source, run_id="first")
    write_batch(landing, "usage_events", "2025-02.csv", [EVENT_HEADER, "E7,A1,u1,login,,2024-03-01T10:00:00Z,"])
    ingest_source(con, landing, "usage_events", run_id="second")
    assert batches_loaded_by_run(con, "usage_events", "second") == ["2025-02.csv"]
    assert batches_loaded_by_run(con, "accounts", "second") == []
    second = con.execute(raw_sample_query("usage_events", ["2025-02.csv"])).df()
    assert second["event_id"].tolist() == ["E7"]
    assert len(con.execute(raw_sample_query("usage_events")).df()) == count(con, "raw.usage_events") > 1


def test_timestamps_ending_in_z_parse_as_the_time_zone_aware_cast_does():
    from csops.ingest.validation import parsed_value

    occurred_at = next(c for c in contract.SOURCES["usage_events"].columns if c.name == "occurred_at")
    texts = ["2024-03-01T10:00:00Z", "2024-03-01T10:00:00.123456Z", "2024-03-01 23:59:59Z", "2024-02-30T10:00:00Z",
             "nonsenseZ", "Z", "2024-03-01T10:00:00+02:00", "2024-03-01T10:00:00", " 2024-03-01T10:00:00Z "]
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        rows = db.execute(
            f"SELECT {parsed_value(occurred_at)}, CAST(TRY_CAST(NULLIF(TRIM(occurred_at), '') AS TIMESTAMPTZ) AS TIMESTAMP) "
            "FROM (SELECT UNNEST(?::VARCHAR[]) AS occurred_at)", [texts]).fetchall()
    assert [fast for fast, _ in rows] == [aware for _, aware in rows]
    assert rows[0][0] == datetime(2024, 3, 1, 10) and rows[6][0] == datetime(2024, 3, 1, 8)


def test_snowflake_publish_groups_loads_in_order_up_to_the_row_limit():
    from csops.ingest.snowflake_publish import Load, copy_groups

    loads = [Load(f"b{i}", f"sha{i}", datetime(2026, 1, 1 + i), rows) for i, rows in enumerate([3, 4, 10, 1, 1])]
    groups = copy_groups(loads, rows_per_copy=7)
    assert [[load.batch_file for load in group] for group in groups] == [["b0", "b1"], ["b2"], ["b3", "b4"]]
    assert copy_groups([], rows_per_copy=7) == []


def test_every_raw_column_type_and_the_ml_tables_types_have_a_snowflake_type():
    from csops.ingest.tables import raw_columns
    from csops.snowflake_io import snowflake_type

    kinds = {kind for source in contract.SOURCE_NAMES for kind in raw_columns(source).values()}
    assert {snowflake_type(kind) for kind in kinds} == {
        "varchar", "timestamp_ntz", "date", "number(18,2)", "number(38,0)", "float"}
    assert snowflake_type("DECIMAL(38,4)") == "number(38,4)" and snowflake_type("BOOLEAN") == "boolean"
    assert snowflake_type("VARCHAR[]") == "array" and snowflake_type("TIMESTAMP_S") == "timestamp_ntz"
    with pytest.raises(ValueError, match="no Snowflake type for DuckDB type"):
        snowflake_type("INTERVAL")
