"""Voice of the customer as an asset (group `voice`): wiring only, the logic lives in `ml.voice`.

    staging texts (tickets, surveys, activities, handoffs) -> ml/voice_text_signals -> marts/fct_account_voice,
                                                                                      marts/fct_product_feedback

Incremental: only texts new or changed since the last run are classified (the table is its own cache by text hash
and classifier). The classifier is ml/voice/voice.yaml's `classifier` (offline unless CSOPS_VOICE_CLASSIFIER=claude).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ml.voice.classify import make_classifier
from ml.voice.signals import TABLE, update_signals
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse

GROUP = "voice"
TEXT_SIGNALS = dg.AssetKey(["ml", "voice_text_signals"])
SOURCES = [dg.AssetKey(["staging", name]) for name in (
    "stg_support_tickets", "stg_survey_responses", "stg_activities", "stg_handoffs")]


@dg.asset(
    key=TEXT_SIGNALS,
    group_name=GROUP,
    deps=SOURCES,
    pool=DUCKDB_POOL,
    kinds={"duckdb", "python"},
    description="Sentiment, topics, competitor mentions, intent to leave or downgrade and product feedback of every "
    "customer text, with the classifier that produced them (table ml.voice_text_signals); new texts only.",
)
def voice_text_signals(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                       warehouse: Warehouse) -> dg.MaterializeResult:
    classifier = make_classifier()
    with duckdb.get_connection() as con:
        warehouse.fetch_tables(con, [".".join(k.path) for k in SOURCES], context.run_id, context.log.info)
        stats = update_signals(con, classifier)
        warehouse.store_tables(con, [TABLE], context.log.info)
    return dg.MaterializeResult(metadata={
        **stats, "dagster/row_count": stats["texts"] - stats["failed"],
        "progress_note": f"{stats['texts']:,} texts, {stats['classified']:,} distinct ones classified by "
                         f"{stats['model']}, {stats['kept'] + stats['reused']:,} labelled before, "
                         f"{stats['failed']} failed",
    })
