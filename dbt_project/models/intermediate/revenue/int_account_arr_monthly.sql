{#
    Monthly ARR per account, measured on each month's last day (the as-of date in the current, partial month), from
    the month of the account's first contract start to the as-of month, with the month's ARR movements.

    ARR on a snapshot day is the ARR of the contracts covering it. Inside an active interval, a day no contract covers
    (a renewal gap of at most 30 days, or the grace period of a pending renewal) carries the ARR of the last active
    day: the account has not churned, so its ARR has not gone. A churned interval drops to 0 on its churn date.

    Movements, per account and month (starting = previous snapshot's ARR, ending = this snapshot's ARR):
    - churned: the interval churned in the month (churn date after the previous snapshot, on or before this one):
      the ARR of the ending contracts (those on the last active day);
    - new / reactivation: an active interval started in the month: its first snapshot ARR (first interval: new,
      later ones: reactivation after a churn); an interval that both started and churned inside the month counts its
      churned ARR as new (or reactivation) and churned;
    - expansion / contraction: the rest of the change, while the account stays active:
      ending - starting - new - reactivation + churned, split by sign.
    So ending = starting + new + reactivation + expansion - contraction - churned holds on every row.
#}
{{ config(materialized='table') }}

with

lines as (

    select * from {{ ref('int_account_month_lines') }}

),

months as (

    select * from {{ ref('int_revenue_months') }}

),

intervals as (

    select * from {{ ref('int_account_active_intervals') }}

),

state as (

    select
        account_id,
        month_start_date,
        snapshot_date,
        state_date,
        sum(arr_amount) as state_arr_amount,
        sum(licensed_seats) as state_licensed_seats,
        count(*) as state_product_count
    from lines
    group by 1, 2, 3, 4

),

interval_flags as (

    select
        state.account_id,
        state.month_start_date,
        max(
            case
                when intervals.interval_start_date <= state.snapshot_date
                    and (
                        intervals.interval_end_date > state.snapshot_date
                        or intervals.interval_status = 'pending_renewal'
                    )
                    then intervals.active_interval_number
            end
        ) as live_interval_number,
        max(
            case
                when intervals.interval_start_date <= state.snapshot_date
                    and intervals.interval_end_date <= state.snapshot_date
                    and intervals.interval_status = 'pending_renewal'
                    then 1 else 0
            end
        ) as is_pending_renewal,
        max(
            case
                when intervals.interval_start_date between state.month_start_date and state.snapshot_date
                    then intervals.active_interval_number
            end
        ) as started_interval_number,
        max(
            case
                when intervals.interval_status = 'churned'
                    and intervals.churn_date between state.month_start_date and state.snapshot_date
                    then intervals.churn_date
            end
        ) as churn_date
    from state
    inner join intervals on intervals.account_id = state.account_id
    group by 1, 2

),

measured as (

    select
        state.account_id,
        state.month_start_date,
        state.snapshot_date,
        state.state_date,
        interval_flags.live_interval_number,
        interval_flags.started_interval_number,
        interval_flags.churn_date,
        interval_flags.is_pending_renewal = 1 as is_pending_renewal,
        state.state_arr_amount,
        state.state_licensed_seats,
        state.state_product_count,
        case when interval_flags.live_interval_number is not null then state.state_arr_amount else 0 end
            as ending_arr_amount,
        case when interval_flags.churn_date is not null then state.state_arr_amount else 0 end as churned_arr_amount
    from state
    inner join interval_flags
        on interval_flags.account_id = state.account_id
        and interval_flags.month_start_date = state.month_start_date

),

with_starting as (

    select
        measured.*,
        coalesce(
            lag(ending_arr_amount) over (partition by account_id order by month_start_date), 0
        ) as starting_arr_amount,
        lag(live_interval_number) over (partition by account_id order by month_start_date)
            as previous_live_interval_number,
        -- The new or reactivated ARR: first snapshot ARR of an interval that started this month, or, when it also
        -- churned this month, its churned ARR.
        case
            when started_interval_number is not null and live_interval_number = started_interval_number
                then ending_arr_amount
            when started_interval_number is not null and churn_date is not null then churned_arr_amount
            else 0
        end as started_arr_amount
    from measured

),

movements as (

    select
        with_starting.*,
        case when started_interval_number = 1 then started_arr_amount else 0 end as new_arr_amount,
        case when started_interval_number > 1 then started_arr_amount else 0 end as reactivation_arr_amount,
        ending_arr_amount - starting_arr_amount - started_arr_amount + churned_arr_amount as net_change_amount
    from with_starting

),

-- Expansion drivers: compare the product lines at this month's state with the previous month's.
line_changes as (

    select
        coalesce(curr.account_id, prev.account_id) as account_id,
        coalesce(curr.month_start_date,
            cast({{ dbt.dateadd('month', 1, 'prev.month_start_date') }} as date)) as month_start_date,
        case when prev.product is null then curr.arr_amount else 0 end as added_product_arr_amount,
        case when curr.product is null then prev.arr_amount else 0 end as removed_product_arr_amount,
        case when prev.product is null then 1 else 0 end as is_added_product,
        case when curr.product is null then 1 else 0 end as is_removed_product,
        case
            when curr.product is not null and prev.product is not null and prev.licensed_seats > 0
                and curr.licensed_seats is not null
                then (curr.licensed_seats - prev.licensed_seats) * prev.arr_amount / prev.licensed_seats
            else 0
        end as seat_change_arr_amount,
        case
            when curr.product is not null and prev.product is not null then curr.arr_amount - prev.arr_amount
            else 0
        end as common_product_change_amount
    from lines as curr
    full outer join lines as prev
        on prev.account_id = curr.account_id
        and prev.product = curr.product
        and prev.month_start_date = cast({{ dbt.dateadd('month', -1, 'curr.month_start_date') }} as date)

),

drivers as (

    select
        account_id,
        month_start_date,
        sum(added_product_arr_amount) as added_product_arr_amount,
        sum(removed_product_arr_amount) as removed_product_arr_amount,
        sum(is_added_product) as added_product_count,
        sum(is_removed_product) as removed_product_count,
        -- Seats are rounded to the cent first and price is the rest, so the drivers add up to the change exactly.
        cast(sum(seat_change_arr_amount) as decimal(18, 2)) as seat_change_arr_amount,
        cast(sum(common_product_change_amount) as decimal(18, 2)) as common_product_change_amount
    from line_changes
    group by 1, 2

),

final as (

    select
        movements.account_id,
        movements.month_start_date,
        movements.snapshot_date,
        movements.state_date,
        months.is_partial_month,
        months.is_within_data_window,
        movements.live_interval_number as active_interval_number,
        movements.live_interval_number is not null as is_active,
        case
            when movements.live_interval_number is null then 'inactive'
            when movements.state_date = movements.snapshot_date then 'covered'
            when movements.is_pending_renewal then 'pending_renewal'
            else 'renewal_gap'
        end as coverage_status,
        movements.started_interval_number,
        movements.churn_date,
        cast(movements.starting_arr_amount as decimal(18, 2)) as starting_arr_amount,
        cast(movements.new_arr_amount as decimal(18, 2)) as new_arr_amount,
        cast(movements.reactivation_arr_amount as decimal(18, 2)) as reactivation_arr_amount,
        cast(case when movements.net_change_amount > 0 then movements.net_change_amount else 0 end as decimal(18, 2))
            as expansion_arr_amount,
        cast(case when movements.net_change_amount < 0 then -movements.net_change_amount else 0 end as decimal(18, 2))
            as contraction_arr_amount,
        cast(movements.churned_arr_amount as decimal(18, 2)) as churned_arr_amount,
        cast(movements.ending_arr_amount as decimal(18, 2)) as ending_arr_amount,
        cast(movements.state_arr_amount as decimal(18, 2)) as state_arr_amount,
        movements.state_licensed_seats as licensed_seats,
        movements.state_product_count as product_count,
        lag(movements.state_licensed_seats) over (
            partition by movements.account_id order by movements.month_start_date
        ) as previous_licensed_seats,
        lag(movements.state_product_count) over (
            partition by movements.account_id order by movements.month_start_date
        ) as previous_product_count,
        cast(coalesce(drivers.added_product_arr_amount, 0) as decimal(18, 2)) as added_product_arr_amount,
        cast(coalesce(drivers.removed_product_arr_amount, 0) as decimal(18, 2)) as removed_product_arr_amount,
        coalesce(drivers.added_product_count, 0) as added_product_count,
        coalesce(drivers.removed_product_count, 0) as removed_product_count,
        coalesce(drivers.seat_change_arr_amount, 0) as seat_change_arr_amount,
        cast(
            coalesce(drivers.common_product_change_amount - drivers.seat_change_arr_amount, 0) as decimal(18, 2)
        ) as price_change_arr_amount
    from movements
    inner join months on months.month_start_date = movements.month_start_date
    left join drivers
        on drivers.account_id = movements.account_id
        and drivers.month_start_date = movements.month_start_date

)

select * from final
