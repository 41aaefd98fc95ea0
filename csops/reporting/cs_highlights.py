"""What a CS leader looks at first after a run: the accounts most at risk, waste, health drops, handoff gaps."""

from __future__ import annotations

import duckdb

TOP = 5
WIDTH = 240  # a console line; the full reasons are in ml.churn_scores


def _latest(table: str) -> str:
    return f"(SELECT * FROM {table} WHERE date_day = (SELECT max(date_day) FROM {table}))"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, name]).fetchone()[0])


def most_at_risk(con: duckdb.DuckDBPyConnection, top: int = TOP) -> list[tuple]:
    """(account, name, ARR, days to renewal, churn probability or None, band, top reasons, model version), highest
    risk first; empty when the accounts have not been scored yet."""
    if not table_exists(con, "ml", "churn_scores"):
        return []
    return con.execute(
        "SELECT s.account_id, a.account_name, a.active_arr_amount, a.days_to_renewal, s.probability, s.risk_band, "
        "s.top_reasons, s.model_version FROM ml.churn_scores s JOIN marts.dim_accounts a USING (account_id) "
        "ORDER BY s.risk_rank, s.account_id LIMIT ?",
        [top],
    ).fetchall()


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


def _risk_line(name, account, arr, days, probability, band, reasons, version) -> str:
    risk = f"{probability:.0%} churn risk ({band})" if probability is not None else f"{band} risk by health score"
    renewal = f", renews in {days} days" if days is not None else ""
    line = f"  {name} ({account}, ARR {arr or 0:,.0f}{renewal}): {risk}: " + "; ".join(list(reasons or [])[:3])
    return line if len(line) <= WIDTH else line[:WIDTH - 1] + "…"


def format_highlights(con: duckdb.DuckDBPyConnection) -> str:
    at_risk = most_at_risk(con)
    version = at_risk[0][-1] if at_risk else None
    lines = [f"Top {TOP} accounts most at risk of churn within 90 days"
             + (f" (model {version})" if version else "")]
    lines += [_risk_line(name, account, arr, days, probability, band, reasons, version)
              for account, name, arr, days, probability, band, reasons, version in at_risk] or \
        ["  not scored yet (the ml steps did not run)"]
    lines.append(f"Top {TOP} Muda (unused licensed seats, cost per year)")
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
