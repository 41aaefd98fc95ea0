"""Prove that ingest lost nothing: every row read is loaded, quarantined or counted as a duplicate."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from csops.ingest import tables


@dataclass(frozen=True)
class Reconciliation:
    source: str
    batches: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_deduplicated: int
    rows_in_raw: int
    rows_in_quarantine: int
    problems: list[str]
    # Unreadable batches whose row count is not knowable (a cut gzip stream): said, since they cannot be counted.
    batches_rows_unknown: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def reconcile(con: duckdb.DuckDBPyConnection, source: str) -> Reconciliation:
    tables.ensure_raw_tables(con, source)
    unbalanced = con.execute(
        f"SELECT batch_file, rows_read, rows_loaded, rows_quarantined, rows_deduplicated FROM {tables.LEDGER_TABLE} "
        "WHERE source = ? AND rows_read <> rows_loaded + rows_quarantined + rows_deduplicated",
        [source],
    ).fetchall()
    problems = [
        f"{name}: read {read} <> loaded {loaded} + quarantined {quarantined} + duplicates {dupes}"
        for name, read, loaded, quarantined, dupes in unbalanced
    ]
    batches, read, loaded, quarantined, deduplicated = con.execute(
        f"SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
        f"coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_deduplicated), 0) "
        f"FROM {tables.LEDGER_TABLE} WHERE source = ?",
        [source],
    ).fetchone()
    in_raw = con.execute(f"SELECT count(*) FROM {tables.raw_table(source)}").fetchone()[0]
    # An unreadable file whose rows cannot be counted has a single marker row without a row number.
    in_quarantine = con.execute(
        f"SELECT count(*) FROM {tables.quarantine_table(source)} WHERE _row_number IS NOT NULL AND _released_at IS NULL"
    ).fetchone()[0]
    if in_raw != loaded:
        problems.append(f"raw.{source} holds {in_raw} rows but the ledger says {loaded} were loaded")
    if in_quarantine != quarantined:
        problems.append(f"quarantine holds {in_quarantine} rows but the ledger says {quarantined} were quarantined")
    unknown = [name for (name,) in con.execute(
        f"SELECT DISTINCT _batch_file FROM {tables.quarantine_table(source)} WHERE _row_number IS NULL "
        "ORDER BY 1").fetchall()]
    return Reconciliation(
        source, batches, read, loaded, quarantined, deduplicated, in_raw, in_quarantine, problems, unknown
    )
