"""Great Expectations (1.x) suites for the raw tables, derived from the landing contract.

Ingest already refuses rows that break the contract; these suites check, independently, that what reached
`raw` really holds it, so a bug in ingest cannot pass bad data on silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from csops import contract

# Validating a reservoir sample keeps the check bounded on tables with tens of millions of rows;
# smaller tables are validated whole.
SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list


@dataclass(frozen=True)
class SuiteResult:
    success: bool
    rows_validated: int
    expectations: int
    failures: list[FailedExpectation]


def build_suite(source: str):
    import great_expectations as gx

    spec = contract.SOURCES[source]
    suite = gx.ExpectationSuite(name=f"raw_{source}")
    columns = spec.column_names
    suite.add_expectation(gx.expectations.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=False))
    for column in spec.columns:
        if column.required:
            suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.allowed:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.allowed))
            )
        if column.min_value is not None or column.max_value is not None:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value=column.min_value, max_value=column.max_value
                )
            )
    if spec.kind == "fact":
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column=spec.primary_key))
    else:
        # Entities keep every version; a version is one row of one batch.
        suite.add_expectation(
            gx.expectations.ExpectCompoundColumnsToBeUnique(
                column_list=[spec.primary_key, "_batch_file", "_row_number"]
            )
        )
    return suite


def validate_frame(source: str, frame: pd.DataFrame) -> SuiteResult:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(f"raw_{source}")
        .add_dataframe_asset(source)
        .add_batch_definition_whole_dataframe("sample")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    suite = build_suite(source)
    result = batch.validate(suite)
    failures = [
        FailedExpectation(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            unexpected_count=r.result.get("unexpected_count"),
            examples=[str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        )
        for r in result.results
        if not r.success
    ]
    return SuiteResult(bool(result.success), len(frame), len(result.results), failures)


def sample_query(source: str) -> str:
    from csops.ingest.tables import raw_table

    return f"SELECT * FROM {raw_table(source)} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (42)"
