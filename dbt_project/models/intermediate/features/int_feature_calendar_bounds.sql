{{ config(materialized='table') }}
{%- set as_of = var('csops_as_of_date', none) %}
{%- set start = var('csops_feature_start_date', none) %}

-- One row: the day range the feature marts cover and when each optional source starts to have data.
with

usage_range as (

    select
        min(usage_date) as first_usage_date,
        max(usage_date) as last_usage_date
    from {{ ref('int_feature_usage_account_daily') }}

),

-- The product's own key-value events as the seed maps them; none seen yet means time-to-value and adoption do not
-- wait for one (point in time: "seen by day D").
key_events as (

    select min(usage_date) as first_key_value_event_date
    from {{ ref('int_feature_usage_category_daily') }}
    where key_value_event_count > 0

)

select
    {% if start %}cast('{{ start }}' as date){% else %}usage_range.first_usage_date{% endif %} as data_start_date,
    {% if as_of %}cast('{{ as_of }}' as date){% else %}{{ csops_watermark_as_of() }}{% endif %} as as_of_date,
    usage_range.first_usage_date,
    usage_range.last_usage_date,
    key_events.first_key_value_event_date,
    (select min(opened_on) from {{ ref('stg_support_tickets') }}) as support_data_start_date,
    (select min(responded_on) from {{ ref('stg_survey_responses') }}) as survey_data_start_date,
    (select min(occurred_on) from {{ ref('stg_activities') }}) as engagement_data_start_date,
    (select min(cast(created_at as date)) from {{ ref('stg_contacts') }}) as stakeholder_data_start_date
from usage_range
cross join key_events
