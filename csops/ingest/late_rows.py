"""Late parents: rows quarantined only because their account_id was unknown are loaded once the account arrives.

Real exports arrive at different cadences: events of a new account often land a run before the CRM export that
creates it. Such rows stay in quarantine, are re-validated by the same rules when their account is in `raw.accounts`,
and are then loaded (facts: unless their key was loaded meanwhile, then counted as duplicates). The quarantine row is
kept, marked with `_released_at`; the batch's ledger row moves them from quarantined to loaded (or deduplicated) and
counts them in `rows_released`, so rows read = loaded + quarantined + deduplicated still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from csops import contract
from csops.ingest import tables
from csops.ingest.validation import quote, sql_string, validated_select

ONLY_UNKNOWN_ACCOUNT = "_reason LIKE 'unknown account_id: %' AND _reason NOT LIKE '%; %'"


@dataclass(frozen=True)
class Release:
    source: str
    rows_loaded: int
    rows_deduplicated: int
    rows_still_waiting: int


def _field(name: str) -> str:
    return f"json_extract_string(_row, {sql_string('$.' + quote(name))})"


def release_late_rows(con: duckdb.DuckDBPyConnection, source: str, now: datetime) -> Release:
    """Load the quarantined rows of `source` whose only problem was an account_id that `raw.accounts` now holds.
    Runs inside the caller's transaction."""
    spec = contract.SOURCES[source]
    quarantine = tables.quarantine_table(source)
    waiting = f"SELECT * FROM {quarantine} WHERE _released_at IS NULL AND {ONLY_UNKNOWN_ACCOUNT}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __late AS SELECT row_number() OVER () AS __late_id, _batch_file, "
        f"_batch_modified_at, _row_number, _row FROM ({waiting}) "
        f"WHERE trim({_field('account_id')}) IN (SELECT account_id FROM {tables.raw_table('accounts')})"
    )
    candidates = con.execute("SELECT count(*) FROM __late").fetchone()[0]
    still_waiting = con.execute(f"SELECT count(*) FROM ({waiting})").fetchone()[0] - candidates
    if candidates == 0:
        con.execute("DROP TABLE __late")
        return Release(source, 0, 0, still_waiting)

    keys = [row[0] for row in con.execute("SELECT DISTINCT unnest(json_keys(_row)) FROM __late ORDER BY 1").fetchall()]
    spec = spec.with_columns_present(keys)
    extras = [key for key in keys if key not in spec.column_names]
    extra = (f"CAST(to_json(struct_pack({', '.join(f'{quote(k)} := {_field(k)}' for k in extras)})) AS VARCHAR)"
             if extras else "NULL")
    columns = ", ".join(f"{_field(c)} AS {quote(c)}" for c in spec.column_names)
    # The same rules as at first sight; `__row_number` here is the candidate's id, its lineage joins back by it.
    con.execute(f"CREATE OR REPLACE TEMP VIEW __late_rows AS SELECT {columns}, __late_id AS __row_number, "
                f"{extra} AS __extra FROM __late")
    known = f"SELECT account_id FROM {tables.raw_table('accounts')}"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __late_valid AS SELECT v.* EXCLUDE (__row_number, __problems), l._batch_file, "
        f"l._batch_modified_at, l._row_number, l.__late_id FROM ({validated_select(spec, '__late_rows', known)}) v "
        "JOIN __late l ON l.__late_id = v.__row_number WHERE v.__problems IS NULL"
    )
    key = quote(spec.primary_key)
    keep = "TRUE"
    if spec.kind == "fact":
        # A fact's key loaded meanwhile (or repeated among the released rows) is a duplicate, as at first sight.
        keep = (f"{key} NOT IN (SELECT {key} FROM {tables.raw_table(source)}) QUALIFY row_number() OVER "
                f"(PARTITION BY {key} ORDER BY _batch_modified_at, _batch_file, _row_number) = 1")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __late_keep AS SELECT * FROM __late_valid WHERE {keep}")
    names = ", ".join(quote(c) for c in spec.column_names)
    con.execute(
        f"INSERT INTO {tables.raw_table(source)} ({names}, _batch_file, _batch_modified_at, _row_number, _loaded_at, "
        f"_extra) SELECT {names}, _batch_file, _batch_modified_at, _row_number, ?, __extra FROM __late_keep", [now]
    )
    # Per batch: released rows leave `quarantined`, join `loaded` or `deduplicated`, and are counted as released.
    con.execute(
        f"UPDATE {tables.LEDGER_TABLE} AS l SET rows_quarantined = l.rows_quarantined - c.released, "
        "rows_loaded = l.rows_loaded + c.loaded, rows_deduplicated = l.rows_deduplicated + c.released - c.loaded, "
        "rows_released = coalesce(l.rows_released, 0) + c.released FROM ("
        "SELECT v._batch_file, v._batch_modified_at, count(*) AS released, count(k.__late_id) AS loaded "
        "FROM __late_valid v LEFT JOIN __late_keep k USING (__late_id) GROUP BY ALL) c "
        "WHERE l.source = ? AND l.batch_file = c._batch_file AND l.modified_at = c._batch_modified_at",
        [source],
    )
    con.execute(
        f"UPDATE {quarantine} AS q SET _released_at = ? FROM __late_valid v WHERE q._batch_file = v._batch_file "
        "AND q._batch_modified_at = v._batch_modified_at AND q._row_number = v._row_number "
        f"AND q._released_at IS NULL AND {ONLY_UNKNOWN_ACCOUNT.replace('_reason', 'q._reason')}",
        [now],
    )
    released, loaded = con.execute("SELECT (SELECT count(*) FROM __late_valid), (SELECT count(*) FROM __late_keep)"
                                   ).fetchone()
    for name in ("__late_keep", "__late_valid", "__late"):
        con.execute(f"DROP TABLE {name}")
    con.execute("DROP VIEW __late_rows")
    return Release(source, loaded, released - loaded, still_waiting + candidates - released)
