{#
    Incremental usage aggregates (delete+insert on account and day): the events of every (account, day) that received
    an event loaded after the newest `loaded_through` already aggregated, so late events of any age are re-aggregated
    with the rest of their day. `extra_refresh_condition` (SQL over the `watermark` CTE) forces a full re-aggregation,
    e.g. when the seed mapping changed. Outside incremental runs: all events. Defines CTEs `watermark` (incremental
    only) and `events`; call it inside a `with`, followed by a comma.
#}
{% macro csops_usage_events_to_aggregate(extra_watermark_columns='', extra_refresh_condition='false') -%}
{%- if is_incremental() %}
watermark as (

    select
        max(loaded_through) as loaded_through
        {{- ',' ~ extra_watermark_columns if extra_watermark_columns }}
    from {{ this }}

),

days_to_refresh as (

    select distinct
        usage_events.account_id,
        usage_events.occurred_on
    from {{ ref('stg_usage_events') }} as usage_events
    cross join watermark
    where
        watermark.loaded_through is null
        or usage_events.loaded_at > watermark.loaded_through
        or ({{ extra_refresh_condition }})

),

events as (

    select usage_events.*
    from {{ ref('stg_usage_events') }} as usage_events
    inner join days_to_refresh
        on
            usage_events.account_id = days_to_refresh.account_id
            and usage_events.occurred_on = days_to_refresh.occurred_on
    -- Lets the scan skip old row groups when only recent days changed.
    where usage_events.occurred_on >= (select min(occurred_on) from days_to_refresh)

)
{%- else %}
events as (

    select * from {{ ref('stg_usage_events') }}

)
{%- endif %}
{%- endmacro %}
