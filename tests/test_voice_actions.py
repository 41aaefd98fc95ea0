"""Voice of the customer in the marts and the action layer: the voice marts built by dbt (with their tests) on a
generated set, the intent-to-leave alert quoting the customer (escaped so it can never ping Slack), and promoters
in the customer's own words feeding the reference request."""

from __future__ import annotations

import json
import shutil

import duckdb
from agent_world import World, tick
from sqlalchemy import select

from actions.playbook import load_playbooks
from actions.policy import load_policy
from csops.dbt import run_dbt
from csops.opdb.models import Alert, Plan
from delivery.slack.agent_feed import message
from delivery.slack.blocks import alert_message
from ml.voice.classify import OfflineClassifier
from ml.voice.signals import update_signals

QUOTE = "<!channel> <@U0123ABC> *We're evaluating Planhat*, cancel us <https://evil.example|here> & ping <!here>"


def _voice_tables(con, day, account: str, quote: str | None, intent: int, competitors: int, praise: int = 0):
    """The two voice relations the agent reads, for one account on `day`."""
    con.execute("create schema if not exists intermediate")
    con.execute("create or replace table marts.fct_account_voice as select ? as account_id, ?::date as date_day, "
                "0.1 as sentiment_avg_90d, ? as praise_texts_90d, ? as competitor_mentions_90d, "
                "? as intent_to_leave_texts_90d", [account, day, praise, competitors, intent])
    con.execute("create or replace table intermediate.int_voice_text_signals as select 'tickets:T1:body' as text_id, "
                "? as account_id, ?::date as created_on, ? > 0 as intent_to_leave, "
                "case when ? > 0 then 'Planhat' else '' end as competitors, ? as evidence",
                [account, day, intent, competitors, quote])


def test_intent_to_leave_raises_an_alert_quoting_the_customer_escaped_for_slack(session):
    world = World().add("V1").add("V2")
    con = world.write()
    _voice_tables(con, world.day, "V1", QUOTE, intent=1, competitors=1)
    tick(world, session, policy=load_policy().replace(holdout_share=0.0))  # no account held out for lift
    raised = list(session.scalars(select(Alert).where(Alert.kind == "intent_to_leave")))
    assert [a.account_id for a in raised] == ["V1"]  # V2 has no voice row: nothing to quote, no alert
    alert = raised[0]
    assert alert.playbook == "voice_intent_to_leave" and alert.severity == "high"
    assert alert.evidence["signals"]["voice_quote"] == QUOTE  # stored as written; escaping is the display's job
    payload = json.dumps(alert_message(message(alert, session.get(Plan, alert.plan_id)), "http://ui"))
    for ping in ("<!channel>", "<@U0123ABC>", "<!here>", "<https://evil.example"):
        assert ping not in payload
    assert "&lt;!channel&gt;" in payload and "Customer wrote" in payload and "Planhat" in payload


def test_the_alert_needs_a_quote_and_a_signal():
    book = load_playbooks()["voice_intent_to_leave"]
    base = {"voice_quote": "We are looking at alternatives.", "voice_intent_to_leave_90d": 0,
            "voice_competitor_mentions_90d": 0}
    assert not book.triggered(base)
    assert book.triggered({**base, "voice_intent_to_leave_90d": 1})
    assert book.triggered({**base, "voice_competitor_mentions_90d": 2})
    assert not book.triggered({**base, "voice_quote": None, "voice_intent_to_leave_90d": 1})


def test_reference_request_takes_promoters_by_nps_or_by_their_words_in_green_health():
    book = load_playbooks()["reference_request"]
    green = {"health_band": "green", "latest_nps_score": None, "voice_praise_texts_90d": None}
    assert book.triggered({**green, "latest_nps_score": 9})
    assert book.triggered({**green, "voice_praise_texts_90d": 3})
    assert not book.triggered({**green, "latest_nps_score": 7, "voice_praise_texts_90d": 2})
    assert not book.triggered({**green, "health_band": "yellow", "voice_praise_texts_90d": 5})


def test_voice_marts_build_and_pass_their_dbt_tests_on_a_generated_set(built_warehouse, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, db)
    with duckdb.connect(str(db)) as con:
        stats = update_signals(con, OfflineClassifier())
    assert stats["texts"] > 1000 and stats["failed"] == 0
    # everything downstream of the voice labels (the voice marts, the health score, ...): raises when a model or a
    # test fails
    run_dbt(["build", "--select", "int_voice_text_signals+"], db, tmp_path / "dbt")
    with duckdb.connect(str(db), read_only=True) as con:
        daily, voiced, leave = con.execute(
            "select count(*), count(*) filter (where texts_90d > 0), sum(intent_to_leave_texts_90d) "
            "from marts.fct_account_voice").fetchone()
        spine = con.execute("select count(*) from marts.fct_account_daily").fetchone()[0]
        kinds = dict(con.execute("select feedback_kind, sum(mentions) from marts.fct_product_feedback "
                                 "group by 1").fetchall())
        arr = con.execute("select sum(arr_amount) from marts.fct_product_feedback").fetchone()[0]
        texts = con.execute("select count(*) from ml.voice_text_signals where feedback_kind is not null").fetchone()[0]
        # the health score's sentiment component: text sentiment where no NPS answer is known
        text_only, nps_days = con.execute("""
            select count(*) filter (where d.latest_nps_score is null and h.score_sentiment is not null),
                   count(*) filter (where d.latest_nps_score is null and v.texts_90d < 3 and h.score_sentiment is null)
            from marts.fct_account_health h
            join marts.fct_account_daily d using (account_id, date_day)
            join marts.fct_account_voice v using (account_id, date_day)""").fetchone()
    assert daily == spine and voiced > daily / 2 and leave > 0
    assert set(kinds) == {"bug", "feature_request"} and sum(kinds.values()) == texts and arr > 0
    assert text_only > 0 and nps_days > 0
