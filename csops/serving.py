"""The serving database: what BI tools, notebooks and `csops summary` read, never the file the pipeline writes.

After each successful run the marts (every table of the schemas `marts`, `ml`, `agent` and `delivery` present), the ingest
ledger, what the landing zone held that was ignored, and the quarantine tables without the rows' contents are
copied into a new DuckDB file beside the serving file, checkpointed, and swapped in with one `os.replace`. A reader
holding the old file keeps reading the old, complete tables (the replaced file lives on until it closes); the next
connection sees the new ones. Nothing a reader does can block or fail a run: the run never opens the serving file.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from csops import contract
from csops.ingest import tables
from csops.ingest.strays import IGNORED_TABLE
from csops.errors import UserError
from csops.ingest.validation import quote, sql_string
from csops.settings import Settings

SERVED_SCHEMAS = ("marts", "ml", "agent", "delivery")
PUBLICATION_TABLE = "main.publication"


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: list[str]
    rows: int
    bytes: int


def _served(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(schema, table, SELECT list) of everything published, in a stable order."""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        f"AND table_type = 'BASE TABLE' AND table_schema IN ({', '.join(sql_string(s) for s in SERVED_SCHEMAS)}) "
        "ORDER BY 1, 2").fetchall()
    served = [(schema, name, "*") for schema, name in rows]
    existing = {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ?", [tables.RAW_SCHEMA]).fetchall()}
    for table in (tables.LEDGER_TABLE, IGNORED_TABLE):
        if table.split(".")[1] in existing:
            served.append((*table.split("."), "*"))
    # Quarantine: why rows were refused, not the rows themselves (customer text and personal data stay behind).
    served += [(tables.RAW_SCHEMA, f"{source}_quarantine", "* EXCLUDE (_row)") for source in contract.SOURCE_NAMES
               if f"{source}_quarantine" in existing]
    return served


def publish(con: duckdb.DuckDBPyConnection, serving_path: Path, run_id: str) -> Publication:
    """Copy the served tables of the warehouse `con` is connected to into a new file and swap it in atomically."""
    serving_path = Path(serving_path)
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    served = _served(con)
    rows = 0
    con.execute(f"ATTACH {sql_string(str(temporary))} AS __serving")
    try:
        for schema in sorted({schema for schema, _, _ in served}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS __serving.{quote(schema)}")
        for schema, name, columns in served:
            con.execute(f"CREATE TABLE __serving.{quote(schema)}.{quote(name)} AS "
                        f"SELECT {columns} FROM {quote(schema)}.{quote(name)}")
            rows += con.execute(f"SELECT count(*) FROM __serving.{quote(schema)}.{quote(name)}").fetchone()[0]
        con.execute(f"CREATE TABLE __serving.{PUBLICATION_TABLE} AS SELECT ? AS run_id, ? AS published_at, "
                    "? AS tables, ? AS rows", [run_id, datetime.now(UTC).replace(tzinfo=None), len(served), rows])
        con.execute("CHECKPOINT __serving")  # everything in the file itself, no write-ahead log left beside it
    except BaseException:
        con.execute("DETACH __serving")
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
        raise
    con.execute("DETACH __serving")
    os.replace(temporary, serving_path)
    return Publication(serving_path, [f"{schema}.{name}" for schema, name, _ in served], rows,
                       serving_path.stat().st_size)


def open_summary_source(settings: Settings) -> tuple[Path, duckdb.DuckDBPyConnection]:
    """A read-only connection for `csops summary`: the serving file once a run published it, else the warehouse
    (which a run in progress holds: then one line saying so)."""
    path = settings.serving_path if settings.serving_path and settings.serving_path.exists() else settings.duckdb_path
    try:
        return path, settings.connect_warehouse(path, read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as error:  # the file is locked or open in this process
        raise UserError(f"the warehouse {path} is being written by a run and nothing was published to the serving "
                        f"file {settings.serving_path} yet; run `csops summary` when the run has finished") from error


def summary_heading(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    published = last_publication(con)
    if published is None:
        return f"Warehouse {path} (no run has published the serving file yet)"
    run_id, published_at = published
    return f"Serving file {path}: published by run {run_id} at {published_at:%Y-%m-%d %H:%M:%S} UTC"


def last_publication(con: duckdb.DuckDBPyConnection) -> tuple[str, datetime] | None:
    """(run id, time) of the publication a serving-file connection reads; None for any other DuckDB file."""
    try:
        return con.execute(f"SELECT run_id, published_at FROM {PUBLICATION_TABLE}").fetchone()
    except duckdb.CatalogException:
        return None
