"""Is the incremental build right? Keep the marts an incremental run produced, rebuild everything with
`--full-refresh`, and compare each table both ways (EXCEPT ALL, so repeated rows count too)."""

from __future__ import annotations

from pathlib import Path

from csops.settings import Settings

MARTS = "marts"
KEPT = "bench_incremental"  # schema holding the incremental run's marts during the comparison


def keep_marts(db: Path) -> list[str]:
    """Copy every table of `marts` into schema `bench_incremental`; returns the table names."""
    with Settings.from_env().connect_warehouse(db) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' "
            "ORDER BY 1", [MARTS]).fetchall()]
        con.execute(f"CREATE OR REPLACE SCHEMA {KEPT}")
        for table in tables:
            con.execute(f"CREATE TABLE {KEPT}.{table} AS SELECT * FROM {MARTS}.{table}")
    return tables


def compare_marts(db: Path, tables: list[str]) -> list[dict]:
    """Per table: rows of the incremental and the full-refresh build, rows only in either, equal or not."""
    out = []
    with Settings.from_env().connect_warehouse(db) as con:
        count = lambda sql: con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]  # noqa: E731
        for table in tables:
            kept, full = f"SELECT * FROM {KEPT}.{table}", f"SELECT * FROM {MARTS}.{table}"
            only_incremental = count(f"{kept} EXCEPT ALL {full}")
            only_full = count(f"{full} EXCEPT ALL {kept}")
            out.append({"table": f"{MARTS}.{table}", "rows_incremental": count(kept), "rows_full_refresh": count(full),
                        "only_incremental": only_incremental, "only_full_refresh": only_full,
                        "equal": only_incremental == 0 and only_full == 0})
        con.execute(f"DROP SCHEMA {KEPT} CASCADE")
    return out
