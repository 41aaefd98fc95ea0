"""Tables between the local DuckDB file and Snowflake, moved the bulk way each end is built for: DuckDB writes
Parquet files that go up with `PUT` and `COPY INTO`; Snowflake results come down as Arrow batches DuckDB appends.
Either way rows stream, so memory stays bounded by a few batches (the connector prefetches some), not by the table."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable, Collection
from pathlib import Path

import duckdb

# Parquet files are cut at the size Snowflake's loading guide recommends (100-250 MB compressed), so a large
# load copies in parallel.
PARQUET_FILE_BYTES = "128MB"
_SNOWFLAKE_TYPES = {
    "VARCHAR": "varchar",
    "DATE": "date",
    **dict.fromkeys(("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"), "timestamp_ntz"),  # naive UTC
    '"NULL"': "varchar",  # a column with no values yet (a DataFrame with no rows)
    "BOOLEAN": "boolean",
    "DOUBLE": "float",
    "FLOAT": "float",
    # Not HUGEINT: DuckDB writes it to Parquet as DOUBLE, so it would arrive rounded.
    **dict.fromkeys(
        ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"), "number(38,0)"
    ),
}
_DUCKDB_TYPES = {"TEXT": "VARCHAR", "DATE": "DATE", "TIMESTAMP_NTZ": "TIMESTAMP", "BOOLEAN": "BOOLEAN", "REAL": "DOUBLE"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def snowflake_type(duckdb_type: str) -> str:
    """The Snowflake column type holding the values of a DuckDB column type."""
    if decimal := _DECIMAL.fullmatch(duckdb_type):
        return f"number({decimal[1]},{decimal[2]})"
    if duckdb_type.endswith("[]"):
        return "array"  # Parquet lists load into ARRAY
    if duckdb_type not in _SNOWFLAKE_TYPES:
        raise ValueError(f"no Snowflake type for DuckDB type {duckdb_type}")
    return _SNOWFLAKE_TYPES[duckdb_type]


def duckdb_type(column) -> str:
    """The DuckDB column type for a Snowflake result column (an entry of `cursor.description`)."""
    from snowflake.connector.constants import FIELD_ID_TO_NAME

    name = FIELD_ID_TO_NAME[column.type_code]
    if name == "FIXED":
        return "BIGINT" if not column.scale else f"DECIMAL({column.precision},{column.scale})"
    if name not in _DUCKDB_TYPES:
        raise ValueError(f"column {column.name}: no DuckDB type for Snowflake type {name}")
    return _DUCKDB_TYPES[name]


def column_list(columns: dict[str, str]) -> str:
    """`"NAME" type, ...`: upper-case names, as unquoted names resolve on Snowflake, quoted against reserved words."""
    return ", ".join(f'"{name.upper()}" {kind}' for name, kind in columns.items())


def stage_query(con: duckdb.DuckDBPyConnection, cursor, select: str, stage: str, folder: Path) -> int:
    """Write the rows of the DuckDB query `select` as Parquet files into `folder` and `PUT` them to `stage`; the
    number of files."""
    con.execute(f"COPY ({select}) TO '{folder}' (FORMAT parquet, FILE_SIZE_BYTES '{PARQUET_FILE_BYTES}')")
    files = list(folder.glob("*.parquet"))
    if files:
        cursor.execute(f"put 'file://{folder}/*.parquet' {stage} auto_compress = false")
    return len(files)


def copy_from_stage(cursor, table: str, stage: str) -> int:
    """`COPY INTO table` every file under `stage`, deleting them once loaded; the rows loaded."""
    results = cursor.execute(
        f"copy into {table} from {stage} file_format = (type = parquet) "
        "match_by_column_name = case_insensitive on_error = abort_statement purge = true").fetchall()
    return sum(row[3] for row in results if len(row) > 3)  # (file, status, rows parsed, rows loaded, ...)


def table_stage(table: str) -> str:
    """A fresh folder of the stage of `table` (schema.name; qualified, as `@%name` means the session's schema): a
    COPY from it reads exactly the files put there."""
    schema, name = table.split(".")
    return f"@{schema}.%{name}/csops_{uuid.uuid4().hex}/"


def replace_in_snowflake(
    con: duckdb.DuckDBPyConnection, connection, table: str, work_dir: Path | None = None
) -> int:
    """Replace Snowflake's `table` (schema.name) with the rows of the DuckDB table of the same name; the row count.
    Readers see the old rows until the new ones are complete: they load into a transient side table of this call's
    own, and `CREATE OR REPLACE ... COPY GRANTS AS SELECT` swaps them in atomically, keeping the table's grants."""
    schema, name = table.split(".")
    columns = dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index", [schema, name]).fetchall())
    expected = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    loading = f"{schema}.{name}__load_{uuid.uuid4().hex[:12]}"
    cursor = connection.cursor()
    cursor.execute(f"create schema if not exists {schema}")
    cursor.execute(f"create transient table {loading} ("
                   + column_list({c: snowflake_type(kind) for c, kind in columns.items()}) + ")")
    try:
        stage = table_stage(loading)
        with tempfile.TemporaryDirectory(prefix="csops_replace_", dir=work_dir) as folder:
            loaded = copy_from_stage(cursor, loading, stage) if stage_query(
                con, cursor, f"SELECT * FROM {table}", stage, Path(folder)) else 0
        if loaded != expected:
            raise RuntimeError(f"{table}: Snowflake loaded {loaded:,} rows of {expected:,}; the old table stays")
        cursor.execute(f"create or replace table {table} copy grants as select * from {loading}")
    finally:
        cursor.execute(f"drop table if exists {loading}")
    return loaded


def copy_to_duckdb(connection, con: duckdb.DuckDBPyConnection, table: str, leave_out: Collection[str] = (),
                   log: Callable[[str], None] = lambda _msg: None) -> int:
    """Replace the DuckDB table `table` (schema.name) with Snowflake's, all columns but `leave_out`, batch by batch,
    in one DuckDB transaction (a failed copy leaves the previous rows); the row count."""
    cursor = connection.cursor()
    cursor.execute(f"select * from {table} limit 0")
    wanted = [column.name for column in cursor.description if column.name.lower() not in leave_out]
    cursor.execute("select " + ", ".join(f'"{name}"' for name in wanted) + f" from {table}")
    columns = {column.name.lower(): duckdb_type(column) for column in cursor.description}
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} (" + ", ".join(f'"{c}" {t}' for c, t in columns.items()) + ")")
        rows = 0
        for batch in cursor.fetch_arrow_batches():
            con.register("__snowflake_batch", batch.rename_columns(list(columns)))
            con.execute(f"INSERT INTO {table} SELECT * FROM __snowflake_batch")
            con.unregister("__snowflake_batch")
            rows += batch.num_rows
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log(f"{table}: {rows:,} rows from Snowflake")
    return rows
