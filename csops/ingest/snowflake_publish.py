"""Validated raw rows -> Snowflake's `raw` schema, where the dbt `snowflake` target reads its sources.

Ingest validates, quarantines and deduplicates in the local DuckDB file exactly as on the embedded default; this
copies each load it recorded in the ledger (one batch file, one `_loaded_at`) to Snowflake the way Snowflake loads
bulk data: Parquet files written by DuckDB (streamed, never held in memory), `PUT` to the table's stage, `COPY INTO`.
A load is published in one transaction together with its row in `raw.publish_ledger`, so a failed or repeated run
never loses or doubles rows: the next run publishes what the ledger does not list yet.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from csops.ingest import tables

PUBLISH_LEDGER = f"{tables.RAW_SCHEMA}.publish_ledger"
PUBLISH_LEDGER_COLUMNS = {
    "SOURCE": "varchar",
    "BATCH_FILE": "varchar",
    "LOADED_AT": "timestamp_ntz",  # the local ledger's loaded_at: with batch_file, names one load
    "ROWS_PUBLISHED": "number(38,0)",
    "PUBLISHED_AT": "timestamp_ntz",
    "RUN_ID": "varchar",
}
# Raw column types as ingest declares them in DuckDB, and the Snowflake type of the same values.
SNOWFLAKE_TYPES = {
    "VARCHAR": "varchar",
    "TIMESTAMP": "timestamp_ntz",  # naive UTC, as on DuckDB
    "DATE": "date",
    "DECIMAL(18, 2)": "number(18,2)",
    "BIGINT": "number(38,0)",
    "DOUBLE": "float",
}
# Rows per COPY INTO: a few loads share one transaction; the files are split at PARQUET_FILE_BYTES, the size
# Snowflake's loading guide recommends (100-250 MB compressed), so large loads copy in parallel.
ROWS_PER_COPY = 5_000_000
PARQUET_FILE_BYTES = "128MB"


@dataclass(frozen=True)
class Load:
    batch_file: str
    loaded_at: datetime
    rows: int


@dataclass(frozen=True)
class PublishResult:
    source: str
    loads: int
    rows: int
    files: int


def snowflake_columns(source: str) -> dict[str, str]:
    """The raw table's columns with Snowflake types; upper-case, as unquoted names resolve on Snowflake."""
    unknown = {kind for kind in tables.raw_columns(source).values() if kind not in SNOWFLAKE_TYPES}
    if unknown:
        raise ValueError(f"raw.{source}: no Snowflake type for DuckDB type(s) {sorted(unknown)} in SNOWFLAKE_TYPES")
    return {name.upper(): SNOWFLAKE_TYPES[kind] for name, kind in tables.raw_columns(source).items()}


def _ddl(table: str, columns: dict[str, str]) -> str:
    return f"create table if not exists {table} (" + ", ".join(f'"{n}" {t}' for n, t in columns.items()) + ")"


def ensure_snowflake_tables(cursor, source: str) -> None:
    """The `raw` schema, the source's table and the publish ledger, created when missing (DDL commits on its own)."""
    cursor.execute(f"create schema if not exists {tables.RAW_SCHEMA}")
    cursor.execute(_ddl(tables.raw_table(source), snowflake_columns(source)))
    cursor.execute(_ddl(PUBLISH_LEDGER, PUBLISH_LEDGER_COLUMNS))


def pending_loads(con: duckdb.DuckDBPyConnection, cursor, source: str) -> list[Load]:
    """Loads of `source` in the local ledger that Snowflake's publish ledger does not list, oldest first."""
    published = set(cursor.execute(
        f"select batch_file, loaded_at from {PUBLISH_LEDGER} where source = %s", (source,)).fetchall())
    local = con.execute(
        f"SELECT batch_file, loaded_at, rows_loaded FROM {tables.LEDGER_TABLE} "
        "WHERE source = ? AND status = 'loaded' ORDER BY loaded_at, batch_file", [source]).fetchall()
    return [Load(*row) for row in local if row[:2] not in published]


def copy_groups(loads: Iterable[Load], rows_per_copy: int = ROWS_PER_COPY) -> list[list[Load]]:
    """Consecutive loads grouped up to `rows_per_copy` rows (a larger load alone)."""
    groups: list[list[Load]] = []
    rows = 0
    for load in loads:
        if not groups or rows + load.rows > rows_per_copy:
            groups.append([])
            rows = 0
        groups[-1].append(load)
        rows += load.rows
    return groups


def publish_source(
    con: duckdb.DuckDBPyConnection,
    connection,
    source: str,
    run_id: str,
    work_dir: Path | None = None,
    rows_per_copy: int = ROWS_PER_COPY,
    log: Callable[[str], None] = lambda _msg: None,
) -> PublishResult:
    """Publish every pending load of `source` from the DuckDB raw table to Snowflake (`connection`: a Snowflake
    DB-API connection in the target database). Raises, with nothing of the failing group committed, when Snowflake
    reports a different row count than the local ledger."""
    cursor = connection.cursor()
    ensure_snowflake_tables(cursor, source)
    loads = pending_loads(con, cursor, source)
    total_rows = total_files = 0
    for group in copy_groups(loads, rows_per_copy):
        with tempfile.TemporaryDirectory(prefix=f"csops_publish_{source}_", dir=work_dir) as folder:
            files, rows = _publish_group(con, cursor, source, group, Path(folder), run_id)
        total_rows += rows
        total_files += files
        log(f"{source}: published {len(group)} load(s), {rows:,} rows in {files} file(s) to Snowflake "
            f"({total_rows:,} rows so far)")
    return PublishResult(source, len(loads), total_rows, total_files)


def _publish_group(con, cursor, source: str, group: list[Load], folder: Path, run_id: str) -> tuple[int, int]:
    expected = sum(load.rows for load in group)
    con.execute("CREATE OR REPLACE TEMP TABLE __publish (batch_file VARCHAR, loaded_at TIMESTAMP)")
    con.executemany("INSERT INTO __publish VALUES (?, ?)", [(load.batch_file, load.loaded_at) for load in group])
    columns = ", ".join(f'r."{name}"' for name in tables.raw_columns(source))
    con.execute(
        f"COPY (SELECT {columns} FROM {tables.raw_table(source)} r SEMI JOIN __publish p "
        "ON r._batch_file = p.batch_file AND r._loaded_at = p.loaded_at) "
        f"TO '{folder}' (FORMAT parquet, FILE_SIZE_BYTES '{PARQUET_FILE_BYTES}')")
    con.execute("DROP TABLE __publish")
    files = sorted(folder.glob("*.parquet"))
    stage = f"@%{source}/csops_{uuid.uuid4().hex}/"  # one prefix per group: COPY reads exactly these files
    if files:
        cursor.execute(f"put 'file://{folder}/*.parquet' {stage} auto_compress = false")
    now = datetime.now(UTC).replace(tzinfo=None)
    cursor.execute("begin")
    try:
        copied = 0
        if files:
            results = cursor.execute(
                f"copy into {tables.raw_table(source)} from {stage} file_format = (type = parquet) "
                "match_by_column_name = case_insensitive on_error = abort_statement purge = true").fetchall()
            copied = sum(row[3] for row in results if len(row) > 3)
        if copied != expected:
            raise RuntimeError(f"raw.{source}: Snowflake copied {copied:,} rows, the local ledger has {expected:,} "
                               f"for {len(group)} load(s); nothing of them committed")
        cursor.executemany(
            f"insert into {PUBLISH_LEDGER} (source, batch_file, loaded_at, rows_published, published_at, run_id) "
            "values (%s, %s, %s, %s, %s, %s)",
            [(source, load.batch_file, load.loaded_at, load.rows, now, run_id) for load in group])
        cursor.execute("commit")
    except BaseException:
        cursor.execute("rollback")
        raise
    return len(files), copied
