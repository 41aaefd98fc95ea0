"""Writing landing batches: one Parquet file per source per landing month, typed as the contract says.

File modification times are set explicitly to the (historical) landing time of each batch, so that mtime order,
name order and chronological order all agree and the output is reproducible.
"""

from __future__ import annotations

import calendar as _pycal
import os
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from csops import contract

from .timegrid import Calendar

_ARROW_TYPES = {
    contract.STRING: pa.string(),
    contract.TIMESTAMP: pa.string(),  # real exports carry strings; malformed values must be representable
    contract.DATE: pa.string(),
    contract.MONEY: pa.float64(),
    contract.INTEGER: pa.int64(),
    contract.NUMBER: pa.float64(),
}
COMPRESSION = "zstd"


def schema(source: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in contract.SOURCES[source].columns])


def conform(source: str, table: pa.Table) -> pa.Table:
    """Columns in contract order with contract types (missing optional columns become null)."""
    sch = schema(source)
    cols = []
    for f in sch:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=sch)


def empty(source: str) -> pa.Table:
    return schema(source).empty_table()


class LandingWriter:
    def __init__(self, out: Path, cal: Calendar):
        self.out = Path(out)
        self.cal = cal
        self.rows: dict[str, int] = {s: 0 for s in contract.SOURCE_NAMES}
        self.files: dict[str, int] = {s: 0 for s in contract.SOURCE_NAMES}
        for s in contract.SOURCE_NAMES:
            (self.out / s).mkdir(parents=True, exist_ok=True)

    def landing_time(self, month: int, extra_seconds: int = 0) -> int:
        """Epoch ns when batch `month` lands: 02:00 UTC on the first day after the month (+ extra)."""
        y, m = map(int, self.cal.month_labels[month].split("-"))
        last = _pycal.monthrange(y, m)[1]
        ts = datetime(y, m, last, 2, 0, tzinfo=timezone.utc).timestamp() + 86400 + extra_seconds
        return int(ts) * 1_000_000_000

    def path(self, source: str, month: int, suffix: str = "") -> Path:
        return self.out / source / f"{self.cal.month_labels[month]}{suffix}.parquet"

    def _touch(self, path: Path, source: str, month: int, extra: int) -> None:
        t = self.landing_time(month, contract.SOURCE_NAMES.index(source) * 60 + extra)
        os.utime(path, ns=(t, t))

    def write(self, source: str, month: int, table: pa.Table, *, suffix: str = "", raw: bool = False,
              extra_seconds: int = 0) -> Path:
        """Write one whole batch. `raw` skips conforming (used for the deliberately broken batch)."""
        path = self.path(source, month, suffix)
        t = table if raw else conform(source, table)
        pq.write_table(t, path, compression=COMPRESSION, row_group_size=1_000_000)
        self._touch(path, source, month, extra_seconds)
        self.rows[source] += t.num_rows
        self.files[source] += 1
        return path

    def stream(self, source: str, month: int) -> "BatchStream":
        return BatchStream(self, source, month)


class BatchStream:
    """A batch written in row groups (usage events), never holding the whole month in memory."""

    def __init__(self, w: LandingWriter, source: str, month: int):
        self.w, self.source, self.month = w, source, month
        self.path = w.path(source, month)
        self.schema = schema(source)
        self._pw = pq.ParquetWriter(self.path, self.schema, compression=COMPRESSION)
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        t = conform(self.source, table)
        self._pw.write_table(t, row_group_size=1_000_000)
        self.rows += t.num_rows

    def close(self) -> None:
        self._pw.close()
        self.w._touch(self.path, self.source, self.month, 0)
        self.w.rows[self.source] += self.rows
        self.w.files[self.source] += 1
