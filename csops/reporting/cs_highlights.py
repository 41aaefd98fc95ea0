"""What a CS leader looks at first after a run, read from the marts: waste, health drops, handoff gaps."""

from __future__ import annotations

import duckdb

TOP = 5


def _latest(table: str) -> str:
    return f"(SELECT * FROM {table} WHERE date_day = (SELECT max(date_day) FROM {table}))"


def largest_muda(con: duckdb.DuckDBPyConnection, top: int = TOP) -> list[tuple]:
    """(account, name, unused seats, licensed seats, unused seat cost per year, currency) on the latest day."""
    return con.execute(
        f"SELECT w.account_id, a.account_name, w.unused_seats, w.licensed_seats, w.unused_seat_cost_per_year, "
        f"w.currency_code FROM {_latest('marts.fct_lean_waste')} w "
        "JOIN marts.dim_accounts a USING (account_id) "
        "WHERE w.unused_seat_cost_per_year > 0 ORDER BY w.unused_seat_cost_per_year DESC, w.account_id LIMIT ?",
        [top],
    ).fetchall()


def largest_health_drops(con: duckdb.DuckDBPyConnection, top: int = TOP) -> list[tuple]:
    """(account, name, health 30 days ago, health now, band, why it moved) on the latest day."""
    return con.execute(
        f"SELECT h.account_id, a.account_name, h.health_score_30d_ago, h.health_score, h.health_band, h.why_moved_30d "
        f"FROM {_latest('marts.fct_account_health')} h JOIN marts.dim_accounts a USING (account_id) "
        "WHERE h.health_change_30d < 0 ORDER BY h.health_change_30d, h.account_id LIMIT ?",
        [top],
    ).fetchall()


def open_handoff_gaps(con: duckdb.DuckDBPyConnection, top: int = TOP) -> list[tuple]:
    """(account, name, CSM, missing fields, open tasks) for handoffs not ready, most missing first."""
    return con.execute(
        "SELECT account_id, account_name, csm_owner, missing_field_count, open_tasks FROM marts.fct_handoff_audit "
        "WHERE NOT is_ready ORDER BY missing_field_count DESC, account_id LIMIT ?",
        [top],
    ).fetchall()


def format_highlights(con: duckdb.DuckDBPyConnection) -> str:
    lines = [f"Top {TOP} Muda (unused licensed seats, cost per year)"]
    lines += [
        f"  {name} ({account}): {unused:,} of {seats:,} seats unused, {cost:,.0f} {currency}/year"
        for account, name, unused, seats, cost, currency in largest_muda(con)
    ] or ["  none"]
    lines.append(f"Top {TOP} health drops over 30 days")
    lines += [
        f"  {name} ({account}): {before:.0f} -> {now:.0f} ({band}); {why}"
        for account, name, before, now, band, why in largest_health_drops(con)
    ] or ["  none"]
    lines.append(f"Open handoff gaps (top {TOP})")
    lines += [
        f"  {name} ({account}, {csm or 'no CSM'}): {missing} missing: {tasks}"
        for account, name, csm, missing, tasks in open_handoff_gaps(con)
    ] or ["  none"]
    return "\n".join(lines)
