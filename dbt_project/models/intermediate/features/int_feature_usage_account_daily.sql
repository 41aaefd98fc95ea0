{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'usage_date'],
        on_schema_change='sync_all_columns',
    )
}}
{%- set categories = csops_feature_categories() %}
{%- set incremental_run = 'mapping_version' in csops_stored_columns() %}

{#-
    Account-day usage: users and volume from the user-day aggregate (one row per user, so counting rows with a user
    gives distinct active users without a count(distinct) over events), categories pivoted from the category-day one.

    Incremental: re-aggregates the account-days whose user-day rows were loaded after the newest `loaded_through` the
    table holds (both aggregates cover the same events, so they change together); everything when the category-day
    aggregate was made with another seed mapping (`mapping_version`). A table stored without `mapping_version`
    (built by an earlier version) is rebuilt whole.
-#}

-- The upstream tables by `ref`, not as CTEs: DuckDB materializes a CTE read twice whole (millions of rows here).
with

{%- if incremental_run %}

{{ csops_days_to_refresh(
    ref('int_feature_usage_user_daily'), 'usage_date', 'loaded_through',
    extra_watermark_columns='max(mapping_version) as mapping_version',
    extra_refresh_condition="watermark.mapping_version <> (select max(mapping_version) from "
        ~ ref('int_feature_usage_category_daily') ~ ")",
) }},

{%- endif %}

users as (

    select
        user_days.account_id,
        user_days.usage_date,
        count(user_days.user_id) as active_users,
        cast(sum(user_days.event_count) as bigint) as event_count,
        sum(user_days.quantity_total) as quantity_total,
        max(user_days.loaded_through) as loaded_through
    from {{ ref('int_feature_usage_user_daily') }} as user_days
    {%- if incremental_run %}
    {{ csops_join_days_to_refresh('user_days', 'usage_date') }}
    {%- endif %}
    group by user_days.account_id, user_days.usage_date

),

categories as (

    select
        category_days.account_id,
        category_days.usage_date,
        max(category_days.mapping_version) as mapping_version,
        cast(sum(category_days.key_value_event_count) as bigint) as key_value_event_count,
        {%- for category in categories %}
        cast(sum(case when category_days.feature_category = '{{ category }}' then category_days.event_count else 0 end)
            as bigint) as events_{{ category }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_feature_usage_category_daily') }} as category_days
    {%- if incremental_run %}
    {{ csops_join_days_to_refresh('category_days', 'usage_date') }}
    {%- endif %}
    group by category_days.account_id, category_days.usage_date

)

select
    users.account_id,
    users.usage_date,
    users.active_users,
    users.event_count,
    users.quantity_total,
    users.loaded_through,
    categories.mapping_version,
    coalesce(categories.key_value_event_count, 0) as key_value_event_count,
    {%- for category in categories %}
    coalesce(categories.events_{{ category }}, 0) as events_{{ category }}{{ ',' if not loop.last }}
    {%- endfor %}
from users
left join categories
    on
        users.account_id = categories.account_id
        and users.usage_date = categories.usage_date
