"""Chaos suite: what users do to the embedded default (poison values, bad CSVs, stray files, late data, crashes,
BI readers) must neither stop the pipeline nor lose a row unaccounted. `make chaos` runs this file alone; it also
runs under plain `pytest`."""

from __future__ import annotations

import gzip
import json
import re

import duckdb
import pandas as pd
import pytest

from csops import contract
from csops.ingest import ingest_source
from csops.quality.reconciliation import reconcile
from tests.test_ingest import ACCOUNT_HEADER, CONTRACT_HEADER, EVENT_HEADER, con, landing, write_batch  # noqa: F401

pytestmark = pytest.mark.chaos

# The suite's figures (docs/reliability.md), printed at the end of the module.
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def report_figures(request):
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if FIGURES and capture:
        with capture.global_and_fixture_disabled():
            print(f"\nchaos figures: {json.dumps(FIGURES, sort_keys=True)}")

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
        print("WAITING", flush=True)  # untagged, as runs of csops before the tags were
        with interruptible_waits():
            job.execute_in_process(instance=instance, raise_on_error=False)
'''


def _start_holding_run(tmp_path, mode: str):
    """The script in a child process; its output lines are queued by a thread (select() on a buffered pipe misses
    lines already read into the buffer)."""
    import queue
    import subprocess
    import sys
    import threading

    script = tmp_path / "holding_run.py"
    script.write_text(HOLDING_RUN)
    # Dagster's log goes to a file: on a shared pipe its lines could split the READY line (CI failure at stop 30).
    with open(tmp_path / f"holding_run_{mode}.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, stderr=log, text=True)
    process.lines = queue.Queue()
    threading.Thread(target=lambda: [process.lines.put(line) for line in process.stdout], daemon=True).start()
    return process


def _wait_for(process, word: str, timeout: float = 180) -> list[str]:
    import queue
    import time

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = process.lines.get(timeout=left)
        except queue.Empty:
            break
        if word in line.split():
            return line.split()[line.split().index(word):]
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
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 120
            while instance.event_log_storage.get_concurrency_info("duckdb").pending_step_count == 0:
                assert time.monotonic() < deadline, "the second run never asked for the pool"
                time.sleep(0.5)
        waiter.send_signal(signal.SIGINT)  # it waits for the slot the first run holds
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
    time.sleep(0.05)
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
    FIGURES["publishes while two readers read (failed / half tables seen)"] = (
        f"{version - 1} (0 / {len(seen['hold']['errors']) + len(seen['fresh']['errors'])})")
    assert seen["hold"]["reads"] > 20 and seen["fresh"]["reads"] > 20 and version > 5
    assert len(seen["hold"]["versions"]) == 1  # the file it opened, whole, however often it was replaced
    assert len(seen["fresh"]["versions"]) >= 3  # each new connection: the newest publication
    with duckdb.connect(str(serving), read_only=True) as reader_con:
        assert last_publication(reader_con)[0] == f"run-{version}"
        served = {row[0] for row in reader_con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}
    assert served == {"marts.t", "ml.scores", "main.publication"}  # staging stays in the warehouse
    assert not list(tmp_path.glob(".serving.duckdb.*"))  # no temporary file or log left behind


# ---------------------------------------------------------------------------------------------------------------
# End to end: a tiny generated landing zone plus every kind of bad input above, run by the CLI, killed with -9 at
# random (seeded) points of ingest and dbt, rerun, and compared with a clean run's tables.

SEED = 27
INGEST_KILL_TRIALS = 8
DBT_KILL_TRIALS = 3
# Written at load time, so identical in every run; not content (load times, run ids, first/last seen).
VOLATILE_COLUMNS = {"_loaded_at", "loaded_at", "_quarantined_at", "_released_at", "first_seen_at", "last_seen_at",
                    "run_id"}
COMPARED_SCHEMAS = ("raw", "staging", "intermediate", "marts")


def add_bad_inputs(landing) -> None:
    """What users do to a landing zone: poison values, a cut CSV, Latin-1, an oversized field, stray files."""
    accounts = duckdb.execute(f"SELECT account_id FROM read_parquet('{landing}/accounts/*.parquet') "
                              "WHERE account_id IS NOT NULL ORDER BY 1 LIMIT 2").fetchall()
    first, second = accounts[0][0], accounts[1][0]
    write_batch(landing, "support_tickets", "zz-poison.csv", [
        TICKET_HEADER, f"ZT1,{first},,2026-06-01T10:00:00Z,,low,,,,,NaN",
        f"ZT2,{first},,2026-06-01T10:00:00Z,,low,,,,,4"])
    write_batch(landing, "contracts", "zz-poison.csv", [
        CONTRACT_HEADER, f"ZC1,{first},core,2026-01-01,2027-01-01,100,1e20,USD"])
    events = [f"ZE{i},{second},u1,login,,2026-06-0{1 + i % 5}T10:00:00Z,1" for i in range(50)]
    write_batch(landing, "usage_events", "zz-cut.csv", [
        EVENT_HEADER, f"ZQ1,{second},u1,login,,2026-06-01T10:00:00Z,nan", *events, f"ZE99,{second},u1,lo"])
    (landing / "usage_events" / "zz-latin1.csv").write_bytes(
        f"{EVENT_HEADER}\nZL1,{second},u1,caf\xe9,,2026-06-01T10:00:00Z,1\n".encode("latin-1"))
    write_batch(landing, "usage_events", "zz-huge.csv", [
        EVENT_HEADER, f"ZH1,{second},u1,{'x' * (3 << 20)},,2026-06-01T10:00:00Z,1"])
    (landing / "usage-events").mkdir()
    (landing / "usage-events" / "2026-06.csv").write_text(EVENT_HEADER + "\n")
    (landing / "usage_events" / "2026-06.PARQUET").write_bytes(b"misnamed")


def fingerprint(path) -> dict[str, tuple]:
    """(rows, content hash) of every table of the compared schemas, volatile columns left out."""
    prints = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
            f"({', '.join(repr(s) for s in COMPARED_SCHEMAS)}) ORDER BY 1, 2").fetchall()
        for schema, name in tables:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position", [schema, name]).fetchall() if c not in VOLATILE_COLUMNS]
            listed = ", ".join(f'"{c}"' for c in columns)
            prints[f"{schema}.{name}"] = con.execute(
                f'SELECT count(*), coalesce(sum(hash({listed})::HUGEINT), 0) FROM "{schema}"."{name}"').fetchone()
    return prints


def cli_env(data_dir, landing) -> dict[str, str]:
    import os

    from csops.instance import ensure_dagster_home

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSOPS_", "DAGSTER_HOME"))}
    env |= {"CSOPS_DATA_DIR": str(data_dir), "CSOPS_LANDING_DIR": str(landing),
            "CSOPS_MODELS_DIR": str(data_dir / "models"), "DAGSTER_HOME": str(data_dir / "dagster_home")}
    ensure_dagster_home(data_dir / "dagster_home")
    return env


def csops(*args: str, env: dict[str, str], **popen):
    import subprocess

    from tests.test_cli import CSOPS

    if popen:
        return subprocess.Popen([CSOPS, *args], env=env, **popen)
    return subprocess.run([CSOPS, *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def chaos_landing(tmp_path_factory):
    from lab.generator import generate

    landing = tmp_path_factory.mktemp("chaos") / "landing"
    generate(landing, accounts=12, months=3, seed=SEED)
    add_bad_inputs(landing)
    return landing


@pytest.fixture(scope="module")
def clean_run(chaos_landing, tmp_path_factory, dbt_manifest):
    """One `csops run` on the landing zone, undisturbed: the reference every trial is compared with."""
    data = tmp_path_factory.mktemp("clean") / "data"
    env = cli_env(data, chaos_landing)
    completed = csops("run", env=env)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return data, env, completed, fingerprint(data / "warehouse.duckdb")


def test_a_run_on_bad_inputs_succeeds_and_accounts_for_every_row(clean_run):
    data, _, completed, prints = clean_run
    out = completed.stdout
    assert "Ignored in the landing zone" in out and "usage-events: unknown folder" in out
    assert "usage_events/2026-06.PARQUET: extension in the wrong case" in out
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        unaccounted = con.execute("SELECT coalesce(sum(abs(rows_read - rows_loaded - rows_quarantined - "
                                  "rows_deduplicated)), 0) FROM raw.ingest_ledger").fetchone()[0]
        for source in contract.SOURCE_NAMES:
            assert reconcile(con, source).problems == [], source
        reasons = dict(con.execute("SELECT _batch_file, string_agg(_reason, ' | ') FROM raw.usage_events_quarantine "
                                   "WHERE _batch_file LIKE 'zz-%' GROUP BY 1").fetchall())
    assert unaccounted == 0
    FIGURES["rows unaccounted for (clean run on bad inputs)"] = unaccounted
    FIGURES["poison batches (batches that failed a step)"] = 0  # the run succeeded with every bad input in it
    assert "not a finite number in quantity: nan" in reasons["zz-cut.csv"]
    assert "missing columns" in reasons["zz-cut.csv"]
    assert "not utf-8 encoded" in reasons["zz-latin1.csv"] and "Maximum line size" in reasons["zz-huge.csv"]
    assert prints["raw.ingest_ledger"][0] > 20
    with duckdb.connect(str(data / "serving.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_account_health").fetchone()[0] > 0


INGEST_ALL = """
import sys, duckdb
from csops import contract
from csops.ingest import ingest_source
con = duckdb.connect(sys.argv[1])
for source in contract.SOURCE_NAMES:
    ingest_source(con, sys.argv[2], source, run_id="trial")
con.close()
"""


def _killed_at_random(command: list[str], delay: float, cwd=None) -> bool:
    """Start `command` in its own process group, `kill -9` the whole group after `delay` s; True if it was killed
    before it finished."""
    import os
    import signal
    import subprocess

    process = subprocess.Popen(command, cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return True


def test_kill_9_at_random_points_of_ingest_then_a_rerun_equals_a_clean_ingest(chaos_landing, tmp_path):
    import random
    import sys
    import time

    script = tmp_path / "ingest_all.py"
    script.write_text(INGEST_ALL)
    reference = tmp_path / "reference.duckdb"
    started = time.monotonic()
    assert not _killed_at_random([sys.executable, str(script), str(reference), str(chaos_landing)], 600)
    duration = time.monotonic() - started
    expected = {k: v for k, v in fingerprint(reference).items() if k.startswith("raw.")}
    rng = random.Random(SEED)
    killed = 0
    for trial in range(INGEST_KILL_TRIALS):
        warehouse = tmp_path / f"trial{trial}.duckdb"
        killed += _killed_at_random([sys.executable, str(script), str(warehouse), str(chaos_landing)],
                                    rng.uniform(0.5, duration))
        assert not _killed_at_random([sys.executable, str(script), str(warehouse), str(chaos_landing)], 600)
        assert fingerprint(warehouse) == expected, f"trial {trial}"
        with duckdb.connect(str(warehouse)) as con:
            assert all(reconcile(con, s).passed for s in contract.SOURCE_NAMES)
    assert killed >= INGEST_KILL_TRIALS // 2  # most kills landed mid-ingest, not after it
    FIGURES["ingest kill -9 trials (killed mid-way / reruns equal to clean)"] = f"{killed} / {INGEST_KILL_TRIALS}"


def test_kill_9_at_random_points_of_dbt_then_a_rerun_equals_a_clean_build(chaos_landing, tmp_path, dbt_manifest):
    import random
    import shutil
    import sys
    import time

    from csops.dbt import DBT_PROJECT_DIR, reusable_parse

    script = tmp_path / "ingest_all.py"
    script.write_text(INGEST_ALL)
    ingested = tmp_path / "ingested.duckdb"
    assert not _killed_at_random([sys.executable, str(script), str(ingested), str(chaos_landing)], 600)
    parse = reusable_parse("warehouse")

    def dbt_run(folder) -> list[str]:
        folder.mkdir(exist_ok=True)
        if not (folder / "warehouse.duckdb").exists():
            shutil.copy(ingested, folder / "warehouse.duckdb")
        code = ("import sys; from pathlib import Path; from csops.dbt import run_dbt; "
                "run_dbt(['run'], sys.argv[1], sys.argv[2], parsed=Path(sys.argv[3]) if sys.argv[3] else None)")
        return [sys.executable, "-c", code, str(folder / "warehouse.duckdb"), str(folder / "dbt"), str(parse or "")]

    started = time.monotonic()
    assert not _killed_at_random(dbt_run(tmp_path / "reference"), 900, cwd=DBT_PROJECT_DIR)
    duration = time.monotonic() - started
    expected = fingerprint(tmp_path / "reference" / "warehouse.duckdb")
    rng = random.Random(SEED + 1)
    killed = 0
    for trial in range(DBT_KILL_TRIALS):
        folder = tmp_path / f"trial{trial}"
        killed += _killed_at_random(dbt_run(folder), rng.uniform(1.0, duration), cwd=DBT_PROJECT_DIR)
        assert not _killed_at_random(dbt_run(folder), 900, cwd=DBT_PROJECT_DIR)
        assert fingerprint(folder / "warehouse.duckdb") == expected, f"trial {trial}"
    assert killed >= 2
    FIGURES["dbt kill -9 trials (killed mid-way / reruns equal to clean)"] = f"{killed} / {DBT_KILL_TRIALS}"


def test_kill_9_of_csops_run_during_dbt_is_cleaned_up_and_the_rerun_equals_a_clean_run(clean_run, tmp_path):
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    import dagster as dg
    import psutil

    data, env, _, expected = clean_run
    # A BI tool holding the serving file for the whole scenario.
    script = tmp_path / "reader.py"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(data / "serving.duckdb"), "hold", "600"],
                              stdout=subprocess.PIPE, text=True)
    # Ingest finds nothing new; dbt rebuilds everything: kill the CLI at a random point of dbt's models step (the
    # second dbt of the run, `--exclude path:models/staging`; the staging views' step ends within seconds).
    run = csops("run", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    dbt = None
    def cmdline(process):
        # A child may exit between listing and reading it (the staging step's dbt ends in seconds).
        try:
            return process.cmdline()
        except psutil.Error:
            return []

    while dbt is None and time.monotonic() < deadline and run.poll() is None:
        dbt = next((p for p in psutil.Process(run.pid).children(recursive=True)
                    if "dbt" in " ".join(cmdline(p)) and "--exclude" in cmdline(p)), None)
        time.sleep(0.5)
    assert dbt is not None, "dbt never started"
    # The models step lasts some 20 s on this data: the checks below and the kill must fall inside it on a busy CI.
    time.sleep(random.Random(SEED).uniform(0, 3))

    summary = csops("summary", env=env)  # reads the serving file: no lock, no traceback
    assert summary.returncode == 0 and "Serving file" in summary.stdout, summary.stderr
    second = csops("run", env=env)
    assert second.returncode == 1
    assert re.search(r"csops: run \S+ \(job csops_pipeline, pid \d+\) is running; wait for it", second.stderr)
    assert "Traceback" not in second.stderr

    assert dbt.is_running(), "dbt's models step ended before the kill: the scenario did not happen"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert dbt.is_running()  # orphaned by the kill: still writing to the warehouse
    rerun = csops("run", env=env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert re.search(r"cleaned up: run \S+ had crashed \(its process is gone\): marked failed", rerun.stdout)
    assert f"cleaned up: stopped dbt (pid {dbt.pid})" in rerun.stdout
    assert fingerprint(data / "warehouse.duckdb") == expected

    os.kill(reader.pid, signal.SIGTERM)
    reader.wait()
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        stuck = instance.get_runs_count(filters=dg.RunsFilter(statuses=[
            dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]))
    assert stuck == 0
    FIGURES["csops run kill -9 during dbt (cleaned up and rerun equal to clean)"] = "1 / 1"
    FIGURES["runs stuck after the kill"] = stuck
    FIGURES["reader-caused failures (runs with a BI reader holding the serving file)"] = 0
    FIGURES["tables compared with the clean run"] = len(expected)
    with duckdb.connect(str(data / "serving.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_account_health").fetchone()[0] > 0


def test_errors_are_one_line_with_what_to_do_and_tracebacks_go_to_the_log(csops_env, capsys):
    import argparse

    from csops.cli import run_handler
    from csops.errors import UserError

    def fails_with(error):
        def handler(_args, _settings):
            raise error
        return argparse.Namespace(command="run", handler=handler)

    assert run_handler(fails_with(UserError("the landing zone has no accounts; add a batch")), csops_env) == 1
    assert capsys.readouterr().err == "csops: the landing zone has no accounts; add a batch\n"
    assert run_handler(fails_with(ValueError("bad thing\nsecond line")), csops_env) == 1
    err = capsys.readouterr().err
    log = csops_env.data_dir / "logs" / "csops.log"
    assert err == f"csops: run failed: ValueError: bad thing (traceback in {log})\n"
    assert "Traceback (most recent call last)" in log.read_text() and "second line" in log.read_text()
    # The summary of a warehouse a run holds, before anything was published: one line, not an IOException.
    import os
    import subprocess

    from tests.test_cli import CSOPS

    holder = duckdb.connect(str(csops_env.duckdb_path))
    try:
        completed = subprocess.run([CSOPS, "summary"], env=os.environ.copy(), capture_output=True, text=True,
                                   timeout=120)
    finally:
        holder.close()
    assert completed.returncode == 1
    assert completed.stderr.startswith("csops: the warehouse ") and completed.stderr.count("\n") == 1
    assert "when the run has finished" in completed.stderr
