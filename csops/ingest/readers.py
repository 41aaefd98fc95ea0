"""Read one batch file into the temp table `__batch` (text columns plus a 0-based `file_row_number`) and the lines
that could not be read into `__rejects` (record number, DuckDB's full reason, the line as read).

CSV is read row-tolerantly with DuckDB's rejects tables: a cut, over-long or wrongly encoded line is one rejected
row, the others load. A file that cannot be read at all is counted with the rows it holds where that is knowable
(Parquet footer, line count), so reconciliation stays honest.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import duckdb

# Kept of a rejected line in the quarantine table (the reason is kept whole); a 10 MB field stays in the file.
REJECTED_LINE_CHARS = 2_000
REJECTS_COLUMNS = "record BIGINT, reason VARCHAR, line VARCHAR"


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_batch(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Fill `__batch` and `__rejects`; raises duckdb.Error (or OSError) when the file cannot be read at all."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rejects ({REJECTS_COLUMNS})")
    if path.name.endswith(".parquet"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE __batch AS SELECT * FROM "
                    f"read_parquet({sql_literal(str(path))}, file_row_number = true)")
    else:
        _read_csv(con, path)


def _open_text(path: Path):
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _dialect(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, str, str]:
    """Delimiter, quote and escape as DuckDB's sniffer sees them; the CSV defaults when sniffing fails (a line over
    the sniffer's size limit, say): the rows are then judged one by one by the read itself."""
    try:
        found = con.execute(f"SELECT Delimiter, Quote, Escape FROM sniff_csv({sql_literal(str(path))}, "
                            "header = true, all_varchar = true, ignore_errors = true)").fetchone()
    except duckdb.Error:
        return ",", '"', '"'
    # The sniffer says "(empty)" when the sample quotes nothing; quotes later in the file are still the CSV default.
    delimiter, quote, escape = (value if value and len(value) == 1 else None for value in found)
    quote = quote or '"'
    return delimiter or ",", quote, escape or quote


def _header(path: Path, delimiter: str, quote: str, escape: str) -> list[str] | None:
    """The header row's names, made unique and non-empty as DuckDB's explicit column list needs; None: empty file."""
    with _open_text(path) as text:
        options = {"delimiter": delimiter, "quotechar": quote}
        if escape != quote:
            options |= {"escapechar": escape, "doublequote": False}
        row = next(csv.reader(text, **options), None)
    if not row:
        return None
    names: list[str] = []
    for position, name in enumerate(row):
        name = name.strip() or f"column{position}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    delimiter, quote, escape = _dialect(con, path)
    names = _header(path, delimiter, quote, escape)
    if names is None:
        raise duckdb.InvalidInputException("empty file: no header row")
    columns = "{" + ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in names) + "}"
    for table in ("__csv_rejects", "__csv_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    # Header, dialect and types are given, not detected: detection rejects the whole file for one bad line.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __csv AS SELECT *, row_number() OVER () AS __good_index FROM "
        f"read_csv({sql_literal(str(path))}, header = true, auto_detect = false, delim = {sql_literal(delimiter)}, "
        f"quote = {sql_literal(quote)}, escape = {sql_literal(escape)}, columns = {columns}, "
        "store_rejects = true, rejects_table = '__csv_rejects', rejects_scan = '__csv_scans')"
    )
    # One row per rejected line; a short line yields one error per missing column, the first one says it all.
    con.execute(
        f"INSERT INTO __rejects SELECT line - 1, string_agg(kind || ': ' || message, '; ' ORDER BY kind), "
        f"LEFT(any_value(csv_line), {REJECTED_LINE_CHARS}) FROM ("
        "SELECT line, lower(replace(error_type, '_', ' ')) AS kind, arg_min(error_message, coalesce(column_idx, 0)) "
        "AS message, any_value(csv_line) AS csv_line FROM __csv_rejects GROUP BY line, error_type) GROUP BY line"
    )
    # Good rows keep their record number in the file (1 = first line after the header) by filling, in order, the
    # record numbers no rejected line took. (A quoted field spanning lines shifts the numbers after it.)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __batch AS SELECT c.* EXCLUDE (__good_index), s.record - 1 AS file_row_number "
        "FROM __csv c JOIN (SELECT record, row_number() OVER (ORDER BY record) AS slot FROM range(1, "
        "(SELECT count(*) FROM __csv) + (SELECT count(*) FROM __rejects) + 1) r(record) "
        "WHERE record NOT IN (SELECT record FROM __rejects)) s ON c.__good_index = s.slot ORDER BY file_row_number"
    )
    for table in ("__csv", "__csv_rejects", "__csv_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def error_reason(error: BaseException) -> str:
    """DuckDB's whole reason, without the echoed SQL, the dialect it printed, or a line's megabytes of content."""
    kept = []
    for line in str(error).splitlines():
        line = line.strip()
        if line.startswith(("file =", "LINE ")):  # the dialect DuckDB assumed, then the SQL: not the reason
            break
        if line:
            kept.append(line if len(line) <= 300 else line[:300] + "...")
    return " ".join(kept) or type(error).__name__


def count_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    """Rows an unreadable file holds where that is knowable: the Parquet footer's count, or a CSV's lines after the
    header (a gzip stream read as far as it goes is not knowable). None: unknown."""
    try:
        if path.name.endswith(".parquet"):
            return con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata({sql_literal(str(path))})"
                               ).fetchone()[0]
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")) as handle:
            lines, last = 0, b"\n"
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines += block.count(b"\n")
                last = block[-1:]
        lines += last != b"\n"  # a last line without its newline
        return max(lines - 1, 0)
    except (duckdb.Error, OSError, EOFError):
        return None
