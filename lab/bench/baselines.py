"""Baselines for the daily usage features of `marts.fct_account_daily`, straight from the landing Parquet files.

- `anchor`: ONE hand-written DuckDB query (the physical anchor: what this machine can do for this computation).
- `pandas_features`: the same features in idiomatic pandas, as a notebook would compute them.

Both write one row per account and day, from the account's first usage day to the last usage day of the data (a
gap-free calendar, so trailing windows are exact), with `USAGE_COLUMNS`: every usage column of fct_account_daily
that depends on usage events alone. Left out: `seat_utilization` (needs contracts) and `dau_avg_8w`, `dau_cv_8w`,
`dau_wow_change_8w`, `first_value_date`, `days_to_first_value` (they depend on the contract calendar). Like ingest,
both drop events without an id, account, type or parseable timestamp and keep one copy of a repeated event_id; they
do not check account ids (events of unknown accounts make rows fct_account_daily does not have). So they equal
fct_account_daily on the account-days both have (tests/test_bench.py); `agreement` measures it on the bench data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from csops.settings import DBT_PROJECT_DIR
from ml.features import USAGE_CATEGORIES

SEED = DBT_PROJECT_DIR / "seeds" / "feature_categories.csv"
CATEGORIES = (*USAGE_CATEGORIES, "other")  # the macro csops_feature_categories(): unmapped events count as `other`
KEY = ["account_id", "date_day"]
USAGE_COLUMNS = [
    "active_users_1d", "active_users_7d", "active_users_30d", "events_1d", "events_30d",
    *[f"events_30d_{c}" for c in CATEGORIES], "key_value_events_30d", "feature_categories_used_30d",
    "usage_trend_28d", "days_since_last_use",
]
DOUBLE_COLUMNS = {"usage_trend_28d"}
EVENT_COLUMNS = ["event_id", "account_id", "user_id", "event_type", "feature", "occurred_at"]


def _events_glob(landing: Path) -> str:
    return str(Path(landing) / "usage_events" / "*.parquet")


def anchor_sql(landing: Path) -> str:
    categories = ", ".join(f"'{c}'" for c in CATEGORIES)
    per_category = ",\n".join(f"count(*) FILTER (WHERE n.category = '{c}') AS events_{c}" for c in CATEGORIES)
    daily_category = ",\n".join(f"sum(events_{c}) AS events_{c}" for c in CATEGORIES)
    joined_category = ",\n".join(f"coalesce(d.events_{c}, 0) AS events_{c}_1d" for c in CATEGORIES)
    window_category = ",\n".join(f"sum(events_{c}_1d) OVER last_30 AS events_30d_{c}" for c in CATEGORIES)
    breadth = " + ".join(f"(events_30d_{c} > 0)::INTEGER" for c in CATEGORIES)
    return f"""
WITH
events AS (  -- the contract's rules the features depend on: required values, a timestamp that parses, no repeats
    SELECT account_id, user_id, event_type, coalesce(feature, '') AS feature,
           CAST(TRY_CAST(occurred_at AS TIMESTAMPTZ) AS DATE) AS day
    FROM read_parquet('{_events_glob(landing)}')
    WHERE event_id IS NOT NULL AND account_id IS NOT NULL AND event_type IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id) = 1
),
mapping AS (
    SELECT lower(trim(match_column)) AS match_column, lower(trim(match_value)) AS match_value,
           CASE WHEN min(lower(trim(feature_category))) IN ({categories})
                THEN min(lower(trim(feature_category))) ELSE 'other' END AS category,
           bool_or(coalesce(is_key_value_event, false)) AS key_value
    FROM read_csv('{SEED}', header = true)
    GROUP BY ALL
),
names AS (  -- an event_type row of the seed wins over a feature row
    SELECT n.event_type, n.feature, coalesce(t.category, f.category, 'other') AS category,
           coalesce(t.key_value, false) OR coalesce(f.key_value, false) AS key_value
    FROM (SELECT DISTINCT event_type, feature FROM events) AS n
    LEFT JOIN mapping AS t ON t.match_column = 'event_type' AND t.match_value = lower(n.event_type)
    LEFT JOIN mapping AS f ON f.match_column = 'feature' AND f.match_value = lower(n.feature)
),
user_days AS (  -- the one pass over the events
    SELECT e.account_id, e.day, e.user_id, count(*) AS events,
           count(*) FILTER (WHERE n.key_value) AS key_value_events,
           {per_category}
    FROM events AS e JOIN names AS n ON e.event_type = n.event_type AND e.feature = n.feature
    WHERE e.day IS NOT NULL
    GROUP BY ALL
),
daily AS (
    SELECT account_id, day, count(user_id) AS active_users, sum(events) AS events,
           sum(key_value_events) AS key_value_events,
           {daily_category}
    FROM user_days
    GROUP BY ALL
),
-- A user counts in a W-day window from an active day until the next active day or W days later, whichever is first:
-- +1 on each active day (daily.active_users), -1 where that span ends, and a running sum is the distinct-user count.
user_spans AS (
    SELECT account_id, day, lead(day) OVER (PARTITION BY account_id, user_id ORDER BY day) AS next_day
    FROM user_days
    WHERE user_id IS NOT NULL
),
span_ends AS (
    SELECT account_id, day, sum(ends_7d) AS ends_7d, sum(ends_30d) AS ends_30d
    FROM (
        SELECT account_id, least(next_day, day + 7) AS day, 1 AS ends_7d, 0 AS ends_30d FROM user_spans
        UNION ALL
        SELECT account_id, least(next_day, day + 30), 0, 1 FROM user_spans
    )
    GROUP BY ALL
),
calendar AS (
    SELECT account_id, CAST(unnest(generate_series(first_day, last_day, INTERVAL 1 DAY)) AS DATE) AS day
    FROM (SELECT account_id, min(day) AS first_day FROM daily GROUP BY ALL)
    CROSS JOIN (SELECT max(day) AS last_day FROM daily)
),
joined AS (
    SELECT c.account_id, c.day AS date_day,
           coalesce(d.active_users, 0) AS active_users_1d,
           coalesce(d.active_users, 0) - coalesce(x.ends_7d, 0) AS delta_7d,
           coalesce(d.active_users, 0) - coalesce(x.ends_30d, 0) AS delta_30d,
           coalesce(d.events, 0) AS events_1d,
           coalesce(d.key_value_events, 0) AS key_value_events_1d,
           {joined_category}
    FROM calendar AS c
    LEFT JOIN daily AS d ON c.account_id = d.account_id AND c.day = d.day
    LEFT JOIN span_ends AS x ON c.account_id = x.account_id AND c.day = x.day
),
windowed AS (
    SELECT account_id, date_day, active_users_1d, events_1d,
           sum(delta_7d) OVER to_date AS active_users_7d,
           sum(delta_30d) OVER to_date AS active_users_30d,
           sum(events_1d) OVER last_30 AS events_30d,
           {window_category},
           sum(key_value_events_1d) OVER last_30 AS key_value_events_30d,
           sum(events_1d) OVER last_28 AS events_28d,
           sum(events_1d) OVER prior_28 AS events_prior_28d,
           max(CASE WHEN events_1d > 0 THEN date_day END) OVER to_date AS last_use_date
    FROM joined
    WINDOW to_date AS (PARTITION BY account_id ORDER BY date_day ROWS UNBOUNDED PRECEDING),
           last_30 AS (PARTITION BY account_id ORDER BY date_day ROWS 29 PRECEDING),
           last_28 AS (PARTITION BY account_id ORDER BY date_day ROWS 27 PRECEDING),
           prior_28 AS (PARTITION BY account_id ORDER BY date_day ROWS BETWEEN 55 PRECEDING AND 28 PRECEDING)
)
SELECT account_id, date_day,
       {", ".join(f"CAST({c} AS BIGINT) AS {c}" for c in USAGE_COLUMNS[:-3])},
       {breadth} AS feature_categories_used_30d,
       round(CAST(events_28d AS DOUBLE) / nullif(CAST(events_prior_28d AS DOUBLE), 0), 6) AS usage_trend_28d,
       CAST(date_day - last_use_date AS BIGINT) AS days_since_last_use
FROM windowed
"""


def anchor(landing: Path, out: Path) -> dict:
    """Run the anchor query into `out` (Parquet); the session time zone is UTC, as ingest parses timestamps."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"COPY ({anchor_sql(landing)}) TO '{out}' (FORMAT parquet)")
        rows_in = con.execute(f"SELECT count(*) FROM read_parquet('{_events_glob(landing)}')").fetchone()[0]
        rows_out = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return {"rows_in": rows_in, "rows_out": rows_out}


def _names(events: pd.DataFrame) -> pd.DataFrame:
    """Category and key-value flag of each distinct (event_type, feature), from the seed."""
    seed = pd.read_csv(SEED)
    for column in ("match_column", "match_value", "feature_category"):
        seed[column] = seed[column].str.strip().str.lower()
    seed = seed.groupby(["match_column", "match_value"]).agg(category=("feature_category", "min"),
                                                             key_value=("is_key_value_event", "max"))
    seed.loc[~seed["category"].isin(CATEGORIES), "category"] = "other"
    by_type, by_feature = seed.loc["event_type"], seed.loc["feature"]
    names = events[["event_type", "feature"]].drop_duplicates()
    type_key, feature_key = names["event_type"].str.lower(), names["feature"].str.lower()
    names["category"] = (type_key.map(by_type["category"]).fillna(feature_key.map(by_feature["category"]))
                         .fillna("other"))
    names["key_value"] = (type_key.map(by_type["key_value"]).fillna(False).astype(bool)
                          | feature_key.map(by_feature["key_value"]).fillna(False).astype(bool))
    return names


def pandas_features(landing: Path, out: Path) -> dict:
    files = sorted((Path(landing) / "usage_events").glob("*.parquet"))
    events = pd.concat([pd.read_parquet(f, columns=EVENT_COLUMNS) for f in files], ignore_index=True)
    rows_in = len(events)
    events["date_day"] = (pd.to_datetime(events["occurred_at"], utc=True, errors="coerce", format="ISO8601")
                          .dt.tz_localize(None).dt.normalize())
    events = events.dropna(subset=["event_id", "account_id", "event_type", "date_day"]).drop_duplicates("event_id")
    events["feature"] = events["feature"].fillna("")
    events = events.merge(_names(events), on=["event_type", "feature"], how="left")

    daily = events.groupby(KEY).agg(events_1d=("event_type", "size"), active_users_1d=("user_id", "nunique"),
                                    key_value_events_1d=("key_value", "sum"))
    by_category = (events.groupby([*KEY, "category"]).size().unstack(fill_value=0)
                   .reindex(columns=list(CATEGORIES), fill_value=0).add_prefix("events_").add_suffix("_1d"))
    daily = daily.join(by_category)

    first_day = daily.reset_index().groupby("account_id")["date_day"].min()
    last_day = daily.index.get_level_values("date_day").max()
    calendar = pd.concat([pd.DataFrame({"account_id": account, "date_day": pd.date_range(start, last_day)})
                          for account, start in first_day.items()], ignore_index=True)
    frame = calendar.merge(daily.reset_index(), on=KEY, how="left").fillna(0).sort_values(KEY, ignore_index=True)
    by_account = frame.groupby("account_id")

    def trailing(columns: list[str], days: int) -> pd.DataFrame:
        return by_account[columns].rolling(days, min_periods=1).sum().reset_index(level=0, drop=True)

    month_columns = ["events_1d", "key_value_events_1d", *[f"events_{c}_1d" for c in CATEGORIES]]
    month = trailing(month_columns, 30)
    frame["events_30d"] = month["events_1d"]
    frame["key_value_events_30d"] = month["key_value_events_1d"]
    for c in CATEGORIES:
        frame[f"events_30d_{c}"] = month[f"events_{c}_1d"]
    frame["feature_categories_used_30d"] = (frame[[f"events_30d_{c}" for c in CATEGORIES]] > 0).sum(axis=1)
    events_28d = trailing(["events_1d"], 28)["events_1d"]
    frame["prior"] = by_account["events_1d"].shift(28)
    prior_28d = frame.groupby("account_id")["prior"].rolling(28, min_periods=1).sum().reset_index(level=0, drop=True)
    # Half away from zero, as SQL's round(); pandas' round() goes to even (2.6953125 -> 2.695312, not 2.695313).
    frame["usage_trend_28d"] = np.floor(events_28d / prior_28d.replace(0, np.nan) * 1e6 + 0.5) / 1e6
    frame["last_use"] = frame["date_day"].where(frame["events_1d"] > 0)
    frame["days_since_last_use"] = (frame["date_day"] - frame.groupby("account_id")["last_use"].ffill()).dt.days

    # Distinct users over 7 and 30 days: a user counts from an active day until the next one or the window's end.
    user_days = (events.loc[events["user_id"].notna(), ["account_id", "user_id", "date_day"]].drop_duplicates()
                 .sort_values(["account_id", "user_id", "date_day"]))
    next_day = user_days.groupby(["account_id", "user_id"])["date_day"].shift(-1)
    for days in (7, 30):
        window_end = user_days["date_day"] + pd.Timedelta(days=days)
        ends = (user_days.assign(date_day=next_day.where(next_day < window_end, window_end))
                .groupby(KEY).size().rename("ends"))
        delta = frame["active_users_1d"] - frame.join(ends, on=KEY)["ends"].fillna(0)
        frame[f"active_users_{days}d"] = delta.groupby(frame["account_id"]).cumsum()

    result = frame[KEY + USAGE_COLUMNS].copy()
    integer_columns = [c for c in USAGE_COLUMNS if c not in DOUBLE_COLUMNS]
    result[integer_columns] = result[integer_columns].astype("int64")
    result.to_parquet(out, index=False)
    return {"rows_in": rows_in, "rows_out": len(result)}


def _normalized(relation: str) -> str:
    columns = ", ".join(f"CAST({c} AS {'DOUBLE' if c in DOUBLE_COLUMNS else 'BIGINT'}) AS {c}" for c in USAGE_COLUMNS)
    return f"SELECT CAST(account_id AS VARCHAR) AS account_id, CAST(date_day AS DATE) AS date_day, {columns} " \
           f"FROM {relation}"


def differences(left: Path, right: Path) -> dict:
    """Rows of two baseline outputs that the other lacks (EXCEPT ALL both ways): zero and zero means identical."""
    a, b = _normalized(f"read_parquet('{left}')"), _normalized(f"read_parquet('{right}')")
    with duckdb.connect() as con:
        count = lambda sql: con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]  # noqa: E731
        return {"rows_left": count(a), "rows_right": count(b), "only_left": count(f"{a} EXCEPT ALL {b}"),
                "only_right": count(f"{b} EXCEPT ALL {a}")}


def agreement(con: duckdb.DuckDBPyConnection, baseline: Path) -> dict:
    """How many account-days a baseline shares with marts.fct_account_daily, and on how many every usage column
    agrees; mismatches counted per column."""
    same = {c: f"m.{c} IS NOT DISTINCT FROM b.{c}" for c in USAGE_COLUMNS}
    counts = ", ".join(f"count(*) FILTER (WHERE NOT ({condition}))" for condition in same.values())
    row = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {' AND '.join(same.values())}), {counts}
        FROM ({_normalized('marts.fct_account_daily')}) AS m
        JOIN ({_normalized(f"read_parquet('{baseline}')")}) AS b USING (account_id, date_day)
    """).fetchone()
    return {"rows_compared": row[0], "rows_equal": row[1],
            "mismatches_by_column": {c: n for c, n in zip(USAGE_COLUMNS, row[2:]) if n}}
