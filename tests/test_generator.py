"""Tests of the synthetic landing-zone generator (lab.generator)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from csops import contract
from lab.generator import GenerationSummary, generate

BATCH_RE = re.compile(r"^\d{4}-\d{2}\.parquet$")
ISO_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
FACTS = [s for s, src in contract.SOURCES.items() if src.kind == "fact"]
END = date(2026, 6, 30)


# ---------------------------------------------------------------------------------------------------------------
# fixtures: a few small data sets, generated once per module


@pytest.fixture(scope="module")
def main_ds(tmp_path_factory) -> tuple[Path, GenerationSummary, list[str]]:
    out = tmp_path_factory.mktemp("main")
    messages: list[str] = []
    s = generate(out, accounts=120, months=12, seed=11, defect_rate=0.01, end=END, progress=messages.append)
    return out, s, messages


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory):
    a = tmp_path_factory.mktemp("a")
    b = tmp_path_factory.mktemp("b")
    c = tmp_path_factory.mktemp("c")
    generate(a, accounts=60, months=6, seed=5)
    generate(b, accounts=60, months=6, seed=5)
    generate(c, accounts=60, months=6, seed=6)
    return a, b, c


@pytest.fixture(scope="module")
def clean_ds(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, accounts=80, months=8, seed=3, defect_rate=0)
    return out


@pytest.fixture(scope="module")
def signal_ds(tmp_path_factory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("signal")
    s = generate(out, accounts=300, months=18, seed=21)
    return out, s


# ---------------------------------------------------------------------------------------------------------------
# helpers


def batches(out: Path, source: str) -> list[Path]:
    return sorted((out / source).glob("*.parquet"))


def regular_batches(out: Path, source: str) -> list[Path]:
    return [p for p in batches(out, source) if BATCH_RE.match(p.name)]


def load(out: Path, source: str) -> pa.Table:
    """All regular batches of a source, in order (the deliberately broken batch is left out)."""
    tables = [pq.read_table(p) for p in regular_batches(out, source)]
    return pa.concat_tables(tables)


def file_digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def bad_timestamps(col: pa.ChunkedArray) -> int:
    """Non-null values that are not valid ISO-8601 timestamps."""
    arr = col.combine_chunks()
    valid = arr.drop_null()
    shape_ok = pc.match_substring_regex(valid, ISO_RE)
    parsed = pc.strptime(pc.utf8_slice_codeunits(valid, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="s",
                         error_is_null=True)
    ok = pc.and_(shape_ok, pc.is_valid(parsed))
    return len(valid) - pc.sum(ok).as_py() if len(valid) else 0


def observed_defects(out: Path) -> dict[str, dict[str, int]]:
    """Count defects by looking at the landing data only."""
    account_ids = set(load(out, "accounts").column("account_id").drop_null().to_pylist())
    found: dict[str, dict[str, int]] = {}
    for source, src in contract.SOURCES.items():
        t = load(out, source)
        c = {"duplicate": 0, "null_required": 0, "malformed_timestamp": 0, "unknown_enum": 0, "orphan_account": 0}
        if src.kind == "fact":
            c["duplicate"] = t.num_rows - len(set(t.column(src.primary_key).to_pylist()))
        for name in src.required_columns:
            if name != src.primary_key:
                c["null_required"] += t.column(name).null_count
        for col in src.columns:
            if col.type == contract.TIMESTAMP and col.required:
                c["malformed_timestamp"] += bad_timestamps(t.column(col.name))
            if col.allowed:
                vals = t.column(col.name).drop_null()
                c["unknown_enum"] += len(vals) - pc.sum(pc.is_in(vals, pa.array(col.allowed))).as_py()
        if src.references_accounts:
            acc = t.column("account_id").drop_null().to_pylist()
            c["orphan_account"] = sum(a not in account_ids for a in acc)
        found[source] = c
    return found


# ---------------------------------------------------------------------------------------------------------------
# layout, API and determinism


def test_summary_and_progress(main_ds):
    out, s, messages = main_ds
    assert s.out_dir == out
    assert set(s.rows) == set(contract.SOURCE_NAMES)
    assert all(s.rows[x] > 0 for x in contract.SOURCE_NAMES)
    assert s.files["usage_events"] == 12
    assert s.seconds > 0
    assert any(m.startswith("usage_events 2025-07") for m in messages)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["parameters"] == {"accounts": 120, "months": 12, "seed": 11, "defect_rate": 0.01,
                                      "end": "2026-06-30"}
    assert manifest["generator_version"]
    for source in contract.SOURCE_NAMES:
        assert manifest["sources"][source]["rows"] == s.rows[source]
        assert manifest["sources"][source]["files"] == s.files[source] == len(batches(out, source))


def test_layout_one_batch_per_month(main_ds):
    out, _, _ = main_ds
    months = [f"{y:04d}-{m:02d}" for y, m in [(2025, m) for m in range(7, 13)] + [(2026, m) for m in range(1, 7)]]
    for source in contract.SOURCE_NAMES:
        names = [p.name for p in regular_batches(out, source)]
        assert names == [f"{m}.parquet" for m in months], source
        # name order = chronological order = modification-time order
        paths = batches(out, source)
        by_mtime = sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))
        assert [p.name for p in by_mtime if BATCH_RE.match(p.name)] == names
    for name in ("accounts.parquet", "renewals.parquet", "defects.json", "text_flags.parquet", "events.parquet",
                 "contracts.parquet", "handoffs.parquet"):
        assert (out / "_truth" / name).exists(), name
    assert (out / "_truth" / "state_daily.parquet").exists() or (out / "_truth" / "state_weekly.parquet").exists()


def test_deterministic_same_seed_and_differs_with_other_seed(small_pair):
    a, b, c = small_pair
    da, db, dc = file_digests(a), file_digests(b), file_digests(c)
    assert da == db
    parquet = [k for k in da if k.endswith(".parquet") and not k.startswith("_truth")]
    assert parquet and any(da[k] != dc.get(k) for k in parquet)


def test_rerun_into_same_directory_replaces_output(tmp_path):
    generate(tmp_path, accounts=40, months=4, seed=1)
    generate(tmp_path, accounts=40, months=3, seed=1)
    assert len(regular_batches(tmp_path, "usage_events")) == 3


# ---------------------------------------------------------------------------------------------------------------
# contract conformance


def test_batches_conform_to_contract(main_ds):
    out, s, _ = main_ds
    report = json.loads((out / "_truth" / "defects.json").read_text())
    broken = {b["file"] for b in report["broken_batches"]}
    assert len(broken) == 1
    for source, src in contract.SOURCES.items():
        for p in batches(out, source):
            schema = pq.read_schema(p)
            rel = f"{source}/{p.name}"
            if rel in broken:
                assert p.name.endswith("-export-b.parquet")
                assert "open_date" in schema.names and "opened_at" not in schema.names
                assert pq.read_metadata(p).num_rows == report["broken_batches"][0]["rows"] > 0
                continue
            assert BATCH_RE.match(p.name), rel
            assert set(src.required_columns) <= set(schema.names), rel
            for col in src.columns:
                typ = schema.field(col.name).type
                if col.type in (contract.STRING, contract.TIMESTAMP, contract.DATE):
                    assert typ == pa.string(), (rel, col.name)
                elif col.type == contract.INTEGER:
                    assert pa.types.is_integer(typ), (rel, col.name)
                else:
                    assert pa.types.is_floating(typ) or pa.types.is_integer(typ), (rel, col.name)


def test_values_valid_except_counted_defects(main_ds):
    out, _, _ = main_ds
    counted = json.loads((out / "_truth" / "defects.json").read_text())["by_source"]
    found = observed_defects(out)
    for source in contract.SOURCE_NAMES:
        for kind, n in found[source].items():
            assert n == counted[source].get(kind, 0), (source, kind, n, counted[source])


def test_optional_timestamps_and_dates_parse(main_ds):
    out, _, _ = main_ds
    for source, src in contract.SOURCES.items():
        t = load(out, source)
        for col in src.columns:
            if col.type == contract.TIMESTAMP and not col.required:
                assert bad_timestamps(t.column(col.name)) == 0, (source, col.name)
            if col.type == contract.DATE:
                vals = t.column(col.name).drop_null()
                assert pc.all(pc.match_substring_regex(vals, DATE_RE)).as_py() in (True, None), (source, col.name)


def test_some_timestamps_carry_offsets(main_ds):
    out, _, _ = main_ds
    ts = load(out, "usage_events").column("occurred_at").drop_null()
    share = pc.sum(pc.match_substring_regex(ts, r"[+-]\d{2}:\d{2}$")).as_py() / len(ts)
    assert 0.01 < share < 0.06


def test_ids_are_strings_and_keys_unique_per_batch_for_entities(main_ds):
    out, _, _ = main_ds
    for source, src in contract.SOURCES.items():
        for p in regular_batches(out, source):
            t = pq.read_table(p)
            assert t.schema.field(src.primary_key).type == pa.string()
            assert t.schema.field("account_id").type == pa.string() if "account_id" in t.column_names else True
            if src.kind == "entity":
                keys = t.column(src.primary_key).to_pylist()
                assert len(keys) == len(set(keys)), p


def test_entities_change_in_later_batches(main_ds):
    out, _, _ = main_ds
    tickets = load(out, "support_tickets").to_pandas()
    multi = tickets.groupby("ticket_id").size()
    assert (multi > 1).sum() > 0, "tickets closed in a later month appear again"
    later = tickets[tickets.ticket_id.isin(multi[multi > 1].index)]
    closed = later.dropna(subset=["closed_at"])
    assert set(closed.status) <= {"solved", "closed"}
    contacts = load(out, "contacts").to_pandas()
    assert contacts.left_at.notna().sum() > 0


# ---------------------------------------------------------------------------------------------------------------
# defects


def test_defect_rates_match_parameter(main_ds):
    out, s, _ = main_ds
    report = json.loads((out / "_truth" / "defects.json").read_text())
    usage = report["by_source"]["usage_events"]
    n = s.usage_events_generated
    for kind in ("duplicate", "null_required", "malformed_timestamp", "orphan_account"):
        assert 0.007 * n < usage[kind] < 0.013 * n, (kind, usage[kind], n)
    assert report["totals"] == {k: sum(v.get(k, 0) for v in report["by_source"].values()) for k in report["totals"]}
    assert s.defects == report["by_source"]


def test_duplicates_same_and_later_batch(main_ds):
    out, _, _ = main_ds
    seen_same = seen_later = False
    prev: set[str] = set()
    for p in regular_batches(out, "activities") + regular_batches(out, "usage_events")[:3]:
        ids = pq.read_table(p, columns=[contract.SOURCES["usage_events"].primary_key
                                        if "usage" in str(p) else "activity_id"]).column(0).to_pylist()
        seen_same |= len(ids) != len(set(ids))
        seen_later |= bool(prev & set(ids))
        prev = set(ids) if "usage" in str(p) else prev | set(ids)
    assert seen_same and seen_later


def test_late_arrivals_land_in_next_batch(main_ds):
    out, s, _ = main_ds
    assert s.late_arrivals["usage_events"] > 0
    late = 0
    for p in regular_batches(out, "usage_events")[1:]:
        month = p.stem
        ts = pq.read_table(p, columns=["occurred_at"]).column(0).drop_null()
        ok = pc.match_substring_regex(ts, ISO_RE)
        prefix = pc.utf8_slice_codeunits(ts.filter(ok), 0, 7)
        late += pc.sum(pc.less(prefix, month)).as_py() or 0
    generated = s.usage_events_generated
    assert 0.01 * generated < late < 0.03 * generated


def test_clean_set_has_no_defects(clean_ds):
    report = json.loads((clean_ds / "_truth" / "defects.json").read_text())
    assert all(v == 0 for v in report["totals"].values())
    assert report["broken_batches"] == []
    assert not list(clean_ds.rglob("*export-b*"))
    found = observed_defects(clean_ds)
    assert all(n == 0 for c in found.values() for n in c.values()), found


# ---------------------------------------------------------------------------------------------------------------
# truth


def test_truth_consistent_with_contracts(main_ds):
    out, _, _ = main_ds
    con = duckdb.connect()
    t = out / "_truth"
    con.sql(f"create view acc as select * from read_parquet('{t}/accounts.parquet')")
    con.sql(f"create view ren as select * from read_parquet('{t}/renewals.parquet')")
    con.sql(f"create view con as select * from read_parquet('{t}/contracts.parquet')")
    con.sql(f"create view land as select * from read_parquet('{out}/contracts/*.parquet')")
    assert con.sql("select count(*) from acc where churned").fetchall()[0][0] > 0
    # churned accounts: no contract line beyond the churn date (+ grace) in truth or landing
    bad = con.sql("""
        select count(*) from acc join con using (account_id)
        where acc.churned and con.end_date > acc.churn_date""").fetchall()[0][0]
    assert bad == 0
    bad = con.sql("""
        select count(*) from acc join land l using (account_id)
        where acc.churned and cast(l.start_date as date) <= acc.churn_date + interval 30 day
          and cast(l.end_date as date) > acc.churn_date""").fetchall()[0][0]
    assert bad == 0
    # every renewal ends a core contract on the renewal date
    bad = con.sql("""
        select count(*) from ren left join con on con.contract_id = ren.contract_id
        where con.end_date is null or con.end_date <> ren.renewal_date or con.product <> 'core'""").fetchall()[0][0]
    assert bad == 0
    # a renewal contract starts on the old end date or up to 20 days later; churn has none
    bad = con.sql("""
        select count(*) from ren left join con on con.contract_id = ren.new_contract_id
        where (ren.outcome = 'churned' and ren.new_contract_id is not null)
           or (ren.outcome <> 'churned' and (con.start_date is null or con.start_date < ren.renewal_date
               or con.start_date > ren.renewal_date + interval 20 day))""").fetchall()[0][0]
    assert bad == 0
    # outcomes are consistent with seats and ARR
    bad = con.sql("""
        select count(*) from ren where
           (outcome = 'contracted' and not (arr_after < arr_before))
        or (outcome = 'expanded' and not (arr_after > arr_before))
        or (outcome = 'churned' and arr_after <> 0)""").fetchall()[0][0]
    assert bad == 0
    assert con.sql("select count(*) from land where cast(end_date as date) <= cast(start_date as date)").fetchall()[0][0] == 0
    # churn_date recorded in truth matches the churned renewals
    bad = con.sql("""
        select count(*) from acc full join (select account_id, renewal_date from ren where outcome='churned') r
        using (account_id) where (acc.churned or r.account_id is not null)
        and (acc.churn_date is distinct from r.renewal_date)""").fetchall()[0][0]
    assert bad == 0


def test_churned_accounts_stop_using_the_product(main_ds):
    out, _, _ = main_ds
    con = duckdb.connect()
    con.sql(f"create view acc as select * from read_parquet('{out}/_truth/accounts.parquet')")
    con.sql(f"create view u as select * from read_parquet('{out}/usage_events/2*.parquet')")
    late = con.sql("""
        select count(*) from u join acc using (account_id)
        where acc.churned and try_cast(u.occurred_at as timestamptz) > acc.churn_date + interval 9 day""").fetchall()[0][0]
    assert late == 0


def test_new_logos_have_handoffs_and_onboarding_outcome(main_ds):
    out, _, _ = main_ds
    acc = pq.read_table(out / "_truth" / "accounts.parquet").to_pandas()
    new = acc[acc.is_new_logo]
    assert 0.15 < len(new) / len(acc) < 0.45
    assert set(new.onboarding_outcome) <= {"success", "failure"}
    assert acc[~acc.is_new_logo].onboarding_outcome.isna().all()
    hand = load(out, "handoffs").to_pandas()
    counted = json.loads((out / "_truth" / "defects.json").read_text())["by_source"]["handoffs"]
    missing = set(new.account_id) - set(hand.account_id.dropna())
    assert len(missing) <= counted["null_required"] + counted["orphan_account"]
    assert hand.success_criteria.isna().sum() > 0, "some handoffs are incomplete"


def test_text_flags_recorded(signal_ds):
    out, _ = signal_ds
    flags = pq.read_table(out / "_truth" / "text_flags.parquet").to_pandas()
    manifest = json.loads((out / "_manifest.json").read_text())
    texts = sum(v["texts"] for v in manifest["text_flags"].values())
    pii = sum(v["pii"] for v in manifest["text_flags"].values())
    inj = sum(v["injection"] for v in manifest["text_flags"].values())
    assert 0.025 < pii / texts < 0.06
    assert 0.004 < inj / texts < 0.012
    assert flags.has_pii.sum() == pii and flags.has_injection.sum() == inj
    tickets = load(out, "support_tickets").to_pandas().drop_duplicates("ticket_id")
    body = tickets.set_index("ticket_id").body
    sample = flags[(flags.source == "support_tickets") & (flags.field == "body") & flags.has_injection]
    assert len(sample) > 0
    markers = ("Ignore", "<!channel>", "SYSTEM", "<@here>", "Assistant", "[system]", "###")
    assert all(any(m in body[k] for m in markers) for k in sample.key)


# ---------------------------------------------------------------------------------------------------------------
# signal: later stages must be able to find it


def test_signal_health_and_usage_before_renewal(signal_ds):
    out, s = signal_ds
    con = duckdb.connect()
    con.sql(f"create view ren as select * from read_parquet('{out}/_truth/renewals.parquet')")
    con.sql(f"create view u as select account_id, user_id, try_cast(occurred_at as timestamptz) as ts "
            f"from read_parquet('{out}/usage_events/2*.parquet')")
    h = dict(con.sql("select outcome = 'churned', avg(health_90d) from ren group by 1").fetchall())
    assert h[True] < h[False] - 0.05
    rows = con.sql("""
        select r.outcome = 'churned' as churned,
               count(distinct u.user_id) / any_value(r.seats_before) as users_per_seat
        from ren r left join u on u.account_id = r.account_id
             and u.ts >= r.renewal_date - interval 90 day and u.ts < r.renewal_date
        where r.renewal_date >= date '2025-01-01' + interval 90 day
        group by r.account_id, r.renewal_date, r.outcome""").df()
    means = rows.groupby("churned").users_per_seat.mean()
    assert means[True] < means[False] * 0.85, means
    # annual logo churn among accounts existing at window start is plausible
    acc = pq.read_table(out / "_truth" / "accounts.parquet").to_pandas()
    old = acc[~acc.is_new_logo]
    annual = old.churned.mean() / 1.5
    assert 0.06 < annual < 0.25
    # SMB logos churn more than enterprise ones (per account: half of SMB renews monthly, at smaller odds per renewal)
    by_seg = old.groupby("segment").churned.mean()
    assert by_seg["smb"] > by_seg["enterprise"], by_seg


def test_monthly_plans_churn_in_any_month(signal_ds):
    """SMB monthly plans: churn is not tied to a yearly renewal date, so timing alone cannot single out churners."""
    out, _ = signal_ds
    con = duckdb.connect()
    con.sql(f"create view ren as select * from read_parquet('{out}/_truth/renewals.parquet')")
    con.sql(f"create view acc as select * from read_parquet('{out}/_truth/accounts.parquet')")
    monthly = con.sql("""
        select account_id from ren group by 1
        having count(*) >= 3 and max(renewal_date) - min(renewal_date) < 31 * (count(*) - 1) + 1""").df()
    segments = con.sql(f"select distinct segment from acc where account_id in "
                       f"({', '.join(repr(a) for a in monthly.account_id)})").fetchall()
    assert len(monthly) > 30 and segments == [("smb",)]
    churn_months = con.sql("select count(distinct month(renewal_date)) from ren where outcome = 'churned' "
                           f"and account_id in ({', '.join(repr(a) for a in monthly.account_id)})").fetchall()[0][0]
    assert churn_months >= 9


def test_usage_shape(signal_ds):
    out, s = signal_ds
    con = duckdb.connect()
    con.sql(f"create view u as select *, try_cast(occurred_at as timestamptz) as ts "
            f"from read_parquet('{out}/usage_events/2025-0[3-5].parquet')")
    dow = dict(con.sql("select isodow(ts) >= 6, count(*) / count(distinct ts::date) from u "
                       "where ts is not null group by 1").fetchall())
    assert 0.1 < dow[True] / dow[False] < 0.35
    per_user_day = con.sql("select count(*) / count(distinct (user_id, ts::date)) from u").fetchall()[0][0]
    assert 2.5 < per_user_day < 7
    types = {r[0] for r in con.sql("select distinct event_type from u where event_type is not null").fetchall()}
    assert {"login", "dashboard_viewed", "report_exported", "workflow_run"} <= types


def test_300x18_is_fast(signal_ds):
    _, s = signal_ds
    assert s.seconds < 30  # target is < 15 s on a 2-core machine; leave room for a busy CI


def test_accounts_land_no_later_than_rows_referencing_them(main_ds):
    out, _, _ = main_ds

    def first_batch(source: str) -> dict[str, str]:
        first: dict[str, str] = {}
        for p in regular_batches(out, source):
            for a in set(pq.read_table(p, columns=["account_id"]).column(0).drop_null().to_pylist()):
                first.setdefault(a, p.stem)
        return first

    accounts = first_batch("accounts")
    for source in ("contracts", "handoffs", "contacts", "support_tickets", "activities"):
        for a, month in first_batch(source).items():
            if a in accounts:
                assert accounts[a] <= month, (source, a, accounts[a], month)


def test_refuses_to_overwrite_foreign_landing_data(tmp_path):
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "real-export.csv").write_text("account_id,account_name,created_at\n")
    with pytest.raises(FileExistsError):
        generate(tmp_path, accounts=10, months=2, seed=1)
    assert (tmp_path / "accounts" / "real-export.csv").exists()


def test_defective_account_rows_are_superseded_later(main_ds):
    out, _, _ = main_ds
    rows = []
    for p in regular_batches(out, "accounts"):
        t = pq.read_table(p, columns=["account_id", "segment"]).to_pylist()
        rows += [(p.stem, r["account_id"], r["segment"]) for r in t]
    for month, account, segment in rows:
        if segment not in contract.SEGMENTS:
            assert any(m > month and a == account and s in contract.SEGMENTS for m, a, s in rows), account


# ---------------------------------------------------------------------------------------------------------------
# regimes: data sets unlike the default world (lab.generator.regimes)

# sha256 over every file (names and bytes) of generate(accounts=60, months=6, seed=5) as the generator without
# regimes wrote it (recorded from the voice branch's generator, whose text templates and text truth changed the files)
DEFAULT_60x6_SEED5_SHA256 = "32c3f10a69b9b030b0d5b5835a0a4532d1948f84cc39bc2c623bf5ebf66a315c"


def test_default_regime_output_unchanged(small_pair, tmp_path):
    a, _, _ = small_pair
    generate(tmp_path, accounts=60, months=6, seed=5, regime="default")
    assert file_digests(tmp_path) == file_digests(a)
    h = hashlib.sha256()
    for p in sorted(a.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(a)).encode())
            h.update(p.read_bytes())
    # fails if a regime leaks into the default world (or, legitimately, after a pyarrow/zstd upgrade)
    assert h.hexdigest() == DEFAULT_60x6_SEED5_SHA256


def test_unknown_regime_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown regime"):
        generate(tmp_path, accounts=20, months=3, seed=1, regime="foreign_events+nonsense")


@pytest.fixture(scope="module")
def foreign_ds(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("foreign")
    generate(out, accounts=600, months=12, seed=7, regime="foreign_events+usage_only+small_book")
    return out


def seed_vocabulary() -> set[str]:
    seed = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "feature_categories.csv"
    return {line.split(",")[1].lower() for line in seed.read_text().splitlines()[1:] if line}


def test_foreign_usage_only_small_book(foreign_ds):
    out = foreign_ds
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["parameters"]["regime"] == "foreign_events+usage_only+small_book"
    # small book: at most 300 accounts although 600 were asked for
    truth = pq.read_table(out / "_truth" / "accounts.parquet")
    assert truth.num_rows == 300
    # usage only: the optional sources are absent, the required ones present
    present = {s for s in contract.SOURCE_NAMES if batches(out, s)}
    assert present == {"accounts", "contracts", "usage_events"}
    # monthly and annual terms only (add-ons bought mid-term end with the core contract)
    c = load(out, "contracts").to_pandas().dropna(subset=["start_date", "end_date"])
    c = c[c["product"] == "core"]
    months = ((c["end_date"].str[:4].astype(int) - c["start_date"].str[:4].astype(int)) * 12
              + c["end_date"].str[5:7].astype(int) - c["start_date"].str[5:7].astype(int))
    assert set(months.unique()) <= {1, 12} and {1, 12} <= set(months.unique())
    # foreign events: no event name the seed vocabulary knows, no feature, but quantities still carry values
    ev = load(out, "usage_events")
    names = set(ev.column("event_type").drop_null().to_pylist())
    assert len(names) >= 8 and not names & seed_vocabulary()
    assert ev.column("feature").null_count == ev.num_rows
    assert pc.max(ev.column("quantity")).as_py() > 10
    # truth still holds labels for the evaluation
    assert 0.05 < pc.mean(pc.cast(truth.column("churned"), pa.int8())).as_py() < 0.6


@pytest.fixture(scope="module")
def churn_regimes(tmp_path_factory) -> dict[str, object]:
    frames = {}
    for regime in ("default", "random_churn", "early_churn"):
        out = tmp_path_factory.mktemp(regime)
        generate(out, accounts=900, months=12, seed=3, regime=regime, defect_rate=0)
        renewals = pq.read_table(out / "_truth" / "renewals.parquet").to_pandas()
        accounts = pq.read_table(out / "_truth" / "accounts.parquet").to_pandas()
        frames[regime] = renewals.merge(accounts[["account_id", "customer_since"]], on="account_id")
    return frames


def test_random_churn_is_mostly_unrelated_to_health(churn_regimes):
    from sklearn.metrics import roc_auc_score

    auc = {r: roc_auc_score(f["outcome"] == "churned", -f["health_90d"]) for r, f in churn_regimes.items()}
    rate = {r: (f["outcome"] == "churned").mean() for r, f in churn_regimes.items()}
    assert auc["default"] > 0.75 and auc["random_churn"] < 0.65, auc
    assert 0.6 < rate["random_churn"] / rate["default"] < 1.5, rate


def test_early_churn_concentrates_in_the_first_year(churn_regimes):
    import pandas as pd

    def first_year_share(f) -> float:
        tenure = (pd.to_datetime(f["renewal_date"]) - pd.to_datetime(f["customer_since"])).dt.days
        return float((tenure[f["outcome"] == "churned"] < 365).mean())

    assert first_year_share(churn_regimes["early_churn"]) > first_year_share(churn_regimes["default"]) + 0.12
