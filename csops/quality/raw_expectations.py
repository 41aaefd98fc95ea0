"""Great Expectations suites for the raw tables, derived from the landing contract.

Ingest already refuses rows that break the contract; these suites check, independently, that what reached
`raw` really holds it, so a bug in ingest cannot pass bad data on silently. A run's check validates the batches that
run loaded (all their rows up to the sample size), not a sample of the whole table, where one new day would be a
fraction of a percent of the rows checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from csops import contract
from csops.ingest.tables import raw_table
from csops.ingest.validation import sql_string
from csops.quality.expectations import SuiteResult, run_suite, sample_query


def build_suite(source: str):
    import great_expectations as gx

    spec = contract.SOURCES[source]
    suite = gx.ExpectationSuite(name=f"raw_{source}")
    suite.add_expectation(gx.expectations.ExpectTableColumnsToMatchSet(column_set=spec.column_names, exact_match=False))
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
            gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=[spec.primary_key, "_batch_file", "_row_number"])
        )
    return suite


def raw_sample_query(source: str, batch_files: Sequence[str] = ()) -> str:
    """A sample of the rows of `batch_files` (the batches a run just loaded: the data this run lets through), or of
    the whole table when none are named."""
    if not batch_files:
        return sample_query(raw_table(source))
    return sample_query(raw_table(source), f"_batch_file IN ({', '.join(sql_string(b) for b in batch_files)})")


def validate_raw(source: str, frame: pd.DataFrame) -> SuiteResult:
    return run_suite(lambda: build_suite(source), frame)
