{#
    The two dates every revenue and lifecycle model is measured against, in one row:
    - as_of_date: the last day the data covers. Var `csops_as_of_date` when set, else the last day every required source
      is complete through (int_source_watermarks), else the latest contract start.
    - data_window_start_date: first day of the landing window (earlier rows are history some exports carry, e.g.
      contracts of accounts alive at the window start, but not of those that churned before it). Var
      `csops_data_window_start_date` when set, else the first full calendar month covered by usage events.
#}
{{ config(materialized='table') }}

with

usage_bounds as (

    select
        min(occurred_on) as first_usage_on,
        max(occurred_on) as last_usage_on
    from {{ ref('stg_usage_events') }}

),

contract_bounds as (

    select
        min(start_date) as first_contract_start_date,
        max(start_date) as last_contract_start_date
    from {{ ref('stg_contracts') }}

),

derived as (

    select
        usage_bounds.first_usage_on,
        usage_bounds.last_usage_on,
        contract_bounds.first_contract_start_date,
        contract_bounds.last_contract_start_date,
        -- First full calendar month covered by usage: the first usage day when it is a 1st, else the next 1st.
        case
            when usage_bounds.first_usage_on is null then null
            when cast({{ dbt.date_trunc('month', 'usage_bounds.first_usage_on') }} as date) = usage_bounds.first_usage_on
                then usage_bounds.first_usage_on
            else cast({{ dbt.dateadd('month', 1, dbt.date_trunc('month', 'usage_bounds.first_usage_on')) }} as date)
        end as first_full_usage_month_start
    from usage_bounds
    cross join contract_bounds

),

final as (

    select
        {% if var('csops_as_of_date', none) -%}
        cast('{{ var("csops_as_of_date") }}' as date)
        {%- else -%}
        coalesce({{ csops_watermark_as_of() }}, last_contract_start_date)
        {%- endif %} as as_of_date,
        {% if var('csops_data_window_start_date', none) -%}
        cast('{{ var("csops_data_window_start_date") }}' as date)
        {%- else -%}
        coalesce(first_full_usage_month_start, cast({{ dbt.date_trunc('month', 'first_contract_start_date') }} as date))
        {%- endif %} as data_window_start_date,
        first_contract_start_date,
        first_usage_on,
        last_usage_on
    from derived

)

select
    as_of_date,
    cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month_start_date,
    data_window_start_date,
    first_contract_start_date,
    first_usage_on,
    last_usage_on,
    {{ var('csops_churn_grace_days') }} as churn_grace_days
from final
