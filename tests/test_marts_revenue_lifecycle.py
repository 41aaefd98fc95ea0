"""Revenue and lifecycle marts: every contract definition pinned on hand-written contracts, and a generated data set
checked against the generator's ground truth.

The hand-written set is measured at as-of 2025-06-30 with the data window starting 2024-01-01 (both dbt vars), so no
date depends on the data. dbt runs as a subprocess, as Dagster runs it, with target and log folders in a temp dir.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from csops import contract
from csops.dbt import environment
from csops.ingest import tables
from csops.settings import Settings

DBT = Path(sys.executable).parent / "dbt"
DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
AS_OF = date(2025, 6, 30)
DBT_VARS = {"csops_as_of_date": "2025-06-30", "csops_data_window_start_date": "2024-01-01",
            "csops_feature_start_date": "2024-01-01"}
MY_MODELS = ["intermediate.revenue", "marts.revenue", "marts.lifecycle"]
FIRST_BATCH = datetime(2024, 1, 1)
LOADED_AT = datetime(2025, 7, 1)


# ---------------------------------------------------------------------------------------------------------------------
# dbt and DuckDB helpers


def run_dbt(tmp_path: Path, db_path: Path | None, *args: str, dbt_vars: dict | None = None) -> dict:
    """Run dbt in the project with outputs under tmp_path; fails the test on a non-zero exit."""
    env = environment(Settings.from_env(), db_path or tmp_path / "warehouse.duckdb")
    target = tmp_path / "target"
    command = [str(DBT), *args, "--target-path", str(target), "--log-path", str(tmp_path / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    process = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=400)
    results_file = target / "run_results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    # Exposures show as no-op in `dbt build` results.
    failed = [r["unique_id"] for r in results.get("results", []) if r["status"] not in ("success", "pass", "no-op")]
    assert process.returncode == 0 and not failed, (failed, process.stdout[-6000:])
    return results


def rows(db_path: Path, sql: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def one(db_path: Path, sql: str, params: list | None = None) -> dict:
    found = rows(db_path, sql, params)
    assert len(found) == 1, found
    return found[0]


class Raw:
    """Rows for the raw tables, inserted the way ingest writes them (lineage columns included)."""

    def __init__(self) -> None:
        self.batches: dict[tuple[str, str], tuple[datetime, list[dict]]] = {}

    def add(self, source: str, row: dict, batch_at: datetime = FIRST_BATCH) -> None:
        name = f"{batch_at:%Y-%m-%d}.csv"
        self.batches.setdefault((source, name), (batch_at, []))[1].append(row)

    def write(self, db_path: Path) -> None:
        with duckdb.connect(str(db_path)) as con:
            for source in contract.SOURCE_NAMES:
                tables.ensure_raw_tables(con, source)
            for (source, batch_file), (modified_at, batch_rows) in self.batches.items():
                for row_number, row in enumerate(batch_rows, start=1):
                    values = row | {"_batch_file": batch_file, "_batch_modified_at": modified_at,
                                    "_row_number": row_number, "_loaded_at": LOADED_AT}
                    columns = ", ".join(f'"{name}"' for name in values)
                    placeholders = ", ".join("?" for _ in values)
                    con.execute(f"INSERT INTO {tables.raw_table(source)} ({columns}) VALUES ({placeholders})",
                                list(values.values()))
        self.batches = {}

    # -- shorthands ---------------------------------------------------------------------------------------------
    def account(self, account_id: str, segment: str = "smb", csm: str = "csm_a", created: date = date(2023, 1, 1),
                batch_at: datetime = FIRST_BATCH) -> None:
        self.add("accounts", {"account_id": account_id, "account_name": f"Name {account_id}", "segment": segment,
                              "csm_owner": csm, "created_at": datetime.combine(created, datetime.min.time())},
                 batch_at)

    def contract(self, contract_id: str, account_id: str, start: date, end: date, arr: str, seats: int | None = 10,
                 product: str = "core") -> None:
        self.add("contracts", {"contract_id": contract_id, "account_id": account_id, "product": product,
                               "start_date": start, "end_date": end, "arr": Decimal(arr), "licensed_seats": seats})

    def handoff(self, opportunity_id: str, account_id: str, closed: date, batch_at: datetime, **missing: bool) -> None:
        fields = {"executive_sponsor": "Sam Sponsor", "champion": "Cara Champion", "success_criteria": "Live in Q2",
                  "use_cases": "Reporting", "implementation_deadline": closed + timedelta(days=60),
                  "pain_points": "Manual reports"}
        for name in missing:
            fields[name] = None
        self.add("handoffs", {"opportunity_id": opportunity_id, "account_id": account_id,
                              "closed_at": datetime.combine(closed, datetime.min.time())} | fields, batch_at)

    def activity(self, account_id: str, activity_type: str, day: date) -> None:
        self.add("activities", {"activity_id": f"X-{account_id}-{activity_type}-{day}", "account_id": account_id,
                                "activity_type": activity_type,
                                "occurred_at": datetime(day.year, day.month, day.day, 15)})

    def nps(self, account_id: str, score: int, day: date) -> None:
        self.add("survey_responses", {"response_id": f"R-{account_id}-{day}", "account_id": account_id, "survey": "nps",
                                      "score": score, "responded_at": datetime(day.year, day.month, day.day, 10)})

    def healthy_usage(self, account_id: str, first: date, last: date, users: int = 2) -> None:
        """Every user active every day on four feature categories, including key-value events."""
        day = first
        while day <= last:
            for user in range(users):
                for n, event_type in enumerate(("record_created", "dashboard_viewed", "workflow_run", "api_call")):
                    self.add("usage_events", {
                        "event_id": f"E-{account_id}-{day}-{user}-{n}", "account_id": account_id,
                        "user_id": f"U-{account_id}-{user}", "event_type": event_type,
                        "occurred_at": datetime(day.year, day.month, day.day, 9 + n)})
            day += timedelta(days=1)

    def healthy_relationship(self, account_id: str, first: date, last: date) -> None:
        """Champion and sponsor on file, a meeting every week."""
        for role in ("champion", "executive_sponsor"):
            self.add("contacts", {"contact_id": f"P-{account_id}-{role}", "account_id": account_id, "role": role,
                                  "created_at": datetime.combine(first - timedelta(days=400), datetime.min.time())})
        day = first
        while day <= last:
            self.activity(account_id, "meeting", day)
            day += timedelta(days=7)


# ---------------------------------------------------------------------------------------------------------------------
# The hand-written book of contracts (as-of 2025-06-30)

D = date


def hand_written_book() -> Raw:
    raw = Raw()
    # Renewal on the same day: one chain, one interval, no churn.
    raw.account("SAME")
    raw.contract("SAME-1", "SAME", D(2024, 1, 1), D(2025, 1, 1), "1200")
    raw.contract("SAME-2", "SAME", D(2025, 1, 1), D(2026, 1, 1), "1200")
    # Renewal 20 days after the end, with the gap over a month-end: a renewal, ARR carried through the gap.
    raw.account("GAP20")
    raw.contract("GAP20-1", "GAP20", D(2024, 1, 1), D(2024, 12, 20), "1200")
    raw.contract("GAP20-2", "GAP20", D(2025, 1, 9), D(2026, 1, 9), "1200")
    # 40 days without a contract: churn on the end date, then reactivation.
    raw.account("GAP40")
    raw.contract("GAP40-1", "GAP40", D(2024, 1, 1), D(2024, 10, 1), "2400", seats=20)
    raw.contract("GAP40-2", "GAP40", D(2024, 11, 10), D(2025, 11, 10), "3000", seats=25)
    # Ended 15 days before the as-of date: pending renewal, not churn.
    raw.account("PEND", created=D(2023, 6, 1))
    raw.contract("PEND-1", "PEND", D(2024, 7, 1), D(2025, 6, 15), "1800")
    # Grace boundary: ended exactly 30 days before the as-of date (pending) and 31 days before (churned).
    raw.account("EDGE30")
    raw.contract("EDGE30-1", "EDGE30", D(2024, 5, 31), D(2025, 5, 31), "500")
    raw.account("EDGE31")
    raw.contract("EDGE31-1", "EDGE31", D(2024, 5, 30), D(2025, 5, 30), "700")
    # Expansion by added product mid-term, then both lines renewed unchanged.
    raw.account("PROD")
    raw.contract("PROD-1", "PROD", D(2024, 1, 1), D(2025, 1, 1), "1000")
    raw.contract("PROD-2", "PROD", D(2024, 6, 10), D(2025, 1, 1), "300", seats=None, product="analytics_addon")
    raw.contract("PROD-3", "PROD", D(2025, 1, 1), D(2026, 1, 1), "1000")
    raw.contract("PROD-4", "PROD", D(2025, 1, 1), D(2026, 1, 1), "300", seats=None, product="analytics_addon")
    # Price-only expansion at renewal.
    raw.account("PRICE")
    raw.contract("PRICE-1", "PRICE", D(2024, 1, 1), D(2025, 1, 1), "1000")
    raw.contract("PRICE-2", "PRICE", D(2025, 1, 1), D(2026, 1, 1), "1100")

    # NRR example: the only three enterprise accounts, all renewing (or not) on 2025-01-01.
    #   SEATS  1000 -> 1500 (10 -> 15 seats: expansion by seats); owner alice, reassigned to bob on 2025-02-01
    #   CONTR  2000 + 500 add-on -> 1500 (20 -> 15 seats, add-on dropped: contraction)
    #   ECHURN 4000 -> nothing (churn on 2025-01-01)
    raw.account("SEATS", segment="enterprise", csm="alice")
    raw.account("SEATS", segment="enterprise", csm="bob", batch_at=datetime(2025, 2, 1, 2))
    raw.contract("SEATS-1", "SEATS", D(2024, 1, 1), D(2025, 1, 1), "1000", seats=10)
    raw.contract("SEATS-2", "SEATS", D(2025, 1, 1), D(2026, 1, 1), "1500", seats=15)
    raw.account("CONTR", segment="enterprise", csm="alice")
    raw.contract("CONTR-1", "CONTR", D(2024, 1, 1), D(2025, 1, 1), "2000", seats=20)
    raw.contract("CONTR-2", "CONTR", D(2024, 1, 1), D(2025, 1, 1), "500", seats=None, product="automation_addon")
    raw.contract("CONTR-3", "CONTR", D(2025, 1, 1), D(2026, 1, 1), "1500", seats=15)
    raw.account("ECHURN", segment="enterprise", csm="carol")
    raw.contract("ECHURN-1", "ECHURN", D(2024, 1, 1), D(2025, 1, 1), "4000", seats=40)

    # Lifecycle gates (new accounts are created inside the window).
    raw.account("L1", segment="mid_market", created=D(2025, 5, 1))  # no handoff at all
    raw.contract("L1-1", "L1", D(2025, 5, 1), D(2026, 5, 1), "900")
    raw.account("H1", segment="mid_market", created=D(2025, 3, 10))  # champion missing (a later batch fills it)
    raw.contract("H1-1", "H1", D(2025, 3, 10), D(2026, 3, 10), "900")
    raw.handoff("OPP-H1", "H1", D(2025, 3, 1), datetime(2025, 3, 15, 2), champion=True)
    raw.account("K1", segment="mid_market", created=D(2025, 5, 20))  # kickoff held 5 days before the as-of date
    raw.contract("K1-1", "K1", D(2025, 5, 20), D(2026, 5, 20), "900")
    raw.handoff("OPP-K1", "K1", D(2025, 5, 15), datetime(2025, 6, 1, 2))
    raw.activity("K1", "kickoff", D(2025, 6, 25))
    raw.account("V1", segment="mid_market", created=D(2025, 4, 1))  # trained after kickoff, no value yet
    raw.contract("V1-1", "V1", D(2025, 4, 1), D(2026, 4, 1), "900")
    raw.handoff("OPP-V1", "V1", D(2025, 3, 25), datetime(2025, 4, 1, 2))
    raw.activity("V1", "kickoff", D(2025, 4, 10))
    raw.activity("V1", "training", D(2025, 4, 15))
    raw.account("T1", segment="mid_market", created=D(2025, 2, 1))  # reaches time-to-value on 2025-03-01
    raw.contract("T1-1", "T1", D(2025, 2, 1), D(2026, 2, 1), "900", seats=2)
    raw.handoff("OPP-T1", "T1", D(2025, 1, 25), datetime(2025, 2, 1, 2))
    raw.activity("T1", "kickoff", D(2025, 2, 5))
    raw.healthy_usage("T1", D(2025, 3, 1), D(2025, 3, 1))
    # Established accounts: a promoter with green health (advocacy), the same with a passive NPS (value
    # realization), one renewing in 63 days (growth & renewal), a healthy churn (win-back) and an unhealthy one.
    for account_id, score in (("P1", 10), ("P2", 6)):
        raw.account(account_id, segment="mid_market", created=D(2022, 1, 1))
        raw.contract(f"{account_id}-1", account_id, D(2023, 1, 1), D(2026, 1, 1), "5000", seats=2)
        raw.healthy_usage(account_id, D(2025, 3, 1), AS_OF)
        raw.healthy_relationship(account_id, D(2025, 3, 1), AS_OF)
        raw.nps(account_id, score, D(2025, 6, 1))
    raw.account("R1", segment="mid_market", created=D(2022, 1, 1))
    raw.contract("R1-1", "R1", D(2022, 9, 1), D(2025, 9, 1), "800")
    raw.account("W1", segment="mid_market", created=D(2022, 1, 1))
    raw.contract("W1-1", "W1", D(2023, 3, 1), D(2025, 3, 1), "2600", seats=2)
    raw.healthy_usage("W1", D(2024, 11, 1), D(2025, 2, 28))
    raw.healthy_relationship("W1", D(2024, 11, 1), D(2025, 2, 28))
    raw.nps("W1", 9, D(2025, 1, 15))
    raw.account("W2", segment="mid_market", created=D(2022, 1, 1))
    raw.contract("W2-1", "W2", D(2023, 3, 1), D(2025, 3, 1), "2600", seats=20)
    return raw


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> dict:
    """Build the hand-written book twice: first without, then with the batch that completes H1's handoff."""
    tmp_path = tmp_path_factory.mktemp("revenue_book")
    db_path = tmp_path / "warehouse.duckdb"
    hand_written_book().write(db_path)
    # Seeds and models only (upstream included); the second build runs this area's data tests on the final state.
    run_dbt(tmp_path, db_path, "build", "--select", *[f"+{m}" for m in MY_MODELS], "--exclude-resource-type", "test",
            dbt_vars=DBT_VARS)
    first = {
        "audit": rows(db_path, "SELECT * FROM marts.fct_handoff_audit ORDER BY account_id"),
        "lifecycle": {r["account_id"]: r for r in rows(db_path, "SELECT * FROM marts.fct_account_lifecycle")},
    }
    later = Raw()
    later.handoff("OPP-H1", "H1", D(2025, 3, 1), datetime(2025, 4, 1, 2))
    later.write(db_path)
    run_dbt(tmp_path, db_path, "build", "--select", *MY_MODELS, dbt_vars=DBT_VARS)
    return {"db": db_path, "first": first}


def events(db_path: Path, account_id: str) -> list[tuple]:
    return [
        (r["event_type"], r["event_date"], r["arr_before_amount"], r["arr_after_amount"])
        for r in rows(db_path, "SELECT * FROM marts.fct_revenue_events WHERE account_id = ? "
                               "ORDER BY event_month, event_order_in_month", [account_id])
    ]


def monthly_arr(db_path: Path, account_id: str) -> dict[date, Decimal]:
    return {r["month_start_date"]: r["ending_arr_amount"] for r in rows(
        db_path, "SELECT * FROM intermediate.int_account_arr_monthly WHERE account_id = ?", [account_id])}


# ---------------------------------------------------------------------------------------------------------------------
# Contract definitions


def test_renewal_on_the_same_day_is_a_renewal_not_a_churn(book):
    db = book["db"]
    renewal = one(db, "SELECT * FROM intermediate.int_contract_renewals WHERE contract_id = 'SAME-2'")
    assert (renewal["is_renewal"], renewal["renewed_contract_id"], renewal["renewal_gap_days"]) == (True, "SAME-1", 0)
    assert renewal["chain_root_contract_id"] == "SAME-1" and renewal["chain_position"] == 2
    assert one(db, "SELECT renewal_outcome FROM intermediate.int_contract_renewals WHERE contract_id = 'SAME-1'") == {
        "renewal_outcome": "renewed"}
    assert events(db, "SAME") == [("new", D(2024, 1, 1), 0, Decimal("1200.00"))]


def test_renewal_20_days_later_is_not_churn_and_carries_arr_through_the_gap(book):
    db = book["db"]
    renewal = one(db, "SELECT * FROM intermediate.int_contract_renewals WHERE contract_id = 'GAP20-2'")
    assert (renewal["is_renewal"], renewal["renewal_gap_days"]) == (True, 20)
    assert rows(db, "SELECT count(*) AS n FROM intermediate.int_account_active_intervals WHERE account_id = 'GAP20'")[
        0]["n"] == 1
    assert events(db, "GAP20") == [("new", D(2024, 1, 1), 0, Decimal("1200.00"))]
    december = one(db, "SELECT * FROM intermediate.int_account_arr_monthly "
                       "WHERE account_id = 'GAP20' AND month_start_date = DATE '2024-12-01'")
    assert (december["coverage_status"], december["ending_arr_amount"]) == ("renewal_gap", Decimal("1200.00"))


def test_40_day_gap_is_a_churn_on_the_end_date_then_a_reactivation(book):
    db = book["db"]
    assert events(db, "GAP40") == [
        ("new", D(2024, 1, 1), 0, Decimal("2400.00")),
        ("churn", D(2024, 10, 1), Decimal("2400.00"), 0),
        ("reactivation", D(2024, 11, 10), 0, Decimal("3000.00")),
    ]
    churn = one(db, "SELECT * FROM intermediate.int_account_churns WHERE account_id = 'GAP40'")
    assert (churn["churn_status"], churn["churn_date"], churn["churned_arr_amount"]) == (
        "churned", D(2024, 10, 1), Decimal("2400.00"))
    arr = monthly_arr(db, "GAP40")
    assert (arr[D(2024, 9, 1)], arr[D(2024, 10, 1)], arr[D(2024, 11, 1)]) == (2400, 0, 3000)
    assert one(db, "SELECT is_renewal FROM intermediate.int_contract_renewals WHERE contract_id = 'GAP40-2'") == {
        "is_renewal": False}
    account = one(db, "SELECT * FROM marts.dim_accounts WHERE account_id = 'GAP40'")
    assert (account["churn_status"], account["churn_count"], account["reactivation_count"]) == ("active", 1, 1)


def test_contract_ended_inside_the_grace_window_is_pending_not_churned(book):
    db = book["db"]
    assert [e[0] for e in events(db, "PEND")] == ["new"]
    assert [e[0] for e in events(db, "EDGE30")] == ["new"]  # ended 30 days before the as-of date: still pending
    assert events(db, "EDGE31")[-1] == ("churn", D(2025, 5, 30), Decimal("700.00"), 0)  # 31 days: churned
    statuses = {r["account_id"]: r for r in rows(db, "SELECT * FROM marts.dim_accounts")}
    assert statuses["PEND"]["churn_status"] == "pending_renewal"
    assert statuses["EDGE30"]["churn_status"] == "pending_renewal"
    assert statuses["EDGE31"]["churn_status"] == "churned"
    # Pending ARR is still reported (not churned yet); nothing covers the as-of date, though.
    assert (statuses["PEND"]["reported_arr_amount"], statuses["PEND"]["active_arr_amount"]) == (1800, 0)
    lifecycle = one(db, "SELECT * FROM marts.fct_account_lifecycle WHERE account_id = 'PEND'")
    assert (lifecycle["phase_number"], lifecycle["phase_gate"]) == (11, "contract_ended_pending_renewal")
    assert not lifecycle["is_winback_eligible"]
    renewal = one(db, "SELECT renewal_outcome FROM intermediate.int_contract_renewals WHERE contract_id = 'PEND-1'")
    assert renewal == {"renewal_outcome": "pending_renewal"}


def expansion(db_path: Path, account_id: str) -> dict:
    return one(db_path, "SELECT * FROM marts.fct_revenue_events WHERE account_id = ? AND event_type = 'expansion'",
               [account_id])


def test_expansion_drivers_seats_product_and_price(book):
    db = book["db"]
    seats = expansion(db, "SEATS")
    assert (seats["event_date"], seats["arr_delta_amount"], seats["change_driver"]) == (
        D(2025, 1, 1), Decimal("500.00"), "more_seats")
    assert (seats["has_seat_increase"], seats["has_added_product"]) == (True, False)
    assert (seats["licensed_seats_before"], seats["licensed_seats_after"]) == (10, 15)
    assert (seats["seat_change_arr_amount"], seats["price_change_arr_amount"]) == (Decimal("500.00"), 0)

    product = expansion(db, "PROD")
    assert (product["event_date"], product["event_month"], product["arr_delta_amount"]) == (
        D(2024, 6, 10), D(2024, 6, 1), Decimal("300.00"))
    assert (product["change_driver"], product["has_added_product"], product["added_product_arr_amount"]) == (
        "added_product", True, Decimal("300.00"))
    assert (product["product_count_before"], product["product_count_after"]) == (1, 2)
    # Both lines renewed unchanged: no further event.
    assert [e[0] for e in events(db, "PROD")] == ["new", "expansion"]

    price = expansion(db, "PRICE")
    assert (price["arr_delta_amount"], price["change_driver"]) == (Decimal("100.00"), "price_change")
    assert (price["has_seat_increase"], price["has_added_product"], price["price_change_arr_amount"]) == (
        False, False, Decimal("100.00"))


def test_contraction_by_fewer_seats_and_dropped_product(book):
    db = book["db"]
    contraction = one(db, "SELECT * FROM marts.fct_revenue_events WHERE account_id = 'CONTR' "
                          "AND event_type = 'contraction'")
    assert (contraction["event_date"], contraction["arr_before_amount"], contraction["arr_after_amount"]) == (
        D(2025, 1, 1), Decimal("2500.00"), Decimal("1500.00"))
    assert (contraction["change_driver"], contraction["removed_product_arr_amount"]) == (
        "removed_product_and_seats", Decimal("500.00"))
    outcomes = {r["contract_id"]: r["renewal_outcome"] for r in rows(
        db, "SELECT * FROM intermediate.int_contract_renewals WHERE account_id = 'CONTR'")}
    assert outcomes == {"CONTR-1": "renewed", "CONTR-2": "line_not_renewed", "CONTR-3": "in_term"}


def test_segment_and_owner_are_taken_as_of_the_event(book):
    db = book["db"]
    assert expansion(db, "SEATS")["csm_owner"] == "alice"  # the event is before the reassignment batch
    assert one(db, "SELECT csm_owner FROM marts.dim_accounts WHERE account_id = 'SEATS'") == {"csm_owner": "bob"}


def test_nrr_arithmetic_for_three_enterprise_accounts(book):
    db = book["db"]
    jan = one(db, "SELECT * FROM marts.fct_nrr_monthly WHERE grouping_type = 'segment' "
                  "AND grouping_value = 'enterprise' AND month_start_date = DATE '2025-01-01'")
    # Starting 1000 + 2500 + 4000; +500 seats; -1000 contraction; -4000 churn; ending 1500 + 1500.
    assert (jan["starting_arr_amount"], jan["new_arr_amount"], jan["expansion_arr_amount"],
            jan["contraction_arr_amount"], jan["churned_arr_amount"], jan["ending_arr_amount"]) == (
        7500, 0, 500, 1000, 4000, 3000)
    assert jan["grr"] == pytest.approx(2500 / 7500)
    assert jan["nrr"] == pytest.approx(3000 / 7500)
    assert (jan["starting_logos"], jan["churned_logos"], jan["expanded_logos"], jan["contracted_logos"],
            jan["ending_logos"]) == (3, 1, 1, 1, 2)
    assert jan["logo_churn_rate"] == pytest.approx(1 / 3)
    # Churn tax with the default vars: 4000 x (1.2 CAC ratio + 0.10 lost expansion).
    assert (jan["churn_tax_replacement_cac_amount"], jan["churn_tax_lost_expansion_amount"],
            jan["churn_tax_amount"]) == (4800, 400, 5200)
    # Trailing 12 months: the cohort of 2024-01-31 (1000, 2500, 4000) is worth 1500, 1500, 0 now.
    assert jan["t12m_cohort_starting_arr_amount"] == 7500
    assert jan["nrr_t12m"] == pytest.approx(3000 / 7500)
    assert jan["grr_t12m"] == pytest.approx((1000 + 1500) / 7500)
    # A month without movements retains everything; the first window month has no trailing-12 history.
    feb = one(db, "SELECT * FROM marts.fct_nrr_monthly WHERE grouping_type = 'segment' "
                  "AND grouping_value = 'enterprise' AND month_start_date = DATE '2025-02-01'")
    assert (feb["starting_arr_amount"], feb["ending_arr_amount"], feb["grr"], feb["nrr"]) == (3000, 3000, 1, 1)
    first = one(db, "SELECT * FROM marts.fct_nrr_monthly WHERE grouping_type = 'overall' "
                    "AND month_start_date = DATE '2024-01-01'")
    assert first["nrr_t12m"] is None and first["grr"] == 1  # no trailing-12 history before the window yet


def test_nrr_components_match_the_revenue_events_every_month(book):
    db = book["db"]
    mismatches = rows(db, """
        with ev as (
            select event_month,
                   sum(case when event_type = 'new' then arr_delta_amount else 0 end) as new_arr,
                   sum(case when event_type = 'reactivation' then arr_delta_amount else 0 end) as react_arr,
                   sum(case when event_type = 'expansion' then arr_delta_amount else 0 end) as exp_arr,
                   sum(case when event_type = 'contraction' then -arr_delta_amount else 0 end) as con_arr,
                   sum(case when event_type = 'churn' then -arr_delta_amount else 0 end) as churn_arr
            from marts.fct_revenue_events group by 1
        )
        select n.month_start_date
        from marts.fct_nrr_monthly n left join ev on ev.event_month = n.month_start_date
        where n.grouping_type = 'overall' and (
            n.new_arr_amount <> coalesce(ev.new_arr, 0) or n.reactivation_arr_amount <> coalesce(ev.react_arr, 0)
            or n.expansion_arr_amount <> coalesce(ev.exp_arr, 0) or n.contraction_arr_amount <> coalesce(ev.con_arr, 0)
            or n.churned_arr_amount <> coalesce(ev.churn_arr, 0))
    """)
    assert mismatches == []
    months = rows(db, "SELECT count(*) AS n FROM marts.fct_nrr_monthly WHERE grouping_type = 'overall'")[0]["n"]
    assert months == 18  # 2024-01 .. 2025-06


# ---------------------------------------------------------------------------------------------------------------------
# Handoff audit and lifecycle gates


def test_handoff_audit_lists_missing_fields_and_a_later_batch_closes_them(book):
    first = {r["account_id"]: r for r in book["first"]["audit"]}
    h1 = first["H1"]
    assert (h1["is_ready"], h1["has_champion"], h1["missing_field_count"], h1["open_tasks"]) == (
        False, False, 1, "Identify champion")
    assert book["first"]["lifecycle"]["H1"]["phase_gate"] == "handoff_incomplete"
    # New accounts without any handoff are listed with everything missing; established accounts are not audited.
    l1 = first["L1"]
    assert (l1["has_handoff"], l1["opportunity_id"], l1["missing_field_count"]) == (False, None, 6)
    assert l1["open_tasks"] == ("Confirm executive sponsor; Identify champion; Document success criteria; "
                                "Document use cases; Agree implementation deadline; Capture pain points")
    assert set(first) == {"H1", "K1", "L1", "T1", "V1"}

    db = book["db"]
    h1 = one(db, "SELECT * FROM marts.fct_handoff_audit WHERE account_id = 'H1'")
    assert (h1["is_ready"], h1["missing_field_count"], h1["open_tasks"], h1["handoff_version_count"]) == (
        True, 0, None, 2)
    assert h1["ready_since_at"] == datetime(2025, 4, 1, 2)
    history = [(r["phase_number"], r["valid_from_date"], r["valid_to_date"]) for r in rows(
        db, "SELECT * FROM marts.fct_account_phase_history WHERE account_id = 'H1' ORDER BY valid_from_date")]
    assert history == [(1, D(2025, 3, 1), D(2025, 4, 1)), (2, D(2025, 4, 1), None)]


def test_lifecycle_gates_on_hand_made_accounts(book):
    db = book["db"]
    lifecycle = {r["account_id"]: r for r in rows(db, "SELECT * FROM marts.fct_account_lifecycle")}
    phase = {k: (v["phase_number"], v["phase_name"], v["phase_gate"]) for k, v in lifecycle.items()}
    assert phase["L1"] == (1, "Internal transition", "no_handoff")
    assert phase["H1"] == (2, "Diagnostic", "handoff_complete")
    assert phase["K1"] == (3, "Kickoff", "kickoff_held")
    assert phase["V1"] == (4, "Value activation", "training_after_kickoff")
    assert phase["T1"] == (8, "Value realization", "time_to_value_reached")
    assert phase["P2"] == (8, "Value realization", "created_before_data_window")
    assert phase["R1"] == (9, "Growth & renewal", "renewal_within_window")
    assert phase["ECHURN"] == (11, "Churn handling", "churned")
    assert phase["PEND"] == (11, "Churn handling", "contract_ended_pending_renewal")
    # Time to value: T1 activated 2 of 2 seats with key-value events on 2025-03-01, 28 days after its start.
    assert (lifecycle["T1"]["time_to_value_date"], lifecycle["T1"]["days_to_value"]) == (D(2025, 3, 1), 28)
    assert lifecycle["V1"]["time_to_value_date"] is None
    assert lifecycle["R1"]["days_to_renewal"] == 63
    # Advocacy needs a promoter NPS and green health (P1 and P2 have the same usage; only the NPS differs).
    assert lifecycle["P1"]["health_band"] == "green", "precondition: a fully used, engaged account scores green"
    assert phase["P1"] == (10, "Advocacy", "promoter_nps_and_green_health")
    # Win-back: churned within a year, green before the churn (W1) but not when unhealthy (W2).
    assert (lifecycle["W1"]["phase_number"], lifecycle["W1"]["health_band_before_churn"]) == (11, "green")
    assert lifecycle["W1"]["is_winback_eligible"] is True
    assert lifecycle["W2"]["is_winback_eligible"] is False
    account = one(db, "SELECT * FROM marts.dim_accounts WHERE account_id = 'P1'")
    assert (account["current_phase_number"], account["latest_health_band"], account["active_arr_amount"]) == (
        10, "green", 5000)
    assert account["next_renewal_date"] == D(2026, 1, 1)


def test_phase_history_is_scd2_and_matches_the_daily_phases(book):
    db = book["db"]
    history = rows(db, "SELECT * FROM marts.fct_account_phase_history WHERE account_id = 'T1' ORDER BY valid_from_date")
    # The handoff was complete from its first version, so T1 starts in diagnostic on the day its deal closed.
    assert [(r["phase_number"], r["valid_from_date"], r["phase_gate"]) for r in history] == [
        (2, D(2025, 1, 25), "handoff_complete"), (3, D(2025, 2, 5), "kickoff_held"),
        (4, D(2025, 2, 19), "kickoff_window_elapsed"),  # 14 days after the kickoff, no training
        (8, D(2025, 3, 1), "time_to_value_reached")]
    assert [r["is_current"] for r in history] == [False, False, False, True]
    assert history[-1]["valid_to_date"] is None and history[0]["valid_to_date"] == D(2025, 2, 5)
    # GAP40's churn shows as phase 11, and it left it when it came back.
    gap40 = [(r["phase_number"], r["valid_from_date"]) for r in rows(
        db, "SELECT * FROM marts.fct_account_phase_history WHERE account_id = 'GAP40' ORDER BY valid_from_date")]
    assert (11, D(2024, 10, 1)) in gap40 and gap40[-1][0] != 11
    # One current row per account, and every account with history has one.
    assert rows(db, """
        select account_id from marts.fct_account_phase_history
        group by 1 having sum(case when is_current then 1 else 0 end) <> 1
    """) == []


# ---------------------------------------------------------------------------------------------------------------------
# A generated data set against the generator's ground truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict:
    from lab.generator import generate
    from csops.ingest import ingest_source

    tmp_path = tmp_path_factory.mktemp("revenue_generated")
    landing = tmp_path / "landing"
    generate(landing, accounts=80, months=12, seed=5)
    db_path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db_path)) as con:
        for source in contract.SOURCE_NAMES:
            ingest_source(con, landing, source)
    # Everything these marts need, with this area's data tests (staging and feature tests have their own suites).
    run_dbt(tmp_path, db_path, "build", "--select", *[f"+{m}" for m in MY_MODELS], "--exclude",
            *[f"resource_type:test,path:models/{p}" for p in ("staging", "intermediate/features", "marts/features")])
    return {"db": db_path, "truth": landing / "_truth"}


def test_generated_set_builds_and_churns_agree_with_the_truth(generated):
    db = generated["db"]
    as_of = one(db, "SELECT as_of_date FROM intermediate.int_revenue_bounds")["as_of_date"]
    with duckdb.connect(str(db), read_only=True) as con:
        truth = con.execute(
            "SELECT account_id, renewal_date, outcome FROM read_parquet(?)",
            [str(generated["truth"] / "renewals.parquet")],
        ).fetchall()
    churn_events = {(r["account_id"], r["event_date"]) for r in rows(
        db, "SELECT * FROM marts.fct_revenue_events WHERE event_type = 'churn'")}
    status = {r["account_id"]: r["churn_status"] for r in rows(db, "SELECT * FROM marts.dim_accounts")}
    churned = [(a, d) for a, d, outcome in truth if outcome == "churned"]
    assert churned, "the generated set should contain churns"
    for account_id, renewal_date in churned:
        if (as_of - renewal_date).days > 30:
            assert (account_id, renewal_date) in churn_events, (account_id, renewal_date)
        else:  # still inside the grace period at the as-of date: pending, never called churn early
            assert (account_id, renewal_date) not in churn_events
            assert status[account_id] == "pending_renewal", (account_id, renewal_date)
    renewed = {(a, d) for a, d, outcome in truth if outcome != "churned"}
    assert renewed and not (renewed & churn_events)
    # Every churn event is a true churn.
    assert churn_events <= set(churned)


def test_generated_set_ties_out(generated):
    db = generated["db"]
    last = one(db, "SELECT * FROM marts.fct_nrr_monthly WHERE grouping_type = 'overall' "
                   "ORDER BY month_start_date DESC LIMIT 1")
    total = one(db, "SELECT sum(reported_arr_amount) AS arr FROM marts.dim_accounts")["arr"]
    assert last["ending_arr_amount"] == total
    for grouping in ("segment", "csm_owner"):
        by_group = one(db, f"""
            SELECT sum(ending_arr_amount) AS arr FROM marts.fct_nrr_monthly
            WHERE grouping_type = '{grouping}' AND month_start_date = ?""", [last["month_start_date"]])
        assert by_group["arr"] == total
    assert rows(db, "SELECT count(*) AS n FROM marts.fct_account_lifecycle")[0]["n"] == rows(
        db, "SELECT count(*) AS n FROM marts.dim_accounts WHERE current_phase_number IS NOT NULL")[0]["n"]


def test_models_parse_for_snowflake(tmp_path):
    run_dbt(tmp_path, None, "parse", "--target", "snowflake")
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    names = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {"fct_revenue_events", "fct_nrr_monthly", "fct_handoff_audit", "fct_account_lifecycle",
            "fct_account_phase_history", "dim_accounts"} <= names
    exposure = manifest["exposures"]["exposure.csops.cs_leader_dashboard"]
    assert exposure["type"] == "dashboard"
    assert {"model.csops.fct_nrr_monthly", "model.csops.dim_accounts"} <= set(exposure["depends_on"]["nodes"])
