"""What lies in the landing zone but is not a batch ingest will read: a typo'd folder, `.PARQUET`, `.pq`, a nested
folder, a hidden file. Each is recorded in `raw.ingest_ignored` with why, and shown in the run's summary, instead of
being skipped in silence. Top-level names starting with `_` are reserved for tooling (the generator's `_manifest.json`
and `_truth/`) and are not listed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from csops import contract
from csops.ingest import tables

IGNORED_TABLE = f"{tables.RAW_SCHEMA}.ingest_ignored"
IGNORED_COLUMNS = {
    "path": "VARCHAR",  # relative to the landing zone
    "reason": "VARCHAR",
    "size_bytes": "BIGINT",
    "first_seen_at": "TIMESTAMP",
    "last_seen_at": "TIMESTAMP",
    "run_id": "VARCHAR",  # the last run that saw it
}


@dataclass(frozen=True)
class Stray:
    path: str
    reason: str
    size_bytes: int


def _suffix_reason(name: str) -> str | None:
    """Why a file in a source folder is not a batch; None when it is one."""
    if name.startswith("."):
        return "hidden file (a name starting with '.' is never read)"
    if name.endswith(contract.BATCH_SUFFIXES):
        return None
    lower = name.lower()
    for suffix in contract.BATCH_SUFFIXES:
        if lower.endswith(suffix):
            return f"extension in the wrong case: rename it to end in '{suffix}'"
    extension = "".join(Path(name).suffixes) or "(none)"
    return f"unknown extension {extension}: batches end in {', '.join(contract.BATCH_SUFFIXES)}"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def find_strays(landing_dir: Path) -> list[Stray]:
    """Every entry of the landing zone that ingest does not read, with why, sorted by path."""
    root = Path(landing_dir)
    if not root.is_dir():
        return []
    strays = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("_"):
            continue
        if entry.name not in contract.SOURCES:
            close = difflib.get_close_matches(entry.name.lower().replace("-", "_"), contract.SOURCE_NAMES, n=1)
            kind = "folder" if entry.is_dir() else "file"
            hint = f"did you mean {close[0]}/?" if close else f"sources are {', '.join(contract.SOURCE_NAMES)}"
            strays.append(Stray(entry.name, f"unknown {kind} at the top of the landing zone: {hint}", _size(entry)))
            continue
        if not entry.is_dir():
            strays.append(Stray(entry.name, "a file named like a source: batches go inside the folder "
                                            f"{entry.name}/", _size(entry)))
            continue
        for child in sorted(entry.iterdir()):
            relative = f"{entry.name}/{child.name}"
            if child.is_dir():
                strays.append(Stray(relative, f"nested folder: batches must sit directly in {entry.name}/",
                                    _size(child)))
            elif reason := _suffix_reason(child.name):
                strays.append(Stray(relative, reason, _size(child)))
    return strays


def record_strays(con: duckdb.DuckDBPyConnection, landing_dir: Path, run_id: str) -> list[Stray]:
    """Replace `raw.ingest_ignored` with what the landing zone holds now (keeping when each entry was first seen)."""
    strays = find_strays(landing_dir)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.RAW_SCHEMA}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {IGNORED_TABLE} "
                f"({', '.join(f'{name} {kind}' for name, kind in IGNORED_COLUMNS.items())})")
    con.execute("BEGIN TRANSACTION")
    try:
        first_seen = dict(con.execute(f"SELECT path, first_seen_at FROM {IGNORED_TABLE}").fetchall())
        con.execute(f"DELETE FROM {IGNORED_TABLE}")
        if strays:
            con.executemany(f"INSERT INTO {IGNORED_TABLE} VALUES (?, ?, ?, ?, ?, ?)", [
                (s.path, s.reason, s.size_bytes, first_seen.get(s.path, now), now, run_id) for s in strays])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return strays
