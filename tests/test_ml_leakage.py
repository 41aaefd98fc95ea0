"""The point-in-time check's truncated copy of raw: what existed at the end of the cut-off day, sampled accounts plus
the earliest row of each usage event type (so "data starts on" dates stay those of the full warehouse)."""

from datetime import date, datetime

import duckdb

from csops.ingest import tables
from ml.leakage import build_truncated_raw

BATCH = ("b1.parquet", datetime(2025, 1, 1), 1, datetime(2025, 1, 1), None)
EVENTS = [  # event_id, account, event_type, occurred_at
    ("E2", "A2", "login", datetime(2025, 1, 1, 10)),
    ("E1", "A3", "login", datetime(2025, 1, 1, 10)),  # ties with E2 on time: the smaller key is the earliest row
    ("E3", "A2", "export", datetime(2025, 1, 5)),
    ("E4", "A1", "login", datetime(2025, 1, 2)),
    ("E5", "A1", "export", datetime(2025, 1, 11)),  # after the cut-off
    ("E6", "A3", "report", datetime(2025, 1, 12)),  # after the cut-off: no report row existed yet, so no anchor
    ("E7", "A2", "login", datetime(2025, 1, 8)),  # neither sampled nor the earliest
]


def test_truncated_raw_keeps_sampled_accounts_and_the_earliest_row_per_event_type(tmp_path):
    with duckdb.connect(str(tmp_path / "full.duckdb")) as con:
        for source in ("accounts", "usage_events"):
            tables.ensure_raw_tables(con, source)
        for account in ("A1", "A2", "A3"):
            con.execute("insert into raw.accounts (account_id, account_name, created_at, _batch_file, "
                        "_batch_modified_at, _row_number, _loaded_at, _extra) values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [account, f"Account {account}", datetime(2024, 12, 1), *BATCH])
        for event_id, account, event_type, occurred_at in EVENTS:
            con.execute("insert into raw.usage_events (event_id, account_id, event_type, occurred_at, quantity, "
                        "_batch_file, _batch_modified_at, _row_number, _loaded_at, _extra) "
                        "values (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)", [event_id, account, event_type, occurred_at, *BATCH])

        counts = build_truncated_raw(con, tmp_path / "pit" / "pit.duckdb", date(2025, 1, 10), ["A1"])

    with duckdb.connect(str(tmp_path / "pit" / "pit.duckdb"), read_only=True) as pit:
        events = sorted(r[0] for r in pit.execute("select event_id from raw.usage_events").fetchall())
        accounts = sorted(r[0] for r in pit.execute("select account_id from raw.accounts").fetchall())
    assert events == ["E1", "E3", "E4"]
    assert accounts == ["A1", "A2", "A3"]  # the anchors' accounts come along, so no row points at nothing
    assert counts["usage_events"] == 3
