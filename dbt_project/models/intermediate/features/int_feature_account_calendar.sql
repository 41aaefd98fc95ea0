{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'date_day'],
        on_schema_change='sync_all_columns',
        post_hook=["{{ csops_delete_days_outside_spans(ref('int_feature_account_spans')) }}"],
    )
}}
{%- set stored_columns = csops_stored_columns() %}

{#-
    Every day of every account's span (see int_feature_account_spans), gaps between contracts included so trailing
    windows can use `rows between N preceding`, with the contract state of that day.

    Incremental: an account whose contracts changed (a version loaded after the newest `contracts_loaded_through` the
    table holds) or whose span moved its start is rebuilt whole; otherwise only the days after the last stored one are
    added. Days outside the spans are deleted by the post-hook. A table stored without `contracts_loaded_through`
    (built by an earlier version) is rebuilt whole.
-#}

with

bounds as (

    select * from {{ ref('int_feature_calendar_bounds') }}

),

spans as (

    select * from {{ ref('int_feature_account_spans') }}
    where calendar_start_date <= calendar_end_date

),

contracts as (

    select * from {{ ref('stg_contracts') }}

),

contract_loads as (

    select
        account_id,
        max(loaded_at) as contracts_loaded_through
    from contracts
    group by account_id

),

{%- if 'contracts_loaded_through' in stored_columns %}

stored as (

    select
        account_id,
        max(date_day) as last_stored_date,
        min(calendar_start_date) as calendar_start_date,
        min(first_contract_start_date) as first_contract_start_date,
        max(contracts_loaded_through) as contracts_loaded_through
    from {{ this }}
    group by account_id

),

watermark as (

    select max(contracts_loaded_through) as loaded_through from stored

),

recompute as (

    select
        spans.account_id,
        case
            when
                stored.account_id is null
                or contract_loads.contracts_loaded_through > watermark.loaded_through
                or spans.calendar_start_date <> stored.calendar_start_date
                or spans.first_contract_start_date <> stored.first_contract_start_date
                then spans.calendar_start_date
            when spans.calendar_end_date > stored.last_stored_date
                then {{ csops_add_days('stored.last_stored_date', 1) }}
        end as start_date
    from spans
    inner join contract_loads
        on spans.account_id = contract_loads.account_id
    cross join watermark
    left join stored
        on spans.account_id = stored.account_id

),

{%- else %}

recompute as (

    select
        account_id,
        calendar_start_date as start_date
    from spans

),

{%- endif %}

-- The global date spine: data start .. as-of, from a digits cross join filtered to the needed length.
day_numbers as (

    select integers.n
    from ({{ csops_integers(5) }}) as integers
    cross join bounds
    where integers.n <= {{ csops_days_between('bounds.data_start_date', 'bounds.as_of_date') }}

),

dates as (

    select {{ csops_add_days('bounds.data_start_date', 'day_numbers.n') }} as date_day
    from day_numbers
    cross join bounds

),

calendar as (

    select
        spans.account_id,
        dates.date_day,
        spans.calendar_start_date,
        spans.first_contract_start_date
    from spans
    inner join recompute
        on spans.account_id = recompute.account_id
    inner join dates
        on dates.date_day between recompute.start_date and spans.calendar_end_date

),

contract_days as (

    select
        calendar.account_id,
        calendar.date_day,
        count(*) as active_contracts,
        count(distinct contracts.product) as active_products,
        cast(sum(contracts.arr_amount) as decimal(18, 2)) as active_arr,
        cast(sum(contracts.licensed_seats) as bigint) as licensed_seats,
        cast(sum(case when contracts.licensed_seats > 0 then contracts.licensed_seats end) as bigint) as seat_based_seats,
        cast(sum(case when contracts.licensed_seats > 0 then contracts.arr_amount end) as decimal(18, 2)) as seat_based_arr,
        min(contracts.end_date) as next_renewal_date,
        -- ARR sums assume one currency per account; the largest code names it.
        max(contracts.currency_code) as currency_code
    from calendar
    inner join contracts
        on
            calendar.account_id = contracts.account_id
            and contracts.start_date <= calendar.date_day
            and contracts.end_date > calendar.date_day
    group by calendar.account_id, calendar.date_day

)

select
    calendar.account_id,
    calendar.date_day,
    calendar.calendar_start_date,
    calendar.first_contract_start_date,
    contract_days.account_id is not null as is_active,
    coalesce(contract_days.active_contracts, 0) as active_contracts,
    coalesce(contract_days.active_products, 0) as active_products,
    coalesce(contract_days.active_arr, cast(0 as decimal(18, 2))) as active_arr,
    contract_days.licensed_seats,
    contract_days.seat_based_seats,
    contract_days.seat_based_arr,
    contract_days.next_renewal_date,
    contract_days.currency_code,
    contract_loads.contracts_loaded_through
from calendar
inner join contract_loads
    on calendar.account_id = contract_loads.account_id
left join contract_days
    on
        calendar.account_id = contract_days.account_id
        and calendar.date_day = contract_days.date_day
