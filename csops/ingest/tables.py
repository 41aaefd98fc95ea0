"""DDL of the `raw` schema: one table per source, one quarantine table per source, and the batch ledger."""

from __future__ import annotations

import duckdb

from csops import contract

RAW_SCHEMA = "raw"
LEDGER_TABLE = f"{RAW_SCHEMA}.ingest_ledger"

DUCKDB_TYPES = {
    contract.STRING: "VARCHAR",
    contract.TIMESTAMP: "TIMESTAMP",  # naive, UTC
    contract.DATE: "DATE",
    contract.MONEY: "DECIMAL(18, 2)",
    contract.INTEGER: "BIGINT",
    contract.NUMBER: "DOUBLE",
}

# Lineage columns on every raw row: which batch it came from, and where in it.
METADATA_COLUMNS = {
    "_batch_file": "VARCHAR",  # file name inside the source folder
    "_batch_modified_at": "TIMESTAMP",  # file modification time (UTC): orders batches for "newest wins"
    "_row_number": "BIGINT",  # 1-based row position in the batch
    "_loaded_at": "TIMESTAMP",
    "_extra": "VARCHAR",  # JSON object of columns the contract does not list (kept, ignored downstream)
}

QUARANTINE_COLUMNS = {
    "_batch_file": "VARCHAR",
    "_batch_modified_at": "TIMESTAMP",
    "_row_number": "BIGINT",  # null when the whole batch was quarantined before rows were numbered
    "_reason": "VARCHAR",
    "_row": "VARCHAR",  # the row exactly as read, as a JSON object of strings
    "_quarantined_at": "TIMESTAMP",
    # Set when a row kept only for an unknown account_id was loaded after all, once the account arrived.
    "_released_at": "TIMESTAMP",
}

LEDGER_COLUMNS = {
    "source": "VARCHAR",
    "batch_file": "VARCHAR",
    "size_bytes": "BIGINT",
    "content_sha256": "VARCHAR",
    "modified_at": "TIMESTAMP",
    "status": "VARCHAR",  # loaded | quarantined (whole batch: schema error or unreadable)
    "reason": "VARCHAR",
    "rows_read": "BIGINT",
    "rows_loaded": "BIGINT",
    "rows_quarantined": "BIGINT",
    "rows_deduplicated": "BIGINT",
    "loaded_at": "TIMESTAMP",
    "run_id": "VARCHAR",
    # Rows of this batch loaded by a later run once their account arrived (already moved from quarantined to
    # loaded or deduplicated above, so read = loaded + quarantined + deduplicated still holds).
    "rows_released": "BIGINT",
}


def raw_table(source: str) -> str:
    return f"{RAW_SCHEMA}.{source}"


def quarantine_table(source: str) -> str:
    return f"{RAW_SCHEMA}.{source}_quarantine"


def _ddl(table: str, columns: dict[str, str]) -> str:
    body = ", ".join(f'"{name}" {sql_type}' for name, sql_type in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {table} ({body})"


def raw_columns(source: str) -> dict[str, str]:
    spec = contract.SOURCES[source]
    columns = (*spec.columns, spec.version_column) if spec.version_column else spec.columns
    return {c.name: DUCKDB_TYPES[c.type] for c in columns} | METADATA_COLUMNS


def insert_into(table: str, columns: dict[str, str]) -> str:
    """`INSERT INTO table (columns...)`: named, so tables that gained columns since take the older statements."""
    return f"INSERT INTO {table} ({', '.join(chr(34) + name + chr(34) for name in columns)})"


def quarantine_insert(source: str) -> str:
    """Insert of the quarantine columns a row has when it is quarantined (all but `_released_at`)."""
    return insert_into(quarantine_table(source), {k: v for k, v in QUARANTINE_COLUMNS.items() if k != "_released_at"})


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Create the schema, the source's raw and quarantine tables and the ledger if they do not exist yet, and add
    the columns later versions introduced to tables an older version created."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for table, columns in ((LEDGER_TABLE, LEDGER_COLUMNS), (raw_table(source), raw_columns(source)),
                           (quarantine_table(source), QUARANTINE_COLUMNS)):
        con.execute(_ddl(table, columns))
        schema, name = table.split(".")
        existing = {row[0] for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, name]).fetchall()}
        for column, sql_type in columns.items():
            if column not in existing:
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')
