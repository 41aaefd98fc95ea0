{#-
    The voice classifier's labels as dbt reads them: the source when the voice step has written it, an empty relation
    of the same columns otherwise (a dbt build before the first voice run, the dbt tests' own fixtures).
-#}
{%- set src = source('ml', 'voice_text_signals') %}
{%- set relation = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) if execute else none %}
{%- if relation is not none %}
select
    text_id, source, source_id, field, account_id, created_on, model, sentiment, sentiment_score, topics,
    primary_topic, competitors, intent_to_leave, intent_to_downgrade, feedback_kind, feedback_area, evidence
from {{ src }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as text_id, cast(null as {{ dbt.type_string() }}) as source,
    cast(null as {{ dbt.type_string() }}) as source_id, cast(null as {{ dbt.type_string() }}) as field,
    cast(null as {{ dbt.type_string() }}) as account_id, cast(null as date) as created_on,
    cast(null as {{ dbt.type_string() }}) as model, cast(null as {{ dbt.type_string() }}) as sentiment,
    cast(null as {{ dbt.type_float() }}) as sentiment_score, cast(null as {{ dbt.type_string() }}) as topics,
    cast(null as {{ dbt.type_string() }}) as primary_topic, cast(null as {{ dbt.type_string() }}) as competitors,
    cast(null as boolean) as intent_to_leave, cast(null as boolean) as intent_to_downgrade,
    cast(null as {{ dbt.type_string() }}) as feedback_kind, cast(null as {{ dbt.type_string() }}) as feedback_area,
    cast(null as {{ dbt.type_string() }}) as evidence
where 1 = 0
{%- endif %}
