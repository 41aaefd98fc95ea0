"""SQL that parses a batch's text values into contract types and names what is wrong with each row.

Every expression reads the batch columns as VARCHAR, so CSV and Parquet batches go through the same rules.
"""

from __future__ import annotations

from csops import contract
from csops.contract import Column, Source


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def text_value(column: Column) -> str:
    """The column as trimmed text, empty strings as null; enums lower-cased so `Enterprise` still matches."""
    expr = f"NULLIF(TRIM(CAST({quote(column.name)} AS VARCHAR)), '')"
    return f"LOWER({expr})" if column.allowed else expr


# ISO 8601 starts with a four-digit year: words DuckDB also parses ('epoch', 'infinity'), six-digit years and days
# before 1900 are sentinels or typos that pandas and the marts would carry on as real days.
ISO_DATE_PREFIX = r"^\d{4}-\d{2}-\d{2}"
EARLIEST = "1900-01-01"


def parsed_value(column: Column) -> str:
    """The typed value, or null when the text is absent or does not parse. Only TRY_ casts: no text in a landing file
    can make this SQL fail (NaN, infinities, 1e20 into an integer all give null, reported by `invalid_reason`)."""
    text = text_value(column)
    if column.type == contract.TIMESTAMP:
        # Offsets are honoured; text without one is UTC (the session time zone is UTC). Stored as naive UTC. Text
        # ending in Z is UTC already and parses as a plain TIMESTAMP, twice as fast as the time-zone-aware parse.
        parsed = (f"CASE WHEN ENDS_WITH({text}, 'Z') THEN TRY_CAST({text} AS TIMESTAMP) "
                  f"ELSE CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) END")
    elif column.type == contract.DATE:
        parsed = f"TRY_STRPTIME({text}, '%Y-%m-%d')::DATE"
    elif column.type == contract.MONEY:
        parsed = f"TRY_CAST({text} AS DECIMAL(18, 2))"
    elif column.type == contract.INTEGER:
        # Exports often write integers as 3.0; accept those, refuse 3.5.
        as_double = f"TRY_CAST({text} AS DOUBLE)"
        parsed = f"CASE WHEN {as_double} = ROUND({as_double}) THEN TRY_CAST({as_double} AS BIGINT) END"
    elif column.type == contract.NUMBER:
        parsed = f"CASE WHEN isfinite(TRY_CAST({text} AS DOUBLE)) THEN TRY_CAST({text} AS DOUBLE) END"
    else:
        parsed = text
    if column.default is not None:
        # Only an absent value takes the default; text that fails to parse is still reported as invalid.
        parsed = f"CASE WHEN {text} IS NULL THEN {column.default} ELSE {parsed} END"
    return parsed


def invalid_reason(column: Column, text: str) -> str:
    """Why a present value did not parse: a number that is not finite, or too large for the column's type, else
    not of the type at all."""
    kind = f"'invalid {column.type} in {column.name}: '"
    if column.type in (contract.INTEGER, contract.NUMBER, contract.MONEY):
        number = f"TRY_CAST({text} AS DOUBLE)"
        # A whole number (any number, for money) that parsed as a double but was refused does not fit the type.
        fits = f"{number} = ROUND({number})" if column.type == contract.INTEGER else "TRUE"
        kind = (f"CASE WHEN NOT isfinite({number}) THEN 'not a finite number in {column.name}: ' "
                f"WHEN {number} IS NOT NULL AND {fits} THEN 'out of range for {column.type} in {column.name}: ' "
                f"ELSE {kind} END")
    return f"{kind} || LEFT({text}, 40)"


def out_of_range(column: Column, text: str, value: str) -> str | None:
    """A parsed date or timestamp that is infinite, before 1900 or not written as ISO 8601 (yields the reason)."""
    if column.type not in (contract.DATE, contract.TIMESTAMP):
        return None
    return (f"CASE WHEN {value} IS NOT NULL AND (NOT isfinite({value}) OR {value} < DATE '{EARLIEST}' "
            f"OR NOT regexp_matches({text}, '{ISO_DATE_PREFIX}')) "
            f"THEN 'out of range {column.type} in {column.name}: ' || LEFT({text}, 40) END")


def problem_expressions(source: Source, known_accounts_sql: str | None) -> list[str]:
    """One SQL expression per rule; each yields a reason string when the rule is broken, else null.

    Parsed values are referenced by column name, so these run over a relation that already holds them.
    `known_accounts_sql` is a subquery of valid account ids (None for the accounts source itself).
    """
    problems: list[str] = []
    for column in source.columns:
        text, value = "__text_" + column.name, quote(column.name)
        if column.required:
            problems.append(f"CASE WHEN {text} IS NULL THEN 'missing required value: {column.name}' END")
        if column.allowed:
            allowed = ", ".join(sql_string(v) for v in column.allowed)
            problems.append(
                f"CASE WHEN {value} IS NOT NULL AND {value} NOT IN ({allowed}) "
                f"THEN 'unknown {column.name}: ' || LEFT({value}, 40) END"
            )
        elif column.type != contract.STRING:
            problems.append(f"CASE WHEN {text} IS NOT NULL AND {value} IS NULL THEN {invalid_reason(column, text)} END")
            range_rule = out_of_range(column, text, value)
            if range_rule:
                problems.append(range_rule)
        if column.min_value is not None:
            problems.append(
                f"CASE WHEN {value} < {column.min_value} THEN '{column.name} below {column.min_value:g}' END"
            )
        if column.max_value is not None:
            problems.append(
                f"CASE WHEN {value} > {column.max_value} THEN '{column.name} above {column.max_value:g}' END"
            )
    for predicate, reason in source.checks:
        problems.append(f"CASE WHEN NOT COALESCE({predicate}, TRUE) THEN {sql_string(reason)} END")
    if source.references_accounts and known_accounts_sql is not None:
        problems.append(
            "CASE WHEN account_id IS NOT NULL AND account_id NOT IN "
            f"({known_accounts_sql}) THEN 'unknown account_id: ' || LEFT(account_id, 40) END"
        )
    return problems


def validated_select(source: Source, batch_relation: str, known_accounts_sql: str | None) -> str:
    """SELECT over a batch relation: parsed contract columns, their original text, and `__problems`."""
    parsed = ", ".join(
        f"{parsed_value(c)} AS {quote(c.name)}, {text_value(c)} AS {quote('__text_' + c.name)}"
        for c in source.columns
    )
    problems = ", ".join(problem_expressions(source, known_accounts_sql))
    # The text copies only feed the rules: leaving them out of the result halves what a batch materializes.
    typed = ", ".join(quote(c.name) for c in source.columns)
    return (
        f"SELECT {typed}, __row_number, __extra, NULLIF(CONCAT_WS('; ', {problems}), '') AS __problems "
        f"FROM (SELECT {parsed}, __row_number, __extra FROM {batch_relation})"
    )
