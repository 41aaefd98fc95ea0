{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'usage_date'],
        on_schema_change='fail',
    )
}}

{#-
    Usage per account, user and day: the grain distinct-user windows need, a few aggregates so the one pass over the
    events stays cheap. Incremental: re-aggregates every (account, day) that received an event loaded since the last
    run, from all of that day's events, so late events of any age land in their day.
-#}

with

{{ csops_usage_events_to_aggregate() }}

select
    account_id,
    user_id,
    occurred_on as usage_date,
    count(*) as event_count,
    sum(quantity) as quantity_total,
    max(loaded_at) as loaded_through
from events
group by account_id, user_id, occurred_on
