"""Great Expectations suite for `marts.fct_account_daily`, the feature table models learn from.

dbt tests cover keys and single-column ranges; this suite adds the relations between columns that a broken
window or join would violate (7-day users above 30-day users, utilization without seats, ...).
"""

from __future__ import annotations

import pandas as pd

from csops.quality.expectations import SuiteResult, run_suite, sample_query

FEATURE_TABLE = "marts.fct_account_daily"
NON_NEGATIVE = (
    "active_users_1d",
    "active_users_7d",
    "active_users_30d",
    "events_30d",
    "days_since_last_use",
    "seat_utilization",
    "active_arr",
    "tenure_days",
    "tickets_30d",
    "tickets_90d",
    "open_tickets",
)
FLAGS = ("has_support_data", "has_survey_data", "has_engagement_data", "has_stakeholder_data")


def build_suite():
    import great_expectations as gx

    e = gx.expectations
    suite = gx.ExpectationSuite(name="fct_account_daily")
    suite.add_expectation(e.ExpectTableRowCountToBeBetween(min_value=1))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["account_id", "date_day"]))
    for column in ("account_id", "date_day", "active_arr", *FLAGS):
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column))
    for column in NON_NEGATIVE:
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    for flag in FLAGS:
        suite.add_expectation(e.ExpectColumnValuesToBeInSet(column=flag, value_set=[True, False]))
    for wider, narrower in (("active_users_30d", "active_users_7d"), ("active_users_7d", "active_users_1d"), ("tickets_90d", "tickets_30d")):
        suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(column_A=wider, column_B=narrower, or_equal=True, ignore_row_if="either_value_is_missing"))
    # Seat utilization is defined only where seats are licensed.
    suite.add_expectation(
        e.ExpectColumnValuesToBeNull(column="seat_utilization", row_condition='licensed_seats.isnull()', condition_parser="pandas")
    )
    return suite


def feature_sample_query() -> str:
    return sample_query(FEATURE_TABLE)


def validate_features(frame: pd.DataFrame) -> SuiteResult:
    return run_suite(build_suite, frame)
