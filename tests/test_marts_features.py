"""Feature marts: fct_account_daily, fct_account_health and fct_lean_waste, built by dbt on generated data.

One small generated landing zone serves the module. Warehouses built from it:
- full: every batch, `dbt build` of the feature marts with all their tests;
- staged: first only the batches up to PIT_MONTH (point in time), then the rest (incremental run);
- refreshed: a copy of the staged warehouse rebuilt with `--full-refresh`;
- minimal: a hand-written landing zone with only the required sources and product vocabulary the seed does not know.

dbt runs as a subprocess with target and logs in a temp folder. Every warehouse is moved to ONE fixed path before
dbt runs on it: dbt re-parses the whole project when the profile (the database path) changes, which costs far more
than moving a file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from csops import contract
from csops.ingest import ingest_source
from csops.dbt import environment
from csops.settings import DBT_PROJECT_DIR, Settings

DBT = Path(sys.executable).parent / "dbt"
ACCOUNTS, MONTHS, SEED = 100, 8, 1  # batches 2025-11 .. 2026-06
PIT_MONTH = "2026-03"  # the staged warehouse first gets the batches up to this month
# Rows up to the end of the previous month must not change when later batches arrive. One day less: the generator cuts
# batches by the account's local day, so an event of local 1 March can be 28 February in UTC, and when it is also late
# it arrives with the April batch, after PIT_MONTH's. That is data arriving late, not a model reading the future.
PIT_LAST_DAY = date(2026, 2, 27)
FEATURE_MARTS = ["--select", "+fct_account_health", "+fct_lean_waste", "--indirect-selection", "cautious"]
HEALTH_CHAIN = ["--select", "+fct_account_health", "--resource-type", "seed", "--resource-type", "model"]
MARTS = ("fct_account_daily", "fct_account_health", "fct_lean_waste")
# Incremental tables a daily run rewrites in part, compared with a full refresh.
USAGE_AGGREGATES = ("intermediate.int_feature_usage_user_daily", "intermediate.int_feature_usage_category_daily",
                    "intermediate.int_feature_usage_account_daily")
ACCOUNT_DAY_TABLES = ("intermediate.int_feature_account_calendar", "intermediate.int_feature_active_users",
                      "marts.fct_account_daily", "intermediate.int_feature_health_scored", "marts.fct_account_health")
INCREMENTAL_TABLES = USAGE_AGGREGATES + ACCOUNT_DAY_TABLES


class Warehouses:
    """DuckDB files parked under `root`; `use(name)` moves one to the fixed path dbt is configured with."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.active = root / "active" / "warehouse.duckdb"
        self.active.parent.mkdir(parents=True)
        self.work = root / "dbt"

    def park(self, name: str) -> Path:
        return self.root / "parked" / name / "warehouse.duckdb"

    def dbt(self, name: str, *args: str) -> subprocess.CompletedProcess:
        self._activate(name)
        try:
            env = environment(Settings.from_env(), self.active)
            process = subprocess.run(
                [str(DBT), *args, "--target-path", str(self.work / "target"), "--log-path", str(self.work / "logs")],
                cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
            )
        finally:
            self._deactivate(name)
        assert process.returncode == 0, f"dbt {' '.join(args)} failed:\n{process.stdout[-6000:]}"
        return process

    def ingest(self, name: str, landing: Path) -> None:
        path = self.park(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path)) as con:
            for source in contract.SOURCE_NAMES:
                ingest_source(con, landing, source)

    def copy(self, source: str, name: str) -> None:
        self.park(name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.park(source), self.park(name))

    def _activate(self, name: str) -> None:
        os.replace(self.park(name), self.active)

    def _deactivate(self, name: str) -> None:
        os.replace(self.active, self.park(name))
        wal = self.active.with_name(self.active.name + ".wal")
        if wal.exists():
            os.replace(wal, self.park(name).with_name(wal.name))


def landing_up_to(landing: Path, month: str, out: Path) -> Path:
    """Symlinks to the batches whose file name month (YYYY-MM...) is <= month; modification times follow the links."""
    for source in contract.SOURCE_NAMES:
        folder = out / source
        folder.mkdir(parents=True)
        for batch in sorted((landing / source).glob("*")):
            if batch.name[:7] <= month:
                (folder / batch.name).symlink_to(batch)
    return out


def query(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


def differing_rows(left: Path, right: Path, table: str, where: str = "true") -> tuple[int, int, int]:
    """(rows left, rows right, rows in one but not the other), all columns compared, nulls equal."""
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        l_rows = f"SELECT * FROM l.{table} WHERE {where}"
        r_rows = f"SELECT * FROM r.{table} WHERE {where}"
        n_left = con.execute(f"SELECT count(*) FROM ({l_rows})").fetchone()[0]
        n_right = con.execute(f"SELECT count(*) FROM ({r_rows})").fetchone()[0]
        diff = con.execute(
            f"SELECT count(*) FROM (({l_rows} EXCEPT ALL {r_rows}) UNION ALL ({r_rows} EXCEPT ALL {l_rows}))"
        ).fetchone()[0]
    return n_left, n_right, diff


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from lab.generator import generate

    root = tmp_path_factory.mktemp("features")
    landing = root / "landing"
    generate(landing, accounts=ACCOUNTS, months=MONTHS, seed=SEED)
    houses = Warehouses(root)

    houses.ingest("full", landing)
    houses.dbt("full", "build", *FEATURE_MARTS)

    houses.ingest("staged", landing_up_to(landing, PIT_MONTH, root / "landing_pit"))
    houses.dbt("staged", "build", *HEALTH_CHAIN)
    houses.copy("staged", "point_in_time")
    houses.ingest("staged", landing)  # the ledger skips the batches already loaded
    houses.dbt("staged", "build", *HEALTH_CHAIN)
    houses.copy("staged", "refreshed")
    houses.dbt("refreshed", "build", *HEALTH_CHAIN, "--full-refresh")
    return houses, landing


def test_build_passes_and_each_mart_has_one_row_per_account_day(world):
    houses, _ = world
    full = houses.park("full")
    for mart in MARTS:
        counts = query(full, f"SELECT count(*) AS n, count(DISTINCT (account_id, date_day)) AS n_keys FROM marts.{mart}")
        assert counts.n[0] > ACCOUNTS * 100 and counts.n[0] == counts.n_keys[0], mart
    # Only active days (a contract covers them), never after the as-of date.
    outside = query(full, """
        SELECT count(*) AS n FROM marts.fct_account_daily AS d
        WHERE d.date_day > (SELECT max(occurred_on) FROM staging.stg_usage_events)
           OR NOT EXISTS (SELECT 1 FROM staging.stg_contracts AS c
                          WHERE c.account_id = d.account_id AND c.start_date <= d.date_day AND c.end_date > d.date_day)
    """)
    assert outside.n[0] == 0


def test_health_is_a_renormalised_weighted_sum_in_range(world):
    houses, _ = world
    health = query(houses.park("full"), "SELECT * FROM marts.fct_account_health")
    assert health.health_score.between(0, 100).all()
    components = ["usage", "adoption", "support", "sentiment", "engagement", "stakeholder"]
    weights = health[[f"effective_weight_{c}" for c in components]].fillna(0)
    scores = health[[f"score_{c}" for c in components]].fillna(0).to_numpy()
    assert ((weights.sum(axis=1) - 1).abs() < 1e-3).all()
    assert ((weights.to_numpy() * scores).sum(axis=1) - health.health_score).abs().max() < 0.2
    # Accounts that never answered an NPS survey are scored on the rest and say so.
    no_nps = health[health.score_sentiment.isna()]
    assert len(no_nps) > 0
    assert no_nps.health_score.notna().all()
    assert no_nps.missing_components.str.contains("sentiment").all()
    assert no_nps.effective_weight_sentiment.isna().all()
    assert set(health.health_band) <= {"green", "yellow", "red"}
    moved = health.why_moved_30d.dropna()
    assert moved.str.match(r"^(up|down) \d+ pts vs 30 days ago(: [a-z]+ [+-]\d+(, [a-z]+ [+-]\d+)*)?$|^stable").all()
    assert moved.str.startswith("down").any() and moved.str.startswith("up").any()


def test_rows_do_not_change_when_later_batches_arrive(world):
    houses, _ = world
    # An account whose only row by then was quarantined (a defect) is unknown to the point-in-time warehouse, and so are
    # its contracts: it appears once a later batch brings a valid row. That is late data, not a model reading ahead.
    n_full, n_pit, diff = differing_rows(
        houses.park("full"), houses.park("point_in_time"), "marts.fct_account_daily",
        f"date_day <= DATE '{PIT_LAST_DAY}' AND account_id IN (SELECT account_id FROM r.raw.accounts)",
    )
    assert n_full == n_pit > ACCOUNTS * 60
    assert diff == 0


def test_incremental_run_equals_a_full_refresh(world):
    houses, _ = world
    for table in INCREMENTAL_TABLES:
        n_incremental, n_refreshed, diff = differing_rows(houses.park("staged"), houses.park("refreshed"), table)
        assert n_incremental == n_refreshed > ACCOUNTS * (150 if table in ACCOUNT_DAY_TABLES else 50), table
        assert diff == 0, table
    # The comparison means something: late events of PIT_MONTH, older than the 7-day lookback, changed rows that the
    # incremental run had already written.
    _, _, changed = differing_rows(
        houses.park("point_in_time"), houses.park("staged"), "marts.fct_account_daily",
        f"date_day > DATE '{PIT_LAST_DAY}' AND date_day < DATE '{PIT_MONTH}-20'",
    )
    assert changed > 0


def land_correction(landing: Path, out: Path, source: str, key: str, value: str, **changes) -> None:
    """A source-system update: a new batch of `source`, landed after every other, with the newest row whose `key` is
    `value` changed as `changes` say."""
    batches = sorted((landing / source).glob("*.parquet"), key=lambda b: b.stat().st_mtime)
    rows = pd.concat([pd.read_parquet(b) for b in batches])
    row = rows[rows[key] == value].tail(1).assign(**changes)
    (out / source).mkdir(parents=True)
    batch = out / source / "correction.parquet"
    row.to_parquet(batch, index=False)
    later = batches[-1].stat().st_mtime + 86400
    os.utime(batch, (later, later))


def health_of(path: Path, account_id: str) -> pd.DataFrame:
    return query(path, f"SELECT date_day, health_score, health_profile FROM marts.fct_account_health "
                       f"WHERE account_id = '{account_id}' ORDER BY date_day")


def test_health_rescored_where_segment_or_config_changed_equals_a_full_refresh(world, tmp_path):
    """The health tables rewrite only rows whose inputs changed: a segment moved in the CRM and a changed `csops_health`
    are inputs too (the first rescoring one account, the second every row)."""
    houses, landing = world
    staged = houses.park("staged")
    account = query(staged, "SELECT min(account_id) AS a FROM staging.stg_accounts WHERE segment = 'smb' "
                            "AND account_id IN (SELECT account_id FROM marts.fct_account_health)").a[0]
    before = health_of(staged, account)

    houses.copy("staged", "crm_update")
    land_correction(landing, tmp_path / "crm", "accounts", "account_id", account, segment="enterprise")
    houses.ingest("crm_update", tmp_path / "crm")
    houses.dbt("crm_update", "build", *HEALTH_CHAIN)
    after = health_of(houses.park("crm_update"), account)
    assert set(before.health_profile) == {"smb"} and set(after.health_profile) == {"enterprise"}
    assert (before.health_score != after.health_score).any()

    with open(DBT_PROJECT_DIR / "dbt_project.yml") as handle:
        health = yaml.safe_load(handle)["vars"]["csops_health"]
    health["default"]["weights"]["usage"] = 0.6
    reweighted = ["--vars", json.dumps({"csops_health": health})]
    houses.copy("staged", "reweighted")
    houses.dbt("reweighted", "build", *HEALTH_CHAIN, *reweighted)

    for name, flags in (("crm_update", []), ("reweighted", reweighted)):
        houses.copy(name, f"{name}_refreshed")
        houses.dbt(f"{name}_refreshed", "build", *HEALTH_CHAIN, *flags, "--full-refresh")
        for table in INCREMENTAL_TABLES:
            n_incremental, n_refreshed, diff = differing_rows(
                houses.park(name), houses.park(f"{name}_refreshed"), table)
            assert n_incremental == n_refreshed and diff == 0, (name, table)
    _, _, rescored = differing_rows(staged, houses.park("reweighted"), "marts.fct_account_health")
    assert rescored > 0


def test_a_contract_corrected_later_changes_its_days_as_a_full_refresh_does(world, tmp_path):
    """A later batch cuts a contract short and corrects its ARR: an incremental run must drop the rows of the days it
    no longer covers, as a rebuild would never write them, and rewrite the days it still covers."""
    houses, landing = world
    staged = houses.park("staged")
    last_day = query(staged, "SELECT max(date_day) AS d FROM marts.fct_account_daily").d[0].date()
    new_end = last_day - timedelta(days=30)
    # The only contract covering its account's last 30 days, started well before them.
    contract = query(staged, f"""
        SELECT contract_id, account_id FROM staging.stg_contracts AS c
        WHERE start_date < DATE '{new_end}' - 30 AND end_date > DATE '{last_day}'
          AND NOT EXISTS (SELECT 1 FROM staging.stg_contracts AS o WHERE o.account_id = c.account_id
                          AND o.contract_id <> c.contract_id AND o.end_date > DATE '{new_end}')
        ORDER BY contract_id LIMIT 1""")
    assert len(contract) == 1
    contract_id, account = contract.contract_id[0], contract.account_id[0]
    cut_rows = f"account_id = '{account}' AND date_day >= DATE '{new_end}'"
    assert query(staged, f"SELECT count(*) AS n FROM marts.fct_account_daily WHERE {cut_rows}").n[0] > 25

    houses.copy("staged", "contract_cut")
    arr = query(staged, f"SELECT arr_amount FROM staging.stg_contracts WHERE contract_id = '{contract_id}'").arr_amount[0]
    land_correction(landing, tmp_path / "crm", "contracts", "contract_id", contract_id, end_date=new_end.isoformat(),
                    arr=float(arr) * 2)
    houses.ingest("contract_cut", tmp_path / "crm")
    houses.dbt("contract_cut", "build", *HEALTH_CHAIN)
    houses.copy("contract_cut", "contract_cut_refreshed")
    houses.dbt("contract_cut_refreshed", "build", *HEALTH_CHAIN, "--full-refresh")
    for table in ACCOUNT_DAY_TABLES:
        assert query(houses.park("contract_cut"), f"SELECT count(*) AS n FROM {table} WHERE {cut_rows}").n[0] == 0, table
    for table in INCREMENTAL_TABLES:
        n_incremental, n_refreshed, diff = differing_rows(
            houses.park("contract_cut"), houses.park("contract_cut_refreshed"), table)
        assert n_incremental == n_refreshed and diff == 0, table
    _, _, repriced = differing_rows(staged, houses.park("contract_cut"), "marts.fct_account_daily",
                                    f"account_id = '{account}' AND date_day < DATE '{new_end}'")
    assert repriced > 25


def test_a_changed_product_vocabulary_recategorises_every_day_as_a_full_refresh_does(world):
    """The seed maps event names to categories; when it changes, the usage aggregates are redone whole. Models only
    (`dbt run`), so the edited seed table stays as the test left it."""
    houses, _ = world
    houses.copy("staged", "vocabulary")
    with duckdb.connect(str(houses.park("vocabulary"))) as con:
        con.execute("UPDATE seeds.feature_categories SET feature_category = 'reporting' WHERE feature_category = 'core'")
    models = ["run", "--select", "+fct_account_health"]
    houses.dbt("vocabulary", *models)
    houses.copy("vocabulary", "vocabulary_refreshed")
    houses.dbt("vocabulary_refreshed", *models, "--full-refresh")
    for table in INCREMENTAL_TABLES:
        n_incremental, n_refreshed, diff = differing_rows(
            houses.park("vocabulary"), houses.park("vocabulary_refreshed"), table)
        assert n_incremental == n_refreshed and diff == 0, table
    moved = query(houses.park("vocabulary"), "SELECT sum(events_core) AS core, sum(events_reporting) AS reporting "
                                             "FROM intermediate.int_feature_usage_account_daily")
    before = query(houses.park("staged"), "SELECT sum(events_core) AS core, sum(events_reporting) AS reporting "
                                          "FROM intermediate.int_feature_usage_account_daily")
    assert moved.core[0] < before.core[0] and moved.reporting[0] > before.reporting[0]


def test_churned_accounts_score_lower_60_to_90_days_before_renewal(world):
    houses, landing = world
    renewals = pd.read_parquet(landing / "_truth" / "renewals.parquet")
    health = query(houses.park("full"), "SELECT account_id, date_day, health_score FROM marts.fct_account_health")
    health["date_day"] = pd.to_datetime(health.date_day)
    renewals["renewal_date"] = pd.to_datetime(renewals.renewal_date)
    joined = renewals.merge(health, on="account_id")
    before = joined[(joined.date_day >= joined.renewal_date - timedelta(days=90))
                    & (joined.date_day <= joined.renewal_date - timedelta(days=60))]
    per_renewal = before.groupby(["account_id", "renewal_date", "outcome"]).health_score.mean().reset_index()
    churned = per_renewal[per_renewal.outcome == "churned"].health_score
    renewed = per_renewal[per_renewal.outcome != "churned"].health_score
    assert len(churned) >= 3 and len(renewed) >= 10
    assert churned.mean() < renewed.mean()


def write_minimal_landing(folder: Path) -> None:
    """Accounts, contracts and usage events only, with event names no seed row knows; some seats unknown."""
    def write(source: str, rows: list[dict]) -> None:
        frame = pd.DataFrame(rows)
        for column in contract.SOURCES[source].column_names:
            if column not in frame:
                frame[column] = None
        (folder / source).mkdir(parents=True)
        frame.to_parquet(folder / source / "2026-01.parquet", index=False)

    created = "2025-01-01T00:00:00Z"
    write("accounts", [
        {"account_id": f"M{i}", "account_name": f"Minimal {i}", "segment": "smb", "created_at": created}
        for i in (1, 2, 3)
    ])
    write("contracts", [
        {"contract_id": "K1", "account_id": "M1", "product": "widgets", "start_date": "2025-09-01",
         "end_date": "2026-09-01", "arr": 12000.0, "licensed_seats": 10},
        {"contract_id": "K2", "account_id": "M2", "product": "widgets", "start_date": "2025-09-15",
         "end_date": "2026-09-15", "arr": 5000.0, "licensed_seats": None},
        {"contract_id": "K3", "account_id": "M3", "product": "widgets", "start_date": "2025-10-01",
         "end_date": "2026-10-01", "arr": 8000.0, "licensed_seats": 4},
        {"contract_id": "K4", "account_id": "M3", "product": "gadgets", "start_date": "2025-10-01",
         "end_date": "2026-10-01", "arr": 2000.0, "licensed_seats": None},
    ])
    events, start = [], datetime(2025, 9, 1, 9)
    for day in range(120):
        for account, users in (("M1", 6), ("M2", 3), ("M3", 2)):
            for user in range((day % users) + 1):
                events.append({
                    "event_id": f"E{len(events)}", "account_id": account, "user_id": f"{account}-U{user}",
                    "event_type": "clicked_widget" if user % 2 == 0 else "opened_gizmo",
                    "feature": "widgets" if user % 2 == 0 else None,
                    "occurred_at": (start + timedelta(days=day, minutes=user)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "quantity": 1.0,
                })
    write("usage_events", events)


def test_only_required_sources_and_unknown_vocabulary_still_build(world, tmp_path):
    houses, _ = world
    landing = tmp_path / "landing"
    write_minimal_landing(landing)
    houses.ingest("minimal", landing)
    houses.dbt("minimal", "build", *FEATURE_MARTS)
    minimal = houses.park("minimal")

    daily = query(minimal, "SELECT * FROM marts.fct_account_daily")
    assert set(daily.account_id) == {"M1", "M2", "M3"}
    assert pd.Timestamp(daily.date_day.max()).date() == date(2025, 12, 29)
    for flag in ("has_support_data", "has_survey_data", "has_engagement_data", "has_stakeholder_data"):
        assert not daily[flag].any(), flag
    for column in ("tickets_30d", "open_tickets", "csat_avg_90d", "latest_nps_score", "nps_trend",
                   "days_since_last_touch", "live_touches_90d", "has_champion", "champion_left_90d"):
        assert daily[column].isna().all(), column
    # Unknown names are usage in category `other`; no key-value event, so time-to-value rests on seats alone.
    assert (daily.events_30d == daily.events_30d_other).all()
    assert daily.feature_categories_used_30d.max() == 1
    assert (daily.key_value_events_30d == 0).all()
    assert daily.loc[daily.account_id == "M2", "seat_utilization"].isna().all()
    assert daily.loc[daily.account_id == "M2", "licensed_seats"].isna().all()
    m3 = daily[daily.account_id == "M3"]
    assert (m3.licensed_seats == 4).all() and (m3.active_products == 2).all()
    assert daily.loc[daily.account_id == "M1", "first_value_date"].notna().any()

    health = query(minimal, "SELECT * FROM marts.fct_account_health")
    assert len(health) == len(daily)
    assert health.health_score.notna().all() and health.health_score.between(0, 100).all()
    assert (health.missing_components == "support, sentiment, engagement, stakeholder").all()
    assert health.score_support.isna().all() and health.score_usage.notna().all()

    waste = query(minimal, "SELECT * FROM marts.fct_lean_waste")
    assert waste.muri_score.isna().all() and waste.is_support_spike.isna().all()
    assert waste.loc[waste.account_id == "M2", "unused_seats"].isna().all()
    assert (waste.loc[waste.account_id == "M1", "unused_seats"] >= 0).all()


def test_as_of_is_the_watermark_of_the_lagging_required_source(world, tmp_path):
    """Contracts a month behind the usage events: the as-of date is the contracts' watermark (not the last usage day),
    and every account a contract covers on it has its features on that day."""
    from ml.pipeline import AsOf

    houses, landing = world
    last_month = max(b.name[:7] for b in (landing / "contracts").glob("*.parquet"))
    behind = tmp_path / "contracts_behind"
    for source in contract.SOURCE_NAMES:
        (behind / source).mkdir(parents=True)
        for batch in sorted((landing / source).glob("*")):
            if not (source == "contracts" and batch.name.startswith(last_month)):
                (behind / source / batch.name).symlink_to(batch)
    newest_contracts = max((behind / "contracts").glob("*"), key=lambda b: b.stat().st_mtime)
    contract_watermark = datetime.fromtimestamp(newest_contracts.stat().st_mtime, UTC).date()
    houses.ingest("contracts_behind", behind)
    houses.dbt("contracts_behind", "build", "--select", "+int_source_watermarks", "+fct_account_daily",
               "+int_revenue_bounds", "--indirect-selection", "cautious")
    lagging = houses.park("contracts_behind")

    marks = query(lagging, "SELECT * FROM intermediate.int_source_watermarks").set_index("source_name")
    usage_watermark = marks.watermark_date["usage_events"].date()
    assert marks.watermark_date["contracts"].date() == contract_watermark
    assert (usage_watermark - contract_watermark).days >= 28
    assert marks.holds_as_of.to_dict() == {"usage_events": True, "contracts": True, "support_tickets": False,
                                           "survey_responses": False, "activities": False}
    bounds = query(lagging, "SELECT f.as_of_date AS features, r.as_of_date AS revenue "
                            "FROM intermediate.int_feature_calendar_bounds AS f, intermediate.int_revenue_bounds AS r")
    assert bounds.features[0].date() == bounds.revenue[0].date() == contract_watermark
    with duckdb.connect(str(lagging), read_only=True) as con:
        as_of = AsOf.of(con)
    assert as_of.as_of == contract_watermark

    def covered(path: Path, day: date) -> set[str]:
        return set(query(path, f"SELECT DISTINCT account_id FROM staging.stg_contracts "
                               f"WHERE start_date <= DATE '{day}' AND end_date > DATE '{day}'").account_id)

    def featured(path: Path, day: date) -> set[str]:
        return set(query(path, f"SELECT account_id FROM marts.fct_account_daily WHERE date_day = DATE '{day}'")
                   .account_id)

    full = houses.park("full")
    # the last usage day would have left the accounts renewing in the missing month without a contract
    assert len(covered(lagging, usage_watermark)) < 0.9 * len(covered(full, usage_watermark))
    # on the watermark every covered account has its features; only renewals signed on that very day are unknown
    assert featured(lagging, contract_watermark) == covered(lagging, contract_watermark)
    assert len(featured(lagging, contract_watermark)) >= 0.95 * len(featured(full, contract_watermark))
    assert featured(lagging, contract_watermark) <= featured(full, contract_watermark)
