"""Orchestration: build the world, simulate, write every source batch by batch, then truth and manifest."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa

from csops import contract

from . import accounts as accounts_mod
from . import activities, contacts, contracts, handoffs, rand, state, surveys, tickets, truth, usage
from .defects import BROKEN_BATCH, DefectInjector
from .regimes import Regime
from .timegrid import make_calendar
from .writer import LandingWriter, empty

GENERATOR_VERSION = "1.0.0"


@dataclass
class GenerationSummary:
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)  # landing rows written per source (defects included)
    files: dict[str, int] = field(default_factory=dict)  # batch files per source
    defects: dict[str, dict[str, int]] = field(default_factory=dict)  # by source and kind
    late_arrivals: dict[str, int] = field(default_factory=dict)
    broken_batches: list[dict] = field(default_factory=list)
    usage_events_generated: int = 0
    seconds: float = 0.0

    @property
    def defect_total(self) -> int:
        return sum(sum(v.values()) for v in self.defects.values())


def _clean(out: Path) -> None:
    """Remove a previous generator output from `out`; refuse to touch a folder that holds other data."""
    sources = [out / name for name in contract.SOURCE_NAMES]
    has_data = any(p.is_dir() and any(p.iterdir()) for p in sources)
    if has_data and not (out / "_manifest.json").exists():
        raise FileExistsError(f"{out} holds landing data that the generator did not write; choose an empty folder")
    for p in sources + [out / "_truth"]:
        if p.is_dir():
            shutil.rmtree(p)
    m = out / "_manifest.json"
    if m.exists():
        m.unlink()


def generate(out_dir: str | Path, accounts: int = 300, months: int = 12, seed: int = 0, defect_rate: float = 0.005,
             end: date = date(2026, 6, 30), progress: Callable[[str], None] | None = None,
             regime: str | Regime | None = None) -> GenerationSummary:
    """Write a synthetic landing zone (all eight sources) plus `_truth/` and `_manifest.json` into `out_dir`.

    Deterministic for given parameters: same inputs, byte-identical Parquet files. `regime` ('foreign_events',
    'usage_only+small_book', ...; see lab.generator.regimes) changes vocabulary, sources or churn mechanics.
    """
    t0 = time.perf_counter()
    reg = regime if isinstance(regime, Regime) else Regime.parse(regime)
    accounts = reg.accounts(accounts)
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)

    cal = make_calendar(end, months)
    acc = accounts_mod.make_accounts(rand.stream(seed, "accounts"), accounts, cal)
    acc.term_months = reg.term_months(acc.term_months)
    base = contacts.plan(acc, cal, rand.stream(seed, "contacts"))
    hp = handoffs.plan(acc, cal, base, rand.stream(seed, "handoffs-plan"))
    sign_new = np.zeros(acc.n, np.int64)
    sign_new[hp.acc] = hp.closed_day
    book = contracts.ContractBook(acc, cal, rand.stream(seed, "contracts"), sign_new)
    say(f"simulating {accounts} accounts over {cal.n_days} days")
    sim = state.simulate(acc, cal, book, hp.success, rand.stream(seed, "state"), churn_logit=reg.churn_logit)

    ghost_rng = rand.stream(seed, "ghosts")
    n_ghost = max(3, accounts // 100)
    ghosts = [f"A9{x:06d}" for x in sorted(ghost_rng.choice(1_000_000, n_ghost, replace=False).tolist())]
    injector = DefectInjector(defect_rate, ghosts)
    flags = truth.TextFlags()
    writer = LandingWriter(out, cal)

    # small sources: build whole, then split into monthly batches
    tables: dict[str, tuple[pa.Table, np.ndarray]] = {}
    acc_tab, acc_month, acc_superseded = accounts_mod.accounts_table(acc, cal, rand.stream(seed, "accounts-table"))
    tables["accounts"] = (acc_tab, acc_month)
    # an account's only version never gets a defect: that would orphan all of its rows downstream
    eligible_rows = {"accounts": acc_superseded}
    crow = book.rows()
    ctab, csign = contracts.contracts_table(acc, cal, crow)
    tables["contracts"] = (ctab, cal.landing_month(csign))
    written = reg.sources()
    if "contacts" in written:  # the optional sources all come from one CRM: a regime writes all or none of them
        crows = contacts.finalize(base, acc, cal, sim, rand.stream(seed, "contacts-final"))
        cont_tab, cont_month, contact_ids = contacts.contacts_table(crows, acc, cal,
                                                                    rand.stream(seed, "contacts-table"))
        tables["contacts"] = (cont_tab, cont_month)
        tables["handoffs"] = handoffs.handoffs_table(hp, acc, cal, base, sim, rand.stream(seed, "handoffs"), flags)
        tk_tab, tk_month, csat = tickets.build(acc, cal, sim, base, contact_ids, rand.stream(seed, "tickets"), flags)
        tables["support_tickets"] = (tk_tab, tk_month)
        tables["survey_responses"] = surveys.build(acc, cal, sim, base, contact_ids, csat,
                                                   rand.stream(seed, "surveys"), flags)
        tables["activities"] = activities.build(acc, cal, sim, rand.stream(seed, "activities"), flags)

    broken_source = BROKEN_BATCH["source"]
    broken_month = -1
    if defect_rate > 0 and broken_source in written:
        tm = tables[broken_source][1]
        counts = np.bincount(tm[tm < months], minlength=months)
        mid = months // 2
        broken_month = mid if counts[mid] > 0 else int(np.argmax(counts))
        if counts[broken_month] == 0:
            broken_month = -1

    for source in written:
        if source == "usage_events":
            continue
        table, month = tables[source]
        carry = None
        for m in range(months):
            idx = np.nonzero(month == m)[0]
            batch = table.take(pa.array(idx)) if len(idx) else empty(source)
            elig = eligible_rows[source][idx] if source in eligible_rows else None
            keep, nxt = injector.process(source, batch, rand.stream(seed, "defects", source, m),
                                         allow_carry=m < months - 1, eligible=elig)
            if carry is not None:
                keep = pa.concat_tables([carry.cast(keep.schema), keep]) if keep.num_rows else carry
            writer.write(source, m, keep)
            carry = nxt
            if source == broken_source and m == broken_month:
                _write_broken(writer, injector, source, m, batch, rand.stream(seed, "broken-batch"))
        say(f"{source}: {writer.rows[source]:,} rows in {writer.files[source]} files")

    ctx = usage.make_context(acc, cal, sim, seed, reg.event_types, reg.writes_feature)
    n_events = usage.write_usage(ctx, writer, injector, seed, say)

    report = injector.report()
    landed = cal.landing_month(csign) < months
    info = truth.write_truth(out, acc, cal, sim, hp, crow, landed, flags, report)
    say("truth written")
    parameters = {"accounts": accounts, "months": months, "seed": seed, "defect_rate": defect_rate,
                  "end": end.isoformat()}
    if not reg.is_default:  # the default manifest stays as it was before regimes existed
        parameters["regime"] = reg.label
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "contract_version": contract.CONTRACT_VERSION,
        "parameters": parameters,
        "window": {"start": cal.window_start.isoformat(), "end": end.isoformat(), "batches": cal.month_labels},
        "sources": {s: {"rows": writer.rows[s], "files": writer.files[s]} for s in written},
        "usage_events_generated": n_events,
        "defects": report["totals"],
        "late_arrivals": report["late_arrivals"],
        "broken_batches": report["broken_batches"],
        "truth": {"state_file": info["state_file"], "state_granularity": info["state_granularity"]},
        "text_flags": info["text"],
    }
    with open(out / "_manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
    return GenerationSummary(
        out_dir=out, rows=dict(writer.rows), files=dict(writer.files), defects=report["by_source"],
        late_arrivals=report["late_arrivals"], broken_batches=report["broken_batches"],
        usage_events_generated=n_events, seconds=time.perf_counter() - t0,
    )


def _write_broken(writer: LandingWriter, injector: DefectInjector, source: str, m: int, batch: pa.Table,
                  rng: np.random.Generator) -> None:
    """A second export of part of the month with a renamed required column: quarantined whole by ingest."""
    from .writer import conform

    n = batch.num_rows
    k = max(1, int(round(n * 0.25)))
    idx = np.sort(rng.choice(n, size=min(k, n), replace=False))
    t = conform(source, batch.take(pa.array(idx)))
    old, new = BROKEN_BATCH["renamed"]
    t = t.rename_columns([new if c == old else c for c in t.column_names])
    path = writer.write(source, m, t, suffix="-export-b", raw=True, extra_seconds=3600)
    injector.broken.append({"source": source, "file": f"{source}/{path.name}", "rows": t.num_rows,
                            "reason": f"column {old} renamed to {new}"})
