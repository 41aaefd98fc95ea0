"""What a run left in the warehouse: tables and row counts, what was quarantined and why."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from csops import contract
from csops.ingest import tables
from csops.ingest.strays import IGNORED_TABLE

LAYERS = ("raw", "staging", "intermediate", "marts")


@dataclass(frozen=True)
class QuarantineGroup:
    source: str
    reason: str
    rows: int


def table_row_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(schema, table, rows) for every table or view of the pipeline's layers."""
    found = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_schema IN ({', '.join('?' for _ in LAYERS)}) ORDER BY 1, 2",
        list(LAYERS),
    ).fetchall()
    order = {layer: i for i, layer in enumerate(LAYERS)}
    found.sort(key=lambda row: (order[row[0]], row[1]))
    return [(schema, name, con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]) for schema, name in found]


def quarantine_groups(con: duckdb.DuckDBPyConnection) -> list[QuarantineGroup]:
    """Quarantined rows per source and kind of reason (the text before the first ':' of each problem)."""
    groups = []
    existing = {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
    ).fetchall()}
    for source in contract.SOURCE_NAMES:
        if f"{source}_quarantine" not in existing:
            continue
        rows = con.execute(
            "SELECT trim(split_part(problem, ':', 1)) AS kind, count(*) FROM ("
            f"SELECT unnest(string_split(_reason, '; ')) AS problem FROM {tables.quarantine_table(source)} "
            "WHERE _released_at IS NULL"
            ") GROUP BY kind ORDER BY 2 DESC, 1"
        ).fetchall()
        groups += [QuarantineGroup(source, kind, count) for kind, count in rows]
    return groups


def format_summary(con: duckdb.DuckDBPyConnection, tables_built: bool = True, most_reasons: int | None = None) -> str:
    """The ledger per source and the quarantine reasons; with `tables_built`, every table and its rows first.
    `most_reasons`: show only that many quarantine reasons (the largest) and count the rest."""
    lines = []
    if tables_built:
        lines.append("Tables built (schema.table: rows)")
        lines += [f"  {schema}.{name}: {rows:,}" for schema, name, rows in table_row_counts(con)]
    lines.append("Batches ingested per source (files: rows read = loaded + quarantined + duplicates dropped)")
    lines += [
        f"  {source}: {files} files: {read:,} = {loaded:,} + {quarantined:,} + {dupes:,}"
        for source, files, read, loaded, quarantined, dupes in con.execute(
            f"SELECT source, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined), "
            f"sum(rows_deduplicated) FROM {tables.LEDGER_TABLE} GROUP BY source ORDER BY source"
        ).fetchall()
    ]
    groups = quarantine_groups(con)
    lines.append("Quarantined rows by source and reason (a row can have several reasons)")
    shown = sorted(groups, key=lambda g: -g.rows)[:most_reasons] if most_reasons else groups
    lines += [f"  {g.source}: {g.reason}: {g.rows:,}" for g in shown] or ["  none"]
    if len(shown) < len(groups):
        lines.append(f"  ... and {len(groups) - len(shown)} more reasons (`csops summary` lists them all)")
    ledger = con.execute(
        f"SELECT source, batch_file, reason FROM {tables.LEDGER_TABLE} WHERE status = 'quarantined' ORDER BY 1, 2"
    ).fetchall()
    if ledger:
        lines.append("Whole batches quarantined")
        lines += [f"  {source}/{name}: {reason}" for source, name, reason in ledger]
    released = con.execute(f"SELECT source, sum(rows_released) FROM {tables.LEDGER_TABLE} GROUP BY source "
                           "HAVING sum(rows_released) > 0 ORDER BY source").fetchall()
    if released:
        lines.append("Rows loaded late, once the account they name arrived (no longer quarantined)")
        lines += [f"  {source}: {rows:,}" for source, rows in released]
    ignored = ignored_entries(con)
    if ignored:
        lines.append("Ignored in the landing zone (not read: move or rename them)")
        lines += [f"  {path}: {reason}" for path, reason in ignored]
    return "\n".join(lines)


def ignored_entries(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(path, reason) of what the landing zone held at the last run that ingest does not read."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                         IGNORED_TABLE.split(".")).fetchone()[0]
    return con.execute(f"SELECT path, reason FROM {IGNORED_TABLE} ORDER BY path").fetchall() if exists else []
