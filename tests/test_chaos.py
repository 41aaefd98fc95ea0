"""Chaos suite: what users do to the embedded default (poison values, bad CSVs, stray files, late data, crashes,
BI readers) must neither stop the pipeline nor lose a row unaccounted. `make chaos` runs this file alone; it also
runs under plain `pytest`."""

from __future__ import annotations

import gzip
import json

import duckdb
import pandas as pd
import pytest

from csops import contract
from csops.ingest import ingest_source
from csops.quality.reconciliation import reconcile
from tests.test_ingest import ACCOUNT_HEADER, CONTRACT_HEADER, EVENT_HEADER, con, landing, write_batch  # noqa: F401

pytestmark = pytest.mark.chaos

TICKET_HEADER = "ticket_id,account_id,contact_id,opened_at,closed_at,priority,category,status,subject,body,csat"


def ingest_all(con, landing):
    return {source: {r.batch_file: r for r in ingest_source(con, landing, source)} for source in contract.SOURCE_NAMES}


def quarantined(con, source: str, batch: str) -> dict[int, str]:
    return dict(con.execute(f"SELECT _row_number, _reason FROM raw.{source}_quarantine WHERE _batch_file = ?",
                            [batch]).fetchall())


def assert_reconciled(con):
    for source in contract.SOURCE_NAMES:
        assert reconcile(con, source).problems == [], source


def test_poison_values_quarantine_their_row_with_file_row_and_column(con, landing):
    write_batch(landing, "support_tickets", "poison.csv", [
        TICKET_HEADER,
        "T1,A1,,2024-03-01T10:00:00Z,,low,,,,,NaN",
        "T2,A1,,2024-03-01T10:00:00Z,,low,,,,,4",
        "T3,A1,,infinity,,low,,,,,1e20",
        "T4,A1,,1899-05-01,,low,,,,,-inf",
    ])
    write_batch(landing, "contracts", "poison.csv", [
        CONTRACT_HEADER, "C7,A1,core,2024-01-01,2025-01-01,100,1e20,USD", "C8,A1,core,epoch,2025-01-01,nan,3,USD"])
    write_batch(landing, "usage_events", "poison.csv", [
        EVENT_HEADER, "E7,A1,u1,login,,2024-03-01T10:00:00Z,nan", "E8,A1,u1,login,,2024-03-01T10:00:00Z,inf",
        "E9,A1,u1,login,,2024-03-01T10:00:00Z,-Infinity", "E10,A1,u1,login,,2024-03-01T10:00:00Z,2.5"])
    # Parquet carries real floats: NaN and infinity as values, not text (pandas would write NaN as null).
    duckdb.execute("COPY (SELECT 'P' || i AS event_id, 'A1' AS account_id, 'u' AS user_id, 'login' AS event_type, "
                   "NULL AS feature, '2024-03-02T10:00:00Z' AS occurred_at, q AS quantity FROM (VALUES "
                   "(1, 'nan'::DOUBLE), (2, 'inf'::DOUBLE)) t(i, q)) TO "
                   f"'{landing / 'usage_events' / 'poison.parquet'}' (FORMAT parquet)")

    results = ingest_all(con, landing)  # must not raise
    assert results["support_tickets"]["poison.csv"].rows_loaded == 1
    tickets = quarantined(con, "support_tickets", "poison.csv")
    assert tickets[1] == "not a finite number in csat: NaN"
    assert set(tickets[3].split("; ")) == {"out of range timestamp in opened_at: infinity",
                                           "out of range for integer in csat: 1e20"}
    assert "out of range timestamp in opened_at: 1899-05-01" in tickets[4]
    contracts = quarantined(con, "contracts", "poison.csv")
    assert contracts[1] == "out of range for integer in licensed_seats: 1e20"
    assert set(contracts[2].split("; ")) == {"out of range date in start_date: epoch", "not a finite number in arr: nan"}
    events = quarantined(con, "usage_events", "poison.csv")
    assert events == {1: "not a finite number in quantity: nan", 2: "not a finite number in quantity: inf",
                      3: "not a finite number in quantity: -Infinity"}
    assert set(quarantined(con, "usage_events", "poison.parquet").values()) == {
        "not a finite number in quantity: nan", "not a finite number in quantity: inf"}
    assert con.execute("SELECT count(*) FROM raw.usage_events WHERE NOT isfinite(quantity)").fetchone()[0] == 0
    assert con.execute("SELECT quantity FROM raw.usage_events WHERE event_id = 'E10'").fetchone()[0] == 2.5
    assert_reconciled(con)


def test_a_cut_last_line_is_one_quarantined_row_the_others_load(con, landing):
    rows = [f"E{i},A1,u1,login,,2024-03-01T10:00:00Z,1" for i in range(100, 399)]
    write_batch(landing, "usage_events", "cut.csv", [EVENT_HEADER, *rows, "E399,A1,u1,lo"])
    result = ingest_all(con, landing)["usage_events"]["cut.csv"]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 300, 299, 1)
    assert quarantined(con, "usage_events", "cut.csv") == {
        300: "unreadable line: missing columns: Expected Number of Columns: 7 Found: 4 (file line 301)"}
    line = con.execute("SELECT json_extract_string(_row, '$._line') FROM raw.usage_events_quarantine "
                       "WHERE _batch_file = 'cut.csv'").fetchone()[0]
    assert line == "E399,A1,u1,lo"
    # Good rows keep their own row number in the file.
    assert con.execute("SELECT _row_number FROM raw.usage_events WHERE event_id = 'E398'").fetchone()[0] == 299
    assert_reconciled(con)


def test_an_oversized_field_and_a_latin1_file_keep_the_whole_reason(con, landing):
    huge = "x" * (10 << 20)
    write_batch(landing, "usage_events", "huge.csv", [
        EVENT_HEADER, "E20,A1,u1,login,,2024-03-01T10:00:00Z,1", f"E21,A1,u1,{huge},,2024-03-01T10:00:00Z,1",
        "E22,A1,u1,login,,2024-03-01T10:00:00Z,1"])
    latin = landing / "usage_events" / "latin1.csv"
    latin.write_bytes(f"{EVENT_HEADER}\nE30,A1,u1,login,,2024-03-01T10:00:00Z,1\n"
                      "E31,A1,u1,caf\xe9,,2024-03-01T10:00:00Z,1\n".encode("latin-1"))
    results = ingest_all(con, landing)["usage_events"]
    assert (results["huge.csv"].rows_read, results["huge.csv"].rows_loaded) == (3, 2)
    assert (results["latin1.csv"].rows_read, results["latin1.csv"].rows_loaded) == (2, 1)
    (reason,) = quarantined(con, "usage_events", "huge.csv").values()
    assert reason.startswith("unreadable line: line size over maximum: Maximum line size of")
    assert reason.endswith("exceeded. Actual Size:10485794 bytes. (file line 3)")
    assert quarantined(con, "usage_events", "latin1.csv") == {2: (
        "unreadable line: invalid encoding: Invalid unicode (byte sequence mismatch) detected. "
        "This file is not utf-8 encoded. (file line 3)")}
    assert_reconciled(con)


def test_unreadable_files_count_the_rows_they_hold(con, landing):
    frame = pd.DataFrame({"event_id": [f"Q{i}" for i in range(40)], "account_id": "A1", "user_id": "u",
                          "event_type": "login", "feature": None, "occurred_at": "2024-03-02T10:00:00Z",
                          "quantity": 1.0})
    path = landing / "usage_events" / "damaged.parquet"
    frame.to_parquet(path)
    data = bytearray(path.read_bytes())
    data[4:200] = b"\xff" * 196  # the data pages, not the footer
    path.write_bytes(bytes(data))
    cut = landing / "usage_events" / "cut.csv.gz"
    cut.write_bytes(gzip.compress(("\n".join([EVENT_HEADER] + [f"G{i},A1,u,login,,2024-03-02T10:00:00Z,1"
                                                               for i in range(500)])).encode())[:120])
    results = ingest_all(con, landing)["usage_events"]
    damaged = results["damaged.parquet"]
    assert (damaged.status, damaged.rows_read, damaged.rows_quarantined) == ("quarantined", 40, 40)
    assert damaged.reason.startswith("unreadable file: ")
    assert results["cut.csv.gz"].reason.endswith("(row count unknown)")
    assert_reconciled(con)
    summary = reconcile(con, "usage_events")
    assert summary.rows_read == summary.rows_loaded + summary.rows_quarantined + summary.rows_deduplicated
    assert summary.batches_rows_unknown == ["cut.csv.gz"]


def test_files_in_the_wrong_place_are_recorded_as_ignored_with_why(con, landing):
    from csops.ingest.strays import record_strays
    from csops.reporting.pipeline_summary import format_summary

    good = landing / "usage_events" / "2025-01.csv"
    for stray in ("usage-events/2025-02.csv", "usage_events/2025-02.PARQUET", "usage_events/2025-02.pq",
                  "usage_events/february/2025-02.csv", "usage_events/.2025-02.csv.swp", "accounts.csv"):
        path = landing / stray
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(good.read_bytes())
    (landing / "_manifest.json").write_text("{}")  # reserved for tooling: not listed
    strays = {s.path: s.reason for s in record_strays(con, landing, "run-1")}
    assert strays == {
        "accounts.csv": "unknown file at the top of the landing zone: did you mean accounts/?",
        "usage-events": "unknown folder at the top of the landing zone: did you mean usage_events/?",
        "usage_events/.2025-02.csv.swp": "hidden file (a name starting with '.' is never read)",
        "usage_events/2025-02.PARQUET": "extension in the wrong case: rename it to end in '.parquet'",
        "usage_events/2025-02.pq": "unknown extension .pq: batches end in .parquet, .csv, .csv.gz",
        "usage_events/february": "nested folder: batches must sit directly in usage_events/",
    }
    ingest_all(con, landing)
    summary = format_summary(con)
    assert "Ignored in the landing zone (not read: move or rename them)" in summary
    assert "  usage_events/2025-02.pq: unknown extension .pq" in summary
    # Fixed on the next run: the entry goes away; still there: its first sighting is kept.
    (landing / "usage-events" / "2025-02.csv").unlink()
    (landing / "usage-events").rmdir()
    first = con.execute("SELECT first_seen_at FROM raw.ingest_ignored WHERE path = 'usage_events/2025-02.pq'").fetchone()
    record_strays(con, landing, "run-2")
    assert con.execute("SELECT count(*) FROM raw.ingest_ignored WHERE path = 'usage-events'").fetchone()[0] == 0
    assert con.execute("SELECT first_seen_at, run_id FROM raw.ingest_ignored WHERE path = 'usage_events/2025-02.pq'"
                       ).fetchone() == (first[0], "run-2")


def test_rows_waiting_for_a_late_account_load_when_it_arrives(con, landing):
    write_batch(landing, "usage_events", "early.csv", [
        EVENT_HEADER, "L1,A9,u1,login,,2024-03-01T10:00:00Z,1", "L2,A9,u1,login,,2024-03-02T10:00:00Z,1",
        "L3,A404,u1,login,,2024-03-02T10:00:00Z,1", "L4,A9,u1,login,,never,1"], mtime=1_700_000_100)
    write_batch(landing, "contracts", "early.csv", [CONTRACT_HEADER, "C9,A9,core,2024-01-01,2025-01-01,900,9,USD"],
                mtime=1_700_000_100)
    ingest_all(con, landing)
    assert con.execute("SELECT count(*) FROM raw.usage_events WHERE account_id = 'A9'").fetchone()[0] == 0

    # The CRM export creating A9 lands a run later, with a batch repeating one of the early events.
    write_batch(landing, "accounts", "late.csv", [ACCOUNT_HEADER, "A9,Late Co,smb,retail,NA,csm_cy,2024-02-01"],
                mtime=1_700_000_200)
    write_batch(landing, "usage_events", "late.csv", [EVENT_HEADER, "L2,A9,u1,login,,2024-03-02T10:00:00Z,1"],
                mtime=1_700_000_200)
    results = ingest_all(con, landing)
    assert sorted(r[0] for r in con.execute("SELECT event_id FROM raw.usage_events WHERE account_id = 'A9'"
                                            ).fetchall()) == ["L1", "L2"]
    assert results["usage_events"]["late.csv"].rows_deduplicated == 1  # L2 was released first
    assert con.execute("SELECT contract_id, _batch_file, _row_number FROM raw.contracts WHERE account_id = 'A9'"
                       ).fetchall() == [("C9", "early.csv", 1)]
    kept = con.execute("SELECT json_extract_string(_row, '$.event_id'), _released_at IS NOT NULL, _reason "
                       "FROM raw.usage_events_quarantine WHERE _batch_file = 'early.csv' ORDER BY 1").fetchall()
    assert [(event, released) for event, released, _ in kept] == [
        ("L1", True), ("L2", True), ("L3", False), ("L4", False)]
    assert "invalid timestamp in occurred_at: never" in kept[3][2]  # another problem: not released
    ledger = con.execute("SELECT rows_read, rows_loaded, rows_quarantined, rows_deduplicated, rows_released "
                         "FROM raw.ingest_ledger WHERE source = 'usage_events' AND batch_file = 'early.csv'").fetchone()
    assert ledger == (4, 2, 2, 0, 2)
    assert_reconciled(con)
    # A rerun releases nothing twice.
    ingest_all(con, landing)
    assert con.execute("SELECT count(*) FROM raw.usage_events WHERE account_id = 'A9'").fetchone()[0] == 2
    assert_reconciled(con)


def test_an_old_export_resent_late_does_not_revert_newer_records(con, landing, tmp_path, dbt_manifest):
    from csops.dbt import reusable_parse, run_dbt

    header = ACCOUNT_HEADER + ",updated_at"
    write_batch(landing, "accounts", "2025-06.csv", [header, "A1,Acme,enterprise,software,NA,csm_new,2024-01-01,"
                                                             "2025-06-01T00:00:00Z"], mtime=1_700_000_100)
    write_batch(landing, "accounts", "2025-01-resent.csv", [header, "A1,Acme,enterprise,software,NA,csm_old,"
                                                                    "2024-01-01,2025-01-01T00:00:00Z"],
                mtime=1_700_000_200)
    ingest_all(con, landing)
    con.close()
    database = tmp_path / "warehouse.duckdb"
    run_dbt(["run", "--select", "stg_accounts"], database, tmp_path / "dbt", parsed=reusable_parse(database.stem))
    with duckdb.connect(str(database), read_only=True) as reader:
        owners = dict(reader.execute("SELECT account_id, csm_owner FROM staging.stg_accounts").fetchall())
    # Without updated_at the newest file wins, as the contract says (A2's only version comes from the first file).
    assert owners == {"A1": "csm_new", "A2": "csm_bo"}


# A run that holds the `duckdb` pool and a dbt stand-in child until killed; with `guard`, launched as the CLI does.
HOLDING_RUN = r'''
import os, subprocess, sys, time
import dagster as dg
from orchestration.lib.recovery import DBT_PID_TAG, DBT_STARTED_TAG, interruptible_waits, launch_guard, process_tags


@dg.asset(pool="duckdb")
def holds_the_pool(context):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "dbt-stand-in"])
    context.instance.add_run_tags(context.run_id, process_tags(child.pid, DBT_PID_TAG, DBT_STARTED_TAG))
    print("READY", context.run_id, child.pid, flush=True)
    time.sleep(600)


job = dg.Definitions(assets=[holds_the_pool], jobs=[dg.define_asset_job(
    "holding", selection=[holds_the_pool], executor_def=dg.in_process_executor)]).resolve_job_def("holding")
with dg.DagsterInstance.get() as instance:
    if sys.argv[1] == "guard":
        with launch_guard(instance, os.environ["CSOPS_DUCKDB_PATH"], print):
            job.execute_in_process(instance=instance, tags=process_tags())
    else:
        print("WAITING", flush=True)
        with interruptible_waits():
            job.execute_in_process(instance=instance, tags=process_tags(), raise_on_error=False)
'''


def _start_holding_run(tmp_path, mode: str):
    import subprocess
    import sys

    script = tmp_path / "holding_run.py"
    script.write_text(HOLDING_RUN)
    return subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait_for(process, word: str, timeout: float = 120) -> list[str]:
    import select
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            line = process.stdout.readline()
            if line.startswith(word):
                return line.split()
            if not line and process.poll() is not None:
                break
    raise AssertionError(f"{word} not seen")


def test_a_killed_run_is_cleaned_up_and_a_live_one_refuses_a_second_run(csops_env, tmp_path):
    import os
    import signal
    import time

    import dagster as dg
    import psutil

    from orchestration.lib.recovery import RunInProgress, launch_guard

    holder = _start_holding_run(tmp_path, "guard")
    try:
        _, run_id, dbt_pid = _wait_for(holder, "READY")
        messages: list[str] = []
        with dg.DagsterInstance.get() as instance:
            with pytest.raises(RunInProgress, match=f"run {run_id} \\(job holding, pid {holder.pid}\\) is running"):
                with launch_guard(instance, csops_env.duckdb_path, messages.append):
                    pass
        # A run that bypasses the guard waits on the pool: Ctrl-C stops it.
        waiter = _start_holding_run(tmp_path, "wait")
        _wait_for(waiter, "WAITING")
        time.sleep(8)  # definitions built, the step asks for its slot
        waiter.send_signal(signal.SIGINT)
        started = time.monotonic()
        waiter.wait(timeout=60)
        assert time.monotonic() - started < 30
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert psutil.pid_exists(int(dbt_pid))  # orphaned, still running

    with dg.DagsterInstance.get() as instance:
        with launch_guard(instance, csops_env.duckdb_path, messages.append):
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots == []
            assert instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) == []
    assert f"cleaned up: run {run_id} had crashed (its process is gone): marked failed" in messages
    assert f"cleaned up: stopped dbt (pid {dbt_pid}) left running by a crashed run" in messages
    assert f"cleaned up: freed the pool slots run {run_id} still held" in messages
    assert not psutil.pid_exists(int(dbt_pid)) or psutil.Process(int(dbt_pid)).status() == psutil.STATUS_ZOMBIE


# A BI tool: `hold` keeps one read-only connection for its whole life, `fresh` opens one per query; every read is
# checked to be a whole version of the table. (Connections of one process share the file they opened first.)
READER = r'''
import json, sys, time, duckdb
path, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
versions, errors, reads = set(), [], 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    con = held or duckdb.connect(path, read_only=True)
    try:
        rows, low, high = con.execute("SELECT count(*), min(v), max(v) FROM marts.t").fetchone()
        if low != high or rows != 1000 * low:
            errors.append(f"half a table: {rows} rows, versions {low}-{high}")
        versions.add(low)
        reads += 1
    except Exception as error:
        errors.append(repr(error))
    if con is not held:
        con.close()
print(json.dumps({"reads": reads, "versions": sorted(versions), "errors": errors}), flush=True)
'''


def test_a_reader_holding_the_serving_file_neither_fails_a_publish_nor_sees_half_a_table(tmp_path):
    import json
    import subprocess
    import sys

    from csops.serving import last_publication, publish

    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA ml; CREATE SCHEMA staging")
        con.execute("CREATE TABLE marts.t AS SELECT 1 AS v FROM range(1000)")
        con.execute("CREATE TABLE ml.scores AS SELECT 0.5 AS probability; CREATE TABLE staging.s AS SELECT 1 AS x")
        publish(con, serving, "run-1")
        script = tmp_path / "reader.py"
        script.write_text(READER)
        readers = {mode: subprocess.Popen([sys.executable, str(script), str(serving), mode, "8"],
                                          stdout=subprocess.PIPE, text=True) for mode in ("hold", "fresh")}
        version = 1
        while any(reader.poll() is None for reader in readers.values()):
            version += 1
            con.execute(f"CREATE OR REPLACE TABLE marts.t AS SELECT {version} AS v FROM range({1000 * version})")
            publish(con, serving, f"run-{version}")  # must not fail while the reader holds the file
        seen = {mode: json.loads(reader.stdout.read()) for mode, reader in readers.items()}
    assert seen["hold"]["errors"] == seen["fresh"]["errors"] == []
    assert seen["hold"]["reads"] > 20 and seen["fresh"]["reads"] > 20 and version > 5
    assert len(seen["hold"]["versions"]) == 1  # the file it opened, whole, however often it was replaced
    assert len(seen["fresh"]["versions"]) >= 3  # each new connection: the newest publication
    with duckdb.connect(str(serving), read_only=True) as reader_con:
        assert last_publication(reader_con)[0] == f"run-{version}"
        served = {row[0] for row in reader_con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}
    assert served == {"marts.t", "ml.scores", "main.publication"}  # staging stays in the warehouse
    assert not list(tmp_path.glob(".serving.duckdb.*"))  # no temporary file or log left behind
