"""Validated raw rows -> Snowflake's `raw` schema, where the dbt `snowflake` target reads its sources.

Ingest validates, quarantines and deduplicates in the local DuckDB file exactly as on the embedded default; this
copies each load it recorded in the ledger (one batch file, one `_loaded_at`) to Snowflake the way Snowflake loads
bulk data (`csops.snowflake_io`: Parquet, `PUT` to the table's stage, `COPY INTO`). A group of loads is published in
one transaction together with its rows in `raw.publish_ledger`, so a failed or repeated run never loses or doubles
rows: the next run publishes what the ledger does not list yet. A group that fails after its `PUT` leaves its files
under its own prefix of the table stage, where no later `COPY` looks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from csops import contract
from csops.ingest import tables
from csops.snowflake_io import column_list, copy_from_stage, snowflake_type, stage_query, table_stage

PUBLISH_LEDGER = f"{tables.RAW_SCHEMA}.publish_ledger"
PUBLISH_LEDGER_COLUMNS = {
    "source": "varchar",
    "batch_file": "varchar",
    # With batch_file, names one batch's content: a rebuilt local file that loads the same batches again (new
    # loaded_at) publishes nothing twice.
    "content_sha256": "varchar",
    "loaded_at": "timestamp_ntz",
    "rows_published": "number(38,0)",
    "published_at": "timestamp_ntz",
    "run_id": "varchar",
}
ROWS_PER_COPY = 5_000_000  # a few loads share one transaction; a larger load alone


@dataclass(frozen=True)
class Load:
    batch_file: str
    content_sha256: str
    loaded_at: datetime
    rows: int


@dataclass(frozen=True)
class PublishResult:
    source: str
    loads: int
    rows: int
    files: int


def ensure_snowflake_tables(cursor, source: str) -> None:
    """The `raw` schema, the source's table and the publish ledger, created when missing (DDL commits on its own)."""
    raw = {name: snowflake_type(kind) for name, kind in tables.raw_columns(source).items()}
    cursor.execute(f"create schema if not exists {tables.RAW_SCHEMA}")
    cursor.execute(f"create table if not exists {tables.raw_table(source)} ({column_list(raw)})")
    version = contract.SOURCES[source].version_column
    if version:  # added in a later version: tables created before it lack the column staging orders versions by
        cursor.execute(f"alter table {tables.raw_table(source)} add column if not exists {version.name} "
                       f"{raw[version.name]}")
    cursor.execute(f"create table if not exists {PUBLISH_LEDGER} ({column_list(PUBLISH_LEDGER_COLUMNS)})")


def pending_loads(con: duckdb.DuckDBPyConnection, cursor, source: str) -> list[Load]:
    """Loads of `source` in the local ledger that Snowflake's publish ledger does not list, oldest first."""
    published = set(cursor.execute(
        f"select batch_file, content_sha256 from {PUBLISH_LEDGER} where source = %s", (source,)).fetchall())
    local = con.execute(
        f"SELECT batch_file, content_sha256, loaded_at, rows_loaded FROM {tables.LEDGER_TABLE} "
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
    stage = table_stage(tables.raw_table(source))
    files = stage_query(con, cursor, f"SELECT {columns} FROM {tables.raw_table(source)} r SEMI JOIN __publish p "
                        "ON r._batch_file = p.batch_file AND r._loaded_at = p.loaded_at", stage, folder)
    con.execute("DROP TABLE __publish")
    now = datetime.now(UTC).replace(tzinfo=None)
    cursor.execute("begin")
    try:
        copied = copy_from_stage(cursor, tables.raw_table(source), stage) if files else 0
        if copied != expected:
            raise RuntimeError(f"raw.{source}: Snowflake copied {copied:,} rows, the local ledger has {expected:,} "
                               f"for {len(group)} load(s); nothing of them committed")
        cursor.executemany(
            f"insert into {PUBLISH_LEDGER} (source, batch_file, content_sha256, loaded_at, rows_published, "
            "published_at, run_id) values (%s, %s, %s, %s, %s, %s, %s)",
            [(source, load.batch_file, load.content_sha256, load.loaded_at, load.rows, now, run_id)
             for load in group])
        cursor.execute("commit")
    except BaseException:
        cursor.execute("rollback")
        raise
    return files, copied

