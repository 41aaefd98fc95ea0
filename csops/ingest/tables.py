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
    return {c.name: DUCKDB_TYPES[c.type] for c in spec.columns} | METADATA_COLUMNS


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Create the schema, the source's raw and quarantine tables and the ledger if they do not exist yet."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    con.execute(_ddl(LEDGER_TABLE, LEDGER_COLUMNS))
    con.execute(_ddl(raw_table(source), raw_columns(source)))
    con.execute(_ddl(quarantine_table(source), QUARANTINE_COLUMNS))
