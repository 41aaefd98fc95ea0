{#
    Incremental usage aggregates (delete+insert on account and day): the events of every (account, day) that received
    an event loaded after the newest `loaded_through` already aggregated, so late events of any age are re-aggregated
    with the rest of their day. `extra_refresh_condition` (SQL over the `watermark` CTE) forces a full re-aggregation,
    e.g. when the seed mapping changed. Outside incremental runs: all events. Defines CTEs `watermark` (incremental
    only) and `events`; call it inside a `with`, followed by a comma.
#}
{% macro csops_usage_events_to_aggregate(extra_watermark_columns='', extra_refresh_condition='false') -%}
{%- if is_incremental() %}
{{ csops_days_to_refresh(ref('stg_usage_events'), 'occurred_on', 'loaded_at', extra_watermark_columns,
                         extra_refresh_condition) }},

events as (

    select usage_events.*
    from {{ ref('stg_usage_events') }} as usage_events
    {{ csops_join_days_to_refresh('usage_events', 'occurred_on') }}

)
{%- else %}
events as (

    select * from {{ ref('stg_usage_events') }}

)
{%- endif %}
{%- endmacro %}

{#- `inner join` of the rows aliased `alias` to the CTE `days_to_refresh` (account_id, `day_column`) on account and
    day, and a `where` that lets the scan skip row groups older than the oldest of those days. -#}
{% macro csops_join_days_to_refresh(alias, day_column) -%}
    inner join days_to_refresh
        on
            {{ alias }}.account_id = days_to_refresh.account_id
            and {{ alias }}.{{ day_column }} = days_to_refresh.{{ day_column }}
    where {{ alias }}.{{ day_column }} >= (select min({{ day_column }}) from days_to_refresh)
{%- endmacro %}

{#- CTEs `watermark` (the newest `loaded_through` of the model's stored table, plus `extra_watermark_columns`) and
    `days_to_refresh` (account_id, `day_column`): the account-days of `relation` loaded after it (`loaded_column`),
    or every one of them when the table is empty or `extra_refresh_condition` (SQL over `watermark`) holds. -#}
{% macro csops_days_to_refresh(relation, day_column, loaded_column, extra_watermark_columns='',
                               extra_refresh_condition='false') -%}
watermark as (

    select
        max(loaded_through) as loaded_through
        {{- ',' ~ extra_watermark_columns if extra_watermark_columns }}
    from {{ this }}

),

days_to_refresh as (

    select distinct
        loaded.account_id,
        loaded.{{ day_column }}
    from {{ relation }} as loaded
    cross join watermark
    where
        watermark.loaded_through is null
        or loaded.{{ loaded_column }} > watermark.loaded_through
        or ({{ extra_refresh_condition }})

)
{%- endmacro %}
