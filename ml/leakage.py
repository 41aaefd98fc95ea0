"""Point-in-time proof: features recomputed from data truncated at the snapshot day are identical.

For a sample of snapshot days D and accounts, `check_point_in_time`:
1. copies the raw tables into a fresh DuckDB file, keeping only what existed at the end of day D: events, answers
   and activities dated on or before D; tickets opened by D (closed after D -> still open, no CSAT); contacts created
   by D (left after D -> not left); contracts started by D; handoffs closed by D. Tickets and contacts change by
   dated facts (closed_at, left_at), so their newest version is cut at D; accounts, contracts and handoffs change
   by undated edits (segment, owner, end date, handoff fields), so only the versions whose batch landed by D are
   kept (the first version when none had: the earliest knowledge). Sampled accounts only, plus the earliest row of
   each optional source and of each usage event type, so "source has data from" dates stay those of the full data;
2. runs dbt (models and seeds feeding the ML features) on it with `csops_as_of_date = D` and the full warehouse's
   data start dates;
3. computes the ML features of every snapshot day up to D for the sampled accounts on both warehouses and compares
   every value. Any difference means some feature reads the future; the check fails and lists them.

Besides, `banned_feature_names` guards against features that encode the outcome by name (churn status, notice,
renewal outcome, future contract rows).
"""

from __future__ import annotations

import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from csops import contract
from csops.ingest import tables
from ml.config import MLConfig
from csops.dbt import reusable_parse, run_dbt
from ml.features import CONTEXT_COLUMNS, FEATURE_NAMES, build_feature_frame, data_bounds, fit_event_types, \
    snapshot_dates, table_exists
from ml.pipeline import EVENT_TYPES_TABLE, AsOf, read_event_types

PIT_SELECTION = ["+fct_account_daily", "+fct_account_health", "+fct_lean_waste", "+fct_account_phase_history",
                 "+int_account_versions", "+int_feature_usage_type_daily", "+fct_account_voice"]
VOICE_SIGNALS = "ml.voice_text_signals"
BANNED_WORDS = ("churn", "notice", "outcome", "renewed", "next_contract", "contract_status", "is_current", "status",
                "label", "future")
# where each source's rows are dated (rows after the cut-off are dropped) and its entity key
DATE_COLUMN = {"contracts": "start_date", "handoffs": "closed_at", "contacts": "created_at",
               "support_tickets": "opened_at", "usage_events": "occurred_at", "survey_responses": "responded_at",
               "activities": "occurred_at"}
ANCHORED = ("contacts", "support_tickets", "survey_responses", "activities")
# entities whose versions differ by undated edits: keep the versions landed by the cut-off (else the first one)
VERSIONED_BY_BATCH = ("accounts", "contracts", "handoffs")


@dataclass
class PointInTimeResult:
    passed: bool
    dates: list[date]
    accounts: list[str]
    rows_compared: int = 0
    values_compared: int = 0
    mismatches: list[dict] = field(default_factory=list)
    mismatch_count: int = 0
    message: str = ""
    seconds: float = 0.0

    def as_metadata(self) -> dict:
        return {"dates": [d.isoformat() for d in self.dates], "accounts": len(self.accounts),
                "rows_compared": self.rows_compared, "values_compared": self.values_compared,
                "mismatches": self.mismatch_count, "examples": self.mismatches[:20], "message": self.message,
                "seconds": round(self.seconds, 1)}


def banned_feature_names(features: list[str]) -> list[str]:
    return [f for f in features if any(word in f.lower() for word in BANNED_WORDS)]


def sample_check(con: duckdb.DuckDBPyConnection, cfg: MLConfig, as_of: AsOf, seed: int | None = None
                 ) -> tuple[list[date], list[str]]:
    """Snapshot days spread over the labelled range, and accounts active on the earliest of them: half of them
    accounts with a churn or expansion after that day (where leakage would pay), half at random."""
    start, _ = data_bounds(con)
    all_dates = snapshot_dates(start, as_of.scoring_day, cfg.cadence_days, cfg.warmup_days)
    last_known = as_of.as_of - timedelta(days=min(cfg.label_delay_days(t) for t in ("churn", "expansion")))
    candidates = [d for d in all_dates if d <= last_known]
    if not candidates:
        return [], []
    n = max(1, min(cfg.pit_dates, len(candidates)))
    picks = sorted({candidates[int(round((i + 1) * (len(candidates) - 1) / (n + 1)))] for i in range(n)})
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    active = sorted(r[0] for r in con.execute(
        "select distinct account_id from marts.fct_account_daily where date_day = ?", [picks[0]]).fetchall())
    eventful: list[str] = []
    if table_exists(con, "marts.fct_revenue_events"):
        eventful = sorted(r[0] for r in con.execute(
            "select distinct account_id from marts.fct_revenue_events where event_type in ('churn', 'expansion') "
            "and event_date > ?", [picks[0]]).fetchall())
    active_set = set(active)
    eventful = [a for a in eventful if a in active_set]
    half = cfg.pit_accounts // 2
    chosen = list(rng.choice(eventful, size=min(half, len(eventful)), replace=False)) if eventful else []
    chosen_set = set(chosen)
    rest = [a for a in active if a not in chosen_set]
    chosen += list(rng.choice(rest, size=min(cfg.pit_accounts - len(chosen), len(rest)), replace=False)) \
        if rest else []
    return picks, sorted(str(a) for a in chosen)


def _truncated_select(source: str, cutoff: date) -> str:
    """SQL selecting the raw rows of `source` known at the end of `cutoff`, for accounts in `$accounts`."""
    spec = contract.SOURCES[source]
    columns = list(tables.raw_columns(source))
    end = f"timestamp '{cutoff + timedelta(days=1)}'"
    day = f"date '{cutoff}'"
    replace = {}
    if source == "contacts":
        replace["left_at"] = f"case when left_at >= {end} then null else left_at end"
    if source == "support_tickets":
        replace["closed_at"] = f"case when closed_at >= {end} then null else closed_at end"
        replace["csat"] = f"case when closed_at >= {end} then null else csat end"
        replace["status"] = f"case when closed_at >= {end} then 'open' else status end"
    select = ", ".join(f'{replace.get(c, f"{chr(34)}{c}{chr(34)}")} as "{c}"' for c in columns)
    where = []
    if source in DATE_COLUMN:
        column = DATE_COLUMN[source]
        where.append(f"{column} <= {day}" if column.endswith("_date") else f"{column} < {end}")
    account_rows = "account_id in (select unnest($accounts::varchar[]))"
    base_where = " and ".join(where) or "true"
    raw = tables.raw_table(source)
    sampled = f"select {select} from {raw} where {base_where} and {account_rows}"
    if source in VERSIONED_BY_BATCH:
        sampled += (f" qualify _batch_modified_at < {end} or _batch_modified_at = "
                    f"min(_batch_modified_at) over (partition by {spec.primary_key})")
    if source not in ANCHORED and source != "usage_events":
        return sampled
    # The earliest row (per event type): found through a grouped minimum first, so the row_number window only sorts
    # the few rows at that minimum, not the whole table (tens of millions of events at scale).
    groups = ["event_type"] if source == "usage_events" else []
    column = DATE_COLUMN[source]
    earliest = (f"select {', '.join([*groups, f'min({column})'])} from {raw} where {base_where}"
                + (f" group by {', '.join(groups)}" if groups else ""))
    at_earliest = f"({', '.join([*groups, column])}) in ({earliest})"
    partition = f"partition by {', '.join(groups)}" if groups else ""
    anchors = (f"select {select} from {raw} where {base_where} and {at_earliest} "
               f"qualify row_number() over ({partition} order by {column}, {spec.primary_key}) = 1")
    return f"{sampled} union {anchors}"


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, accounts: list[str]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy" notice: the tables are small
        return con.execute(sql, {"accounts": accounts}).to_arrow_table()


def build_truncated_raw(con: duckdb.DuckDBPyConnection, target: Path, cutoff: date, accounts: list[str]) -> dict:
    """Write the raw tables as of the end of `cutoff` (sampled accounts + anchors) into a new DuckDB file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    counts = {}
    frames = {}
    for source in contract.SOURCE_NAMES:
        if not table_exists(con, tables.raw_table(source)):
            continue
        frames[source] = _arrow(con, _truncated_select(source, cutoff), accounts)
    # anchor rows belong to other accounts: give them their account rows (no contracts, so no feature rows)
    anchor_accounts = sorted({a for s, f in frames.items() if s != "accounts"
                              for a in f.column("account_id").to_pylist()} - set(accounts))
    if anchor_accounts and "accounts" in frames:
        extra = _arrow(con, _truncated_select("accounts", cutoff), anchor_accounts)
        import pyarrow as pa

        frames["accounts"] = pa.concat_tables([frames["accounts"], extra])
    # The voice step's labels of the texts written by the cut-off (a label depends on its text alone).
    voice = _arrow(con, f"select * from {VOICE_SIGNALS} where created_on <= date '{cutoff}' and account_id in "
                        "(select unnest($accounts::varchar[]))", accounts) if table_exists(con, VOICE_SIGNALS) else None
    with duckdb.connect(str(target)) as out:
        for source in contract.SOURCE_NAMES:
            tables.ensure_raw_tables(out, source)
            if source in frames:
                data = frames[source]  # noqa: F841 (read by DuckDB by name)
                out.execute(f"insert into {tables.raw_table(source)} select * from data")
                counts[source] = frames[source].num_rows
        if voice is not None:
            out.execute("create schema if not exists ml")
            out.execute(f"create table {VOICE_SIGNALS} as select * from voice")
            counts["voice_text_signals"] = voice.num_rows
    return counts


def _bounds_vars(con: duckdb.DuckDBPyConnection, cutoff: date) -> dict:
    start, _ = data_bounds(con)
    dbt_vars = {"csops_as_of_date": cutoff.isoformat(), "csops_feature_start_date": start.isoformat()}
    if table_exists(con, "intermediate.int_feature_calendar_bounds"):
        row = con.execute("select data_start_date from intermediate.int_feature_calendar_bounds").fetchone()
        if row and row[0]:
            dbt_vars["csops_feature_start_date"] = str(row[0])
    if table_exists(con, "intermediate.int_revenue_bounds"):
        row = con.execute("select data_window_start_date from intermediate.int_revenue_bounds").fetchone()
        if row and row[0]:
            dbt_vars["csops_data_window_start_date"] = str(row[0])
    return dbt_vars


def _equal(a, b) -> bool:
    a_missing = a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT
    b_missing = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NaT
    if a_missing or b_missing:
        return a_missing and b_missing
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def compare_frames(full: pd.DataFrame, truncated: pd.DataFrame, columns: list[str]) -> tuple[int, int, list[dict]]:
    """(rows compared, values compared, mismatches) between two feature frames keyed by account and day."""
    keys = ["account_id", "snapshot_date"]
    merged = full.merge(truncated, on=keys, how="outer", suffixes=("_full", "_truncated"), indicator=True)
    mismatches = []
    lonely = merged[merged["_merge"] != "both"]
    for account, day, side in zip(lonely["account_id"], lonely["snapshot_date"], lonely["_merge"], strict=True):
        mismatches.append({"account_id": account, "snapshot_date": str(day), "column": "*row*",
                           "full": "present" if side == "left_only" else "absent",
                           "truncated": "present" if side == "right_only" else "absent"})
    both = merged[merged["_merge"] == "both"]
    values = 0
    for column in columns:
        left = both[f"{column}_full"].tolist()
        right = both[f"{column}_truncated"].tolist()
        values += len(left)
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            if not _equal(a, b):
                mismatches.append({"account_id": both["account_id"].iloc[i],
                                   "snapshot_date": str(both["snapshot_date"].iloc[i]), "column": column,
                                   "full": None if a is None else str(a), "truncated": None if b is None else str(b)})
    return len(both), values, mismatches


def check_point_in_time(con: duckdb.DuckDBPyConnection, cfg: MLConfig, work_dir: str | Path,
                        dates: list[date] | None = None, accounts: list[str] | None = None,
                        log=lambda _msg: None, as_of: AsOf | None = None) -> PointInTimeResult:
    """Rebuild the feature marts from data truncated at each sampled day and compare the ML features. `as_of`: the
    run's (the feature snapshots record it); by default, from the marts as they are."""
    t0 = time.perf_counter()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    as_of = as_of or AsOf.of(con)
    banned = banned_feature_names(FEATURE_NAMES)
    if dates is None or accounts is None:
        sampled_dates, sampled_accounts = sample_check(con, cfg, as_of)
        dates = dates or sampled_dates
        accounts = accounts if accounts is not None else sampled_accounts
    result = PointInTimeResult(passed=False, dates=list(dates), accounts=list(accounts))
    if banned:
        result.message = f"features named like outcomes: {banned}"
        return result
    if not dates:
        result.passed = True
        result.message = "no snapshot has a known label yet: nothing is trained on the features, nothing to check"
        return result
    start, _ = data_bounds(con)
    all_dates = snapshot_dates(start, as_of.scoring_day, cfg.cadence_days, cfg.warmup_days)
    columns = FEATURE_NAMES + [c for c in CONTEXT_COLUMNS if c != "why_moved_30d"]
    # One truncated warehouse per day, built side by side from the project's own parse when it fits (see
    # csops.dbt). Each copy is named like the warehouse: dbt-duckdb names the catalog after the file, and the parse
    # holds the models' catalog.
    database = con.execute("select current_database()").fetchone()[0]
    parsed = reusable_parse(database)
    rebuilt = {}
    for cutoff in sorted(dates):
        rebuilt[cutoff] = work / f"pit-{cutoff}" / f"{database}.duckdb"
        counts = build_truncated_raw(con, rebuilt[cutoff], cutoff, list(accounts))
        log(f"point-in-time check: raw data up to {cutoff} for {len(accounts)} accounts, rows kept: {counts}")
    log(f"point-in-time check: rebuilding the features of {len(rebuilt)} day(s) with dbt "
        + ("from the project's parse" if parsed else "(parsing: the project's last parse does not fit this warehouse)"))
    with ThreadPoolExecutor(max_workers=len(rebuilt)) as pool:
        for build in [pool.submit(run_dbt, ["build", "--select", *PIT_SELECTION, "--resource-type", "model",
                                            "--resource-type", "seed"], pit_path, pit_path.parent / "dbt",
                                  _bounds_vars(con, cutoff), parsed=parsed) for cutoff, pit_path in rebuilt.items()]:
            build.result()
    # the snapshots' event-type slots (fitted on the training window), else the most frequent types of the data
    event_types = (read_event_types(con) if table_exists(con, EVENT_TYPES_TABLE)
                   else fit_event_types(con, as_of.scoring_day))
    for cutoff, pit_path in rebuilt.items():
        days = [d for d in all_dates if d <= cutoff] or [cutoff]
        full = build_feature_frame(con, days, accounts, event_types)
        with duckdb.connect(str(pit_path), read_only=True) as pit:
            truncated = build_feature_frame(pit, days, accounts, event_types)
        rows, values, mismatches = compare_frames(full, truncated, columns)
        log(f"  {cutoff}: {rows} rows, {values} values compared, {len(mismatches)} differ")
        result.rows_compared += rows
        result.values_compared += values
        result.mismatch_count += len(mismatches)
        result.mismatches += mismatches[: max(0, 50 - len(result.mismatches))]
    result.passed = result.mismatch_count == 0 and result.rows_compared > 0
    if result.rows_compared == 0:
        result.message = "no feature rows to compare (no sampled account was active on the sampled days)"
    elif result.passed:
        result.message = (f"identical: {result.values_compared:,} values of {result.rows_compared:,} account-days "
                          f"recomputed from data truncated at {', '.join(str(d) for d in result.dates)}")
    else:
        cols = sorted({m['column'] for m in result.mismatches})
        result.message = f"{result.mismatch_count} values differ when recomputed from truncated data; columns: {cols}"
    result.seconds = time.perf_counter() - t0
    return result
