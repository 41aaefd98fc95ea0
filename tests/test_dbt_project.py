"""The dbt project: staging models build on DuckDB over the raw tables ingest writes, resolve entity versions the way
the landing contract says, keep their column interface, parse for Snowflake, and fail on contract violations.

dbt runs as a subprocess, as Dagster runs it, with its target and log folders in a temporary directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from csops import contract
from csops.ingest import tables
from csops.dbt import environment
from csops.settings import DBT_PROJECT_DIR, Settings

DBT = Path(sys.executable).parent / "dbt"
LOADED_AT = datetime(2024, 6, 1, 12, 0)
OLD_BATCH = datetime(2024, 1, 1)
NEW_BATCH = datetime(2024, 2, 1)

# The staging interface downstream models and Python assets rely on, in order.
EXPECTED_COLUMNS = {
    "stg_accounts": [
        "account_id", "account_name", "segment", "industry", "region", "csm_owner", "created_at",
        "source_batch_file", "loaded_at",
    ],
    "stg_contracts": [
        "contract_id", "account_id", "product", "currency_code", "arr_amount", "licensed_seats", "seat_price_amount",
        "contract_term_days", "start_date", "end_date", "source_batch_file", "batch_modified_at", "loaded_at",
    ],
    "stg_handoffs": [
        "opportunity_id", "account_id", "executive_sponsor_name", "champion_name", "success_criteria", "use_cases",
        "pain_points", "notes", "implementation_deadline_date", "opportunity_closed_at", "source_batch_file",
        "loaded_at",
    ],
    "stg_contacts": [
        "contact_id", "account_id", "contact_name", "email", "job_title", "contact_role", "is_active_contact",
        "created_at", "left_at", "source_batch_file", "loaded_at",
    ],
    "stg_usage_events": [
        "event_id", "account_id", "user_id", "event_type", "feature", "quantity", "occurred_on", "occurred_at",
        "source_batch_file", "loaded_at",
    ],
    "stg_support_tickets": [
        "ticket_id", "account_id", "contact_id", "priority", "category", "status", "subject", "body", "csat_score",
        "is_open", "opened_on", "opened_at", "closed_at", "source_batch_file", "loaded_at",
    ],
    "stg_survey_responses": [
        "response_id", "account_id", "contact_id", "survey_type", "nps_category", "comment", "score", "responded_on",
        "responded_at", "source_batch_file", "loaded_at",
    ],
    "stg_activities": [
        "activity_id", "account_id", "activity_type", "owner", "notes", "occurred_on", "occurred_at",
        "source_batch_file", "loaded_at",
    ],
}

# Batches as (source, batch file, modification time, rows). Enum text arrives untidy on purpose, and C1 and T1 come in
# two versions: the newest batch by modification time must win, also when its name sorts first (T1).
REQUIRED_BATCHES = [
    ("accounts", "accounts_1.csv", OLD_BATCH, [
        {"account_id": "A1", "account_name": "Acme", "segment": " Enterprise ", "created_at": datetime(2023, 5, 1)},
        {"account_id": "A2", "account_name": "Globex", "segment": None, "created_at": datetime(2023, 6, 1)},
    ]),
    ("accounts", "accounts_2.csv", NEW_BATCH, [
        {"account_id": "A1", "account_name": "Acme Corp", "segment": "enterprise", "created_at": datetime(2023, 5, 1)},
    ]),
    ("contracts", "contracts_1.parquet", OLD_BATCH, [
        {"contract_id": "C1", "account_id": "A1", "product": "core", "start_date": date(2024, 1, 1),
         "end_date": date(2025, 1, 1), "arr": Decimal("1000.00"), "licensed_seats": 10, "currency": None},
        {"contract_id": "C2", "account_id": "A2", "product": "core", "start_date": date(2024, 3, 1),
         "end_date": date(2024, 9, 1), "arr": Decimal("500.00"), "licensed_seats": None, "currency": " eur "},
    ]),
    ("contracts", "contracts_2.parquet", NEW_BATCH, [
        {"contract_id": "C1", "account_id": "A1", "product": "core", "start_date": date(2024, 1, 1),
         "end_date": date(2025, 1, 1), "arr": Decimal("1200.00"), "licensed_seats": 12, "currency": "usd"},
    ]),
    ("usage_events", "events_1.parquet", OLD_BATCH, [
        {"event_id": "E1", "account_id": "A1", "user_id": "U1", "event_type": "login",
         "occurred_at": datetime(2024, 5, 1, 23, 30), "quantity": None},
        {"event_id": "E2", "account_id": "A1", "user_id": "U2", "event_type": "export", "feature": "reports",
         "occurred_at": datetime(2024, 5, 2, 8, 0), "quantity": 3.5},
    ]),
]
OPTIONAL_BATCHES = [
    ("handoffs", "handoffs_1.csv", OLD_BATCH, [
        {"opportunity_id": "O1", "account_id": "A1", "closed_at": datetime(2023, 12, 15), "champion": "Jane Roe",
         "implementation_deadline": date(2024, 3, 1)},
    ]),
    ("contacts", "contacts_1.csv", OLD_BATCH, [
        {"contact_id": "P1", "account_id": "A1", "name": "Jane Roe", "email": " Jane@Acme.COM ", "role": " Champion ",
         "created_at": datetime(2023, 5, 2)},
        {"contact_id": "P2", "account_id": "A2", "role": "billing", "created_at": datetime(2023, 6, 2),
         "left_at": datetime(2024, 2, 1)},
    ]),
    ("support_tickets", "tickets_b.csv", OLD_BATCH, [
        {"ticket_id": "T1", "account_id": "A1", "contact_id": "P1", "opened_at": datetime(2024, 4, 1, 9),
         "priority": "URGENT", "status": "Open"},
    ]),
    ("support_tickets", "tickets_a.csv", NEW_BATCH, [
        {"ticket_id": "T1", "account_id": "A1", "contact_id": "P1", "opened_at": datetime(2024, 4, 1, 9),
         "closed_at": datetime(2024, 4, 2, 17), "priority": "urgent", "status": "closed", "csat": 4},
        {"ticket_id": "T2", "account_id": "A2", "opened_at": datetime(2024, 5, 1, 9), "priority": "low"},
    ]),
    ("survey_responses", "surveys_1.csv", OLD_BATCH, [
        {"response_id": "R1", "account_id": "A1", "contact_id": "P1", "survey": "nps", "score": 9,
         "responded_at": datetime(2024, 5, 3)},
        {"response_id": "R2", "account_id": "A2", "survey": "csat", "score": 4, "responded_at": datetime(2024, 5, 4)},
    ]),
    ("activities", "activities_1.csv", OLD_BATCH, [
        {"activity_id": "X1", "account_id": "A1", "activity_type": "QBR", "occurred_at": datetime(2024, 5, 10, 15)},
    ]),
]


def write_raw(db_path: Path, batches: list) -> None:
    """Create every raw table as ingest does and insert the batches' rows with their lineage columns."""
    with duckdb.connect(str(db_path)) as con:
        for source in contract.SOURCE_NAMES:
            tables.ensure_raw_tables(con, source)
        for source, batch_file, modified_at, rows in batches:
            for row_number, row in enumerate(rows, start=1):
                values = row | {
                    "_batch_file": batch_file,
                    "_batch_modified_at": modified_at,
                    "_row_number": row_number,
                    "_loaded_at": LOADED_AT,
                }
                columns = ", ".join(f'"{name}"' for name in values)
                placeholders = ", ".join("?" for _ in values)
                con.execute(
                    f"INSERT INTO {tables.raw_table(source)} ({columns}) VALUES ({placeholders})", list(values.values())
                )


def run_dbt(tmp_path: Path, *args: str, db_path: Path | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """Run dbt in the project with outputs under tmp_path; returns the process and its run_results (or {})."""
    env = environment(Settings.from_env(), db_path or tmp_path / "warehouse.duckdb")
    target = tmp_path / "target"
    process = subprocess.run(
        [str(DBT), *args, "--target-path", str(target), "--log-path", str(tmp_path / "logs")],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results_file = target / "run_results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return process, results


def failed_nodes(results: dict) -> set[str]:
    return {r["unique_id"] for r in results["results"] if r["status"] in ("fail", "error")}


def query(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def rows_by_key(db_path: Path, model: str) -> dict[str, dict]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM staging.{model}")
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("dbt_build")
    db_path = tmp_path / "warehouse.duckdb"
    write_raw(db_path, REQUIRED_BATCHES + OPTIONAL_BATCHES)
    process, results = run_dbt(tmp_path, "build", "--select", "path:models/staging", db_path=db_path)
    assert process.returncode == 0, process.stdout[-4000:]
    assert not failed_nodes(results)
    assert {r["unique_id"] for r in results["results"]} >= {f"model.csops.{m}" for m in EXPECTED_COLUMNS}
    return db_path


def test_staging_models_have_their_interface_and_land_in_the_staging_schema(built_warehouse):
    columns: dict[str, list[str]] = {}
    for table, column in query(
        built_warehouse,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'staging' ORDER BY table_name, ordinal_position",
    ):
        columns.setdefault(table, []).append(column)
    assert columns == EXPECTED_COLUMNS


def test_staging_columns_are_typed(built_warehouse):
    types = {
        (table, column): data_type
        for table, column, data_type in query(
            built_warehouse,
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'staging'",
        )
    }
    assert types[("stg_contracts", "arr_amount")] == "DECIMAL(18,2)"
    assert types[("stg_contracts", "seat_price_amount")] == "DECIMAL(18,2)"
    assert types[("stg_contracts", "licensed_seats")] == "INTEGER"
    assert types[("stg_contracts", "start_date")] == "DATE"
    assert types[("stg_accounts", "created_at")] == "TIMESTAMP"
    assert types[("stg_usage_events", "quantity")] == "DOUBLE"
    assert types[("stg_usage_events", "occurred_on")] == "DATE"
    assert types[("stg_support_tickets", "is_open")] == "BOOLEAN"
    assert types[("stg_survey_responses", "score")] == "INTEGER"
    assert types[("stg_handoffs", "implementation_deadline_date")] == "DATE"


def test_entities_keep_the_version_from_the_newest_batch(built_warehouse):
    contracts = rows_by_key(built_warehouse, "stg_contracts")
    assert len(contracts) == 2
    assert contracts["C1"]["arr_amount"] == Decimal("1200.00")
    assert contracts["C1"]["licensed_seats"] == 12
    assert contracts["C1"]["source_batch_file"] == "contracts_2.parquet"

    tickets = rows_by_key(built_warehouse, "stg_support_tickets")
    assert len(tickets) == 2
    # tickets_a.csv sorts first by name but was modified last: modification time decides.
    assert tickets["T1"]["source_batch_file"] == "tickets_a.csv"
    assert tickets["T1"]["status"] == "closed"
    assert tickets["T1"]["is_open"] is False
    assert tickets["T1"]["csat_score"] == 4
    assert tickets["T2"]["is_open"] is True

    accounts = rows_by_key(built_warehouse, "stg_accounts")
    assert accounts["A1"]["account_name"] == "Acme Corp"
    assert len(accounts) == 2


def test_staging_renames_normalizes_and_derives(built_warehouse):
    accounts = rows_by_key(built_warehouse, "stg_accounts")
    assert accounts["A1"]["segment"] == "enterprise"
    assert accounts["A2"]["segment"] is None
    assert accounts["A1"]["loaded_at"] == LOADED_AT

    contracts = rows_by_key(built_warehouse, "stg_contracts")
    assert contracts["C1"]["currency_code"] == "USD"
    assert contracts["C1"]["seat_price_amount"] == Decimal("100.00")
    assert contracts["C1"]["contract_term_days"] == 366
    assert contracts["C1"]["end_date"] == date(2025, 1, 1)
    assert contracts["C2"]["currency_code"] == "EUR"
    assert contracts["C2"]["seat_price_amount"] is None

    events = rows_by_key(built_warehouse, "stg_usage_events")
    assert events["E1"]["quantity"] == 1.0
    assert events["E1"]["occurred_on"] == date(2024, 5, 1)
    assert events["E2"]["quantity"] == 3.5

    contacts = rows_by_key(built_warehouse, "stg_contacts")
    assert contacts["P1"]["contact_role"] == "champion"
    assert contacts["P1"]["email"] == "jane@acme.com"
    assert contacts["P1"]["is_active_contact"] is True
    assert contacts["P2"]["is_active_contact"] is False

    tickets = rows_by_key(built_warehouse, "stg_support_tickets")
    assert tickets["T2"]["priority"] == "low"
    assert tickets["T1"]["opened_on"] == date(2024, 4, 1)

    responses = rows_by_key(built_warehouse, "stg_survey_responses")
    assert (responses["R1"]["survey_type"], responses["R1"]["nps_category"]) == ("nps", "promoter")
    assert (responses["R2"]["survey_type"], responses["R2"]["nps_category"]) == ("csat", None)

    handoffs = rows_by_key(built_warehouse, "stg_handoffs")
    assert handoffs["O1"]["champion_name"] == "Jane Roe"
    assert handoffs["O1"]["opportunity_closed_at"] == datetime(2023, 12, 15)

    assert rows_by_key(built_warehouse, "stg_activities")["X1"]["activity_type"] == "qbr"


def test_contract_violations_fail_the_build_on_the_right_tests(tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    # Ingest would quarantine these rows; written straight into raw, the staging tests must catch them.
    bad_batches = [
        ("accounts", "accounts_bad.csv", NEW_BATCH, [
            {"account_id": "A3", "account_name": "Initech", "segment": "startup", "created_at": datetime(2024, 1, 1)},
            {"account_id": "A4", "account_name": None, "segment": "smb", "created_at": None},
        ]),
        ("contracts", "contracts_bad.csv", NEW_BATCH, [
            {"contract_id": "C3", "account_id": "A3", "start_date": date(2024, 1, 1), "end_date": date(2025, 1, 1),
             "arr": Decimal("-5.00")},
        ]),
    ]
    write_raw(db_path, REQUIRED_BATCHES + bad_batches)
    process, results = run_dbt(tmp_path, "build", "--select", "path:models/staging", db_path=db_path)
    assert process.returncode != 0
    failed = failed_nodes(results)
    assert len(failed) == 3, failed
    # One range test per model; it fails once per column out of range (C3's arr_amount).
    (ranges,) = [result for result in results["results"]
                 if result["unique_id"].startswith("test.csops.accepted_ranges_stg_contracts")]
    assert (ranges["status"], ranges["failures"]) == ("fail", 1), ranges
    assert any(node.startswith("test.csops.accepted_values_stg_accounts_segment") for node in failed), failed
    # One test covers every required column of a model; it fails once per column that holds nulls.
    (not_null,) = [result for result in results["results"]
                   if result["unique_id"].startswith("test.csops.not_null_columns_stg_accounts")]
    assert (not_null["status"], not_null["failures"]) == ("fail", 2), not_null


def test_build_passes_when_optional_sources_are_empty(tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    write_raw(db_path, REQUIRED_BATCHES)
    process, results = run_dbt(tmp_path, "build", "--select", "path:models/staging", db_path=db_path)
    assert process.returncode == 0, process.stdout[-4000:]
    assert not failed_nodes(results)
    assert query(db_path, "SELECT count(*) FROM staging.stg_handoffs") == [(0,)]


def test_parses_for_snowflake_without_credentials(tmp_path):
    process, _ = run_dbt(tmp_path, "parse", "--target", "snowflake")
    assert process.returncode == 0, process.stdout[-4000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert set(EXPECTED_COLUMNS) <= {m["name"] for m in models}
    # Custom schemas are used verbatim on Snowflake too, so asset keys [schema, model] match the tables:
    # every model lands in the schema named after its layer folder.
    assert all(m["schema"] == m["fqn"][1] for m in models), {m["name"]: m["schema"] for m in models}
