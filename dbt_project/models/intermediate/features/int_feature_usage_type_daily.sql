{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'usage_date'],
        on_schema_change='fail',
    )
}}

{#-
    Usage per account, day and the data's own `event_type` (as written, trimmed and lower-cased), with the events'
    `quantity`: features that need no product vocabulary read it (the ML step picks the most frequent types of its
    training window). Incremental like int_feature_usage_user_daily.
-#}

with

{{ csops_usage_events_to_aggregate() }}

select
    account_id,
    occurred_on as usage_date,
    lower(trim(event_type)) as event_type,
    count(*) as event_count,
    sum(quantity) as quantity_total,
    max(loaded_at) as loaded_through
from events
group by account_id, occurred_on, lower(trim(event_type))
