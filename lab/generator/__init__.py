"""Synthetic landing-zone generator for csops.

`generate(out_dir, accounts, months, seed, defect_rate=0.005, end=date(2026, 6, 30), progress=None)` writes:

    <out>/<source>/YYYY-MM.parquet        one batch per source per landing month (all eight contract sources),
                                          written in month order; file mtimes are set to each batch's landing time
    <out>/support_tickets/YYYY-MM-export-b.parquet
                                          the one deliberately broken batch (opened_at renamed open_date);
                                          absent when defect_rate == 0
    <out>/_truth/accounts.parquet         segment, archetype, onboarding outcome, churn, expansions, events
    <out>/_truth/events.parquet           every hidden event (account_id, date, event_type)
    <out>/_truth/renewals.parquet         renewal outcome and the churn probability it was drawn from
    <out>/_truth/contracts.parquet        every contract line, incl. ones signed after the window (landed = false)
    <out>/_truth/state_daily.parquet      hidden state per account and day (state_weekly.parquet for big sets)
    <out>/_truth/text_flags.parquet       text fields holding personal data / machine-aimed instructions
    <out>/_truth/defects.json             injected defects counted by source and kind, late arrivals, broken batch
    <out>/_manifest.json                  parameters, generator version, rows and files per source

Modules: timegrid (calendar, ISO strings), accounts, contracts, state (hidden daily state + renewals),
usage_model/usage (product events), contacts, handoffs, tickets, surveys, activities, causes/text (free text),
defects, writer (Parquet batches), truth, run (orchestration).
"""

from .run import GENERATOR_VERSION, GenerationSummary, generate

__all__ = ["GENERATOR_VERSION", "GenerationSummary", "generate"]
