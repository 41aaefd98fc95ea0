{#
    Revenue events: one row per account, month and event type, from the monthly ARR movements
    (int_account_arr_monthly, measured on month-ends). Event types follow landing contract v1:
    new (first ARR), reactivation (ARR back after a churn), expansion / contraction (total active ARR up / down
    between consecutive months while the account stays active) and churn (the last active contract ended with no
    contract starting within the 30-day grace period, confirmed only once that period has passed before the as-of
    date; accounts still inside it are pending renewals and have no churn event).
    Several events of one account in one month (e.g. a dropped add-on, then the churn) are chained: arr_before of
    each is arr_after of the previous one, in the order new/reactivation, expansion/contraction, churn.
#}

with

monthly as (

    select * from {{ ref('int_account_arr_monthly') }}

),

intervals as (

    select * from {{ ref('int_account_active_intervals') }}

),

contracts as (

    select * from {{ ref('int_contract_periods') }}

),

versions as (

    select * from {{ ref('int_account_versions') }}

),

-- First contract start or end inside each account-month: when an expansion or contraction happened.
change_dates as (

    select
        monthly.account_id,
        monthly.month_start_date,
        min(
            -- start_date < end_date, so a line starting in the month changed it first at its start.
            case
                when contracts.start_date between monthly.month_start_date and monthly.snapshot_date
                    then contracts.start_date
                else contracts.end_date
            end
        ) as first_change_date
    from monthly
    inner join contracts
        on contracts.account_id = monthly.account_id
        and (
            contracts.start_date between monthly.month_start_date and monthly.snapshot_date
            or contracts.end_date between monthly.month_start_date and monthly.snapshot_date
        )
    where monthly.expansion_arr_amount > 0 or monthly.contraction_arr_amount > 0
    group by 1, 2

),

started as (

    select
        monthly.*,
        intervals.interval_start_date
    from monthly
    inner join intervals
        on intervals.account_id = monthly.account_id
        and intervals.active_interval_number = monthly.started_interval_number

),

events as (

    select
        account_id,
        month_start_date,
        case when started_interval_number = 1 then 'new' else 'reactivation' end as event_type,
        1 as event_order,
        interval_start_date as event_date,
        started_interval_number as active_interval_number,
        cast(0 as decimal(18, 2)) as arr_before_amount,
        new_arr_amount + reactivation_arr_amount as arr_after_amount
    from started

    union all

    select
        monthly.account_id,
        monthly.month_start_date,
        case when monthly.expansion_arr_amount > 0 then 'expansion' else 'contraction' end,
        2,
        coalesce(change_dates.first_change_date, monthly.month_start_date),
        coalesce(monthly.active_interval_number, monthly.started_interval_number),
        monthly.starting_arr_amount + monthly.new_arr_amount + monthly.reactivation_arr_amount,
        monthly.starting_arr_amount + monthly.new_arr_amount + monthly.reactivation_arr_amount
            + monthly.expansion_arr_amount - monthly.contraction_arr_amount
    from monthly
    left join change_dates
        on change_dates.account_id = monthly.account_id
        and change_dates.month_start_date = monthly.month_start_date
    where monthly.expansion_arr_amount > 0 or monthly.contraction_arr_amount > 0

    union all

    select
        monthly.account_id,
        monthly.month_start_date,
        'churn',
        3,
        monthly.churn_date,
        intervals.active_interval_number,
        monthly.churned_arr_amount,
        cast(0 as decimal(18, 2))
    from monthly
    inner join intervals
        on intervals.account_id = monthly.account_id
        and intervals.churn_date = monthly.churn_date
    where monthly.churn_date is not null

),

final as (

    select
        events.account_id || '|' || cast(events.month_start_date as {{ dbt.type_string() }}) || '|'
            || events.event_type as revenue_event_id,
        events.account_id,
        events.event_type,
        events.event_date,
        events.month_start_date as event_month,
        events.event_order as event_order_in_month,
        events.active_interval_number,
        cast(events.arr_before_amount as decimal(18, 2)) as arr_before_amount,
        cast(events.arr_after_amount as decimal(18, 2)) as arr_after_amount,
        cast(events.arr_after_amount - events.arr_before_amount as decimal(18, 2)) as arr_delta_amount,
        versions.segment,
        versions.csm_owner,
        -- The contract movement behind an expansion or contraction (null for other events).
        {%- for column, name in [
            ('previous_licensed_seats', 'licensed_seats_before'),
            ('licensed_seats', 'licensed_seats_after'),
            ('previous_product_count', 'product_count_before'),
            ('product_count', 'product_count_after'),
            ('added_product_arr_amount', 'added_product_arr_amount'),
            ('removed_product_arr_amount', 'removed_product_arr_amount'),
            ('seat_change_arr_amount', 'seat_change_arr_amount'),
            ('price_change_arr_amount', 'price_change_arr_amount'),
        ] %}
        case when events.event_type in ('expansion', 'contraction') then monthly.{{ column }} end as {{ name }},
        {%- endfor %}
        case when events.event_type = 'expansion' then monthly.added_product_count > 0 end as has_added_product,
        case
            when events.event_type = 'expansion'
                then coalesce(monthly.licensed_seats, 0) > coalesce(monthly.previous_licensed_seats, 0)
        end as has_seat_increase,
        case
            when events.event_type = 'expansion' then
                case
                    when monthly.added_product_count > 0
                        and coalesce(monthly.licensed_seats, 0) > coalesce(monthly.previous_licensed_seats, 0)
                        then 'added_product_and_seats'
                    when monthly.added_product_count > 0 then 'added_product'
                    when coalesce(monthly.licensed_seats, 0) > coalesce(monthly.previous_licensed_seats, 0)
                        then 'more_seats'
                    else 'price_change'
                end
            when events.event_type = 'contraction' then
                case
                    when monthly.removed_product_count > 0
                        and coalesce(monthly.licensed_seats, 0) < coalesce(monthly.previous_licensed_seats, 0)
                        then 'removed_product_and_seats'
                    when monthly.removed_product_count > 0 then 'removed_product'
                    when coalesce(monthly.licensed_seats, 0) < coalesce(monthly.previous_licensed_seats, 0)
                        then 'fewer_seats'
                    else 'price_change'
                end
        end as change_driver,
        monthly.is_within_data_window
    from events
    inner join monthly
        on monthly.account_id = events.account_id
        and monthly.month_start_date = events.month_start_date
    left join versions
        on versions.account_id = events.account_id
        and versions.valid_from_date <= events.event_date
        and versions.valid_to_date > events.event_date

)

select * from final
