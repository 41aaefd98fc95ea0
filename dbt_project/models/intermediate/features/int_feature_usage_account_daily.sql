{{ config(materialized='table') }}
{%- set categories = csops_feature_categories() %}

-- Account-day usage: users and volume from the user-day aggregate (one row per user, so counting rows with a user
-- gives distinct active users without a count(distinct) over events), categories pivoted from the category-day one.
with

users as (

    select
        account_id,
        usage_date,
        count(user_id) as active_users,
        cast(sum(event_count) as bigint) as event_count,
        sum(quantity_total) as quantity_total,
        max(loaded_through) as loaded_through
    from {{ ref('int_feature_usage_user_daily') }}
    group by account_id, usage_date

),

categories as (

    select
        account_id,
        usage_date,
        cast(sum(key_value_event_count) as bigint) as key_value_event_count,
        {%- for category in categories %}
        cast(sum(case when feature_category = '{{ category }}' then event_count else 0 end) as bigint)
            as events_{{ category }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_feature_usage_category_daily') }}
    group by account_id, usage_date

)

select
    users.account_id,
    users.usage_date,
    users.active_users,
    users.event_count,
    users.quantity_total,
    users.loaded_through,
    coalesce(categories.key_value_event_count, 0) as key_value_event_count,
    {%- for category in categories %}
    coalesce(categories.events_{{ category }}, 0) as events_{{ category }}{{ ',' if not loop.last }}
    {%- endfor %}
from users
left join categories
    on
        users.account_id = categories.account_id
        and users.usage_date = categories.usage_date
