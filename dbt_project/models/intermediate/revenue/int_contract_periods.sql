{#
    Contract periods per account: every contract line with its place in the account's history and the active
    interval it belongs to. An active interval is a run of contracts where each starts at most `churn_grace_days`
    (30) days after the latest end so far: a gap of up to 30 days is a renewal, a longer one is a churn followed by a
    reactivation (landing contract v1).
#}
{{ config(materialized='table') }}

with

contracts as (

    select * from {{ ref('stg_contracts') }}

),

bounds as (

    select as_of_date from {{ ref('int_revenue_bounds') }}

),

ordered as (

    select
        contracts.*,
        row_number() over (
            partition by account_id order by start_date, end_date, contract_id
        ) as contract_sequence_number,
        max(end_date) over (
            partition by account_id order by start_date, end_date, contract_id
            rows between unbounded preceding and 1 preceding
        ) as previous_max_end_date
    from contracts

),

flagged as (

    select
        *,
        case
            when previous_max_end_date is null then 1
            when {{ dbt.datediff('previous_max_end_date', 'start_date', 'day') }} > {{ var('csops_churn_grace_days') }} then 1
            else 0
        end as starts_active_interval
    from ordered

),

numbered as (

    select
        *,
        cast(sum(starts_active_interval) over (
            partition by account_id order by contract_sequence_number rows between unbounded preceding and current row
        ) as {{ dbt.type_int() }}) as active_interval_number
    from flagged

)

select
    numbered.contract_id,
    numbered.account_id,
    coalesce(numbered.product, 'unknown') as product,
    numbered.currency_code,
    numbered.arr_amount,
    numbered.licensed_seats,
    numbered.seat_price_amount,
    numbered.start_date,
    numbered.end_date,
    cast({{ dbt.dateadd('day', -1, 'numbered.end_date') }} as date) as last_covered_date,
    numbered.contract_term_days,
    cast(numbered.contract_sequence_number as {{ dbt.type_int() }}) as contract_sequence_number,
    numbered.active_interval_number,
    numbered.starts_active_interval = 1 as starts_active_interval,
    numbered.start_date > bounds.as_of_date as is_scheduled,
    numbered.start_date <= bounds.as_of_date and numbered.end_date > bounds.as_of_date as is_active_at_as_of
from numbered
cross join bounds
