{#
    Account active intervals with the 30-day grace: one row per account and run of contracts without a gap longer
    than `churn_grace_days`. An interval ends on the day its last contract ends (exclusive end date: the first day
    no contract covers). Status at the as-of date:
    - scheduled: starts after the as-of date (signed, not begun);
    - active: some contract of it still runs after the as-of date (this includes a renewal gap before a booked
      renewal);
    - pending_renewal: it ended, but the grace period (the 30 days after the end, when a renewal may still start) has
      not fully passed before the as-of date: never counted as churn yet;
    - churned: it ended and the whole grace period lies before the as-of date with nothing starting in it; the churn
      date is the interval's end date.
#}
{{ config(materialized='table') }}

with

contracts as (

    select * from {{ ref('int_contract_periods') }}

),

bounds as (

    select as_of_date from {{ ref('int_revenue_bounds') }}

),

intervals as (

    select
        account_id,
        active_interval_number,
        min(start_date) as interval_start_date,
        max(end_date) as interval_end_date,
        count(*) as contract_count,
        count(distinct product) as product_count
    from contracts
    group by 1, 2

),

-- The contracts still running on the interval's last active day: churned ARR is theirs.
ending_contracts as (

    select
        intervals.account_id,
        intervals.active_interval_number,
        sum(contracts.arr_amount) as ending_arr_amount,
        count(*) as ending_contract_count
    from intervals
    inner join contracts
        on contracts.account_id = intervals.account_id
        and contracts.active_interval_number = intervals.active_interval_number
        and contracts.start_date < intervals.interval_end_date
        and contracts.end_date >= intervals.interval_end_date
    group by 1, 2

),

-- ARR on the interval's first day.
starting_contracts as (

    select
        intervals.account_id,
        intervals.active_interval_number,
        sum(contracts.arr_amount) as starting_arr_amount
    from intervals
    inner join contracts
        on contracts.account_id = intervals.account_id
        and contracts.active_interval_number = intervals.active_interval_number
        and contracts.start_date = intervals.interval_start_date
    group by 1, 2

),

with_status as (

    select
        intervals.*,
        starting_contracts.starting_arr_amount,
        ending_contracts.ending_arr_amount,
        ending_contracts.ending_contract_count,
        cast({{ dbt.dateadd('day', var('csops_churn_grace_days'), 'intervals.interval_end_date') }} as date)
            as grace_period_end_date,
        lag(intervals.interval_end_date) over (
            partition by intervals.account_id order by intervals.active_interval_number
        ) as previous_interval_end_date,
        case
            when intervals.interval_start_date > bounds.as_of_date then 'scheduled'
            when intervals.interval_end_date > bounds.as_of_date then 'active'
            when {{ dbt.datediff('intervals.interval_end_date', 'bounds.as_of_date', 'day') }}
                <= {{ var('csops_churn_grace_days') }} then 'pending_renewal'
            else 'churned'
        end as interval_status
    from intervals
    cross join bounds
    left join starting_contracts
        on starting_contracts.account_id = intervals.account_id
        and starting_contracts.active_interval_number = intervals.active_interval_number
    left join ending_contracts
        on ending_contracts.account_id = intervals.account_id
        and ending_contracts.active_interval_number = intervals.active_interval_number

)

select
    account_id,
    active_interval_number,
    interval_start_date,
    interval_end_date,
    cast({{ dbt.dateadd('day', -1, 'interval_end_date') }} as date) as last_active_date,
    grace_period_end_date,
    interval_status,
    case when interval_status = 'churned' then interval_end_date end as churn_date,
    active_interval_number > 1 as is_reactivation,
    previous_interval_end_date,
    case
        when previous_interval_end_date is not null
            then {{ dbt.datediff('previous_interval_end_date', 'interval_start_date', 'day') }}
    end as days_inactive_before,
    contract_count,
    product_count,
    coalesce(starting_arr_amount, 0) as starting_arr_amount,
    coalesce(ending_arr_amount, 0) as ending_arr_amount,
    coalesce(ending_contract_count, 0) as ending_contract_count
from with_status
