"""Load new landing batches of one source into `raw`, quarantining what breaks the contract.

Each batch file is processed once (the ledger remembers its name and content hash) inside one transaction, so a
rerun or a crash never duplicates or half-loads a batch. Every row read ends up loaded, quarantined (with the
reason) or counted as a duplicate.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from csops import contract
from csops.errors import UserError
from csops.ingest import tables
from csops.ingest.late_rows import release_late_rows
from csops.ingest.readers import count_rows, error_reason, read_batch
from csops.ingest.validation import quote, validated_select


class MissingRequiredSourceError(UserError):
    """A source the contract requires (accounts, contracts, usage_events) has never delivered a batch."""


@dataclass(frozen=True)
class BatchFile:
    path: Path
    size_bytes: int
    modified_at: datetime

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class BatchResult:
    source: str
    batch_file: str
    status: str  # loaded | quarantined
    reason: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_deduplicated: int


def list_batches(landing_dir: Path, source: str) -> list[BatchFile]:
    """Batch files of a source in contract order: modification time, then name."""
    folder = Path(landing_dir) / source
    if not folder.is_dir():
        return []
    batches = []
    for path in folder.iterdir():
        if path.is_file() and path.name.endswith(contract.BATCH_SUFFIXES) and not path.name.startswith("."):
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).replace(tzinfo=None)
            batches.append(BatchFile(path, stat.st_size, modified))
    return sorted(batches, key=lambda b: (b.modified_at, b.name))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _struct_json(columns: list[str], relation: str | None = None) -> str:
    if not columns:
        return "NULL"
    prefix = f"{relation}." if relation else ""
    fields = ", ".join(f"{quote(c)} := CAST({prefix}{quote(c)} AS VARCHAR)" for c in columns)
    return f"CAST(to_json(struct_pack({fields})) AS VARCHAR)"


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    source: str,
    run_id: str | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[BatchResult]:
    """Load every batch of `source` not yet in the ledger; returns one result per newly processed batch."""
    spec = contract.SOURCES[source]
    con.execute("SET TimeZone = 'UTC'")
    tables.ensure_raw_tables(con, source)
    run_id = run_id or uuid.uuid4().hex
    seen = {
        (name, digest)
        for name, digest in con.execute(
            f"SELECT batch_file, content_sha256 FROM {tables.LEDGER_TABLE} WHERE source = ?", [source]
        ).fetchall()
    }
    if spec.references_accounts:
        _release_late_rows(con, source, log)
    results = []
    batches = list_batches(landing_dir, source)
    for batch in batches:
        digest = file_sha256(batch.path)
        if (batch.name, digest) in seen:
            continue
        result = _load_batch(con, spec, batch, digest, run_id)
        log(
            f"{source}/{batch.name}: {result.status}, read {result.rows_read:,}, loaded {result.rows_loaded:,}, "
            f"quarantined {result.rows_quarantined:,}, duplicates {result.rows_deduplicated:,}"
            + (f" ({result.reason})" if result.reason else "")
        )
        results.append(result)
    if not spec.optional_source:
        ever_loaded = con.execute(
            f"SELECT count(*) FROM {tables.LEDGER_TABLE} WHERE source = ?", [source]
        ).fetchone()[0]
        if ever_loaded == 0:
            raise MissingRequiredSourceError(
                f"The landing zone has no batch for required source '{source}' "
                f"(expected files in {Path(landing_dir) / source}/). See docs/landing-contract.md."
            )
    return results


def _release_late_rows(con: duckdb.DuckDBPyConnection, source: str, log: Callable[[str], None]) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        release = release_late_rows(con, source, datetime.now(UTC).replace(tzinfo=None))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if release.rows_loaded or release.rows_deduplicated:
        log(f"{source}: {release.rows_loaded:,} row(s) quarantined for an unknown account_id loaded now that the "
            f"account arrived ({release.rows_deduplicated:,} of them duplicates); {release.rows_still_waiting:,} "
            "still wait for theirs")


def batches_loaded_by_run(con: duckdb.DuckDBPyConnection, source: str, run_id: str) -> list[str]:
    """Names of the batch files of `source` whose rows run `run_id` loaded (from the ledger)."""
    return [row[0] for row in con.execute(
        f"SELECT batch_file FROM {tables.LEDGER_TABLE} WHERE source = ? AND run_id = ? AND status = 'loaded' "
        "ORDER BY batch_file", [source, run_id]).fetchall()]


def _load_batch(
    con: duckdb.DuckDBPyConnection, spec: contract.Source, batch: BatchFile, digest: str, run_id: str
) -> BatchResult:
    now = datetime.now(UTC).replace(tzinfo=None)
    # Read outside the transaction: a failed read would abort it, and an unreadable file is still recorded.
    try:
        read_batch(con, batch.path)
        unreadable, rows = None, None
    except (duckdb.Error, OSError, UnicodeError, EOFError) as error:
        unreadable, rows = error_reason(error), count_rows(con, batch.path)
    con.execute("BEGIN TRANSACTION")
    try:
        if unreadable:
            result = _record_unreadable(con, spec, batch, digest, run_id, now, unreadable, rows)
        else:
            result = _load_readable_batch(con, spec, batch, digest, run_id, now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS __batch")
        con.execute("DROP TABLE IF EXISTS __rejects")
    return result


def _load_readable_batch(
    con: duckdb.DuckDBPyConnection,
    spec: contract.Source,
    batch: BatchFile,
    digest: str,
    run_id: str,
    now: datetime,
) -> BatchResult:
    present = [row[0] for row in con.execute("DESCRIBE __batch").fetchall() if row[0] != "file_row_number"]
    spec = spec.with_columns_present(present)
    missing = [c for c in spec.column_names if c not in present]
    extras = [c for c in present if c not in spec.column_names]
    batch_meta = [batch.name, batch.modified_at]
    # Lines the reader rejected (cut, over-long, not UTF-8) are quarantined one by one with DuckDB's whole reason.
    con.execute(
        f"{tables.quarantine_insert(spec.name)} SELECT ?, ?, record, 'unreadable line: ' || reason "
        "|| ' (file line ' || (record + 1) || ')', CAST(to_json({'_line': line}) AS VARCHAR), ? FROM __rejects",
        [*batch_meta, now],
    )
    rows_rejected = con.execute("SELECT count(*) FROM __rejects").fetchone()[0]
    rows_read = con.execute("SELECT count(*) FROM __batch").fetchone()[0] + rows_rejected

    if missing:
        reason = "schema error: missing column(s) " + ", ".join(missing)
        con.execute(
            f"{tables.quarantine_insert(spec.name)} "
            f"SELECT ?, ?, file_row_number + 1, ?, {_struct_json(present)}, ? FROM __batch",
            [*batch_meta, reason, now],
        )
        result = BatchResult(spec.name, batch.name, "quarantined", reason, rows_read, 0, rows_read, 0)
        return _record(con, result, batch, digest, run_id, now)

    con.execute(
        "CREATE OR REPLACE TEMP VIEW __batch_rows AS SELECT *, file_row_number + 1 AS __row_number, "
        f"{_struct_json(extras)} AS __extra FROM __batch"
    )
    known_accounts = f"SELECT account_id FROM {tables.raw_table('accounts')}" if spec.references_accounts else None
    con.execute(f"CREATE OR REPLACE TEMP TABLE __validated AS {validated_select(spec, '__batch_rows', known_accounts)}")

    # The row as read is rendered as JSON for quarantined rows only: doing it for every row doubled ingest time.
    con.execute(
        f"{tables.quarantine_insert(spec.name)} "
        f"SELECT ?, ?, v.__row_number, v.__problems, {_struct_json(present, 'b')}, ? "
        "FROM __validated v JOIN __batch b ON b.file_row_number + 1 = v.__row_number WHERE v.__problems IS NOT NULL",
        [*batch_meta, now],
    )
    rows_quarantined = rows_rejected + con.execute(
        "SELECT count(*) FROM __validated WHERE __problems IS NOT NULL").fetchone()[0]

    key = quote(spec.primary_key)
    if spec.kind == "fact":
        # A fact's key repeated within this batch or already loaded by an earlier batch is dropped and counted. The
        # raw table is probed with this batch's keys (a semi-join), never hashed whole: it grows with every batch.
        # Only keys within the batch's key range can match; given as constants, the range lets DuckDB skip the raw
        # table's row groups outside it (most of them when keys grow over time), and costs nothing when they don't.
        lowest, highest = con.execute(
            f"SELECT min({key}), max({key}) FROM __validated WHERE __problems IS NULL"
        ).fetchone()
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __keep AS SELECT min(v.__row_number) AS __row_number FROM __validated v "
            f"ANTI JOIN (SELECT r.{key} FROM {tables.raw_table(spec.name)} r SEMI JOIN __validated b "
            f"ON r.{key} = b.{key} WHERE r.{key} BETWEEN ? AND ?) seen ON v.{key} = seen.{key} "
            f"WHERE v.__problems IS NULL GROUP BY v.{key}",
            [lowest, highest],
        )
        keep = "__row_number IN (SELECT __row_number FROM __keep)"
        rows_clean = rows_read - rows_quarantined
        rows_deduplicated = rows_clean - con.execute("SELECT count(*) FROM __keep").fetchone()[0]
    else:
        keep, rows_deduplicated = "__problems IS NULL", 0

    columns = ", ".join(quote(c) for c in spec.column_names)
    before = con.execute(f"SELECT count(*) FROM {tables.raw_table(spec.name)}").fetchone()[0]
    con.execute(
        f"INSERT INTO {tables.raw_table(spec.name)} ({columns}, _batch_file, _batch_modified_at, _row_number, "
        f"_loaded_at, _extra) SELECT {columns}, ?, ?, __row_number, ?, __extra FROM __validated WHERE {keep}",
        [*batch_meta, now],
    )
    rows_loaded = con.execute(f"SELECT count(*) FROM {tables.raw_table(spec.name)}").fetchone()[0] - before
    con.execute("DROP TABLE IF EXISTS __keep")
    con.execute("DROP TABLE __validated")
    con.execute("DROP VIEW __batch_rows")
    result = BatchResult(
        spec.name, batch.name, "loaded", None, rows_read, rows_loaded, rows_quarantined, rows_deduplicated
    )
    return _record(con, result, batch, digest, run_id, now)


def _record_unreadable(
    con: duckdb.DuckDBPyConnection,
    spec: contract.Source,
    batch: BatchFile,
    digest: str,
    run_id: str,
    now: datetime,
    error: str,
    rows: int | None,
) -> BatchResult:
    # The file stays in the landing zone untouched; the ledger says why none of it was loaded. Its rows are counted
    # (one quarantine row each) where the file says how many it holds, else one marker row without a row number.
    reason = f"unreadable file: {error}" + ("" if rows is not None else " (row count unknown)")
    con.execute(
        f"{tables.quarantine_insert(spec.name)} SELECT ?, ?, r, ?, NULL, ? "
        f"FROM (SELECT unnest(CASE WHEN ? IS NULL THEN [NULL] ELSE range(1, ? + 1) END) AS r)",
        [batch.name, batch.modified_at, reason, now, rows, rows],
    )
    result = BatchResult(spec.name, batch.name, "quarantined", reason, rows or 0, 0, rows or 0, 0)
    return _record(con, result, batch, digest, run_id, now)


def _record(
    con: duckdb.DuckDBPyConnection, result: BatchResult, batch: BatchFile, digest: str, run_id: str, now: datetime
) -> BatchResult:
    con.execute(
        f"{tables.insert_into(tables.LEDGER_TABLE, tables.LEDGER_COLUMNS)} "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        [
            result.source,
            result.batch_file,
            batch.size_bytes,
            digest,
            batch.modified_at,
            result.status,
            result.reason,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_deduplicated,
            now,
            run_id,
        ],
    )
    return result
