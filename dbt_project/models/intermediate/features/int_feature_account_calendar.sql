{{ config(materialized='table') }}

-- Every day of every account's span (see int_feature_account_spans), gaps between contracts included so trailing
-- windows can use `rows between N preceding`, with the contract state of that day.
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
    inner join dates
        on dates.date_day between spans.calendar_start_date and spans.calendar_end_date

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
    contract_days.currency_code
from calendar
left join contract_days
    on
        calendar.account_id = contract_days.account_id
        and calendar.date_day = contract_days.date_day
