"""The text-signals table `ml.voice_text_signals`: one row per customer text with its labels and the model that
produced them, kept up to date incrementally.

The table is its own cache: a text whose hash and classifier are unchanged keeps its row; a new or edited text whose
hash another row already has (same classifier) copies that row's labels; only the remaining distinct texts are sent
to the classifier. Rows of texts that left staging are dropped.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone

import pandas as pd

from csops.llm.privacy import Redactor
from ml.voice.classify import Classifier

TABLE = "ml.voice_text_signals"
EVIDENCE_CHARS = 280
LABEL_COLUMNS = ("sentiment", "sentiment_score", "topics", "primary_topic", "competitors", "intent_to_leave",
                 "intent_to_downgrade", "feedback_kind", "feedback_area")

# Every text column customers (or CSMs about customers) write, with the day it was written.
TEXTS_SQL = """
select 'support_tickets' as source, ticket_id as source_id, 'subject' as field, account_id,
       opened_on as created_on, subject as text
from staging.stg_support_tickets
union all
select 'support_tickets', ticket_id, 'body', account_id, opened_on, body from staging.stg_support_tickets
union all
select 'survey_responses', response_id, 'comment', account_id, responded_on, comment
from staging.stg_survey_responses
union all
select 'activities', activity_id, 'notes', account_id, occurred_on, notes from staging.stg_activities
union all
select 'handoffs', opportunity_id, 'notes', account_id, cast(opportunity_closed_at as date), notes
from staging.stg_handoffs
"""

SCHEMA = """
create table if not exists ml.voice_text_signals (
    text_id varchar, source varchar, source_id varchar, field varchar, account_id varchar, created_on date,
    text_hash varchar, model varchar, sentiment varchar, sentiment_score double, topics varchar,
    primary_topic varchar, competitors varchar, intent_to_leave boolean, intent_to_downgrade boolean,
    feedback_kind varchar, feedback_area varchar, evidence varchar, classified_at timestamp
)
"""


def load_texts(con) -> pd.DataFrame:
    """Every non-blank text with its id and hash (the first 32 hex digits of the SHA-256 of its UTF-8 bytes)."""
    df = con.execute(f"select *, source || ':' || source_id || ':' || field as text_id, "
                     f"left(sha256(text), 32) as text_hash from ({TEXTS_SQL}) "
                     "where text is not null and trim(text) <> ''").df()
    # A source row seen in two batches is one text (its latest version).
    return df.drop_duplicates("text_id", keep="last").reset_index(drop=True)


def _quoted(labels: pd.DataFrame) -> pd.Series:
    """Rows whose text a mart or an alert shows as evidence: leaving, downgrading, a competitor, product feedback.
    Labels read back from the table hold missing text as NaN, which is not a flag."""
    said = lambda column: labels[column].fillna("").astype(str).ne("")  # noqa: E731
    flag = lambda column: labels[column].fillna(False).astype(bool)  # noqa: E731
    return flag("intent_to_leave") | flag("intent_to_downgrade") | said("competitors") | said("feedback_kind")


def evidence_quote(text: str, redactor: Redactor) -> str:
    """The redacted quote, one line, at most EVIDENCE_CHARS characters."""
    quote = " ".join(redactor.redact(text).text.split())
    return quote if len(quote) <= EVIDENCE_CHARS else quote[: EVIDENCE_CHARS - 1] + "…"


def _row_labels(label: dict) -> dict:
    out = {k: label[k] for k in LABEL_COLUMNS}
    out["topics"] = ",".join(label["topics"])
    out["competitors"] = ",".join(label["competitors"])
    return out


def update_signals(con, classifier: Classifier) -> dict:
    """Bring `ml.voice_text_signals` up to date with staging; returns what was done. Only changed rows are written:
    a day with no new text deletes and inserts nothing."""
    con.execute("create schema if not exists ml")
    con.execute(SCHEMA)
    texts = load_texts(con)
    con.register("voice_texts", texts[["text_id", "text_hash"]])
    try:
        kept = {r[0] for r in con.execute(f"select text_id from {TABLE} join voice_texts using (text_id, text_hash) "
                                          "where model = ?", [classifier.model]).fetchall()}
        todo = texts[~texts["text_id"].isin(kept)]
        con.register("voice_todo", todo[["text_hash"]].drop_duplicates())
        # labels another row already holds for a todo text's hash, read before any row is replaced
        cached = con.execute(f"select * from {TABLE} where model = ? and text_hash in (select text_hash from "
                             "voice_todo) qualify row_number() over (partition by text_hash order by text_id) = 1",
                             [classifier.model]).df().set_index("text_hash")
        fresh = todo[~todo["text_hash"].isin(cached.index)].drop_duplicates("text_hash")
        labels = classifier.classify(fresh["text"].tolist())
        new_labels = {h: _row_labels(lab) for h, lab in zip(fresh["text_hash"], labels) if "error" not in lab}
        # One label row per hash (new, else another row's): every todo row takes its hash's labels by a join.
        new = pd.DataFrame(list(new_labels.values()), index=pd.Index(list(new_labels), dtype=object),
                           columns=list(LABEL_COLUMNS))
        by_hash = [frame for frame in (new, cached[list(LABEL_COLUMNS)]) if len(frame)]
        rows = todo.join(pd.concat(by_hash) if by_hash else new, on="text_hash", how="inner")
        failed, reused = len(todo) - len(rows), int(rows["text_hash"].isin(cached.index).sum())
        redactor = Redactor()
        # Texts repeat (one survey comment per row of a wave, templates): each distinct text is redacted once.
        quote = functools.lru_cache(maxsize=None)(lambda text: evidence_quote(text, redactor))
        quoted = _quoted(rows).to_numpy()
        rows = rows.assign(source_id=rows["source_id"].astype(str), model=classifier.model, evidence=None,
                           classified_at=datetime.now(timezone.utc).replace(tzinfo=None))
        rows.loc[quoted, "evidence"] = [quote(text) for text in rows.loc[quoted, "text"]]
        rows = rows.drop(columns="text")
        if len(rows):
            con.register("voice_new_rows", rows)
        con.execute("begin")
        try:  # rows of edited texts, of texts that left staging and of another classifier go; new rows come in
            con.execute(f"delete from {TABLE} s where s.model <> ? or not exists (select 1 from voice_texts t "
                        "where t.text_id = s.text_id and t.text_hash = s.text_hash)", [classifier.model])
            if len(rows):  # by name into the declared columns: a column pandas holds only nulls of keeps its type
                con.execute(f"insert into {TABLE} by name select * from voice_new_rows")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        for view in ("voice_texts", "voice_todo", "voice_new_rows"):
            con.unregister(view)  # a no-op for a view an earlier failure left unregistered
    return {"texts": len(texts), "kept": len(kept), "reused": reused, "classified": len(fresh), "failed": failed,
            "model": classifier.model}
